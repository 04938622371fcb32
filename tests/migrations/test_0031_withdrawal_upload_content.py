"""Migration 0031: a bank's withdrawal intake keeps the file as received (``withdrawal_intake.content``, its
SHA-256 checked); down drops the column (the intakes stay) and up brings it back empty."""

from __future__ import annotations

import hashlib

import pytest
from alembic import command
from asyncpg import CheckViolationError

from app.database import _alembic_config, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions

_INSERT = """INSERT INTO withdrawal_intake (bank_bin, source_name, format, sha256, rows, accepted, duplicates,
                                            unknown_accounts, uploaded_by{content_column})
             VALUES ('970436', $1, 'csv', $2, 1, 1, 0, 0, 'bank:970436'{content_value})"""


def _columns(url: str) -> list[str]:
    return [r["column_name"] for r in run_sql(
        url, "SELECT column_name FROM information_schema.columns WHERE table_name = 'withdrawal_intake' "
             "AND column_name = 'content'")]


def test_withdrawal_files_kept_down_and_up(database_url):
    content = b"account_number,occurred_at,amount,channel,bank_ref\r\n"
    keep = _INSERT.format(content_column=", content", content_value=", $3")
    run_sql(database_url, keep, "rut-tien.csv", hashlib.sha256(content).digest(), content)
    with pytest.raises(CheckViolationError, match="ck_withdrawal_intake_content_sha256"):
        run_sql(database_url, keep, "khac.csv", hashlib.sha256(b"other").digest(), content)
    assert [bytes(r["content"]) for r in run_sql(database_url, "SELECT content FROM withdrawal_intake")] == [content]

    command.downgrade(_alembic_config(database_url), "0030")
    assert versions(database_url) == ["0030"]
    assert _columns(database_url) == []
    assert [r["source_name"] for r in run_sql(database_url, "SELECT source_name FROM withdrawal_intake")] == [
        "rut-tien.csv"]  # the intake and its hash stay
    run_sql(database_url, _INSERT.format(content_column="", content_value=""), "cu.csv", None)

    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    assert _columns(database_url) == ["content"]
    assert [r["content"] for r in run_sql(database_url, "SELECT content FROM withdrawal_intake ORDER BY uploaded_at")
            ] == [None, None]
