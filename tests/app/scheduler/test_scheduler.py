"""The scheduler runs inside ``ansinh serve``; with two servers only the lock holder schedules."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from app.database import session_scope
from app.scheduler.models import JobRun
from app.scheduler.service import latest_fire_time, run_occurrence, trigger_for
from tests.support.processes import base_env, free_port, start_server, stop_server


async def test_an_occurrence_runs_once_even_when_fired_twice(engine):
    when = datetime(2026, 12, 20, 6, 0, tzinfo=UTC)
    first = await run_occurrence(engine, "auth.purge_expired_sessions", "auth.purge_expired_sessions", {}, when)
    second = await run_occurrence(engine, "auth.purge_expired_sessions", "auth.purge_expired_sessions", {}, when)
    assert (first, second) == (True, False)
    async with session_scope(engine) as session:
        runs = (await session.scalars(select(JobRun))).all()
    assert [(r.status, r.detail) for r in runs] == [("succeeded", "sessions=0 attempts=0")]


async def test_unknown_job_kind_is_recorded_as_failed(engine):
    when = datetime(2026, 12, 20, 6, 0, tzinfo=UTC)
    assert await run_occurrence(engine, "mystery", "no.such.kind", {}, when)
    async with session_scope(engine) as session:
        run = await session.scalar(select(JobRun))
    assert run is not None and run.status == "failed" and "no.such.kind" in (run.detail or "")


def test_cron_fields_and_latest_fire_time():
    trigger = trigger_for("0 6 20 * *", "Asia/Ho_Chi_Minh")
    now = datetime(2026, 12, 20, 6, 0, 3, tzinfo=trigger.timezone)
    assert latest_fire_time(trigger, now) == datetime(2026, 12, 20, 6, 0, tzinfo=trigger.timezone)
    seconds = trigger_for("*/2 * * * * *", "UTC")
    assert latest_fire_time(seconds, datetime(2026, 1, 1, 0, 0, 5, 500, tzinfo=UTC)).second == 4
    with pytest.raises(ValueError):
        trigger_for("* * *", "UTC")


@pytest.mark.slow
def test_two_servers_schedule_each_occurrence_once_and_the_second_takes_over(database_url):
    async def add_schedule() -> None:
        from app.database import make_engine

        engine = make_engine(database_url)
        async with session_scope(engine) as session:
            await session.execute(text(
                "INSERT INTO job_schedule (name, kind, cron, timezone) "
                "VALUES ('every-second', 'auth.purge_expired_sessions', '* * * * * *', 'UTC')"))
        await engine.dispose()

    async def runs() -> list[tuple[str, datetime]]:
        from app.database import make_engine

        engine = make_engine(database_url)
        async with session_scope(engine) as session:
            rows = (await session.execute(text(
                "SELECT runner, scheduled_for FROM job_run WHERE schedule_name = 'every-second' "
                "ORDER BY scheduled_for"))).all()
        await engine.dispose()
        return [(r[0], r[1]) for r in rows]

    asyncio.run(add_schedule())
    env = base_env(DATABASE_URL=database_url, ANSINH_SCHEDULER="1", ANSINH_SCHEDULER_POLL_SECONDS="0.5")
    servers = [start_server(env, free_port()) for _ in range(2)]
    try:
        time.sleep(4)
        seen = asyncio.run(runs())
        assert len(seen) >= 2
        times = [t for _, t in seen]
        assert len(times) == len(set(times)), "an occurrence ran twice"
        runners = {r for r, _ in seen}
        assert len(runners) == 1, f"more than one process scheduled: {runners}"
        leader_pid = int(next(iter(runners)).rsplit(":", 1)[1])
        leader = next(s for s in servers if s.pid == leader_pid)
        stop_server(leader)
        time.sleep(4)
        after = asyncio.run(runs())
        new_runners = {r for r, _ in after} - runners
        assert len(new_runners) == 1, "the surviving server did not take over scheduling"
        times = [t for _, t in after]
        assert len(times) == len(set(times))
    finally:
        for server in servers:
            stop_server(server)
