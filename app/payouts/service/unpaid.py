"""Everyone a run did not pay, whole: people compute skipped (no usable bank account, a name mismatch …),
people held until an officer acts (a bank return blocked the account, the bank reported a death), and
payouts withheld at approval or send (a death, a suspension, a move recorded after compute).

The run's page shows the first rows of each list; this is the whole list an officer works through, as a
paged JSON list (API.md's list convention) or one Excel sheet to print.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from openpyxl import Workbook
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.paging import page_window
from app.http.problems import counted
from app.payouts.service.errors import NotFound
from app.payouts.service.recheck import WITHHELD_PREFIX, withheld_text
from app.payouts.service.runs import HOLD_REASONS, format_period, get_run, scope_line, skip_texts
from app.spreadsheets import (
    Column,
    add_autofilter,
    money_cell,
    print_landscape_fit_width,
    start_table,
    sum_cell,
    text_cell,
    workbook_bytes,
)
from app.vietnam_time import VIETNAM

# What happened to the person in this run, in the words of the run's page.
KINDS = {
    "skipped": ("Không chi", "not paid"),
    "held": ("Tạm giữ, chờ cán bộ xử lý", "held for an officer"),
    "withheld": ("Giữ lại sau khi tính", "withheld after compute"),
}

# One query for the three lists: a skip is "held" when its reason is a hold; a withheld payout is a
# cancelled payout of the run whose reason carries the re-check's prefix.
_UNPAID = """
    WITH unpaid AS (
        SELECT CASE WHEN s.reason = ANY(:holds) THEN 'held' ELSE 'skipped' END AS kind, s.beneficiary_id,
               s.reason, s.detail, s.since, s.amount, NULL::text AS reference
          FROM payout_run_skip s WHERE s.run_id = :run
        UNION ALL
        SELECT 'withheld', p.beneficiary_id, substr(p.return_reason, length(:prefix) + 1), NULL, NULL, p.amount,
               p.reference
          FROM payout p
         WHERE p.run_id = :run AND p.status = 'cancelled' AND left(p.return_reason, length(:prefix)) = :prefix)
    SELECT u.kind, u.beneficiary_id, b.national_id, b.full_name, b.commune_code, c.name AS commune_name,
           u.reason, u.detail, u.since, u.amount, u.reference,
           count(*) OVER () AS total, sum(u.amount) OVER ()::bigint AS total_amount
      FROM unpaid u JOIN beneficiary b ON b.id = u.beneficiary_id JOIN commune c ON c.code = b.commune_code
"""
_ORDER = " ORDER BY b.commune_code, b.name_sort_key, u.kind, u.reference NULLS FIRST"

XLSX_LIMIT = 100_000


def _dots(number: int) -> str:
    """A count or amount as Vietnamese write it: 1.234.567."""
    return f"{number:,}".replace(",", ".")


def _item(row: Any) -> dict[str, Any]:
    if row.kind == "withheld":
        vi, en = withheld_text(WITHHELD_PREFIX + row.reason) or (row.reason, row.reason)
    else:
        vi, en = skip_texts(row.reason, row.detail)
    kind_vi, kind_en = KINDS[row.kind]
    return {"kind": row.kind, "kind_vi": kind_vi, "kind_en": kind_en, "beneficiary_id": str(row.beneficiary_id),
            "national_id": row.national_id, "full_name": row.full_name, "commune_code": row.commune_code,
            "commune_name": row.commune_name, "reason": row.reason, "return_reason": row.detail,
            "reason_vi": vi, "reason_en": en, "since": row.since.isoformat() if row.since else None,
            "amount": int(row.amount), "payout_reference": row.reference}


def _unpaid(provinces: Sequence[str] | None) -> str:
    """The list's query, of a province-limited caller's provinces only (None: everyone)."""
    return _UNPAID + (" WHERE c.province_code = ANY(:provinces)" if provinces is not None else "")


def _params(run_id: UUID, provinces: Sequence[str] | None) -> dict[str, Any]:
    return {"run": run_id, "holds": list(HOLD_REASONS), "prefix": WITHHELD_PREFIX, "provinces": list(provinces or ())}


async def _rows(session: AsyncSession, run_id: UUID, limit: int, offset: int,
                provinces: Sequence[str] | None) -> list[Any]:
    await get_run(session, run_id)  # 404 for an unknown run
    return list(await session.execute(text(_unpaid(provinces) + _ORDER + " LIMIT :limit OFFSET :offset"),
                                      {**_params(run_id, provinces), "limit": limit, "offset": offset}))


async def unpaid_page(session: AsyncSession, run_id: UUID, *, page: int = 1, page_size: int = 100,
                      provinces: Sequence[str] | None = None) -> dict[str, Any]:
    """One page of the run's unpaid people, with the whole list's count and amount (from the same query);
    ``provinces``: a province-limited caller's, the list (and its count and amount) of those provinces only."""
    page, page_size = page_window(page, page_size)
    rows = await _rows(session, run_id, page_size, (page - 1) * page_size, provinces)
    if rows:
        total, total_amount = int(rows[0].total), int(rows[0].total_amount)
    else:  # a page past the end still says how long the list is
        counted = await session.execute(text(f"SELECT count(*) AS n, coalesce(sum(u.amount), 0)::bigint AS amount FROM ({_unpaid(provinces)}) u"),  # noqa: S608
                                        _params(run_id, provinces))
        total, total_amount = (int(v) for v in counted.one())
    return {"items": [_item(r) for r in rows], "total": total, "total_amount": total_amount, "page": page,
            "page_size": page_size, "scope": None if provinces is None else {"provinces": list(provinces)}}


