"""Migration 0014: open "deceased reported by bank" flags of people already recorded deceased are closed
on upgrade (nothing used to close them), and the migration goes down and up again."""

from __future__ import annotations

import asyncio

from alembic import command
from sqlalchemy import text

from app.database import _alembic_config, session_scope, upgrade_database
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, returned, statement, upload
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office


async def test_upgrade_closes_the_flags_of_deaths_recorded_before_it(client, engine, database_url):
    office = await Office(client, engine).setup()
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    lines = [returned(p[0], "MD07"), returned(p[1], "MD07")]
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "s.xml")).status_code == 201
    await engine.dispose()

    await asyncio.to_thread(command.downgrade, _alembic_config(database_url), "0013")
    async with session_scope(engine) as session:
        # before 0014 a recorded death left the bank's flag open
        await session.execute(text(
            """INSERT INTO beneficiary_event (beneficiary_id, kind, effective_on, status_after, commune_after,
                                              recorded_by)
               VALUES (:b, 'deceased', DATE '2026-03-08', 'active', :c, 'lan.officer')"""),
            {"b": p[0].beneficiary_id, "c": HANOI_COMMUNE})
        assert await session.scalar(text("SELECT count(*) FROM beneficiary_flag WHERE resolved_at IS NULL")) == 2
    await engine.dispose()

    await asyncio.to_thread(upgrade_database, database_url)
    async with session_scope(engine) as session:
        rows = {r.beneficiary_id: r for r in await session.execute(text(
            """SELECT f.beneficiary_id, f.resolution, f.resolved_by, f.resolved_at, e.kind AS event_kind
                 FROM beneficiary_flag f LEFT JOIN beneficiary_event e ON e.id = f.event_id"""))}
        closed, still_open = rows[p[0].beneficiary_id], rows[p[1].beneficiary_id]
        assert (closed.resolution, closed.resolved_by, closed.event_kind) == ("death_recorded", "system", "deceased")
        assert (still_open.resolution, still_open.resolved_at) == (None, None)
        audit = (await session.execute(text(
            "SELECT actor, after FROM audit_log WHERE action = 'reconciliation.flag_death_recorded'"))).one()
        assert audit.actor == "system" and audit.after["by"] == "migration 0014"
