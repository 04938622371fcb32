"""A person's money over time — what arrived (a credited bank payout, cash sent to their commune) and what was
withdrawn — and how much a withdrawal recorded at a given moment may take.

Withdrawals are allocated first in, first out (``reconciliation.withdrawals``): the n-th đồng withdrawn pays off
the n-th đồng that arrived. A withdrawal commune staff record at time t takes the đồng after everything
withdrawn up to t, and pushes every later withdrawal further along. So it fits only if, at t and after each
later withdrawal, what had arrived still covers everything withdrawn: otherwise some withdrawal would be
paired with money that arrived after it, and its payout would show withdrawn the moment it was credited.
(A bank's own activity may predate a credit — the allocation holds it until the money arrives — which is why
only what commune staff record is checked against this.)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reconciliation.withdrawals import ARRIVED, ARRIVED_AT, LIVE_WITHDRAWAL


@dataclass(frozen=True, slots=True)
class MoneyEvent:
    """Money reaching the person (``amount`` > 0, with the payout's channel) or withdrawn (``amount`` < 0)."""

    at: datetime
    amount: int
    channel: str | None = None  # of an arrival: bank (credited) or cash (sent to the commune)


# In the allocation's order: by time, and at one instant what arrived before what was withdrawn.
_TIMELINE = text(
    f"""SELECT {ARRIVED_AT} AS at, p.amount, p.channel FROM payout p WHERE p.beneficiary_id = :b AND {ARRIVED}
        UNION ALL
        SELECT w.occurred_at, -w.amount, NULL FROM withdrawal w WHERE w.beneficiary_id = :b AND {LIVE_WITHDRAWAL}
        ORDER BY 1, 2 DESC"""  # noqa: S608
)


async def money_timeline(session: AsyncSession, beneficiary_id: UUID) -> list[MoneyEvent]:
    """The person's arrivals and live withdrawals (cancelled ones left out), in the allocation's order."""
    rows = await session.execute(_TIMELINE, {"b": beneficiary_id})
    return [MoneyEvent(at=row.at, amount=int(row.amount), channel=row.channel) for row in rows]


def undrawn_at(events: list[MoneyEvent], moment: datetime) -> int:
    """What had arrived and was not withdrawn at ``moment`` (withdrawals made after it left aside)."""
    return max(sum(event.amount for event in events if event.at <= moment), 0)


def room_at(events: list[MoneyEvent], moment: datetime) -> int:
    """The most a withdrawal recorded at ``moment`` may take: the least of what had arrived and was not withdrawn
    at that moment and after each later withdrawal (what it pushes along). Withdrawals at the same instant
    were recorded before it and come first; money arriving at that very instant counts."""
    balance = 0
    least: int | None = None
    for event in events:
        if event.at <= moment:
            balance += event.amount
            continue
        if least is None:
            least = balance  # the balance at the moment itself
        balance += event.amount
        if event.amount < 0:
            least = min(least, balance)
    return max(balance if least is None else least, 0)


def arrival_covering(events: list[MoneyEvent], moment: datetime, amount: int) -> MoneyEvent | None:
    """The first arrival after ``moment`` from which a withdrawal of ``amount`` would fit (None: none does)."""
    for event in events:
        if event.amount > 0 and event.at > moment and room_at(events, event.at) >= amount:
            return event
    return None
