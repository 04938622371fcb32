"""The audit log as an Excel sheet: the filtered list, newest first, every text cell neutralised."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.audit.names import action_words, object_type_words
from app.audit.queries import AuditFilter, count_entries, shows_details, stream_entries
from app.auth.models import Role
from app.auth.names import role_label, staff_label
from app.spreadsheets import (
    Column,
    add_autofilter,
    neutralise,
    print_landscape_fit_width,
    start_table,
    text_cell,
    workbook_bytes,
)
from app.vietnam_time import VIETNAM

XLSX_LIMIT = 50_000
CHUNK_ROWS = 2_000
MAX_CELL_TEXT = 32_000  # Excel holds at most 32,767 characters in a cell
HIDDEN_DETAILS = "(ẩn với vai trò quản trị / hidden from administrators)"

COLUMNS = (
    Column("STT\nNo.", 7),
    Column("Thời điểm (giờ Việt Nam)\nTime (Vietnam)", 20),
    Column("Người thực hiện\nActor", 18),
    Column("Vai trò\nRole", 20),  # "Cán bộ cấp tỉnh / Province officer", wrapped
    Column("Hành động\nAction", 30),
    Column("Mã hành động\nAction code", 26),
    Column("Loại đối tượng\nObject type", 16),
    Column("Mã đối tượng\nObject id", 38),
    Column("Trước khi đổi\nBefore", 50),
    Column("Sau khi đổi\nAfter", 50),
    Column("Mã yêu cầu\nRequest id", 20),
)


def _dots(number: int) -> str:
    return f"{number:,}".replace(",", ".")


def details_text(value: dict[str, Any] | None) -> str | None:
    """A before/after document as one line of JSON (keys sorted, Vietnamese kept), cut to fit a cell."""
    if value is None:
        return None
    rendered = json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)
    return rendered if len(rendered) <= MAX_CELL_TEXT else rendered[:MAX_CELL_TEXT] + "…"


def filter_lines(audit_filter: AuditFilter) -> list[str]:
    """The filter in words, for the sheet's title."""
    parts = []
    for label, value in (("Người thực hiện / actor", audit_filter.actor), ("Hành động / action", audit_filter.action),
                         ("Loại đối tượng / object type", audit_filter.object_type),
                         ("Mã đối tượng / object id", audit_filter.object_id)):
        if value is not None:
            parts.append(f"{label}: {value}")
    if audit_filter.since is not None:
        parts.append(f"Từ / from {audit_filter.since.astimezone(VIETNAM):%d/%m/%Y %H:%M}")
    if audit_filter.until is not None:
        parts.append(f"Trước / before {audit_filter.until.astimezone(VIETNAM):%d/%m/%Y %H:%M}")
    return ["Lọc / filter — " + "; ".join(parts)] if parts else ["Toàn bộ nhật ký / the whole log"]


def _row(number: int, entry: AuditEntry, actor_name: str | None, role: Role) -> list[Any]:
    """One entry as the sheet's plain values (text neutralised; the time in Việt Nam, without a zone); the actor
    as staff read it (``staff_label``) from their full name ``actor_name``."""
    action_vi, _ = action_words(entry.action)
    type_vi, _ = object_type_words(entry.object_type)
    details = shows_details(role, entry.object_type)
    before = details_text(entry.before) if details else (HIDDEN_DETAILS if entry.before is not None else None)
    after = details_text(entry.after) if details else (HIDDEN_DETAILS if entry.after is not None else None)
    return [number, entry.at.astimezone(VIETNAM).replace(tzinfo=None),
            *(neutralise(value) for value in (staff_label(entry.actor, actor_name), role_label(entry.actor_role), action_vi or entry.action, entry.action,
                                              type_vi or entry.object_type, entry.object_id, before, after,
                                              entry.request_id))]


def _append_rows(sheet: Any, rows: list[list[Any]]) -> None:
    for values in rows:
        at = WriteOnlyCell(sheet, value=values[1])
        at.number_format = "dd/mm/yyyy hh:mm:ss"
        values[1] = at
        values[3] = text_cell(sheet, values[3], wrap=True)  # the role in both languages, on two lines
        sheet.append(values)


async def audit_xlsx(session: AsyncSession, audit_filter: AuditFilter, *, role: Role, made_by: str,
                     now: datetime | None = None) -> tuple[bytes, int]:
    """The filtered entries (the newest ``XLSX_LIMIT``, saying so when there are more) as one sheet, and how
    many rows it holds. openpyxl is slow and holds the GIL: the rows are written in chunks in a worker thread,
    so the server goes on answering other requests meanwhile (about 11 s for 50,000 rows on two cores)."""
    _, more = await count_entries(session, audit_filter, cap=XLSX_LIMIT)
    made = (now or datetime.now(UTC)).astimezone(VIETNAM)
    title = ["Nhật ký kiểm toán / Audit log", *filter_lines(audit_filter),
             f"Lập lúc / made at {made:%d/%m/%Y %H:%M} — {made_by}"]
    if more:
        title.append(f"Tệp này chỉ gồm {_dots(XLSX_LIMIT)} dòng mới nhất; hãy thu hẹp bộ lọc để xem phần còn lại / "
                     f"this file holds the newest {XLSX_LIMIT:,} entries; narrow the filter for the rest")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Nhật ký - Audit log")
    print_landscape_fit_width(sheet)  # page setup goes before the first row in write-only mode
    header = start_table(sheet, COLUMNS, title_lines=title)
    written, chunk = 0, []
    async for entry, actor_name in stream_entries(session, audit_filter, limit=XLSX_LIMIT):
        written += 1
        chunk.append(_row(written, entry, actor_name, role))
        if len(chunk) == CHUNK_ROWS:
            await asyncio.to_thread(_append_rows, sheet, chunk)
            chunk = []
    await asyncio.to_thread(_append_rows, sheet, chunk)
    add_autofilter(sheet, len(COLUMNS), header, header + written)
    return await asyncio.to_thread(workbook_bytes, workbook), written
