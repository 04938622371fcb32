"""HTTP API of the raw uploads kept for audit: list them, download one as it was received (audited)."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import structlog
from litestar import Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.service import Principal
from app.http.downloads import attachment
from app.http.paging import Page, PageSize
from app.http.problems import Problem, bilingual
from app.uploads_api.service import KINDS, Upload, find_upload, list_uploads

log = structlog.get_logger()

# Officers and auditors see every upload; a bank's key its own bank's; nobody else any.
UPLOAD_READERS = (Role.officer, Role.auditor, Role.bank)
MAX_PAGE_SIZE = 500
NOT_FOUND = ("Không tìm thấy tệp đã tải lên", "upload not found")


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = current_principal(request)
    assert principal is not None  # guards ran
    return principal


def visible_to(principal: Principal, upload: Upload) -> bool:
    """Whether the caller may have the file: staff the guard let in, all; a bank, its own bank's only."""
    return principal.role != Role.bank or (upload.bank_bin is not None and upload.bank_bin == principal.bank_bin)


@get("/api/uploads", guards=[requires(*UPLOAD_READERS)], tags=["uploads"])
async def uploads(request: Request[Any, Any, Any], db_session: AsyncSession, kind: str | None = None,
                  bank: str | None = None, page: Page = 1, page_size: PageSize = 100) -> dict[str, Any]:
    """Kept uploads, newest first: bank statement files (``statement``, accepted and rejected), banks'
    withdrawal activity (``withdrawals``) and registry import files (``registry``), each with its ``url``.
    A bank: its own uploads only."""
    if kind is not None and kind not in KINDS:
        raise Problem(400, bilingual("kind phải là statement, withdrawals hoặc registry",
                                     "kind must be statement, withdrawals or registry"))
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise Problem(400, bilingual(f"page từ 1, page_size từ 1 đến {MAX_PAGE_SIZE}",
                                     f"page must be 1 or more, page_size between 1 and {MAX_PAGE_SIZE}"))
    principal = _principal(request)
    if principal.role == Role.bank:
        bank = principal.bank_bin  # never another bank's, nor the registry's
    items, total = await list_uploads(db_session, kind=kind, bank_bin=bank, page=page, page_size=page_size)
    return {"items": [item.as_json() for item in items], "total": total, "page": page, "page_size": page_size}


@get("/api/uploads/{upload_id:uuid}", guards=[requires(*UPLOAD_READERS)], tags=["uploads"])
async def download_upload(request: Request[Any, Any, Any], db_session: AsyncSession,
                          upload_id: UUID) -> Response[bytes]:
    """One upload's file as it was received, under the name it was sent with (audited ``upload.download``).
    404 for an unknown id and, to a bank, for another bank's upload or a registry import."""
    principal = _principal(request)
    upload = await find_upload(db_session, upload_id)
    if upload is None or not visible_to(principal, upload):
        if upload is not None:
            log.warning("upload_download_refused", upload=str(upload_id), kind=upload.kind, caller=principal.name)
        raise Problem(404, bilingual(*NOT_FOUND))
    if not upload.kept:
        raise Problem(404, bilingual(
            "Tệp của lần nhận này không được lưu: ansinh lưu tệp hoạt động rút tiền từ bản cập nhật 0031; lần nhận "
            "và mã SHA-256 của tệp vẫn còn",
            "this intake's file was not kept: ansinh keeps withdrawal activity files since migration 0031; the "
            "intake and the file's SHA-256 are still there"))
    upload = await find_upload(db_session, upload_id, with_content=True)
    assert upload is not None and upload.content is not None
    await record(db_session, actor=principal.name, actor_role=principal.role.value, action="upload.download",
                 object_type=upload.table, object_id=upload.id,
                 after={"kind": upload.kind, "filename": upload.filename, "bank_bin": upload.bank_bin,
                        "size": len(upload.content), "sha256": upload.sha256})
    log.info("upload_downloaded", upload=str(upload.id), kind=upload.kind, size=len(upload.content))
    headers = {"Content-Disposition": attachment(upload.filename),
               # what was uploaded is served as a file, never rendered or sniffed into a page
               "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}
    if upload.sha256 is not None:
        headers["X-Content-SHA256"] = upload.sha256.hex()
    return Response(upload.content, media_type=upload.media_type, headers=headers)


ROUTES = [uploads, download_upload]
