"""Shapes of the schedules API: a schedule with its next and recent runs, and a change to one."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import msgspec


class JobRunOut(msgspec.Struct):
    """One run of a schedule: the fire time it stands for, when it started and ended, how it went."""

    scheduled_for: datetime
    started_at: datetime
    finished_at: datetime | None
    status: str  # running | succeeded | failed
    detail: str | None  # what the job reported, or the error when it failed
    runner: str


class ScheduleOut(msgspec.Struct):
    """A schedule: what it does and when in words (null when not simply said), its next run, its last run, and
    ``flags``: ``failed`` (the last run failed), ``missed`` (a fire time passed with no run: ``missed_at``),
    ``stalled`` (the last run has been running for hours: its process probably died)."""

    name: str
    kind: str
    params: dict[str, Any]
    description_vi: str | None
    description_en: str | None
    cron: str
    cron_vi: str | None
    cron_en: str | None
    timezone: str
    enabled: bool
    updated_at: datetime
    next_run_at: datetime | None
    last_run: JobRunOut | None
    missed_at: datetime | None
    flags: list[str]
    runs: list[JobRunOut] = msgspec.field(default_factory=list)


class ScheduleUpdate(msgspec.Struct):
    """A change to a schedule: its cron (5 crontab fields, Vietnam time by default), on or off."""

    cron: str | None = None
    enabled: bool | None = None
