"""Migration 0043: the payout_month statement check by key ranges; it goes down and up again."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions


def _function(url: str) -> str:
    return str(run_sql(url, "SELECT pg_get_functiondef('payout_amount_matches_months'::regproc) AS d")[0]["d"])


def test_months_check_by_range_down_and_up(database_url):
    ranged = _function(database_url)
    assert "BETWEEN $1 AND $2" in ranged and "enable_seqscan" in ranged
    command.downgrade(_alembic_config(database_url), "0042")
    assert versions(database_url) == ["0042"]
    restored = _function(database_url)
    assert "BETWEEN $1 AND $2" not in restored and "enable_seqscan" not in restored
    assert "LEFT JOIN LATERAL" in restored
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _function(database_url) == ranged
