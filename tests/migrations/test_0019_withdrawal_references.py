"""Migration 0019: withdrawals keep refusing missing people, banks and intakes (checked once per statement
instead of a foreign-key trigger per row), a bulk insert is checked as a whole, and the migration goes
down and up again."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import asyncpg
import pytest

from app.database import downgrade_database, migration_heads, to_libpq_url, upgrade_database
from tests.support.migrations import versions

_BANK_ROW = """INSERT INTO withdrawal (source, intake_id, bank_bin, bank_reference, account_number, beneficiary_id,
                                       occurred_at, amount, channel, recorded_by)
               VALUES ('bank', $1, $2, $3, '0011223344', $4, now(), 650000, 'atm', 'test')"""


async def _refusals(url: str) -> None:
    conn = await asyncpg.connect(to_libpq_url(url))
    try:
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="beneficiary"):
            await conn.execute(_BANK_ROW, None, "970436", "R-1", uuid.uuid4())
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="bank"):
            await conn.execute(_BANK_ROW, None, "999999", "R-2", None)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="withdrawal_intake"):
            await conn.execute(_BANK_ROW, uuid.uuid4(), "970436", "R-3", None)
        # An unknown account's withdrawal is kept without a person; filling in a missing one is refused.
        withdrawal_id = await conn.fetchval(_BANK_ROW + " RETURNING id", None, "970436", f"R-{uuid.uuid4()}", None)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="beneficiary"):
            await conn.execute("UPDATE withdrawal SET beneficiary_id = $1 WHERE id = $2", uuid.uuid4(), withdrawal_id)
        # A bank named by a withdrawal cannot go.
        with pytest.raises(asyncpg.ForeignKeyViolationError):
            await conn.execute("DELETE FROM bank WHERE bin = '970436'")
        # A bulk COPY is checked too, once for all its rows.
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="beneficiary"):
            await conn.copy_records_to_table(
                "withdrawal", columns=("source", "beneficiary_id", "occurred_at", "amount", "channel", "recorded_by"),
                records=[("commune", uuid.uuid4(), datetime.now(UTC), 100_000, "assisted", "test") for _ in range(3)])
        assert await conn.fetchval("SELECT count(*) FROM withdrawal WHERE source = 'commune'") == 0
    finally:
        await conn.close()


async def test_missing_references_are_refused_before_and_after_the_migration(database_url):
    await _refusals(database_url)
    await asyncio.to_thread(downgrade_database, database_url, "0018")
    await _refusals(database_url)
    await asyncio.to_thread(upgrade_database, database_url)
    await _refusals(database_url)
    assert await asyncio.to_thread(versions, database_url) == list(migration_heads())
