"""Migration 0030: the summary takes the payouts of runs not approved out (and gives them back going down);
the report then agrees with the payouts of approved runs, read directly."""

from __future__ import annotations

import asyncio
from datetime import date

from alembic import command

from app.database import _alembic_config, session_scope, upgrade_database
from app.payouts.service.compute import compute_run
from app.payouts.service.runs import create_run
from reports.time_to_withdrawal import time_to_withdrawal
from tests.reports.test_withdrawal_summary import assert_report_matches_payouts
from tests.support.withdrawal_world import build_sent_month
from tests.support.world import Office

APRIL = date(2026, 4, 1)


async def _april_payouts(engine) -> int:  # noqa: ANN001
    async with session_scope(engine) as session:
        report = await time_to_withdrawal(session, period=APRIL, group_by="programme")
    return int(report["totals"]["payouts"] or 0)


async def test_the_summary_drops_runs_not_approved(client, engine, database_url):
    office = await Office(client, engine).setup()
    await build_sent_month(office)
    async with session_scope(engine) as session:
        run = await create_run(session, programme="TGXH", period="2026-04", actor="lan.officer")
    await compute_run(engine, run.id, actor="lan.officer")
    assert await _april_payouts(engine) == 0
    await engine.dispose()

    await asyncio.to_thread(command.downgrade, _alembic_config(database_url), "0029")
    computed = await _april_payouts(engine)
    assert computed > 0  # as before: counted from compute
    await engine.dispose()

    await asyncio.to_thread(upgrade_database, database_url)
    assert await _april_payouts(engine) == 0
    assert await assert_report_matches_payouts(engine) > 0
