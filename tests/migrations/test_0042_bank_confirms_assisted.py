"""Migration 0042: a cancellation can name the bank's withdrawal that confirmed an assisted record (each bank
withdrawal at most one), and assisted records have their own index; it goes down and up again."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions


def _shape(url: str) -> tuple[bool, list[str]]:
    column = bool(run_sql(url, "SELECT 1 FROM information_schema.columns WHERE table_name = "
                               "'withdrawal_cancellation' AND column_name = 'superseded_by'"))
    indexes = [r["indexname"] for r in run_sql(
        url, "SELECT indexname FROM pg_indexes WHERE indexname IN ('ix_withdrawal_assisted', "
             "'uq_withdrawal_cancellation_superseded_by') ORDER BY indexname")]
    return column, indexes


def test_bank_confirms_assisted_down_and_up(database_url):
    assert _shape(database_url) == (True, ["ix_withdrawal_assisted", "uq_withdrawal_cancellation_superseded_by"])
    [definition] = run_sql(database_url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_withdrawal_assisted'")
    assert "WHERE ((source = 'commune'::text) AND (channel = 'assisted'::text))" in definition["indexdef"]
    command.downgrade(_alembic_config(database_url), "0041")
    assert versions(database_url) == ["0041"]
    assert _shape(database_url) == (False, [])
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _shape(database_url) == (True, ["ix_withdrawal_assisted", "uq_withdrawal_cancellation_superseded_by"])
