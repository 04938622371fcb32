"""The one helper every module calls to write the audit trail."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from enum import Enum
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import insert, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry

SYSTEM_ACTOR = "system"
BANK_ACTOR_PREFIX = "bank:"  # a bank's key acts as ``bank:<BIN>``


async def actor_role_of(session: AsyncSession, actor: str) -> str | None:
    """The role ``actor`` acts in: ``bank`` for a bank's key (``bank:<BIN>``), a staff user's role as the
    staff table has it now (the moment of the entry); None for an actor that is no one's account (the
    scheduler, ``system``, the command line's ``cli``)."""
    if actor.startswith(BANK_ACTOR_PREFIX):
        return "bank"
    role = await session.scalar(text("SELECT role FROM staff_user WHERE lower(username) = lower(:actor)"), {"actor": actor})
    return str(role) if role is not None else None


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [_jsonable(v) for v in value]
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, UUID | Decimal):
        return str(value)
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, bytes):
        return value.hex()
    return value


async def record(
    session: AsyncSession,
    *,
    actor: str,
    action: str,
    object_type: str,
    object_id: object = None,
    before: dict[str, Any] | None = None,
    after: dict[str, Any] | None = None,
    actor_role: str | None = None,
) -> None:
    """Append one audit row in the caller's transaction (so it commits or rolls back with the change).

    ``actor_role`` defaults to the actor's own (``actor_role_of``): every entry names the role it was done
    in, whichever of the many callers wrote it (a request, a job, the command line's ``--as``), without each
    having to pass it."""
    if actor_role is None:
        actor_role = await actor_role_of(session, actor)
    request_id = structlog.contextvars.get_contextvars().get("request_id")
    await session.execute(
        insert(AuditEntry).values(
            actor=actor,
            actor_role=actor_role,
            action=action,
            object_type=object_type,
            object_id=None if object_id is None else str(object_id),
            before=_jsonable(before) if before is not None else None,
            after=_jsonable(after) if after is not None else None,
            request_id=request_id,
        )
    )
