"""Schedules as staff see and change them: what each job does and when, in words; its next run; its last runs
(``job_run``: the fire time, start, end, outcome and error of every run); whether it failed, stalled or was
missed; and a change of its cron or on/off, checked and audited.

The scheduler (``app.scheduler.service``) reads ``job_schedule`` again every 30 seconds, so a change takes
effect within a minute in the process that holds the scheduler lock.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.scheduler.models import JobSchedule
from app.scheduler.schemas import JobRunOut, ScheduleOut
from app.scheduler.service import SCHEDULER_LOCK_KEY, trigger_for

VIETNAM_ZONE = "Asia/Ho_Chi_Minh"
# A fire time this long past without a run is missed (the scheduler claims an occurrence within seconds).
MISSED_GRACE = timedelta(minutes=5)
# A run still "running" after this long has lost its process (a crash or a restart mid-job).
STALLED_AFTER = timedelta(hours=6)
RECENT_RUNS = 20

# What each kind of job does, with its params ({programme}).
KIND_WORDS: dict[str, tuple[str, str]] = {
    "payouts.compute_next": ("Lập và tính đợt chi tháng sau của chương trình {programme}",
                             "Create and compute next month's run of programme {programme}"),
    "auth.purge_expired_sessions": ("Xóa phiên đăng nhập đã hết hạn và lượt đăng nhập cũ hơn 30 ngày",
                                    "Delete expired sessions and sign-in attempts older than 30 days"),
    "reports.compact_withdrawal_summary": ("Gộp số liệu tổng hợp thời gian rút tiền cho báo cáo",
                                           "Fold the time-to-withdrawal summary for the reports"),
}
_WEEKDAYS_VI = ("Chủ nhật", "thứ Hai", "thứ Ba", "thứ Tư", "thứ Năm", "thứ Sáu", "thứ Bảy")
_WEEKDAYS_EN = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_WEEKDAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


class ScheduleError(ValueError):
    """A change that cannot be made, said in Vietnamese and English."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


class ScheduleNotFound(LookupError):
    """No schedule has that name."""


def kind_words(kind: str, params: dict[str, Any]) -> tuple[str | None, str | None]:
    """What a job of ``kind`` does, in Vietnamese and English; (None, None) for a kind without words."""
    words = KIND_WORDS.get(kind)
    if words is None:
        return None, None
    values = {"programme": str(params.get("programme", "?"))}
    return words[0].format(**values), words[1].format(**values)


def _number(field: str, highest: int) -> int | None:
    return int(field) if field.isdigit() and int(field) <= highest else None


def _weekday(field: str) -> int | None:
    if field.isdigit() and int(field) <= 7:
        return int(field) % 7
    name = field.lower()[:3]
    return _WEEKDAY_NAMES.index(name) if len(field) >= 3 and name in _WEEKDAY_NAMES else None


def cron_words(cron: str, timezone: str = VIETNAM_ZONE) -> tuple[str | None, str | None]:
    """A simple cron in words ("ngày 20 hằng tháng, 06:00"); (None, None) when it is not a simple one."""
    fields = cron.split()
    if len(fields) != 5:
        return None, None
    minute, hour, day, month, day_of_week = fields
    words: tuple[str, str] | None = None
    m, h = _number(minute, 59), _number(hour, 23)
    rest_any = day == month == day_of_week == "*"
    if minute.startswith("*/") and hour == "*" and rest_any and (step := _number(minute[2:], 59)):
        words = (f"mỗi {step} phút", f"every {step} minutes")
    elif m is not None and hour == "*" and rest_any:
        words = (f"hằng giờ, vào phút {m}", f"every hour at minute {m}")
    elif m is not None and h is not None:
        at = f"{h:02d}:{m:02d}"
        weekday = _weekday(day_of_week)
        if rest_any:
            words = (f"hằng ngày, {at}", f"every day at {at}")
        elif (d := _number(day, 31)) and month == "*" and day_of_week == "*":
            words = (f"ngày {d} hằng tháng, {at}", f"on day {d} of every month at {at}")
        elif day == month == "*" and weekday is not None:
            words = (f"{_WEEKDAYS_VI[weekday]} hằng tuần, {at}", f"every {_WEEKDAYS_EN[weekday]} at {at}")
    if words is None:
        return None, None
    if timezone != VIETNAM_ZONE:
        return f"{words[0]} ({timezone})", f"{words[1]} ({timezone})"
    return words


def validate_cron(cron: str, timezone: str, now: datetime | None = None) -> str:
    """The cron as stored (single spaces) when it has 5 valid crontab fields and fires at some time;
    ScheduleError otherwise."""
    fields = cron.split()
    if len(fields) != 5:
        raise ScheduleError("Lịch chạy cần đúng 5 trường: phút giờ ngày tháng thứ, ví dụ 0 6 20 * *",
                            "a cron needs exactly 5 fields: minute hour day month weekday, e.g. 0 6 20 * *")
    try:
        trigger = trigger_for(" ".join(fields), timezone)
    except ValueError as exc:
        raise ScheduleError(f"Lịch chạy không hợp lệ ({exc})", f"not a valid cron ({exc})") from None
    if trigger.get_next_fire_time(None, now or datetime.now(UTC)) is None:
        raise ScheduleError("Lịch chạy này không bao giờ đến (ví dụ ngày 30 tháng 2)",
                            "this cron never fires (e.g. 30 February)")
    return " ".join(fields)


