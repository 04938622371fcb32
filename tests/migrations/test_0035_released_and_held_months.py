"""Migration 0035: the partial indexes through which compute finds the months owed from before a run's
arrears window (released months, months an earlier run held); its hold reasons are the application's, and
the migration goes down and up again."""

from __future__ import annotations

from importlib import import_module

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from app.payouts.service.runs import HOLD_REASONS
from tests.support.migrations import run_sql, versions

MIGRATION = import_module("migrations.versions.0035_released_and_held_months")


def _indexes(url: str) -> set[str]:
    return {r["indexname"] for r in run_sql(url, "SELECT indexname FROM pg_indexes WHERE indexname = ANY($1)",
                                            list(MIGRATION.INDEXES))}


def test_the_migrations_hold_reasons_are_the_applications():
    assert MIGRATION.HOLD_REASONS == HOLD_REASONS


def test_released_and_held_month_indexes_down_and_up(database_url):
    assert _indexes(database_url) == {"ix_payout_month_released", "ix_payout_run_skip_held"}
    command.downgrade(_alembic_config(database_url), "0034")
    assert versions(database_url) == ["0034"]
    assert _indexes(database_url) == set()
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _indexes(database_url) == {"ix_payout_month_released", "ix_payout_run_skip_held"}

