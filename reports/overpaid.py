"""Overpaid, to recover ("Chi sai, cần thu hồi"): money already paid for months the registry, as it stands now,
says were not due — a death recorded with a date months back, an enrolment ended retroactively, a suspension
recorded late, a coefficient or category corrected downwards.

A month paid by the old province after a move to another province recorded late is not money to recover from the
person: the month stays paid (each enrolment and month is paid once), so the new province never pays it, and the
person was due it. It is a matter between the provinces' budgets; such months are listed apart ("moved away"), with
nothing to recover.

Set-based: the months paid (``payout_month`` rows not released, of payouts that went out: ``sent`` or
``credited``; a returned or cancelled payout paid nothing) are compared with what the registry's rules for that
month say is due (the rules of ``entitlements_for_month(month)``: one row per person and benefit group, the amount
due and the commune that owes it), computed once per person for each stretch of months in which none of their
inputs changes. Only months whose registry rows were written after their payout's run was computed are listed
(the person's event, an enrolment of theirs created or changed, or a rate for that month or before added later,
e.g. a base amount lowered with a past effective date): a month paid by the registry as it stood then and unchanged
since is due by the same rules.

A list and a notice only: no ledger entry is posted and no payout changed (recovery is another procedure).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from uuid import UUID

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

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
from app.vietnam_time import month_text
from reports.time_to_withdrawal import scope_condition

# Why a paid month is not (or not wholly) due now, in the order the query decides it.
REASONS: dict[str, tuple[str, str]] = {
    "deceased": ("Người hưởng đã qua đời trước tháng này", "the beneficiary died before this month"),
    "suspended": ("Trợ cấp bị tạm dừng trong tháng này", "the allowance was suspended for this month"),
    "enrolment_ended": ("Quyết định hưởng đã kết thúc trước tháng này", "the enrolment ended before this month"),
    "moved": ("Đã chuyển đến tỉnh/thành phố khác: chi thay tỉnh mới, không thu hồi của người hưởng",
              "moved to another province: paid for the new province, not to be recovered from the person"),
    "reduced": ("Mức hưởng được điều chỉnh giảm (hệ số, đối tượng)",
                "the entitlement was lowered (coefficient, category)"),
    "other": ("Không còn được hưởng theo hồ sơ hiện tại", "no longer due by the registry as it stands"),
}
NOTICE_VI = "Danh sách để đối chiếu và thu hồi; hệ thống chưa ghi nhận khoản thu hồi"
NOTICE_EN = "A list to check and recover; the system has not recorded any recovery"
MOVED_TITLE_VI = "Chi thay tỉnh khác (đã chuyển đi), không thu hồi của người hưởng"
MOVED_TITLE_EN = "Paid for another province (moved away), not to be recovered from the person"
# What to do with the overpaid money not withdrawn yet, by the channel that paid it (Vietnamese, English).
RECALL_ADVICE: dict[str, tuple[str, str]] = {
    "bank": ("còn trong tài khoản: có thể đề nghị ngân hàng thu hồi", "still in the account: the bank can be asked to recall it"),
    "cash": ("còn ở xã/phường, chưa giao: nộp lại (hoàn trả tiền mặt)",
             "still held by the commune, not handed over: return it (cash return)"),
}
EXPORT_LIMIT = 5000  # the most people a workbook lists

# Set-based, each fact computed once and joined by hash (a probe of entitlements_for_month per paid month cost a
# quarter of a millisecond each: a minute for the demo's 240,000 months).
#
# ``paid_groups``: the months that went out in the scope, per person, benefit group, amount and province paid.
# What the registry's rules say is due for a person and month (entitlements_for_month: the person's active status
# period of the month — beneficiaries_active_in —, the enrolments running that month, the rate in force and, per
# benefit group, the highest amount, then the earliest start, the lowest id) can only change at a month where one of
# its inputs does: a status period begins or ends, an enrolment starts or ends, a rate takes effect. ``steps``: per
# person, the first month paid and each such month up to the last month paid; ``owed``: the entitlements at each
# step, by those same rules (``rates``: rate_in_force once per programme, province and month). ``suspect``: the
# people and benefit groups paid, in some step, more than is owed in it, or in another province; only their months
# are read one by one (``checked``, each compared with its step: the latest at or before it).
#
# Only months whose registry rows were written after their payout's run was computed are listed (the person's event,
# an enrolment of theirs created or changed, or a rate for that month or before added later, e.g. a base amount
# lowered with a past effective date): a month paid by the registry as it stood then and unchanged since is due by
# the same rules. That test (index probes by person) is made on the months the rules now disagree with only.
#
# A month the registry now puts in another province (a move recorded late) was due to the person all the same: it is
# not overpaid (``due_now`` is what was paid) but listed apart as ``moved``, the old province having paid it for the
# new one.
_QUERY = """
    WITH paid_groups AS MATERIALIZED (
        SELECT pm.beneficiary_id, pm.benefit_group, pm.amount, cm.province_code, min(pm.month) AS first_month,
               max(pm.month) AS last_month
          FROM payout_month pm
          JOIN payout p ON p.id = pm.payout_id
          JOIN commune cm ON cm.code = p.commune_code
         WHERE pm.released_at IS NULL AND p.status IN ('sent', 'credited') AND {where}
         GROUP BY pm.beneficiary_id, pm.benefit_group, pm.amount, cm.province_code
    ),
    people AS MATERIALIZED (
        SELECT beneficiary_id, min(first_month) AS first_paid, max(last_month) AS last_paid
          FROM paid_groups GROUP BY beneficiary_id
    ),
    periods AS MATERIALIZED (
        SELECT s.beneficiary_id, s.status, s.commune_code, s.valid_from, s.valid_to
          FROM beneficiary_status_period s
         WHERE s.beneficiary_id IN (SELECT pp.beneficiary_id FROM people pp)
    ),
    change AS (
        SELECT s.beneficiary_id, date_trunc('month', s.valid_from)::date AS month
          FROM periods s WHERE s.valid_from > '-infinity'
        UNION ALL
        SELECT s.beneficiary_id, (date_trunc('month', s.valid_to - 1) + interval '1 month')::date
          FROM periods s WHERE s.valid_to IS NOT NULL
        UNION ALL
        SELECT n.beneficiary_id, n.start_month FROM enrolment n
        UNION ALL
        SELECT n.beneficiary_id, (n.end_month + interval '1 month')::date FROM enrolment n
         WHERE n.end_month IS NOT NULL
    ),
    step_months AS (
        SELECT pp.beneficiary_id, pp.first_paid AS month FROM people pp
        UNION
        SELECT c.beneficiary_id, c.month FROM change c
          JOIN people pp ON pp.beneficiary_id = c.beneficiary_id
         WHERE c.month > pp.first_paid AND c.month <= pp.last_paid
        UNION
        SELECT pp.beneficiary_id, f.effective_from FROM people pp
          JOIN (SELECT DISTINCT effective_from FROM programme_rate) f
            ON f.effective_from > pp.first_paid AND f.effective_from <= pp.last_paid
    ),
    steps AS MATERIALIZED (
        SELECT k.beneficiary_id, k.month,
               lead(k.month) OVER (PARTITION BY k.beneficiary_id ORDER BY k.month) AS next_month
          FROM step_months k
    ),
    active AS (
        SELECT DISTINCT ON (k.beneficiary_id, k.month) k.beneficiary_id, k.month, k.next_month, s.commune_code
          FROM steps k
          JOIN periods s ON s.beneficiary_id = k.beneficiary_id
         WHERE s.status = 'active' AND s.valid_from < (k.month + interval '1 month')::date
           AND (s.valid_to IS NULL OR (s.valid_to > k.month AND s.valid_to > s.valid_from))
         ORDER BY k.beneficiary_id, k.month, s.valid_from DESC
    ),
    candidate AS MATERIALIZED (
        SELECT a.beneficiary_id, a.month, a.next_month, e.id AS enrolment_id, e.programme_code, e.coefficient,
               e.start_month, g.benefit_group, c.province_code
          FROM active a
          JOIN enrolment e ON e.beneficiary_id = a.beneficiary_id AND e.start_month <= a.month
                          AND (e.end_month IS NULL OR e.end_month >= a.month)
          JOIN programme g ON g.code = e.programme_code
          JOIN commune c ON c.code = a.commune_code
    ),
    rates AS MATERIALIZED (
        SELECT k.programme_code, k.province_code, k.month,
               rate_in_force(k.programme_code, k.province_code, k.month) AS base_amount
          FROM (SELECT DISTINCT programme_code, province_code, month FROM candidate) k
    ),
    owed AS MATERIALIZED (
        SELECT DISTINCT ON (c.beneficiary_id, c.benefit_group, c.month)
               c.beneficiary_id, c.benefit_group, c.month, c.next_month, c.province_code,
               monthly_amount(r.base_amount, c.coefficient) AS amount
          FROM candidate c
          JOIN LATERAL (SELECT r.base_amount FROM rates r
                         WHERE r.programme_code = c.programme_code AND r.province_code = c.province_code
                           AND r.month = c.month OFFSET 0) r ON r.base_amount IS NOT NULL
         ORDER BY c.beneficiary_id, c.benefit_group, c.month, monthly_amount(r.base_amount, c.coefficient) DESC,
                  c.start_month, c.enrolment_id
    ),
    suspect AS MATERIALIZED (
        SELECT DISTINCT g.beneficiary_id, g.benefit_group
          FROM paid_groups g
          JOIN steps st ON st.beneficiary_id = g.beneficiary_id AND st.month <= g.last_month
                       AND (st.next_month IS NULL OR st.next_month > g.first_month)
          LEFT JOIN owed o ON o.beneficiary_id = g.beneficiary_id AND o.benefit_group = g.benefit_group
                          AND o.month = st.month
         WHERE o.amount IS NULL OR o.amount < g.amount OR o.province_code <> g.province_code
    ),
    checked AS MATERIALIZED (
        SELECT * FROM (
        SELECT d.*, o.amount AS entitled, o.province_code AS owed_province,
               coalesce(o.province_code <> d.province_code, false) AS moved,
               CASE WHEN o.amount IS NULL THEN 0
                    WHEN o.province_code <> d.province_code THEN d.amount
                    ELSE o.amount END AS due_now
          FROM (SELECT pm.beneficiary_id, pm.benefit_group, pm.month, pm.enrolment_id, pm.amount, p.reference,
                       p.commune_code, cm.province_code, p.channel, r.computed_at
                  FROM suspect s
                  JOIN LATERAL (SELECT * FROM payout_month pm
                                 WHERE pm.beneficiary_id = s.beneficiary_id AND pm.benefit_group = s.benefit_group
                                   AND pm.released_at IS NULL OFFSET 0) pm ON true
                  JOIN payout p ON p.id = pm.payout_id
                  JOIN payout_run r ON r.id = p.run_id
                  JOIN commune cm ON cm.code = p.commune_code
                 WHERE p.status IN ('sent', 'credited') AND {where}) d
          LEFT JOIN owed o ON o.beneficiary_id = d.beneficiary_id AND o.benefit_group = d.benefit_group
                          AND o.month <= d.month AND (o.next_month IS NULL OR o.next_month > d.month)
        ) x WHERE x.amount > x.due_now OR x.moved
    ),
    listed AS MATERIALIZED (
        SELECT c.* FROM checked c
         WHERE EXISTS (SELECT 1 FROM beneficiary_event e
                         WHERE e.beneficiary_id = c.beneficiary_id
                           AND e.recorded_at > coalesce(c.computed_at, '-infinity'))
                OR EXISTS (SELECT 1 FROM enrolment n
                            WHERE n.beneficiary_id = c.beneficiary_id
                              AND greatest(n.created_at, n.updated_at) > coalesce(c.computed_at, '-infinity'))
                OR EXISTS (SELECT 1 FROM programme_rate pr
                            WHERE pr.created_at > coalesce(c.computed_at, '-infinity')
                              AND pr.effective_from <= c.month)
    )
    SELECT c.beneficiary_id, b.full_name, b.date_of_birth, c.commune_code, cm.name AS commune_name,
           c.province_code, c.month, c.amount AS paid, c.due_now, c.amount - c.due_now AS overpaid, c.reference,
           c.channel,
           coalesce(u.credited - u.drawn, 0) AS undrawn,
           CASE WHEN c.entitled IS NULL THEN
                     CASE WHEN b.deceased_on IS NOT NULL AND b.deceased_on < c.month THEN 'deceased'
                          WHEN EXISTS (SELECT 1 FROM beneficiary_status_period s
                                        WHERE s.beneficiary_id = c.beneficiary_id AND s.status = 'suspended'
                                          AND s.valid_from < (c.month + interval '1 month')::date
                                          AND (s.valid_to IS NULL OR s.valid_to > c.month)) THEN 'suspended'
                          WHEN n.end_month < c.month OR n.start_month > c.month THEN 'enrolment_ended'
                          ELSE 'other' END
                WHEN c.owed_province <> c.province_code THEN 'moved'
                ELSE 'reduced' END AS reason
      FROM listed c
      JOIN beneficiary b ON b.id = c.beneficiary_id
      JOIN commune cm ON cm.code = c.commune_code
      JOIN enrolment n ON n.id = c.enrolment_id
      LEFT JOIN undrawn_position u ON u.beneficiary_id = c.beneficiary_id
     ORDER BY vietnamese_sort_key(cm.name) COLLATE "C", c.commune_code, b.name_sort_key, c.beneficiary_id, c.month