async def scheduler_running(session: AsyncSession) -> bool:
    """Whether a process of this database holds the scheduler lock (``ansinh serve`` with the scheduler on)."""
    return bool(await session.scalar(text(
        """SELECT EXISTS (SELECT 1 FROM pg_locks
                           WHERE locktype = 'advisory' AND granted AND objsubid = 1
                             AND database = (SELECT oid FROM pg_database WHERE datname = current_database())
                             AND classid::bigint = :high AND objid::bigint = :low)"""),
        {"high": SCHEDULER_LOCK_KEY >> 32, "low": SCHEDULER_LOCK_KEY & 0xFFFFFFFF}))


_SCHEDULES = """
    SELECT s.name, s.kind, s.cron, s.timezone, s.params, s.enabled, s.updated_at,
           r.scheduled_for, r.started_at, r.finished_at, r.status, r.detail, r.runner
      FROM job_schedule s
      LEFT JOIN LATERAL (SELECT j.* FROM job_run j WHERE j.schedule_name = s.name
                          ORDER BY j.scheduled_for DESC LIMIT :recent) r ON true
     {where}
     ORDER BY s.name, r.scheduled_for DESC
"""


def _schedule_out(row: Any, runs: list[JobRunOut], now: datetime) -> ScheduleOut:
    description_vi, description_en = kind_words(row.kind, row.params or {})
    cron_vi, cron_en = cron_words(row.cron, row.timezone)
    last_run = runs[0] if runs else None
    flags: list[str] = []
    next_run_at = missed_at = None
    try:
        trigger = trigger_for(row.cron, row.timezone)
    except (ValueError, LookupError):
        trigger = None
        flags.append("invalid")
    if last_run is not None and last_run.status == "failed":
        flags.append("failed")
    if last_run is not None and last_run.status == "running" and last_run.started_at < now - STALLED_AFTER:
        flags.append("stalled")
    if row.enabled and trigger is not None:
        next_run_at = trigger.get_next_fire_time(None, now)
        # The first fire time after the schedule was last changed or last ran: still ahead, or missed.
        anchor = row.updated_at
        if last_run is not None and last_run.scheduled_for >= anchor:
            anchor = last_run.scheduled_for + timedelta(seconds=1)
        due = trigger.get_next_fire_time(None, anchor)
        if due is not None and due <= now - MISSED_GRACE:
            missed_at = due
            flags.append("missed")
    return ScheduleOut(
        name=row.name, kind=row.kind, params=dict(row.params or {}), description_vi=description_vi,
        description_en=description_en, cron=row.cron, cron_vi=cron_vi, cron_en=cron_en, timezone=row.timezone,
        enabled=row.enabled, updated_at=row.updated_at, next_run_at=next_run_at, last_run=last_run,
        missed_at=missed_at, flags=flags, runs=runs)


async def list_schedules(session: AsyncSession, *, now: datetime | None = None, recent: int = 1,
                         name: str | None = None) -> list[ScheduleOut]:
    """Every schedule (or the one named), by name, with its ``recent`` latest runs, newest first."""
    now = now or datetime.now(UTC)
    rows = (await session.execute(
        text(_SCHEDULES.format(where="WHERE s.name = :name" if name is not None else "")),
        {"recent": recent, **({"name": name} if name is not None else {})})).all()
    grouped: dict[str, tuple[Any, list[JobRunOut]]] = {}
    for row in rows:
        _, runs = grouped.setdefault(row.name, (row, []))
        if row.scheduled_for is not None:
            runs.append(JobRunOut(scheduled_for=row.scheduled_for, started_at=row.started_at,
                                  finished_at=row.finished_at, status=row.status, detail=row.detail,
                                  runner=row.runner))
    return [_schedule_out(row, runs, now) for row, runs in grouped.values()]


async def get_schedule(session: AsyncSession, name: str, *, now: datetime | None = None,
                       recent: int = RECENT_RUNS) -> ScheduleOut:
    """One schedule with its latest runs; ScheduleNotFound when no schedule has that name."""
    found = await list_schedules(session, now=now, recent=recent, name=name)
    if not found:
        raise ScheduleNotFound(name)
    return found[0]


async def update_schedule(session: AsyncSession, name: str, *, cron: str | None, enabled: bool | None,
                          actor: str, actor_role: str | None = None, now: datetime | None = None) -> ScheduleOut:
    """Change a schedule's cron and/or switch it on or off (audited ``schedule.update`` with before and after);
    a change to nothing writes nothing. ScheduleError for a bad cron, ScheduleNotFound for an unknown name."""
    current = (await session.execute(
        select(JobSchedule.cron, JobSchedule.enabled, JobSchedule.timezone)
        .where(JobSchedule.name == name).with_for_update())).first()
    if current is None:
        raise ScheduleNotFound(name)
    new_cron = validate_cron(cron, current.timezone, now) if cron is not None else current.cron
    new_enabled = current.enabled if enabled is None else enabled
    if (new_cron, new_enabled) != (current.cron, current.enabled):
        await session.execute(update(JobSchedule).where(JobSchedule.name == name)
                              .values(cron=new_cron, enabled=new_enabled, updated_at=func.now()))
        await record(session, actor=actor, actor_role=actor_role, action="schedule.update",
                     object_type="job_schedule", object_id=name,
                     before={"cron": current.cron, "enabled": current.enabled},
                     after={"cron": new_cron, "enabled": new_enabled})
    return await get_schedule(session, name, now=now)
