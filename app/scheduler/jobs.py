"""Built-in maintenance jobs."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from app.database import session_scope
from app.scheduler.service import job_kind


@job_kind("auth.purge_expired_sessions")
async def purge_expired_sessions(engine: AsyncEngine, params: dict[str, Any], scheduled_for: datetime) -> str:
    """Delete sessions expired over a day ago and sign-in attempts older than 30 days."""
    async with session_scope(engine) as session:
        sessions = await session.execute(
            text("DELETE FROM staff_session WHERE expires_at < now() - interval '1 day'"))
        attempts = await session.execute(
            text("DELETE FROM login_attempt WHERE at < now() - interval '30 days'"))
    return f"sessions={sessions.rowcount} attempts={attempts.rowcount}"  # type: ignore[attr-defined]
