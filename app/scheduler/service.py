"""APScheduler inside ``ansinh serve``: one process (holder of a PostgreSQL advisory lock) schedules.

Schedules live in ``job_schedule``. Each fire time is claimed by inserting a ``job_run`` row
(unique on schedule and fire time) before the job runs, so even two schedulers could not run the
same occurrence twice; the jobs themselves are idempotent as well.
"""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from app.database import session_scope
from app.scheduler.models import JobRun, JobSchedule

log = structlog.get_logger()

SCHEDULER_LOCK_KEY = 0x616E73696E68  # "ansinh"
JobHandler = Callable[[AsyncEngine, dict[str, Any], datetime], Awaitable[str | None]]
JOB_KINDS: dict[str, JobHandler] = {}
# Modules that register job kinds with @job_kind; each domain adds its own.
JOB_MODULES: tuple[str, ...] = ("app.scheduler.jobs", "app.payouts.jobs", "app.reports_api.jobs")


def load_job_kinds() -> dict[str, JobHandler]:
    """Import every job module once so that their kinds are registered."""
    import importlib

    for module_name in JOB_MODULES:
        importlib.import_module(module_name)
    return JOB_KINDS


def job_kind(name: str) -> Callable[[JobHandler], JobHandler]:
    """Register an async job handler ``handler(engine, params, scheduled_for) -> detail``."""

    def register(handler: JobHandler) -> JobHandler:
        JOB_KINDS[name] = handler
        return handler

    return register


_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _weekday_number(text: str) -> int:
    if text.isdigit() and 0 <= int(text) <= 7:
        return int(text)
    if text.lower()[:3] in _WEEKDAYS and len(text) >= 3:
        return _WEEKDAYS.index(text.lower()[:3])
    raise ValueError(f"not a day of the week: {text!r} (0-7 or sun-sat)")


def crontab_day_of_week(field: str) -> str:
    """A crontab day-of-week field (0 or 7 Sunday, 1 Monday … 6 Saturday, or names; lists, ranges, steps) as
    the day names APScheduler 3 takes: its own numbers start at Monday = 0, so ``from_crontab('0 6 * * 1')``
    would fire on Tuesdays."""
    if field in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in field.split(","):
        body, slash, step_text = part.partition("/")
        step = int(step_text) if step_text.isdigit() and int(step_text) > 0 else 0
        if slash and not step:
            raise ValueError(f"not a step: {part!r}")
        if body == "*":
            first, last = 0, 6
        elif "-" in body:
            start_text, _, end_text = body.partition("-")
            first, last = _weekday_number(start_text), _weekday_number(end_text)
        else:
            first = last = _weekday_number(body)
            if slash:
                last = 6
        if first > last:
            raise ValueError(f"range goes backwards: {body!r}")
        days.update(day % 7 for day in range(first, last + 1, step or 1))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def trigger_for(cron: str, timezone: str) -> CronTrigger:
    """A cron trigger from 5 fields (minute first, days of the week as crontab numbers them) or 6 fields
    (second first, APScheduler's own fields)."""
    fields = cron.split()
    if len(fields) == 5:
        minute, hour, day, month, day_of_week = fields
        return CronTrigger(minute=minute, hour=hour, day=day, month=month,
                           day_of_week=crontab_day_of_week(day_of_week), timezone=timezone)
    if len(fields) == 6:
        second, minute, hour, day, month, day_of_week = fields
        return CronTrigger(second=second, minute=minute, hour=hour, day=day, month=month,
                           day_of_week=day_of_week, timezone=timezone)
    raise ValueError(f"cron needs 5 or 6 fields: {cron!r}")


def runner_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


async def run_occurrence(engine: AsyncEngine, schedule_name: str, kind: str, params: dict[str, Any],
                         scheduled_for: datetime) -> bool:
    """Claim and run one fire time of a schedule; False when it was already claimed."""
    handler = load_job_kinds().get(kind)
    async with session_scope(engine) as session:
        claimed = await session.scalar(
            insert(JobRun)
            .values(schedule_name=schedule_name, scheduled_for=scheduled_for, runner=runner_name(),
                    status="running")
            .on_conflict_do_nothing(constraint="uq_job_run_schedule_name")
            .returning(JobRun.id)
        )
    if claimed is None:
        log.info("job_already_claimed", schedule=schedule_name, scheduled_for=scheduled_for.isoformat())
        return False
    structlog.contextvars.bind_contextvars(job=schedule_name)
    status, detail = "succeeded", None
    try:
        if handler is None:
            raise LookupError(f"no job kind {kind!r}")
        detail = await handler(engine, params, scheduled_for)
    except Exception as exc:  # noqa: BLE001 - a failed job is recorded, the scheduler goes on
        status, detail = "failed", f"{type(exc).__name__}: {exc}"
        log.error("job_failed", schedule=schedule_name, exc_info=exc)
    async with session_scope(engine) as session:
        await session.execute(
            text("UPDATE job_run SET status = :status, detail = :detail, finished_at = now() WHERE id = :id"),
            {"status": status, "detail": detail, "id": claimed},
        )
    log.info("job_finished", schedule=schedule_name, status=status)
    structlog.contextvars.unbind_contextvars("job")
    return True


