"""Migration 0027: the usage of each programme at each bank and commune is summed from the payouts as they are
(sent and credited ones; returned ones gave theirs back), and the migration goes down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from app.database import _alembic_config, session_scope, upgrade_database
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, debit, returned, statement, upload
from tests.support.ledger import usage_by_place
from tests.support.world import VIETCOMBANK, Office


async def test_upgrade_sums_what_each_programme_took(client, engine, database_url):
    office = await Office(client, engine).setup()
    _, p = await build_world(office, vietcombank=3)
    headers = await as_bank(office, VIETCOMBANK)
    lines = [debit(p[0]), returned(p[1], "MS03")]  # one credited, one returned, one still sent
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "s.xml")).status_code == 201
    async with session_scope(engine) as session:
        before, summed = await usage_by_place(session)
    assert before == summed and before[("TGXH", True, VIETCOMBANK)] == p[0].amount + p[2].amount
    await engine.dispose()

    await asyncio.to_thread(command.downgrade, _alembic_config(database_url), "0026")
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT to_regclass('programme_usage')")) is None
    await engine.dispose()

    await asyncio.to_thread(upgrade_database, database_url)
    async with session_scope(engine) as session:
        after, summed = await usage_by_place(session)
    assert after == summed == before
