"""Scheduled payout work: compute next month's run on the programme's schedule (default the 20th)."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import session_scope
from app.payouts.models import PayoutRun
from app.payouts.service.compute import compute_run
from app.payouts.service.runs import add_months, create_run, format_period
from app.scheduler.service import job_kind

SCHEDULER_ACTOR = "scheduler"


@job_kind("payouts.compute_next")
async def compute_next_month(engine: AsyncEngine, params: dict[str, Any], scheduled_for: datetime) -> str:
    """Create (if needed) and compute the programme's regular run for the month after ``scheduled_for``.

    Idempotent: an existing run is recomputed only while it is still a draft or computed. A period whose
    regular run an officer cancelled (and did not replace) is left alone: making it again is their call."""
    programme = params["programme"]
    local = scheduled_for.astimezone(ZoneInfo("Asia/Ho_Chi_Minh")).date().replace(day=1)
    period = add_months(local, 1)
    async with session_scope(engine) as session:
        # The live run first; a cancelled one only if there is none.
        run = await session.scalar(select(PayoutRun).where(
            PayoutRun.programme_code == programme, PayoutRun.period == period, PayoutRun.kind == "regular")
            .order_by((PayoutRun.status == "cancelled").asc(), PayoutRun.created_at.desc()).limit(1))
        if run is None:
            run = await create_run(session, programme=programme, period=format_period(period), actor=SCHEDULER_ACTOR)
    if run.status not in ("draft", "computing", "computed"):
        return f"{programme} {format_period(period)} already {run.status}"
    await compute_run(engine, run.id, actor=SCHEDULER_ACTOR)
    return f"{programme} {format_period(period)} computed"
