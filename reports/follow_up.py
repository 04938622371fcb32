"""The follow-up list: people whose money has waited at least N days since it reached them (credited to
the account, or cash handed to the commune), the oldest people and the longest waits first, with
phone, address, amount waiting and the last contact; as data or as a printable A4 workbook."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any
from uuid import UUID

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.paging import page_window
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
from app.vietnam_time import vietnam_today, wall_clock
from reports.time_to_withdrawal import scope_condition

CONTACT_LABELS = {"visit": "Thăm nhà / visit", "call": "Gọi điện / call", "note": "Ghi chú / note",
                  "assisted": "Hỗ trợ rút / assisted withdrawal", "cash_handover": "Giao tiền mặt / cash handover"}


@dataclass(frozen=True)
class WaitingPerson:
    beneficiary_id: UUID
    full_name: str
    date_of_birth: date
    age: int
    sex: str
    commune_code: str
    commune_name: str
    phone: str | None
    address: str
    channel: str
    payouts_waiting: int
    amount_waiting: int
    waiting_since: datetime
    days_waiting: int
    last_contact_at: datetime | None
    last_contact_kind: str | None
    last_contact_by: str | None
    deceased_on: date | None = None  # the person's death is recorded: money waits for recovery, not a visit


@dataclass(frozen=True)
class FollowUpPage:
    """One page of the follow-up list, with the number of people and the amount waiting in the whole list
    (the same scope and filters), not only on this page; and, apart, the people of the scope whose death is
    recorded and whose money still waits (not to visit: an officer recovers it)."""

    people: list[WaitingPerson]
    total: int
    amount_waiting: int
    page: int
    page_size: int
    deceased: int = 0
    deceased_amount: int = 0


EXPORT_LIMIT = 5000  # the most people a workbook or the command line lists

# ``waiting_payouts`` is MATERIALIZED: its cost (the scope's payouts, and what was drawn from each) is paid once,
# however the planner estimates it. Inlined, an estimate gone wrong (withdrawal_allocation analysed while
# empty, then filled by a feed: 27,558 rows expected per payout) made the planner prefer walking every
# beneficiary in age order and scanning the waiting people for each, to stop early at the LIMIT: 110 s.
# ``totals`` counts and sums the same materialized rows, so the whole list's figures cost no second pass over
# the payouts; the page is LEFT JOINed to it, so a page past the end still answers one row with the totals.
# ``waiting`` reads each waiting person's date of death (one lookup by id each): a person whose death is recorded
# is not one to visit and remind; they are listed apart (``deceased``), with the money waiting for recovery.
_QUERY = """
    WITH waiting_payouts AS MATERIALIZED (
        SELECT p.beneficiary_id, count(*) AS payouts_waiting, min(coalesce(p.credited_at, p.sent_at)) AS since,
               sum(p.amount - coalesce(drawn.amount, 0))::bigint AS amount_waiting
          FROM payout p JOIN commune cm ON cm.code = p.commune_code
          LEFT JOIN LATERAL (SELECT sum(a.amount) AS amount FROM withdrawal_allocation a
                              WHERE a.payout_id = p.id AND p.first_withdrawal_at IS NOT NULL) drawn ON true
         WHERE p.withdrawn_at IS NULL AND p.status IN ('credited', 'sent')
           AND (p.status = 'credited' OR p.channel = 'cash') AND {where}
         GROUP BY p.beneficiary_id
        HAVING min(coalesce(p.credited_at, p.sent_at)) <= :cutoff
    ),
    waiting AS MATERIALIZED (
        SELECT w.*, d.deceased_on
          FROM waiting_payouts w
         CROSS JOIN LATERAL (SELECT x.deceased_on FROM beneficiary x WHERE x.id = w.beneficiary_id OFFSET 0) d
    ),
    totals AS (
        SELECT count(*) FILTER (WHERE (deceased_on IS NOT NULL) = :deceased) AS people,
               coalesce(sum(amount_waiting) FILTER (WHERE (deceased_on IS NOT NULL) = :deceased), 0)::bigint
                   AS amount,
               count(*) FILTER (WHERE deceased_on IS NOT NULL) AS deceased_people,
               coalesce(sum(amount_waiting) FILTER (WHERE deceased_on IS NOT NULL), 0)::bigint AS deceased_amount
          FROM waiting
    ),
    listed AS (
        SELECT b.id, b.full_name, b.name_sort_key, b.date_of_birth, b.sex, b.commune_code, cm.name AS commune_name, b.phone,
               b.address, b.channel, w.payouts_waiting, w.amount_waiting, w.since, w.deceased_on,
               date_part('year', age(CAST(:today AS date), b.date_of_birth))::int AS age,
               CASE WHEN date_part('year', age(CAST(:today AS date), b.date_of_birth)) >= 80 THEN 0
                    WHEN date_part('year', age(CAST(:today AS date), b.date_of_birth)) >= 70 THEN 1
                    WHEN date_part('year', age(CAST(:today AS date), b.date_of_birth)) >= 60 THEN 2
                    ELSE 3 END AS age_band,
               contact.at AS contact_at, contact.kind AS contact_kind, contact.by AS contact_by
          FROM (SELECT * FROM waiting WHERE (deceased_on IS NOT NULL) = :deceased) w
         -- Each waiting person looked up by id (OFFSET 0 keeps the lookup a lookup): a commune's few thousand,
         -- never a scan of every beneficiary chosen on an overestimate of how many are waiting.
         CROSS JOIN LATERAL (SELECT * FROM beneficiary x WHERE x.id = w.beneficiary_id OFFSET 0) b
          JOIN commune cm ON cm.code = b.commune_code
          LEFT JOIN LATERAL (
              SELECT * FROM (
                  -- the last contact as of the list's time: one dated later (still to come) is not one
                  (SELECT n.at, n.kind, n.recorded_by AS by FROM follow_up_note n
                    WHERE n.beneficiary_id = b.id AND n.at <= :as_of ORDER BY n.at DESC LIMIT 1)
                  UNION ALL
                  (SELECT x.occurred_at, x.channel, x.recorded_by FROM withdrawal x
                    WHERE x.beneficiary_id = b.id AND x.source = 'commune' AND x.occurred_at <= :as_of
                      AND NOT EXISTS (SELECT 1 FROM withdrawal_cancellation c WHERE c.withdrawal_id = x.id)
                    ORDER BY x.occurred_at DESC LIMIT 1)
              ) c ORDER BY c.at DESC LIMIT 1) contact ON true
         -- b.id last: a total order, so pages neither repeat nor skip anyone
         ORDER BY age_band, w.since, b.date_of_birth, b.name_sort_key, b.id
         LIMIT :limit OFFSET :offset
    )
    SELECT t.people AS total_people, t.amount AS total_amount, t.deceased_people, t.deceased_amount, l.*
      FROM totals t LEFT JOIN listed l ON true
     ORDER BY l.age_band, l.since, l.date_of_birth, l.name_sort_key, l.id
