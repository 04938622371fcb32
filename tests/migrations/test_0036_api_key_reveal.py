"""Migration 0036: the table that holds a new bank API key, sealed, between issuing it and showing it once; it
goes down and up again."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions


def _table(url: str) -> list[str]:
    return [r["column_name"] for r in run_sql(
        url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'api_key_reveal' "
             "ORDER BY ordinal_position")]


def test_api_key_reveal_down_and_up(database_url):
    columns = ["token_hash", "api_key_id", "session_id", "sealed_key", "expires_at"]
    assert _table(database_url) == columns
    command.downgrade(_alembic_config(database_url), "0035")
    assert versions(database_url) == ["0035"]
    assert _table(database_url) == []
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _table(database_url) == columns