_COLUMNS = (
    Column("STT\nNo.", 6),
    Column("Mã xã\nCommune code", 9),
    Column("Xã/phường\nCommune", 20),
    Column("Họ và tên\nFull name", 24),
    Column("Số CCCD\nCitizen ID", 15),
    Column("Tình trạng\nStatus", 16),
    Column("Lý do\nReason", 44),
    Column("Reason (English)", 40),
    Column("Từ ngày\nSince", 11),
    Column("Số tiền (đ)\nAmount (VND)", 14, money=True),
    Column("Mã giao dịch\nPayout reference", 18),
)


async def unpaid_xlsx(session: AsyncSession, run_id: UUID, *, now: datetime | None = None,
                      provinces: Sequence[str] | None = None) -> bytes:
    """The whole list as one printable sheet (A4 landscape) with a total row; a list longer than
    ``XLSX_LIMIT`` people holds its first ones and says so (the JSON list pages through any length).
    ``provinces``: a province-limited caller's, the list of those provinces only, saying so."""
    run = await get_run(session, run_id)
    rows = await _rows(session, run_id, XLSX_LIMIT, 0, provinces)
    if not rows and provinces is not None:
        raise NotFound("Trong phạm vi của bạn, đợt chi không bỏ sót ai", "the run left no one out within your scope")
    if not rows:
        raise NotFound("Đợt chi không bỏ sót ai: không có người nào không được chi",
                       "the run left no one out: there is nobody it did not pay")
    total, total_amount = int(rows[0].total), int(rows[0].total_amount)
    title = [f"Danh sách không chi / Not paid — {run.programme_code} {format_period(run.period)}",
             f"{_dots(total)} người, {_dots(total_amount)} đ / {counted(total, 'person', 'people')}, {total_amount:,} VND"]
    if provinces is not None:
        title.append(await scope_line(session, provinces))
    if total > len(rows):
        title.append(f"Tệp này chỉ gồm {_dots(len(rows))} người đầu; danh sách JSON có đủ / "
                     f"this file holds the first {len(rows):,}; the JSON list has them all")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Không chi - Not paid")
    made = (now or datetime.now(UTC)).astimezone(VIETNAM)
    title.append(f"Lập lúc / made at {made:%d/%m/%Y %H:%M}")
    print_landscape_fit_width(sheet)  # page setup goes before the first row in write-only mode
    header = start_table(sheet, _COLUMNS, title_lines=title)
    for number, row in enumerate(rows, start=1):
        item = _item(row)
        since = row.since.astimezone(VIETNAM).strftime("%d/%m/%Y") if row.since else None
        sheet.append([number, text_cell(sheet, item["commune_code"]), text_cell(sheet, item["commune_name"]),
                      text_cell(sheet, item["full_name"]), text_cell(sheet, item["national_id"]),
                      text_cell(sheet, item["kind_vi"]), text_cell(sheet, item["reason_vi"]),
                      text_cell(sheet, item["reason_en"]), text_cell(sheet, since), money_cell(sheet, item["amount"]),
                      text_cell(sheet, item["payout_reference"])])
    first, last = header + 1, header + len(rows)
    money_column = next(i for i, column in enumerate(_COLUMNS, start=1) if column.money)
    sheet.append([None, None, None, text_cell(sheet, "Tổng cộng / Total", bold=True)]
                 + [None] * (money_column - 5) + [sum_cell(sheet, money_column, first, last)])
    add_autofilter(sheet, len(_COLUMNS), header, last)
    return workbook_bytes(workbook)
