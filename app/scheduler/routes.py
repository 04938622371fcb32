"""HTTP API of the schedules: read them with their runs (officers, admins, auditors); change a cron or switch
a schedule on or off (officers, who schedule the runs, and admins, who run the system)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get, patch
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.http.problems import Problem, bilingual
from app.scheduler.schedules import (
    ScheduleError,
    ScheduleNotFound,
    get_schedule,
    list_schedules,
    scheduler_running,
    update_schedule,
)
from app.scheduler.schemas import ScheduleOut, ScheduleUpdate

SCHEDULE_READERS = (Role.officer, Role.admin, Role.auditor)
SCHEDULE_EDITORS = (Role.officer, Role.admin)
NOT_FOUND = ("Không có lịch chạy này", "no such schedule")


class ScheduleController(Controller):
    path = "/api/schedules"
    tags = ["schedules"]

    @get("/", guards=[requires(*SCHEDULE_READERS)])
    async def schedules(self, db_session: AsyncSession) -> dict[str, Any]:
        """Every schedule with what it does and when (in words where simple), its next run, its last run and
        its ``flags`` (``failed``, ``missed``, ``stalled``, ``invalid``); ``scheduler_running`` says whether a
        process holds the scheduler lock (without one nothing runs)."""
        items = await list_schedules(db_session)
        return {"items": items, "total": len(items), "page": 1, "page_size": max(len(items), 1),
                "scheduler_running": await scheduler_running(db_session)}

    @get("/{name:str}", guards=[requires(*SCHEDULE_READERS)])
    async def schedule(self, db_session: AsyncSession, name: str) -> ScheduleOut:
        """One schedule with its 20 latest runs (``runs``, newest first: start, end, outcome, error)."""
        try:
            return await get_schedule(db_session, name)
        except ScheduleNotFound:
            raise Problem(404, bilingual(*NOT_FOUND)) from None

    @patch("/{name:str}", guards=[requires(*SCHEDULE_EDITORS)])
    async def change(self, request: Request[Any, Any, Any], db_session: AsyncSession, name: str,
                     data: ScheduleUpdate) -> ScheduleOut:
        """Change the cron (5 crontab fields in the schedule's time zone, Vietnam by default) and/or ``enabled``;
        a bad cron is 422 and changes nothing. Audited as ``schedule.update``; the scheduler takes it up within
        a minute."""
        principal = current_principal(request)
        assert principal is not None
        try:
            return await update_schedule(db_session, name, cron=data.cron, enabled=data.enabled,
                                         actor=principal.name, actor_role=principal.role.value)
        except ScheduleNotFound:
            raise Problem(404, bilingual(*NOT_FOUND)) from None
        except ScheduleError as exc:
            raise Problem(422, bilingual(exc.vi, exc.en),
                          errors=[{"row": None, "column": "cron", "message": bilingual(exc.vi, exc.en)}]) from None


ROUTES = [ScheduleController]