class SchedulerService:
    """Runs the database's schedules while this process holds the scheduler advisory lock."""

    def __init__(self, engine: AsyncEngine, poll_seconds: float = 5.0, refresh_seconds: float = 30.0) -> None:
        self.engine = engine
        self.poll_seconds = poll_seconds
        self.refresh_seconds = refresh_seconds
        self._task: asyncio.Task[None] | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._lock_connection: AsyncConnection | None = None
        self._loaded: dict[str, tuple[str, str, str, str]] = {}

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
        await self._release()

    @property
    def is_leader(self) -> bool:
        return self._scheduler is not None

    async def _run(self) -> None:
        while True:
            try:
                if self._scheduler is None:
                    await self._try_become_leader()
                else:
                    await self._check_lock_alive()
                    await self._refresh_jobs()
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # noqa: BLE001 - lost database: step down and try again later
                log.warning("scheduler_error", error=f"{type(exc).__name__}: {exc}")
                await self._release()
            await asyncio.sleep(self.poll_seconds if self._scheduler is None else self.refresh_seconds)

    async def _try_become_leader(self) -> None:
        connection = await self.engine.connect()
        got = (await connection.execute(text("SELECT pg_try_advisory_lock(:key)"),
                                        {"key": SCHEDULER_LOCK_KEY})).scalar()
        await connection.commit()
        if not got:
            await connection.close()
            return
        self._lock_connection = connection
        self._scheduler = AsyncIOScheduler(job_defaults={"coalesce": True, "max_instances": 1,
                                                         "misfire_grace_time": 3600})
        self._scheduler.start()
        log.info("scheduler_leader", runner=runner_name())
        await self._refresh_jobs()

    async def _check_lock_alive(self) -> None:
        assert self._lock_connection is not None
        await self._lock_connection.execute(text("SELECT 1"))
        await self._lock_connection.commit()

    async def _refresh_jobs(self) -> None:
        assert self._scheduler is not None
        async with session_scope(self.engine) as session:
            schedules = (await session.scalars(select(JobSchedule).where(JobSchedule.enabled.is_(True)))).all()
        wanted = {s.name: (s.kind, s.cron, s.timezone, repr(sorted(s.params.items()))) for s in schedules}
        for name in set(self._loaded) - set(wanted):
            self._scheduler.remove_job(name)
            del self._loaded[name]
        for schedule in schedules:
            if self._loaded.get(schedule.name) == wanted[schedule.name]:
                continue
            try:
                trigger = trigger_for(schedule.cron, schedule.timezone)
            except ValueError as exc:
                log.error("schedule_invalid", schedule=schedule.name, error=str(exc))
                continue
            self._scheduler.add_job(
                self._fire, trigger, id=schedule.name, replace_existing=True,
                args=[schedule.name, schedule.kind, dict(schedule.params), trigger],
            )
            self._loaded[schedule.name] = wanted[schedule.name]

    async def _fire(self, name: str, kind: str, params: dict[str, Any], trigger: CronTrigger) -> None:
        scheduled_for = latest_fire_time(trigger, datetime.now(trigger.timezone))
        await run_occurrence(self.engine, name, kind, params, scheduled_for)

    async def _release(self) -> None:
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
            self._scheduler = None
            self._loaded.clear()
        if self._lock_connection is not None:
            try:
                await self._lock_connection.close()
            except Exception:  # noqa: BLE001 - the connection may already be gone
                pass
            self._lock_connection = None


def latest_fire_time(trigger: CronTrigger, now: datetime, look_back: int = 3600) -> datetime:
    """The latest fire time at or before ``now``: the occurrence a just-fired job stands for.

    APScheduler 3 does not hand the fire time to the job; cron fire times are whole seconds,
    so walking back second by second (up to the misfire grace period) finds it.
    """
    probe = now.replace(microsecond=0)
    for _ in range(look_back):
        fire = trigger.get_next_fire_time(None, probe)
        if fire is not None and fire <= now:
            return fire
        probe -= timedelta(seconds=1)
    return now.replace(microsecond=0)
