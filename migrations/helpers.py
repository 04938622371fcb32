"""Helpers for hand-written migrations."""

from __future__ import annotations

from alembic import op
from sqlalchemy.util import await_only


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script (functions, triggers) in the migration's transaction.

    asyncpg prepares every statement it is given through SQLAlchemy, and a prepared
    statement holds one command; its simple-query protocol (``execute`` without
    arguments) takes a whole script.
    """
    dbapi_connection = op.get_bind().connection.dbapi_connection
    driver_connection = dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_only(driver_connection.execute(sql))
