"""Payouts as the API lists them: a run's payouts, or one person's history."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.paging import page_window
from app.payouts.schemas import PayoutOutput
from app.payouts.service.recheck import WITHHELD_PREFIX, withheld_text
from app.payouts.service.runs import in_provinces
from reconciliation.matching import RETURN_REASON_MESSAGES, return_reason_text

# What run summaries (``by_bank``) and the ``bank`` filter call the payouts paid in cash at the commune.
CASH = "cash"


def return_reason_message(reason: str | None) -> str | None:
    """Why a payout was withheld or returned as staff read it, "Vietnamese / English": a re-check's
    ``withheld:<reason>`` and a bank's return code in words; anything else (the reason an officer gave for
    cash the commune gave back) as it was written. None without a reason."""
    if not reason:
        return None
    if reason.startswith(WITHHELD_PREFIX):
        code = reason.removeprefix(WITHHELD_PREFIX)
        vi, en = withheld_text(reason) or (code, code)
        return f"Giữ lại, không chi: {vi} / withheld, not paid: {en}"
    if reason in RETURN_REASON_MESSAGES:
        return return_reason_text(reason)
    return reason


def payout_arrival(status: str, channel: str, credited_at: datetime | None,
                   sent_at: datetime | None) -> datetime | None:
    """When the money reached the person, as the time-to-withdrawal report counts it (``ARRIVED``, ``DAYS``):
    a bank payout when the bank credited it, cash when it was sent to the commune (the handover there, where
    the person collects it; ``credited_at`` stays empty); None for money that has not arrived or came back
    (returned, cancelled)."""
    if status == "credited":
        return credited_at
    if channel == "cash" and status == "sent":
        return credited_at or sent_at
    return None


async def list_payouts(session: AsyncSession, *, run_id: UUID | None = None, beneficiary_id: UUID | None = None,
                       bank: str | None = None, commune: str | None = None, status: str | None = None,
                       page: int = 1, page_size: int = 100, newest_first: bool = False,
                       provinces: Sequence[str] | None = None) -> dict[str, Any]:
    """Payouts as the API lists them, with months and days to withdraw; ``provinces``: a province-limited
    caller's, the payouts of those provinces' communes only (``total`` counts those)."""
    page, page_size = page_window(page, page_size)
    where = ["true"]
    params: dict[str, Any] = {"limit": page_size, "offset": (page - 1) * page_size}
    if provinces is not None:
        where.append(in_provinces("p.commune_code", provinces).removeprefix(" AND "))
        params["provinces"] = list(provinces)
    if bank == CASH:  # the run's by_bank names the cash channel "cash" (a payout without a bank)
        where.append("p.bank_bin IS NULL")
        bank = None
    for column, value in (("p.run_id", run_id), ("p.beneficiary_id", beneficiary_id), ("p.bank_bin", bank),
                          ("p.commune_code", commune), ("p.status", status)):
        if value is not None:
            key = column.split(".")[1]
            where.append(f"{column} = :{key}")
            params[key] = value
    condition = " AND ".join(where)
    total = await session.scalar(text(f"SELECT count(*) FROM payout p WHERE {condition}"), params)  # noqa: S608
    rows = await session.execute(text(
        f"""SELECT p.*, b.full_name,
                   (SELECT array_agg(to_char(pm.month, 'YYYY-MM') ORDER BY pm.month)
                      FROM payout_month pm WHERE pm.payout_id = p.id) AS months
              FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id
             WHERE {condition} ORDER BY p.serial {'DESC' if newest_first else ''} LIMIT :limit OFFSET :offset"""), params)  # noqa: S608
    items = []
    for r in rows:
        arrived_at = payout_arrival(r.status, r.channel, r.credited_at, r.sent_at)
        days = None
        if r.withdrawn_at is not None and arrived_at is not None:
            days = round((r.withdrawn_at - arrived_at).total_seconds() / 86400, 2)
        items.append(PayoutOutput(
            id=r.id, reference=r.reference, run_id=r.run_id, beneficiary_id=r.beneficiary_id, full_name=r.full_name,
            commune_code=r.commune_code, channel=r.channel, bank_bin=r.bank_bin, account_number=r.account_number,
            amount=r.amount, months=list(r.months or []), status=r.status, sent_at=r.sent_at,
            credited_at=r.credited_at, arrived_at=arrived_at, return_reason=r.return_reason,
            first_withdrawal_at=r.first_withdrawal_at, withdrawn_at=r.withdrawn_at, days_to_withdraw=days))
    return {"items": items, "total": int(total or 0), "page": page, "page_size": page_size}
