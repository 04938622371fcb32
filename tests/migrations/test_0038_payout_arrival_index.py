"""Migration 0038: the index of arrived payouts by run and arrival time; it goes down and up again."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions


def _index(url: str) -> list[str]:
    return [r["indexdef"] for r in run_sql(
        url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'payout' AND indexname = 'ix_payout_run_arrived'")]


def test_payout_arrival_index_down_and_up(database_url):
    [definition] = _index(database_url)
    assert "(run_id, COALESCE(credited_at, sent_at))" in definition and "WHERE" in definition
    command.downgrade(_alembic_config(database_url), "0037")
    assert versions(database_url) == ["0037"]
    assert _index(database_url) == []
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _index(database_url) == [definition]
