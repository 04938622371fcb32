"""Migration 0029: a run that withheld payouts before it counts only what it pays (count and total), and the
migration goes down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from app.database import _alembic_config, session_scope, upgrade_database
from tests.app.payouts.test_registry_recheck import _computed, _payouts, _record, _step, _world
from tests.support.world import Office


async def _totals(engine, run_id: str) -> tuple[int, int]:  # noqa: ANN001
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT payout_count, total_amount FROM payout_run WHERE id = :r"),
                                     {"r": run_id})).one()
    return int(row.payout_count), int(row.total_amount)


async def test_runs_that_withheld_count_only_what_they_pay(client, engine, database_url):
    office = await Office(client, engine).setup()
    world = await _world(office)
    april = await _computed(office)
    payouts = await _payouts(office, april["id"])
    alive = payouts[world["alive"].full_name]["amount"]
    await _record(office, world["victim_id"], "deceased")
    assert (await _step(office, april["id"], "approve"))["withheld_count"] == 1
    assert await _totals(engine, april["id"]) == (1, alive)
    await engine.dispose()

    await asyncio.to_thread(command.downgrade, _alembic_config(database_url), "0028")
    assert await _totals(engine, april["id"]) == (2, april["total_amount"])
    await engine.dispose()

    await asyncio.to_thread(upgrade_database, database_url)
    assert await _totals(engine, april["id"]) == (1, alive)
