"""Raw uploads kept for audit, read back: bank statement files (``statement_upload``), banks' withdrawal
activity (``withdrawal_intake.content``, migration 0031) and registry import files (``beneficiary_import``).

Each kind keeps its own table (its domain writes it); this module reads the three as one list of uploads
with one id space (their UUIDs), and gives a file back as it was received."""

from __future__ import annotations

import mimetypes
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.paging import page_window
from app.vietnam_time import VIETNAM

KINDS = ("statement", "withdrawals", "registry")
TABLES = {"statement": "statement_upload", "withdrawals": "withdrawal_intake", "registry": "beneficiary_import"}
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# One row per upload of any kind: (kind, id, bank, file name as sent, format, size, SHA-256, status, who,
# when, whether the bytes are kept). ``{content}`` is the bytes (a download) or NULL (a list).
_UPLOADS = """
    SELECT 'statement' AS kind, u.id, u.bank_bin, u.filename, u.format, u.size, u.sha256, u.status,
           u.uploaded_by, u.uploaded_at, true AS kept, {content_u} AS content
      FROM statement_upload u {where_u}
    UNION ALL
    SELECT 'withdrawals', w.id, w.bank_bin, nullif(w.source_name, ''), w.format, octet_length(w.content), w.sha256,
           'accepted', w.uploaded_by, w.uploaded_at, w.content IS NOT NULL, {content_w}
      FROM withdrawal_intake w {where_w}
    UNION ALL
    SELECT 'registry', i.id, NULL, i.filename, NULL, i.size_bytes, i.sha256, i.outcome,
           i.uploaded_by, i.uploaded_at, true, {content_i}
      FROM beneficiary_import i {where_i}
"""
# Names the intake gives a body that was not a named file.
_NOT_FILE_NAMES = {"", "json", "upload"}
_EXTENSIONS = {"mt940": "txt", "csv": "csv", "xlsx": "xlsx", "json": "json"}
_MEDIA_TYPES = {"xlsx": XLSX, "csv": "text/csv", "mt940": "text/plain", "json": "application/json"}


def _is_utf8(content: bytes) -> bool:
    try:
        content.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


@dataclass(frozen=True, slots=True)
class Upload:
    """One kept upload; ``content`` only when read for a download."""

    kind: str  # statement | withdrawals | registry
    id: UUID
    bank_bin: str | None  # the bank it came from (statements, withdrawals); None for a registry import
    sent_name: str | None  # the file name as sent, if it had one
    format: str | None
    size: int | None
    sha256: bytes | None
    status: str  # accepted | rejected (statements), accepted (withdrawals), applied | rejected (registry)
    uploaded_by: str
    uploaded_at: datetime
    kept: bool  # False: a withdrawal intake from before the files were kept (migration 0031)
    content: bytes | None = None

    @property
    def table(self) -> str:
        return TABLES[self.kind]

    @property
    def filename(self) -> str:
        """The name the file was sent under, or one made from what it is, its bank and day."""
        if self.sent_name and self.sent_name.strip() not in _NOT_FILE_NAMES:
            return self.sent_name.strip()
        stem = {"statement": "sao-ke", "withdrawals": "rut-tien", "registry": "danh-sach"}[self.kind]
        day = self.uploaded_at.astimezone(VIETNAM).strftime("%Y%m%d")
        return f"{stem}-{self.bank_bin or 'so'}-{day}-{self.id.hex[:8]}.{self._extension()}"

    def _extension(self) -> str:
        if self.format and self.format.startswith("camt"):
            return "xml"
        return _EXTENSIONS.get(self.format or "", "bin")

    @property
    def media_type(self) -> str:
        """What the bytes are: by their format, else by the file name's extension. Text that is not UTF-8
        (a bank's export in another code page) is served as bytes, not mislabelled as UTF-8 text."""
        media_type = _MEDIA_TYPES.get(self.format or "")
        if media_type is None and self.format and self.format.startswith("camt"):
            media_type = "application/xml"
        if media_type is None:
            media_type = XLSX if self.filename.lower().endswith(".xlsx") else \
                mimetypes.guess_type(self.filename, strict=False)[0] or "application/octet-stream"
        if media_type.startswith("text/") and self.content is not None and not _is_utf8(self.content):
            return "application/octet-stream"
        return media_type

    def as_json(self) -> dict[str, Any]:
        return {"id": str(self.id), "kind": self.kind, "bank_bin": self.bank_bin, "filename": self.filename,
                "format": self.format, "size": self.size, "sha256": self.sha256.hex() if self.sha256 else None,
                "status": self.status, "uploaded_by": self.uploaded_by, "uploaded_at": self.uploaded_at.isoformat(),
                "kept": self.kept, "url": f"/api/uploads/{self.id}" if self.kept else None}


def _upload(row: Any) -> Upload:
    return Upload(kind=row.kind, id=row.id, bank_bin=row.bank_bin, sent_name=row.filename, format=row.format,
                  size=None if row.size is None else int(row.size), sha256=row.sha256, status=row.status,
                  uploaded_by=row.uploaded_by, uploaded_at=row.uploaded_at, kept=bool(row.kept),
                  content=row.content)


async def find_upload(session: AsyncSession, upload_id: UUID, *, with_content: bool = False) -> Upload | None:
    """The upload with this id, of any kind (None: there is none); its bytes too when ``with_content``."""
    content = ("u.content", "w.content", "i.content") if with_content else ("NULL::bytea",) * 3
    query = _UPLOADS.format(content_u=content[0], content_w=content[1], content_i=content[2],
                            where_u="WHERE u.id = :id", where_w="WHERE w.id = :id", where_i="WHERE i.id = :id")
    row = (await session.execute(text(query), {"id": upload_id})).first()
    return None if row is None else _upload(row)


async def list_uploads(session: AsyncSession, *, kind: str | None = None, bank_bin: str | None = None,
                       page: int = 1, page_size: int = 100) -> tuple[list[Upload], int]:
    """Uploads newest first (of one kind, of one bank: then no registry imports, which come from no bank),
    a page at a time, and how many there are in all."""
    where = {"where_u": "WHERE u.bank_bin = :bank", "where_w": "WHERE w.bank_bin = :bank",
             "where_i": "WHERE false"} if bank_bin is not None else {"where_u": "", "where_w": "", "where_i": ""}
    query = _UPLOADS.format(content_u="NULL::bytea", content_w="NULL::bytea", content_i="NULL::bytea", **where)
    chosen = "WHERE kind = :kind" if kind is not None else ""
    page, page_size = page_window(page, page_size)
    params = {"bank": bank_bin, "kind": kind, "limit": page_size, "offset": (page - 1) * page_size}
    total = await session.scalar(text(f"SELECT count(*) FROM ({query}) AS uploads {chosen}"), params)  # noqa: S608
    rows = await session.execute(text(
        f"""SELECT * FROM ({query}) AS uploads {chosen}
             ORDER BY uploaded_at DESC, id LIMIT :limit OFFSET :offset"""), params)  # noqa: S608 - constant fragments
    return [_upload(row) for row in rows], int(total or 0)
