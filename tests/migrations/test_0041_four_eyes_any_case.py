"""Migration 0041: the database's maker-checker check compares usernames whatever their case; it goes down and
up again, and refuses to go up over a run already approved by its preparer under another spelling."""

from __future__ import annotations

import uuid

import asyncpg
import pytest
from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions


def _check(url: str) -> str:
    return run_sql(url, "SELECT pg_get_constraintdef(oid) AS d FROM pg_constraint "
                        "WHERE conname = 'ck_payout_run_four_eyes'")[0]["d"]


def _approved_run(url: str, prepared_by: str, approved_by: str) -> str:
    """An approved run (no payouts) prepared and approved by the names given."""
    run_id = str(uuid.uuid4())
    run_sql(url, """INSERT INTO payout_run (id, programme_code, period, arrears_from, status, created_by,
                                            prepared_by, approved_by)
                    VALUES ($1, 'TGXH', DATE '2026-03-01', DATE '2026-03-01', 'approved', $2, $2, $3)""",
            uuid.UUID(run_id), prepared_by, approved_by)
    return run_id


def test_four_eyes_any_case_down_and_up(database_url):
    assert "lower(approved_by) <> lower(prepared_by)" in _check(database_url)
    with pytest.raises(asyncpg.CheckViolationError, match="ck_payout_run_four_eyes"):
        _approved_run(database_url, "Lan", "lan")
    command.downgrade(_alembic_config(database_url), "0040")
    assert versions(database_url) == ["0040"]
    assert "lower" not in _check(database_url)
    # Before 0041 the check was case-sensitive: "Lan" approving the run "lan" prepared got through.
    breached = _approved_run(database_url, "lan", "Lan")
    with pytest.raises(asyncpg.RaiseError, match="approved by their preparer under another spelling") as refused:
        upgrade_database(database_url)
    assert f"{breached} (lan / Lan)" in str(refused.value)
    assert versions(database_url) == ["0040"]  # nothing half-applied
    run_sql(database_url, "UPDATE payout_run SET approved_by = 'ha.approver' WHERE id = $1", uuid.UUID(breached))
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert "lower(approved_by) <> lower(prepared_by)" in _check(database_url)
    with pytest.raises(asyncpg.CheckViolationError, match="ck_payout_run_four_eyes"):
        run_sql(database_url, "UPDATE payout_run SET approved_by = 'LAN' WHERE id = $1", uuid.UUID(breached))