"""


async def follow_up_page(session: AsyncSession, *, communes: Sequence[str] | None = None,
                         provinces: Sequence[str] | None = None, commune: str | None = None, min_days: int = 7,
                         as_of: datetime | None = None, page: int = 1, page_size: int = 100,
                         deceased: bool = False) -> FollowUpPage:
    """Page ``page`` (from 1) of the people waiting at least ``min_days`` (by their oldest unwithdrawn payout),
    80+ first, then 70–79, 60–69 and younger, within a band the longest wait first; with the number of people
    and the amount waiting in the whole list. A page past the end has nobody, and the same totals.

    The list is of the living (people to visit and remind); a person whose death is recorded is never in it,
    and is counted in ``deceased`` / ``deceased_amount`` instead. ``deceased=True`` lists those people (same
    order), for the officer to recover their money."""
    as_of = as_of or datetime.now(UTC)
    page, page_size = page_window(page, page_size, most=max(page_size, 1))
    params: dict[str, Any] = {"cutoff": as_of - timedelta(days=min_days), "today": vietnam_today(as_of),
                              "as_of": as_of, "limit": page_size, "offset": (page - 1) * page_size,
                              "deceased": deceased}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune)
    rows = (await session.execute(text(_QUERY.format(where=where)), params)).all()
    people = [WaitingPerson(
        beneficiary_id=r.id, full_name=r.full_name, date_of_birth=r.date_of_birth, age=r.age, sex=r.sex,
        commune_code=r.commune_code, commune_name=r.commune_name, phone=r.phone, address=r.address,
        channel=r.channel, payouts_waiting=int(r.payouts_waiting), amount_waiting=int(r.amount_waiting),
        waiting_since=r.since, days_waiting=int((as_of - r.since).total_seconds() // 86400),
        last_contact_at=r.contact_at, last_contact_kind=r.contact_kind, last_contact_by=r.contact_by,
        deceased_on=r.deceased_on,
    ) for r in rows if r.id is not None]
    return FollowUpPage(people=people, total=int(rows[0].total_people), amount_waiting=int(rows[0].total_amount),
                        page=page, page_size=page_size, deceased=int(rows[0].deceased_people),
                        deceased_amount=int(rows[0].deceased_amount))


async def follow_up_list(session: AsyncSession, *, communes: Sequence[str] | None = None,
                         provinces: Sequence[str] | None = None, commune: str | None = None, min_days: int = 7,
                         as_of: datetime | None = None, limit: int = EXPORT_LIMIT) -> list[WaitingPerson]:
    """The first ``limit`` people of the follow-up list (see ``follow_up_page``)."""
    return (await follow_up_page(session, communes=communes, provinces=provinces, commune=commune,
                                 min_days=min_days, as_of=as_of, page=1, page_size=limit)).people


FOLLOW_UP_COLUMNS = (
    Column("STT / No.", 6), Column("Họ và tên / Full name", 26), Column("Tuổi / Age", 7),
    Column("Điện thoại / Phone", 13), Column("Địa chỉ / Address", 30),
    Column("Số tiền chờ rút (đ) / Amount waiting (VND)", 16, money=True),
    Column("Chờ từ ngày / Waiting since", 13), Column("Số ngày chờ / Days waiting", 9),
    Column("Liên hệ gần nhất / Last contact", 13), Column("Hình thức liên hệ / Contact kind", 17),
    Column("Kết quả liên hệ / Outcome (viết tay)", 28),
)
DATE_FORMAT = "dd/mm/yyyy"


def deceased_line(people: int, amount: int) -> str:
    """What the list says of the people left out because their death is recorded (Vietnamese / English)."""
    count, dong = f"{people:,}".replace(",", "."), f"{amount:,}".replace(",", ".")
    return (f"Không liệt kê {count} người đã mất còn {dong} đ chưa rút: không đến nhắc rút tiền, báo cán bộ để "
            f"thu hồi / {people:,} people whose death is recorded, with {amount:,} đồng not withdrawn, are not "
            "listed: do not visit to remind them; tell the officer, who recovers the money")


def _date_cell(sheet: Any, moment: datetime | None) -> WriteOnlyCell:
    """The day of ``moment`` in Việt Nam, as a real date cell (dd/mm/yyyy); empty when there is none."""
    if moment is None:
        return WriteOnlyCell(sheet, value=None)
    cell = WriteOnlyCell(sheet, value=wall_clock(moment).date())
    cell.number_format = DATE_FORMAT
    return cell


def follow_up_workbook(people: Sequence[WaitingPerson], *, title: str, min_days: int,
                       total: int | None = None, deceased: int = 0, deceased_amount: int = 0) -> bytes:
    """A printable A4 landscape list (fits the page width, header repeated on each page). ``total``: how many
    people the whole list has, when ``people`` is only its beginning (the file then says so above the table).
    ``deceased`` / ``deceased_amount``: the people left out because their death is recorded, and their money
    still waiting (said above the table: not to visit, the officer recovers it)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Theo dõi - Follow-up")
    print_landscape_fit_width(sheet, gridlines=True)  # page setup goes before the first row in write-only mode
    title_lines = [title, f"Người chưa rút tiền sau {min_days} ngày / People who have not withdrawn after {min_days} days"]
    if total is not None and total > len(people):
        shown, whole = f"{len(people):,}".replace(",", "."), f"{total:,}".replace(",", ".")
        title_lines.append(f"Danh sách có {whole} người; tệp này chỉ liệt kê {shown} người đầu tiên — lọc theo "
                           f"xã/phường để có đủ / The list has {total:,} people; this file lists the first "
                           f"{len(people):,} only — filter by commune for all")
    if deceased:
        title_lines.append(deceased_line(deceased, deceased_amount))
    header_row = start_table(sheet, FOLLOW_UP_COLUMNS, title_lines=tuple(title_lines))
    several_communes = len({person.commune_code for person in people}) > 1
    for number, person in enumerate(people, start=1):
        contact = ""
        if person.last_contact_kind is not None:
            contact = CONTACT_LABELS.get(person.last_contact_kind, person.last_contact_kind)
        sheet.append([
            WriteOnlyCell(sheet, value=number), text_cell(sheet, person.full_name),
            WriteOnlyCell(sheet, value=person.age), text_cell(sheet, person.phone or ""),
            text_cell(sheet, f"{person.address}, {person.commune_name}" if several_communes else person.address),
            money_cell(sheet, person.amount_waiting),
            _date_cell(sheet, person.waiting_since), WriteOnlyCell(sheet, value=person.days_waiting),
            _date_cell(sheet, person.last_contact_at), text_cell(sheet, contact), text_cell(sheet, ""),
        ])
    first, last = header_row + 1, header_row + len(people)
    if people:
        total_label = text_cell(sheet, "Tổng cộng / Total", bold=True)
        sheet.append([None, total_label, None, None, None, sum_cell(sheet, 6, first, last)])
    add_autofilter(sheet, len(FOLLOW_UP_COLUMNS), header_row, max(last, header_row))
    return workbook_bytes(workbook)