"""


@dataclass(frozen=True)
class OverpaidMonth:
    """One month paid and not (wholly) due now."""

    month: date
    paid: int
    due_now: int
    overpaid: int
    reason: str
    reference: str
    channel: str = "bank"  # the payout's: "bank" or "cash"

    def as_dict(self) -> dict[str, Any]:
        vi, en = REASONS[self.reason]
        return {"month": f"{self.month:%Y-%m}", "month_text": month_text(self.month), "paid": self.paid,
                "due_now": self.due_now, "overpaid": self.overpaid, "reason": self.reason, "reason_vi": vi,
                "reason_en": en, "reference": self.reference, "channel": self.channel}


@dataclass
class OverpaidPerson:
    """A person paid for months not (wholly) due now, with those months."""

    beneficiary_id: UUID
    full_name: str
    date_of_birth: date
    commune_code: str
    commune_name: str
    province_code: str
    undrawn: int = 0  # what reached the person and is not withdrawn (or, for cash, not handed over) yet
    months: list[OverpaidMonth] = field(default_factory=list)

    @property
    def paid(self) -> int:
        return sum(m.paid for m in self.months)

    @property
    def due_now(self) -> int:
        return sum(m.due_now for m in self.months)

    @property
    def overpaid(self) -> int:
        return sum(m.overpaid for m in self.months)

    @property
    def recallable(self) -> int:
        """The part of the overpaid amount still in the person's account (the bank can be asked to recall it) or,
        for cash, still at the commune (given back: a cash return); the rest was withdrawn (or handed over) and is
        asked back from the person or family."""
        return min(self.overpaid, self.undrawn)

    @property
    def channels(self) -> list[str]:
        """The channels that paid the overpaid months ("bank", "cash"), each once, bank first."""
        return sorted({m.channel for m in self.months if m.overpaid > 0})

    @property
    def recall_advice_vi(self) -> str:
        return "; ".join(RECALL_ADVICE[c][0] for c in self.channels if c in RECALL_ADVICE)

    @property
    def recall_advice_en(self) -> str:
        return "; ".join(RECALL_ADVICE[c][1] for c in self.channels if c in RECALL_ADVICE)

    @property
    def references(self) -> list[str]:
        return sorted({m.reference for m in self.months})

    @property
    def reasons(self) -> list[str]:
        """The reason codes of the months, each once, in the order of the months."""
        return list(dict.fromkeys(m.reason for m in self.months))

    @property
    def months_text(self) -> str:
        """The months as staff read them: "03/2026, 04/2026"."""
        return ", ".join(month_text(m.month) for m in self.months)

    @property
    def reason_vi(self) -> str:
        return "; ".join(REASONS[r][0] for r in self.reasons)

    @property
    def reason_en(self) -> str:
        return "; ".join(REASONS[r][1] for r in self.reasons)

    def as_dict(self) -> dict[str, Any]:
        return {"beneficiary_id": str(self.beneficiary_id), "full_name": self.full_name,
                "date_of_birth": self.date_of_birth.isoformat(), "commune_code": self.commune_code,
                "commune_name": self.commune_name, "province_code": self.province_code,
                "months": [f"{m.month:%Y-%m}" for m in self.months], "months_text": self.months_text,
                "paid": self.paid, "due_now": self.due_now, "overpaid": self.overpaid,
                "undrawn": self.undrawn, "recallable": self.recallable, "channels": self.channels,
                "recall_advice_vi": self.recall_advice_vi, "recall_advice_en": self.recall_advice_en,
                "reasons": self.reasons,
                "reason_vi": self.reason_vi, "reason_en": self.reason_en, "references": self.references,
                "details": [m.as_dict() for m in self.months]}


@dataclass(frozen=True)
class OverpaidList:
    """Everyone overpaid in the scope, with the totals of the whole list; and, apart, the people paid by the old
    province for months after a move recorded late (``moved_away``: nothing to recover from them)."""

    people: list[OverpaidPerson]
    moved_away: list[OverpaidPerson] = field(default_factory=list)

    @property
    def months(self) -> int:
        return sum(len(p.months) for p in self.people)

    @property
    def paid(self) -> int:
        return sum(p.paid for p in self.people)

    @property
    def due_now(self) -> int:
        return sum(p.due_now for p in self.people)

    @property
    def overpaid(self) -> int:
        return sum(p.overpaid for p in self.people)

    @property
    def recallable(self) -> int:
        return sum(p.recallable for p in self.people)

    def totals(self) -> dict[str, int]:
        return {"people": len(self.people), "months": self.months, "paid": self.paid, "due_now": self.due_now,
                "overpaid": self.overpaid, "recallable": self.recallable}

    def moved_away_totals(self) -> dict[str, int]:
        """The people, months and money paid for another province (nothing to recover from the people)."""
        return {"people": len(self.moved_away), "months": sum(len(p.months) for p in self.moved_away),
                "paid": sum(p.paid for p in self.moved_away)}


async def overpaid_list(session: AsyncSession, *, communes: Sequence[str] | None = None,
                        provinces: Sequence[str] | None = None, commune: str | None = None,
                        province: str | None = None, beneficiary_id: UUID | None = None) -> OverpaidList:
    """The people paid for months not (wholly) due by the registry now, by commune (of the payout) and name;
    ``communes`` / ``provinces``: the caller's scope (None: no limit); ``beneficiary_id``: one person only."""
    params: dict[str, Any] = {}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune,
                            province=province)
    if beneficiary_id is not None:
        params["person"] = beneficiary_id
        where += " AND pm.beneficiary_id = :person"
    rows = await session.execute(text(_QUERY.format(where=where)), params)
    people: dict[UUID, OverpaidPerson] = {}
    moved_away: dict[UUID, OverpaidPerson] = {}
    for row in rows:
        listed = moved_away if row.reason == "moved" else people
        person = listed.get(row.beneficiary_id)
        if person is None:
            person = listed[row.beneficiary_id] = OverpaidPerson(
                beneficiary_id=row.beneficiary_id, full_name=row.full_name, date_of_birth=row.date_of_birth,
                commune_code=row.commune_code, commune_name=row.commune_name, province_code=row.province_code,
                undrawn=int(row.undrawn))
        person.months.append(OverpaidMonth(month=row.month, paid=int(row.paid), due_now=int(row.due_now),
                                           overpaid=int(row.overpaid), reason=row.reason,
                                           reference=row.reference, channel=row.channel))
    return OverpaidList(people=list(people.values()), moved_away=list(moved_away.values()))


