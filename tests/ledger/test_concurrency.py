"""Several sessions writing to the same accounts at once: exact totals, no deadlock, ids applied once."""

from __future__ import annotations

import asyncio
import random
from uuid import uuid4

from app.database import make_sessionmaker, session_scope
from ledger import (
    AccountSpec,
    AccountType,
    TransferResult,
    create_transfer_arrays,
    get_transfers,
    verify_ledger,
)
from tests.support.ledger import open_accounts, totals

WRITERS = 5
BATCHES = 6
TRANSFERS_PER_BATCH = 40


async def test_concurrent_batches_end_with_exact_totals(engine):
    async with session_scope(engine) as session:
        ids = await open_accounts(session, *[AccountSpec(code=f"acct:{n}", type=AccountType.asset) for n in range(6)])
    account_ids = list(ids.values())
    rng = random.Random(20261123)
    shared = [uuid4() for _ in range(TRANSFERS_PER_BATCH)]  # every writer submits these too
    plans = []
    for _ in range(WRITERS):
        batches = []
        for batch_number in range(BATCHES):
            pairs = [rng.sample(account_ids, 2) for _ in range(TRANSFERS_PER_BATCH)]
            transfer_ids = [uuid4() for _ in pairs]
            if batch_number == 0:
                transfer_ids = shared
                pairs = [[account_ids[0], account_ids[1]]] * len(shared)
            batches.append((transfer_ids, [p[0] for p in pairs], [p[1] for p in pairs],
                            [rng.randint(1, 1_000_000) for _ in pairs]))
        plans.append(batches)

    async def writer(plan):
        outcomes = []
        for transfer_ids, debits, credits, amounts in plan:
            async with make_sessionmaker(engine)() as session:
                outcomes.append(await create_transfer_arrays(
                    session, ids=transfer_ids, debit_account_ids=debits, credit_account_ids=credits,
                    amounts=amounts, code="load"))
                await session.commit()
        return outcomes

    outcomes = await asyncio.wait_for(asyncio.gather(*(writer(plan) for plan in plans)), timeout=120)

    # the shared ids: exactly one writer applied each, every other writer saw "exists" (same fields)
    # or "exists_with_different_fields" (its own amounts differ)
    shared_winners = [0] * TRANSFERS_PER_BATCH
    for writer_outcomes in outcomes:
        for position, result in enumerate(writer_outcomes[0]):
            assert result in (TransferResult.ok, TransferResult.exists, TransferResult.exists_with_different_fields)
            shared_winners[position] += result is TransferResult.ok
        for batch_results in writer_outcomes[1:]:
            assert batch_results == [TransferResult.ok] * TRANSFERS_PER_BATCH
    assert shared_winners == [1] * TRANSFERS_PER_BATCH

    expected = {account_id: [0, 0] for account_id in account_ids}
    async with session_scope(engine) as session:
        stored = await get_transfers(session, shared)
        for transfer in stored.values():
            expected[transfer.debit_account_id][0] += transfer.amount
            expected[transfer.credit_account_id][1] += transfer.amount
        for plan in plans:
            for _ids, debits, credits, amounts in plan[1:]:
                for debit, credit, amount in zip(debits, credits, amounts, strict=True):
                    expected[debit][0] += amount
                    expected[credit][1] += amount
        for code, account_id in ids.items():
            assert await totals(session, code) == (expected[account_id][0], expected[account_id][1], 0, 0)
        report = await verify_ledger(session)
        assert report.ok, report.problems
        assert report.transfers == TRANSFERS_PER_BATCH + WRITERS * (BATCHES - 1) * TRANSFERS_PER_BATCH
