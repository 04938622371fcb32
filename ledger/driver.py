"""Reach the asyncpg connection under a SQLAlchemy session (COPY, binary arrays, savepoints)."""

from __future__ import annotations

from typing import Any, cast

import asyncpg
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession


async def driver_connection(session: AsyncSession) -> asyncpg.Connection[Any]:
    """The session's asyncpg connection, inside the session's transaction.

    SQLAlchemy's asyncpg adapter sends BEGIN lazily with its first statement, so one trivial
    statement goes through the session first; after that, statements on the returned connection
    (and ``connection.transaction()`` savepoints) belong to the session's transaction.
    """
    connection = await session.connection()
    await connection.execute(text("SELECT 1"))
    raw = await connection.get_raw_connection()
    return cast("asyncpg.Connection[Any]", raw.driver_connection)
