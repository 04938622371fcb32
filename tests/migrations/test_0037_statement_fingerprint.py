"""Migration 0037: every statement gets its fingerprint, computed in SQL from its stored lines exactly as the
import computes it in Python; a statement imported twice before names the first copy and stays; the database
refuses a copy from then on; the migration goes down and up again."""

from __future__ import annotations

import asyncio
from datetime import date
from importlib import import_module

import pytest
from asyncpg import NotNullViolationError
from sqlalchemy import text

from app.database import downgrade_database, migration_heads, session_scope, upgrade_database
from reconciliation.fingerprint import FINGERPRINT_VERSION
from reconciliation.writers import write_camt053, write_statement_csv, write_statement_xlsx
from tests.app.reconciliation_api.world import as_bank, build_world, debit, other_line, statement, upload
from tests.support.migrations import run_sql, versions
from tests.support.world import VIETCOMBANK, Office

MIGRATION = import_module("migrations.versions.0037_statement_fingerprint")

# A copy of a statement and its lines as the import wrote it before 0037 (another file, a later upload), the
# lines in the opposite order.
_COPY = """
    WITH upload AS (
        INSERT INTO statement_upload (bank_bin, filename, sha256, size, content, format, status, uploaded_by)
        VALUES ('970436', 'sao-ke-luu-lai.xlsx', sha256('\\x01'::bytea), 1, '\\x01'::bytea, 'xlsx', 'accepted',
                'lan.officer')
        RETURNING id),
    copy AS (
        INSERT INTO bank_statement (upload_id, position, bank_bin, account, statement_id, sha256, format, currency,
                                    opening_balance, closing_balance, opening_date, closing_date, line_count,
                                    credit_total, debit_total, uploaded_by, uploaded_at)
        SELECT upload.id, 1, s.bank_bin, s.account, 'sha256:luu-lai:1', sha256('\\x01'::bytea), 'xlsx', s.currency,
               s.opening_balance, s.closing_balance, s.opening_date, s.closing_date, s.line_count, s.credit_total,
               s.debit_total, 'lan.officer', s.uploaded_at + interval '1 hour'
          FROM upload, bank_statement s WHERE s.id = $1
        RETURNING id)
    INSERT INTO statement_line (statement_id, line_no, bank_bin, booking_date, value_date, booked_at, amount,
                                bank_reference, end_to_end_ref, counterparty_account, counterparty_name, description,
                                return_reason, is_reversal, status, exception_reason)
    SELECT copy.id, s.line_count + 1 - l.line_no, l.bank_bin, l.booking_date, l.value_date, l.booked_at, l.amount,
           l.bank_reference, l.end_to_end_ref, l.counterparty_account, l.counterparty_name, l.description,
           l.return_reason, l.is_reversal, 'exception', 'duplicate'
      FROM copy, statement_line l JOIN bank_statement s ON s.id = l.statement_id WHERE l.statement_id = $1
    RETURNING CAST(statement_id AS text) AS id
"""


def _fingerprints(url: str) -> dict[str, tuple[bytes, str | None]]:
    return {r["id"]: (bytes(r["fingerprint"]), r["duplicate_of"]) for r in run_sql(
        url, "SELECT CAST(id AS text) AS id, fingerprint, CAST(duplicate_of AS text) AS duplicate_of "
             "FROM bank_statement")}


def test_the_migrations_version_tag_is_the_applications():
    assert MIGRATION.FINGERPRINT_VERSION == FINGERPRINT_VERSION


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def test_the_sql_fingerprint_is_the_imports_then_copies_from_before_are_marked_down_and_up(office,
                                                                                             database_url):
    url = database_url
    _, p = await build_world(office, vietcombank=3)
    headers = await as_bank(office, VIETCOMBANK)
    # Lines the SQL must read as Python does: no references, Vietnamese text, separators inside a reference,
    # two lines that differ only in their end-to-end reference (neither with a bank reference: two with the
    # same one are refused), an empty statement.
    tricky = statement(VIETCOMBANK, [
        debit(p[0]), debit(p[1], end_to_end_ref=None),
        other_line(VIETCOMBANK, -22_000, bank_reference="Phí QLTK tháng 3|1:2"),
        other_line(VIETCOMBANK, -22_000, bank_reference=None),
        other_line(VIETCOMBANK, -22_000, bank_reference=None, end_to_end_ref="Ä"),
        other_line(VIETCOMBANK, 1_000, bank_reference=None), debit(p[2])], opening=100_000_000)
    empty = statement(VIETCOMBANK, [], statement_id="SK-RONG", opening=tricky.closing_balance,
                      opening_date=date(2026, 3, 13), closing_date=date(2026, 3, 13))
    first = await upload(office, headers, write_statement_csv(tricky), "sao-ke-03.csv")
    assert first.status_code == 201, first.text
    assert (await upload(office, headers, write_camt053(empty), "rong.xml")).status_code == 201
    imported = first.json()["statement_id"]

    async with session_scope(office.engine) as session:
        rows = (await session.execute(text(
            f"SELECT s.fingerprint AS stored, {MIGRATION.FINGERPRINT_SQL} AS computed FROM bank_statement s"))).all()
    assert len(rows) == 2 and all(bytes(r.stored) == bytes(r.computed) for r in rows)
    stored = await asyncio.to_thread(_fingerprints, url)

    # Before 0037 the same statement saved as xlsx was imported again: the migration finds the copy.
    await asyncio.to_thread(downgrade_database, url, "0036")
    assert await asyncio.to_thread(versions, url) == ["0036"]
    [copy] = {r["id"] for r in await asyncio.to_thread(run_sql, url, _COPY, imported)}
    await asyncio.to_thread(upgrade_database, url)
    after = await asyncio.to_thread(_fingerprints, url)
    assert {key: value for key, value in after.items() if key != copy} == stored  # the same as the import's
    assert after[copy] == (stored[imported][0], imported)

    # From now on an import of it is the statement already imported; a statement without its fingerprint is refused
    # (a copy with it: tests/app/reconciliation_api/test_same_statement.py).
    again = await upload(office, headers, write_statement_xlsx(tricky), "sao-ke-03.xlsx")
    assert again.status_code == 200 and again.json()["statement_id"] == imported
    assert again.json()["already_imported_by"] == "content"
    with pytest.raises(NotNullViolationError, match='column "fingerprint"'):  # as the old import wrote it
        await asyncio.to_thread(run_sql, url, _COPY.replace("luu-lai", "lan-ba").replace("\\x01", "\\x02"), imported)

    # The statement pages name the copy and its original.
    await office.be("lan.officer")
    page = await office.client.get(f"/statements/{copy}")
    assert page.status_code == 200 and "Sao kê này trùng nội dung" in page.text
    assert f'href="/statements/{imported}">sao-ke-03.csv (09/03/2026 – 12/03/2026)</a>' in page.text
    assert "Bản nhập lặp" in (await office.client.get("/statements")).text

    await asyncio.to_thread(downgrade_database, url, "0036")
    columns = await asyncio.to_thread(run_sql, url, """SELECT column_name FROM information_schema.columns
        WHERE table_name = 'bank_statement' AND column_name IN ('fingerprint', 'duplicate_of')""")
    assert columns == []
    await asyncio.to_thread(upgrade_database, url)
    assert await asyncio.to_thread(_fingerprints, url) == after
    assert await asyncio.to_thread(versions, url) == list(migration_heads())
