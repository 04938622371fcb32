"""Migration 0034: the audit log's indexes for reading it newest first by actor, action or object; down puts
back the single (object_type, object_id) index, up the four again, and the entries stay."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions

READING_INDEXES = {"ix_audit_log_at": "(at, id)", "ix_audit_log_actor_at": "(actor, at, id)",
                   "ix_audit_log_action_at": "(action, at, id)",
                   "ix_audit_log_object_at": "(object_type, object_id, at, id)"}


def _indexes(url: str) -> dict[str, str]:
    rows = run_sql(url, "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'audit_log' "
                        "AND indexname <> 'audit_log_pkey'")
    return {r["indexname"]: r["indexdef"].split(" USING btree ")[1] for r in rows}


def test_audit_log_indexes_down_and_up(database_url):
    run_sql(database_url, "INSERT INTO audit_log (actor, action, object_type, object_id) "
                          "VALUES ('lan.officer', 'payout_run.approve', 'payout_run', 'r1')")
    assert _indexes(database_url) == READING_INDEXES

    command.downgrade(_alembic_config(database_url), "0033")
    assert versions(database_url) == ["0033"]
    assert _indexes(database_url) == {"ix_audit_log_object": "(object_type, object_id)"}

    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _indexes(database_url) == READING_INDEXES
    assert [r["actor"] for r in run_sql(database_url, "SELECT actor FROM audit_log")] == ["lan.officer"]
