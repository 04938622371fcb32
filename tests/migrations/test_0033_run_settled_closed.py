"""Migration 0033: settled and closed runs go back to sent on the way down, and on the way up the sent runs
with nothing in flight are settled (dated when their last payout got its outcome) while the others stay sent."""

from __future__ import annotations

import asyncio

import asyncpg
import pytest
from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, debit, statement, upload
from tests.support.migrations import run_sql, versions
from tests.support.world import VIETCOMBANK, Office


async def _sql(url: str, statement_sql: str) -> list:
    """``run_sql`` from the test's event loop (it runs its own)."""
    return await asyncio.to_thread(run_sql, url, statement_sql)


async def _runs(url: str) -> dict[str, dict]:
    rows = await _sql(url, """SELECT to_char(period, 'YYYY-MM') AS period, status, sent_at, settled_at, closed_at
                             FROM payout_run""")
    return {r["period"]: dict(r) for r in rows}


async def test_down_reopens_settled_and_closed_runs_and_up_settles_the_runs_with_nothing_in_flight(
        client, engine, database_url):
    office = await Office(client, engine).setup()
    _, march = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    imported = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [debit(p) for p in march])),
                            "march.xml")
    assert imported.status_code == 201, imported.text
    await office.be("lan.officer")
    closed = await office.post(f"/api/payout-runs/{march[0].run_id}/close")
    assert closed.status_code == 200, closed.text
    await office.run_cycle("2026-04")  # sent; its payouts wait for the bank
    await engine.dispose()
    assert {p: r["status"] for p, r in (await _runs(database_url)).items()} == {"2026-03": "closed", "2026-04": "sent"}

    await asyncio.to_thread(command.downgrade, _alembic_config(database_url), "0032")
    down = (await _runs(database_url))
    assert {p: (r["status"], r["settled_at"], r["closed_at"]) for p, r in down.items()} == {
        "2026-03": ("sent", None, None), "2026-04": ("sent", None, None)}
    columns = {r["column_name"] for r in await _sql(
        database_url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'payout_run'")}
    assert "closed_by" not in columns
    assert (await _sql(database_url, "SELECT to_regproc('payout_run_in_flight') AS f"))[0]["f"] is None
    # 0032's code never settles a run; its status check still takes the states it named.
    await _sql(database_url, "UPDATE payout_run SET status = 'settled' WHERE to_char(period, 'YYYY-MM') = '2026-04'")
    await _sql(database_url, "UPDATE payout_run SET status = 'sent' WHERE to_char(period, 'YYYY-MM') = '2026-04'")

    await asyncio.to_thread(upgrade_database, database_url)
    up = (await _runs(database_url))
    assert up["2026-03"]["status"] == "settled"
    # The statement booked the credits before the run was sent (a test's dates): settled when it was sent.
    assert up["2026-03"]["settled_at"] == up["2026-03"]["sent_at"]
    assert (up["2026-04"]["status"], up["2026-04"]["settled_at"]) == ("sent", None)
    assert await asyncio.to_thread(versions, database_url) == list(migration_heads())
    with pytest.raises(asyncpg.CheckViolationError, match="in flight"):
        await _sql(database_url, """UPDATE payout_run SET status = 'settled', settled_at = now()
                                     WHERE to_char(period, 'YYYY-MM') = '2026-04'""")
