"""Migration 0016: statement lines and undrawn positions keep refusing missing references (checked once per
statement instead of row by row), and the migration goes down and up again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date

import asyncpg
import pytest

from app.database import downgrade_database, migration_heads, to_libpq_url, upgrade_database
from tests.support.migrations import run_sql, versions

_LINE = """INSERT INTO statement_line (statement_id, line_no, bank_bin, booking_date, amount, status, rule, funding_id)
           VALUES ($1, 1, '970436', DATE '2026-03-05', -650000, 'matched', 'reference', $2)"""
_POSITION = "INSERT INTO undrawn_position (beneficiary_id, credited, drawn) VALUES ($1, 650000, 0)"


def _copy_lines(url: str, statement_id: uuid.UUID, count: int) -> None:
    async def run() -> None:
        conn = await asyncpg.connect(to_libpq_url(url))
        try:
            await conn.copy_records_to_table(
                "statement_line", columns=("statement_id", "line_no", "bank_bin", "booking_date", "amount", "status",
                                           "rule"),
                records=[(statement_id, n, "970436", date(2026, 3, 5), -1, "matched", "reference") for n in range(1, count + 1)])
        finally:
            await conn.close()

    asyncio.run(run())


def _refusals(url: str) -> None:
    missing = uuid.uuid4()
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        run_sql(url, _LINE, missing, None)
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        run_sql(url, _POSITION, missing)


def test_missing_references_are_refused_before_and_after_the_migration(database_url):
    _refusals(database_url)
    with pytest.raises(asyncpg.ForeignKeyViolationError, match="bank_statement"):
        _copy_lines(database_url, uuid.uuid4(), 3)  # a bulk COPY is checked too, once for all its rows
    assert run_sql(database_url, "SELECT count(*) FROM statement_line")[0][0] == 0
    downgrade_database(database_url, "0015")
    _refusals(database_url)
    upgrade_database(database_url)
    _refusals(database_url)
    assert versions(database_url) == list(
        migration_heads())