OVERPAID_COLUMNS = (
    Column("STT / No.", 6), Column("Họ và tên / Full name", 26), Column("Ngày sinh / Date of birth", 12),
    Column("Xã, phường / Commune", 22), Column("Tháng đã chi / Months paid", 18),
    Column("Mã chi trả / Payout references", 22),
    Column("Đã chi (đ) / Paid (VND)", 15, money=True),
    Column("Được hưởng theo hồ sơ hiện nay (đ) / Due now (VND)", 17, money=True),
    Column("Chi sai cần thu hồi (đ) / Overpaid (VND)", 17, money=True),
    Column("Trong đó còn chưa rút (đ) / Of which not withdrawn (VND)", 17, money=True),
    Column("Cách thu hồi phần chưa rút / How to recover what is not withdrawn", 34),
    Column("Lý do / Reason", 40),
)
DATE_FORMAT = "dd/mm/yyyy"


def _person_cells(sheet: Any, number: int, person: OverpaidPerson) -> list[Any]:
    """The cells both sheets begin a person's row with: number, name, birth date, commune, months, payout
    references and what was paid."""
    born = WriteOnlyCell(sheet, value=person.date_of_birth)
    born.number_format = DATE_FORMAT
    return [WriteOnlyCell(sheet, value=number), text_cell(sheet, person.full_name), born,
            text_cell(sheet, f"{person.commune_name} ({person.commune_code})"), text_cell(sheet, person.months_text),
            text_cell(sheet, ", ".join(person.references)), money_cell(sheet, person.paid)]


