"""Migration 0038: the BRIN index of arrival times and each run's latest arrival (kept by a trigger, backfilled
on upgrade); it goes down and up again."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions


def _index(url: str) -> list[str]:
    return [r["indexdef"] for r in run_sql(
        url, "SELECT indexdef FROM pg_indexes WHERE tablename = 'payout' AND indexname = 'ix_payout_arrived_brin'")]


def _arrival_table(url: str) -> bool:
    return bool(run_sql(url, "SELECT to_regclass('payout_run_arrival') IS NOT NULL AS present")[0]["present"])


def test_payout_arrival_index_down_and_up(database_url):
    [definition] = _index(database_url)
    assert "USING brin" in definition and "COALESCE(credited_at, sent_at)" in definition
    assert _arrival_table(database_url)
    command.downgrade(_alembic_config(database_url), "0037")
    assert versions(database_url) == ["0037"]
    assert _index(database_url) == [] and not _arrival_table(database_url)
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _index(database_url) == [definition] and _arrival_table(database_url)
