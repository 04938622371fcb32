"""Migration 0032: the index the sign-in lockout reads an address's recent failures through; down drops it, up
builds it again, and the recorded attempts stay."""

from __future__ import annotations

from alembic import command

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions


def _index(url: str) -> list[str]:
    return [r["indexdef"] for r in run_sql(url, "SELECT indexdef FROM pg_indexes WHERE indexname = 'ix_login_attempt_ip_at'")]


def test_login_attempt_address_index_down_and_up(database_url):
    run_sql(database_url, "INSERT INTO login_attempt (username, ip, success) VALUES ('lan.officer', '10.0.0.7', false)")
    assert len(_index(database_url)) == 1 and "WHERE (NOT success)" in _index(database_url)[0]

    command.downgrade(_alembic_config(database_url), "0031")
    assert versions(database_url) == ["0031"]
    assert _index(database_url) == []

    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert len(_index(database_url)) == 1
    assert [r["ip"] for r in run_sql(database_url, "SELECT ip FROM login_attempt")] == ["10.0.0.7"]
