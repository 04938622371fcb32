"""The schedules page: each scheduled job in words, when it runs, its next and last runs with their outcome,
failed or missed ones flagged; officers and admins change a cron or switch a job on or off."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from litestar import Controller, Request, Response, get, post
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.queries import AUDIT_READERS
from app.auth.guards import current_principal, requires
from app.http.problems import Problem, bilingual
from app.scheduler.routes import SCHEDULE_EDITORS, SCHEDULE_READERS
from app.scheduler.schedules import (
    ScheduleError,
    ScheduleNotFound,
    list_schedules,
    scheduler_running,
    update_schedule,
)
from app.web.forms import form_text
from app.web.render import current_lang, page, see_other

PATH = "/schedules"
RECENT_RUNS = 5
FLAG_KEYS = {"failed": "schedules.flag.failed", "missed": "schedules.flag.missed",
             "stalled": "schedules.flag.stalled", "invalid": "schedules.flag.invalid"}
STATUS_KEYS = {"running": "schedules.status.running", "succeeded": "schedules.status.succeeded",
               "failed": "schedules.status.failed"}


async def _schedules_page(request: Request[Any, Any, Any], session: AsyncSession, *, status_code: int = 200,
                          errors: dict[str, str] | None = None,
                          values: dict[str, dict[str, Any]] | None = None) -> Response[Any]:
    principal = current_principal(request)
    assert principal is not None
    schedules = await list_schedules(session, recent=RECENT_RUNS)
    changed = request.query_params.get("changed")
    return page(request, "schedules/list.html", status_code=status_code, schedules=schedules,
                running=await scheduler_running(session),
                flagged=[s for s in schedules if s.flags],
                may_edit=principal.role in SCHEDULE_EDITORS, may_audit=principal.role in AUDIT_READERS,
                changed=changed if changed and any(s.name == changed for s in schedules) else None,
                errors=errors or {}, values=values or {}, flag_keys=FLAG_KEYS, status_keys=STATUS_KEYS)


class SchedulePages(Controller):
    path = PATH
    include_in_schema = False

    @get("/", guards=[requires(*SCHEDULE_READERS)])
    async def schedules(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Every schedule with its next and recent runs; failed, stalled or missed ones first in a summary."""
        return await _schedules_page(request, db_session)

    @post("/{name:str}", guards=[requires(*SCHEDULE_EDITORS)])
    async def change(self, request: Request[Any, Any, Any], db_session: AsyncSession, name: str) -> Response[Any]:
        """Save a schedule's cron and on/off; a bad cron comes back on the form, explained."""
        form = await request.form()
        cron = form_text(form, "cron")
        enabled = form_text(form, "enabled") == "1"
        principal = current_principal(request)
        assert principal is not None
        try:
            await update_schedule(db_session, name, cron=cron, enabled=enabled, actor=principal.name,
                                  actor_role=principal.role.value)
        except ScheduleNotFound:
            raise Problem(404, bilingual("Không có lịch chạy này", "no such schedule")) from None
        except ScheduleError as exc:
            message = exc.en if current_lang(request) == "en" else exc.vi
            return await _schedules_page(request, db_session, status_code=422, errors={name: message},
                                         values={name: {"cron": cron, "enabled": enabled}})
        return see_other(f"{PATH}?{urlencode({'changed': name})}")
