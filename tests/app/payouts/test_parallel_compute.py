"""A run of several chunks is written by several connections at once: the same payouts as one writer."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.compute import compute_run
from app.registry.fake import BeneficiaryFaker
from tests.support.world import Office, person

PEOPLE = 23


async def _run_rows(engine, run_id: UUID) -> dict[str, tuple[int, int]]:
    """beneficiary -> (amount, months) of the run's payouts."""
    async with session_scope(engine) as session:
        rows = (await session.execute(text(
            """SELECT b.national_id, p.amount, (SELECT count(*) FROM payout_month m WHERE m.payout_id = p.id) AS months
                 FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id WHERE p.run_id = :run"""),
            {"run": run_id})).all()
    return {r.national_id: (r.amount, r.months) for r in rows}


@pytest.mark.parametrize("writers", [1, 2, 3])
async def test_writers_split_the_people_and_write_each_payout_once(client, engine, writers):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=31)
    await office.import_people([person(faker) for _ in range(PEOPLE)])
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    seen: list[int] = []

    async def after_chunk(done: int) -> None:
        seen.append(done)

    await compute_run(engine, run_id, actor="lan.officer", chunk_size=4, writers=writers, after_chunk=after_chunk)

    payouts = await _run_rows(engine, run_id)
    assert len(payouts) == PEOPLE  # one payout per person, none twice (uq_payout_run_beneficiary)
    assert all(months >= 1 for _, months in payouts.values())
    assert seen == sorted(seen) and seen[-1] == PEOPLE and len(seen) == 6  # each range written in chunks of 4
    async with session_scope(engine) as session:
        run = (await session.execute(text(
            """SELECT status, payout_count, total_amount, progress_done, progress_total FROM payout_run
                WHERE id = :id"""), {"id": run_id})).one()
        assert (run.status, run.payout_count, run.progress_done, run.progress_total) == (
            "computed", PEOPLE, PEOPLE, PEOPLE)
        assert run.total_amount == sum(amount for amount, _ in payouts.values())
        # The run's unlogged staging tables are gone.
        left = await session.scalar(text("SELECT count(*) FROM pg_class WHERE relname LIKE :name"),
                                    {"name": f"compute_%_{run_id.hex}"})
        assert left == 0
