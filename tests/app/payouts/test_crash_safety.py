"""SIGKILL a separate process in the middle of compute and of send; a rerun completes exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from uuid import UUID

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.compute import compute_run
from app.payouts.service.ledger_steps import approve_run, send_run
from app.registry.fake import BeneficiaryFaker
from ledger import verify_ledger
from tests.support.ledger import totals
from tests.support.world import VIETCOMBANK, Office, person

PEOPLE = 40
PHASES = {"compute": "payouts", "send": "sending"}


async def _progress(engine, run_id) -> tuple[str, str | None, int]:
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT status, phase, progress_done FROM payout_run WHERE id = :id"),
                                     {"id": run_id})).one()
    return row.status, row.phase, row.progress_done


async def _kill_midway(database_url: str, engine, step: str, run_id: str) -> None:
    # A real separate process is the point of this test.
    command = [sys.executable, "-m", "tests.support.payout_worker", step, str(run_id),
               database_url.replace("+asyncpg", ""), "lan.officer"]
    worker = subprocess.Popen(command,  # noqa: ASYNC220
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            _, phase, done = await _progress(engine, run_id)
            if phase == PHASES[step] and 10 <= done:
                break
            assert worker.poll() is None, (worker.stdout.read() if worker.stdout else "") + (worker.stderr.read() if worker.stderr else "")
            await asyncio.sleep(0.05)
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(timeout=10)
    finally:
        if worker.poll() is None:
            worker.kill()
    status, _, done = await _progress(engine, run_id)
    assert 10 <= done < PEOPLE, f"the worker was not stopped half-way ({status}, {done})"


@pytest.mark.slow
async def test_killed_compute_and_send_are_completed_exactly_once_by_a_rerun(client, engine, database_url):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=11)
    await office.import_people([person(faker) for _ in range(PEOPLE)])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 100_000_000, "FT-CRASH-1")).status_code == 201
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])

    await _kill_midway(database_url, engine, "compute", run_id)
    assert (await _progress(engine, run_id))[0] == "computing"
    await compute_run(engine, run_id, actor="lan.officer")
    async with session_scope(engine) as session:
        counts = (await session.execute(text(
            """SELECT count(*) AS payouts, count(DISTINCT beneficiary_id) AS people, sum(amount) AS total,
                      (SELECT count(*) FROM payout_month) AS months
                 FROM payout WHERE run_id = :id"""), {"id": run_id})).one()
        run = (await session.execute(text("SELECT status, payout_count, total_amount FROM payout_run WHERE id = :id"),
                                     {"id": run_id})).one()
    assert (counts.payouts, counts.people, counts.months, counts.total) == (PEOPLE, PEOPLE, PEOPLE, PEOPLE * 650_000)
    assert (run.status, run.payout_count, run.total_amount) == ("computed", PEOPLE, PEOPLE * 650_000)

    await approve_run(engine, run_id, actor="minh.approver")
    await _kill_midway(database_url, engine, "send", run_id)
    assert (await _progress(engine, run_id))[0] == "sending"
    await send_run(engine, run_id, actor="lan.officer")
    async with session_scope(engine) as session:
        statuses = dict((await session.execute(text(
            "SELECT status, count(*) FROM payout WHERE run_id = :id GROUP BY status"), {"id": run_id})).all())
        assert statuses == {"sent": PEOPLE}
        assert (await _progress(engine, run_id))[0] == "sent"
        assert await totals(session, f"bank:{VIETCOMBANK}:disbursement") == (100_000_000, 0, 0, PEOPLE * 650_000)
        assert await totals(session, "expense:TGXH") == (PEOPLE * 650_000, 0, 0, 0)
        report = await verify_ledger(session)
    assert report.ok, report.problems
