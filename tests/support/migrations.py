"""Plain SQL on a test database outside the app, for the migration tests (which move its schema)."""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg

from app.database import to_libpq_url


def run_sql(url: str, statement: str, *args: Any) -> Any:
    """Run one statement on its own connection; its rows (call from outside an event loop)."""
    async def run() -> Any:
        conn = await asyncpg.connect(to_libpq_url(url))
        try:
            return await conn.fetch(statement, *args)
        finally:
            await conn.close()

    return asyncio.run(run())


def versions(url: str) -> list[str]:
    """The Alembic versions the database is at."""
    return [row["version_num"] for row in run_sql(url, "SELECT version_num FROM alembic_version")]
