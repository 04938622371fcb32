"""Mark sent payouts credited the way statement reconciliation does, for withdrawal and report tests."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import session_scope
from app.payouts.service.ledger_steps import payout_transfer_id
from ledger import TransferKind, TransferResult, create_transfer_arrays
from reconciliation.withdrawals import reallocate


async def credit_payouts(engine: AsyncEngine, payout_ids: Sequence[UUID | str], at: datetime,
                         *, allocate: bool = True) -> None:
    """Post each payout's pending send transfer, set status 'credited' and credited_at, then reallocate."""
    ids = [UUID(str(p)) for p in payout_ids]
    async with session_scope(engine) as session:
        results = await create_transfer_arrays(
            session, ids=[payout_transfer_id(p, "credit") for p in ids], code="payout.credit",
            kind=TransferKind.post, pending_ids=[payout_transfer_id(p, "send") for p in ids])
        assert all(r in (TransferResult.ok, TransferResult.exists) for r in results), results
        people = (await session.scalars(text(
            """UPDATE payout SET status = 'credited', credited_at = :at
                WHERE id = ANY(:ids) AND status = 'sent' RETURNING beneficiary_id"""),
            {"at": at, "ids": ids})).all()
        if allocate:
            await reallocate(session, list(people))


async def payout_of(engine: AsyncEngine, beneficiary_id: str, period: str) -> dict[str, object]:
    """The person's payout of a run period (YYYY-MM), as a dict of its columns."""
    async with session_scope(engine) as session:
        row = (await session.execute(text(
            """SELECT p.* FROM payout p JOIN payout_run r ON r.id = p.run_id
                WHERE p.beneficiary_id = :b AND to_char(r.period, 'YYYY-MM') = :period"""),
            {"b": beneficiary_id, "period": period})).mappings().one()
    return dict(row)
