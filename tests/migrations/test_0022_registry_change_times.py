"""Migration 0022: the indexes approval and sending use to find registry changes made after a run was
computed; down and up again."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, upgrade_database
from tests.support.migrations import run_sql, versions

INDEXES = {"ix_beneficiary_event_recorded_at", "ix_enrolment_updated_at", "ix_enrolment_created_at"}


def _indexes(url: str) -> set[str]:
    return {r["indexname"] for r in run_sql(url, "SELECT indexname FROM pg_indexes WHERE indexname = ANY($1)",
                                            list(INDEXES))}


def test_registry_change_indexes_down_and_up(database_url):
    assert _indexes(database_url) == INDEXES
    command.downgrade(_alembic_config(database_url), "0021")
    assert versions(database_url) == ["0021"]
    assert _indexes(database_url) == set()
    upgrade_database(database_url)
    assert _indexes(database_url) == INDEXES