def overpaid_workbook(listed: OverpaidList, *, title: str) -> bytes:
    """The list as a printable A4 landscape workbook, one row per person, with a totals row of formulas."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Chi sai - Overpaid")
    print_landscape_fit_width(sheet, gridlines=True)  # page setup goes before the first row in write-only mode
    people = listed.people[:EXPORT_LIMIT]
    title_lines = [title, f"{NOTICE_VI} / {NOTICE_EN}"]
    if len(listed.people) > len(people):
        title_lines.append(f"Danh sách có {len(listed.people):,} người; tệp này chỉ liệt kê {len(people):,} người "
                           f"đầu tiên — lọc theo xã/phường để có đủ / The list has {len(listed.people):,} people; "
                           f"this file lists the first {len(people):,} only — filter by commune for all")
    header_row = start_table(sheet, OVERPAID_COLUMNS, title_lines=tuple(title_lines))
    for number, person in enumerate(people, start=1):
        # What to do with the part not withdrawn, by the channel that paid it (as the page says it): only when
        # there is such a part; what was withdrawn is asked back from the person or family (the notice above).
        advice = f"{person.recall_advice_vi} / {person.recall_advice_en}" if person.recallable else None
        sheet.append([
            *_person_cells(sheet, number, person), money_cell(sheet, person.due_now), money_cell(sheet, person.overpaid),
            money_cell(sheet, person.recallable), text_cell(sheet, advice) if advice else None,
            text_cell(sheet, f"{person.reason_vi} / {person.reason_en}"),
        ])
    first, last = header_row + 1, header_row + len(people)
    if people:
        sheet.append([None, text_cell(sheet, "Tổng cộng / Total", bold=True), None, None, None, None,
                      sum_cell(sheet, 7, first, last), sum_cell(sheet, 8, first, last),
                      sum_cell(sheet, 9, first, last), sum_cell(sheet, 10, first, last)])
    add_autofilter(sheet, len(OVERPAID_COLUMNS), header_row, max(last, header_row))
    if listed.moved_away:
        _moved_away_sheet(workbook, listed.moved_away[:EXPORT_LIMIT], title=title)
    return workbook_bytes(workbook)


MOVED_AWAY_COLUMNS = (
    Column("STT / No.", 6), Column("Họ và tên / Full name", 26), Column("Ngày sinh / Date of birth", 12),
    Column("Xã, phường đã chi / Commune that paid", 22), Column("Tháng đã chi / Months paid", 18),
    Column("Mã chi trả / Payout references", 22), Column("Đã chi (đ) / Paid (VND)", 15, money=True),
    Column("Thu hồi của người hưởng (đ) / To recover from the person (VND)", 17, money=True),
)


def _moved_away_sheet(workbook: Workbook, people: Sequence[OverpaidPerson], *, title: str) -> None:
    """The months the old province paid after a move recorded late: nothing to recover from the person."""
    sheet = workbook.create_sheet("Chi thay tỉnh - Moved away")
    print_landscape_fit_width(sheet, gridlines=True)
    header_row = start_table(sheet, MOVED_AWAY_COLUMNS, title_lines=(
        title, f"{MOVED_TITLE_VI} / {MOVED_TITLE_EN}",
        "Tháng vẫn được tính là đã chi, tỉnh mới không chi lại: xử lý giữa ngân sách hai tỉnh / The months stay paid "
        "and the new province does not pay them: a matter between the two provinces' budgets"))
    for number, person in enumerate(people, start=1):
        sheet.append([*_person_cells(sheet, number, person), money_cell(sheet, 0)])
    first, last = header_row + 1, header_row + len(people)
    sheet.append([None, text_cell(sheet, "Tổng cộng / Total", bold=True), None, None, None, None,
                  sum_cell(sheet, 7, first, last), sum_cell(sheet, 8, first, last)])
    add_autofilter(sheet, len(MOVED_AWAY_COLUMNS), header_row, last)
