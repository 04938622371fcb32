"""Scheduled report upkeep: fold the time-to-withdrawal summary's delta rows (every 10 minutes)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import session_scope
from app.scheduler.service import job_kind
from reports.time_to_withdrawal import compact_summary


@job_kind("reports.compact_withdrawal_summary")
async def compact_withdrawal_summary(engine: AsyncEngine, params: dict[str, Any], scheduled_for: datetime) -> str:
    """Fold each summary key's delta rows into one; idempotent, and skipped while another one runs."""
    async with session_scope(engine) as session:
        rows = await compact_summary(session)
    return f"rows={rows}"
