"""Migration 0023: funding of a commune's cash (``funding.commune_code``, exactly one of bank and commune,
references unique per bank and per commune); down and up again, and no way down while a commune funding exists."""

from __future__ import annotations

import pytest
from alembic import command
from asyncpg import CheckViolationError, UniqueViolationError

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions

HANOI_COMMUNE, VIETCOMBANK = "00070", "970436"
_INSERT = """INSERT INTO funding (bank_bin, commune_code, programme_code, amount, reference, value_date, recorded_by,
                                  transfer_id)
             VALUES ($1, $2, 'TGXH', 1000, $3, DATE '2026-03-05', 'test', gen_random_uuid())"""


def _columns(url: str) -> dict[str, str]:
    return {r["column_name"]: r["is_nullable"] for r in run_sql(
        url, """SELECT column_name, is_nullable FROM information_schema.columns
                 WHERE table_name = 'funding' AND column_name IN ('bank_bin', 'commune_code')""")}


def test_commune_funding_down_and_up(database_url):
    assert _columns(database_url) == {"bank_bin": "YES", "commune_code": "YES"}
    run_sql(database_url, _INSERT, VIETCOMBANK, None, "FT-1")
    run_sql(database_url, _INSERT, None, HANOI_COMMUNE, "FT-1")  # the same reference at a commune: another one
    with pytest.raises(UniqueViolationError):
        run_sql(database_url, _INSERT, None, HANOI_COMMUNE, "FT-1")
    with pytest.raises(CheckViolationError):
        run_sql(database_url, _INSERT, VIETCOMBANK, HANOI_COMMUNE, "FT-2")
    with pytest.raises(CheckViolationError):
        run_sql(database_url, _INSERT, None, None, "FT-3")

    with pytest.raises(Exception, match="funding of communes exists"):
        command.downgrade(_alembic_config(database_url), "0022")
    assert versions(database_url) == ["0023"]  # later migrations went down, 0023 refused


def test_down_without_commune_funding_and_up_again(database_url):
    run_sql(database_url, _INSERT, VIETCOMBANK, None, "FT-1")
    command.downgrade(_alembic_config(database_url), "0022")
    assert versions(database_url) == ["0022"]
    assert _columns(database_url) == {"bank_bin": "NO"}
    assert [r["reference"] for r in run_sql(database_url, "SELECT reference FROM funding")] == ["FT-1"]
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _columns(database_url) == {"bank_bin": "YES", "commune_code": "YES"}
