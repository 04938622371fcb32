"""How far back a programme's next run pays a month never paid (a late enrolment's back pay), for the pages
that tell officers which months will not be paid: the import's answer and the person's page.

A run pays a never-paid month only within its arrears window — 12 months back (``runs.ARREARS_MONTHS``), not
before the programme's first run in ansinh. A month ansinh already found due and left unpaid (released for
payment again, or held until an officer fixed the cause) is paid whatever its age
(``compute.older_months_owed``), so it is never among the months said to be lost here.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

from sqlalchemy import func, select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.payouts.models import PayoutRun
from app.payouts.service.compute import older_months_owed
from app.payouts.service.runs import add_months, arrears_from_for, current_month


@dataclass(frozen=True)
class BackPay:
    """Where the back pay of a never-paid month stops for a programme's next regular run."""

    programme: str
    next_period: date  # the period of the programme's next regular run
    paid_from: date  # that run pays never-paid months from this one on (its arrears_from)


async def next_back_pay(session: AsyncSession, programme: str, *, today: date | None = None) -> BackPay | None:
    """The programme's next regular run — the month after its latest one, and not before the current month —
    and the first month it will pay a never-paid month (a late enrolment's back pay) from. None before the
    programme's first run: the period an officer gives that run (any payable one) decides where it starts."""
    latest = await session.scalar(select(func.max(PayoutRun.period)).where(
        PayoutRun.programme_code == programme, PayoutRun.kind == "regular", PayoutRun.status != "cancelled"))
    if latest is None:
        return None
    month = max(current_month(today), add_months(latest, 1))
    return BackPay(programme=programme, next_period=month,
                   paid_from=await arrears_from_for(session, programme, month))


@dataclass(frozen=True)
class MonthsNotBackPaid:
    """An enrolment's months not paid and that the next run will not pay either (before its window)."""

    enrolment_id: int
    first: date
    last: date
    count: int
    back_pay: BackPay


async def months_not_back_paid(session: AsyncSession, beneficiary_id: UUID, *,
                               today: date | None = None) -> dict[int, MonthsNotBackPaid]:
    """enrolment id → its months before the next run's window that no payout paid (of the person's benefit
    group) and that are not owed from before the window (released, held); enrolments without any are left out.
    The months are those the enrolment covers: whether the person was active in them is not looked at."""
    enrolments = (await session.execute(text(
        """SELECT e.id, e.programme_code, e.start_month, e.end_month, p.benefit_group
             FROM enrolment e JOIN programme p ON p.code = e.programme_code
            WHERE e.beneficiary_id = :person ORDER BY e.id"""), {"person": beneficiary_id})).all()
    found: dict[int, MonthsNotBackPaid] = {}
    back_pays: dict[str, BackPay | None] = {}
    for enrolment in enrolments:
        if enrolment.programme_code not in back_pays:
            back_pays[enrolment.programme_code] = await next_back_pay(session, enrolment.programme_code, today=today)
        back_pay = back_pays[enrolment.programme_code]
        if back_pay is None:
            continue
        last = add_months(back_pay.paid_from, -1)
        if enrolment.end_month is not None:
            last = min(last, enrolment.end_month)
        if enrolment.start_month > last:
            continue
        unpaid = [row.month for row in await session.execute(text(
            """SELECT CAST(m AS date) AS month
                 FROM generate_series(CAST(:first AS date), CAST(:last AS date), interval '1 month') m
                WHERE NOT EXISTS (SELECT 1 FROM payout_month pm
                                   WHERE pm.beneficiary_id = :person AND pm.benefit_group = :group
                                     AND pm.month = CAST(m AS date) AND pm.released_at IS NULL)
                ORDER BY 1"""),
            {"first": enrolment.start_month, "last": last, "person": beneficiary_id,
             "group": enrolment.benefit_group})]
        if not unpaid:
            continue
        owed = {month for month, people in await older_months_owed(session, enrolment.programme_code,
                                                                    back_pay.paid_from)
                if beneficiary_id in people}
        lost = [month for month in unpaid if month not in owed]
        if lost:
            found[enrolment.id] = MonthsNotBackPaid(enrolment_id=enrolment.id, first=lost[0], last=lost[-1],
                                                    count=len(lost), back_pay=back_pay)
    return found
