"""Migration 0021: returns made before it that say the account cannot receive money block their accounts on
upgrade (an MD07 whose flag an officer dismissed does not; other codes do not), its list of codes is the
application's, and the migration goes down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from app.database import _alembic_config, session_scope, upgrade_database
from reconciliation.matching import ACCOUNT_UNUSABLE_REASONS
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, returned, statement, upload
from tests.support.world import VIETCOMBANK, Office


def test_the_migrations_codes_are_the_applications():
    from importlib import import_module

    migration = import_module("migrations.versions.0021_bank_account_blocks")
    assert set(migration.UNUSABLE_REASONS) == ACCOUNT_UNUSABLE_REASONS


async def _columns(engine, table: str) -> set[str]:
    async with session_scope(engine) as session:
        return set((await session.scalars(text(
            "SELECT column_name FROM information_schema.columns WHERE table_name = :t"), {"t": table})).all())


async def test_upgrade_blocks_the_accounts_of_earlier_returns(client, engine, database_url):
    office = await Office(client, engine).setup()
    _, p = await build_world(office, vietcombank=4)
    headers = await as_bank(office, VIETCOMBANK)
    lines = [returned(p[0], "AC04"), returned(p[1], "AM04"), returned(p[2], "MD07"), returned(p[3], "BE01")]
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "s.xml")).status_code == 201
    await office.be("lan.officer")
    flag = (await office.client.get("/api/reconciliation/flags")).json()["items"][0]
    assert (await office.post(f"/api/reconciliation/flags/{flag['id']}/dismiss",
                              json={"reason": "còn sống"})).status_code == 200
    await engine.dispose()

    await asyncio.to_thread(command.downgrade, _alembic_config(database_url), "0020")
    assert await _columns(engine, "bank_account_block") == set()
    assert not {"since", "detail"} & await _columns(engine, "payout_run_skip")
    await engine.dispose()

    await asyncio.to_thread(upgrade_database, database_url)
    async with session_scope(engine) as session:
        rows = (await session.execute(text(
            """SELECT k.bank_account_id, k.reason, k.payout_id, k.released_at, l.return_reason AS line_reason
                 FROM bank_account_block k JOIN statement_line l ON l.id = k.line_id ORDER BY k.reason""")))
        blocks = [tuple(r) for r in rows]
    assert blocks == [(p[0].bank_account_id, "AC04", p[0].id, None, "AC04"),
                      (p[3].bank_account_id, "BE01", p[3].id, None, "BE01")]
    assert {"since", "detail"} <= await _columns(engine, "payout_run_skip")
