"""The same statement uploaded again in another format (a bank's CSV saved as xlsx, a camt.053 under another id)
is recognised by its content: 200 ``already_imported`` with the first statement, nothing applied twice, no line
in the exceptions queue again, a bank fee never charged twice; the database refuses a second copy."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import date
from pathlib import Path

import pytest
from asyncpg import UniqueViolationError
from click.testing import CliRunner
from sqlalchemy import text

from app.cli import main
from app.database import session_scope
from ledger.driver import driver_connection
from reconciliation.fingerprint import statement_fingerprint
from reconciliation.writers import write_camt053, write_mt940, write_statement_csv, write_statement_xlsx
from tests.app.reconciliation_api.world import (
    as_bank,
    build_world,
    debit,
    ledger_clean,
    other_line,
    payout_states,
    returned,
    statement,
    table_counts,
    upload,
)
from tests.support.ledger import totals
from tests.support.world import VIETCOMBANK, Office


async def _ledger_rows(office: Office) -> list[tuple[str, str | None, int | None]]:
    async with session_scope(office.engine) as session:
        rows = await session.execute(text("SELECT code, reference, amount FROM ledger_transfer ORDER BY id"))
        return [tuple(row) for row in rows]


async def _queue(office: Office) -> list[tuple[int, str, str | None, str | None]]:
    async with session_scope(office.engine) as session:
        rows = await session.execute(text(
            "SELECT id, status, exception_reason, resolution FROM statement_line ORDER BY id"))
        return [tuple(row) for row in rows]


async def test_a_banks_csv_saved_as_xlsx_is_the_statement_already_imported_and_its_fee_is_charged_once(office):
    _, p = await build_world(office, vietcombank=3)
    fee = other_line(VIETCOMBANK, -22_000, bank_reference="FEE-03", counterparty_account=None,
                     description="Phi quan ly tai khoan")
    same = statement(VIETCOMBANK, [debit(p[0]), debit(p[1]), returned(p[1], "AC04"), fee], statement_id="ignored")
    headers = await as_bank(office, VIETCOMBANK)
    first = await upload(office, headers, write_statement_csv(same), "sao-ke-03.csv")
    assert first.status_code == 201, first.text
    assert (first.json()["matched"], first.json()["returned"], first.json()["exceptions"]) == (2, 1, 1)

    await office.be("lan.officer")
    queue = (await office.client.get("/api/reconciliation/exceptions")).json()
    fee_line = next(item for item in queue["items"] if item["amount"] == -22_000)
    resolved = await office.post(f"/api/reconciliation/exceptions/{fee_line['id']}/resolve",
                                 json={"action": "bank_fee", "note": "phí tháng 3"})
    assert resolved.status_code == 200, resolved.text
    before, ledger, lines, states = (await table_counts(office), await _ledger_rows(office), await _queue(office),
                                     await payout_states(office))
    assert [row for row in ledger if row[0] == "reconciliation.bank_fee"] == [("reconciliation.bank_fee", "FEE-03", 22_000)]

    # The officer uploads the same rows saved as xlsx: the statement imported from the bank's CSV.
    xlsx = write_statement_xlsx(same)
    dry = await office.post("/api/bank/statements", params={"bank": VIETCOMBANK, "dry_run": "true"},
                            files={"file": ("sao-ke-03.xlsx", xlsx, "application/octet-stream")})
    assert dry.status_code == 200, dry.text
    assert (dry.json()["already_imported"], dry.json()["dry_run"], dry.json()["already_imported_by"]) == (
        True, True, "content")
    assert "results" not in dry.json() and dry.json()["statement_id"] == first.json()["statement_id"]
    again = await office.post("/api/bank/statements", params={"bank": VIETCOMBANK},
                              files={"file": ("sao-ke-03.xlsx", xlsx, "application/octet-stream")})
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["already_imported"], body["created"], body["content_differs"], body["already_imported_by"]) == (
        True, False, False, "content")
    assert body["statement_id"] == first.json()["statement_id"] and body["upload_id"] is None
    # Named by its file and period as staff know it; the internal id (sha256:…:1 for a CSV) in its own field.
    assert body["message"].startswith("Sao kê này đã được nhập trước đó (sao-ke-03.csv, 09/03/2026 – 12/03/2026): ")
    assert "this statement was already imported (sao-ke-03.csv, 09/03/2026 – 12/03/2026): " in body["message"]
    assert "sha256:" not in body["message"] and body["statements"][0]["bank_statement_id"].startswith("sha256:")
    assert body["statements"][0]["filename"] == "sao-ke-03.csv"
    assert body["statements"][0]["opening_date"] == "2026-03-09"
    # Nothing of it was applied: the queue, the fee, the ledger and the payouts are as they were.
    assert await table_counts(office) == before
    assert await _ledger_rows(office) == ledger
    assert await _queue(office) == lines
    assert await payout_states(office) == states
    open_after = (await office.client.get("/api/reconciliation/exceptions")).json()
    assert [item["id"] for item in open_after["items"]] == [
        item["id"] for item in queue["items"] if item["id"] != fee_line["id"]]
    async with session_scope(office.engine) as session:
        assert await totals(session, f"expense:bank_fee:{VIETCOMBANK}") == (22_000, 0, 0, 0)

    # The same statement as a camt.053 and an MT940 under an id of the bank's own: the same answer.
    headers = await as_bank(office, VIETCOMBANK)
    before = await table_counts(office)  # a new key for the bank was issued (and audited)
    for data, name in ((write_camt053(same), "sao-ke-03.xml"), (write_mt940(same), "sao-ke-03.sta")):
        other = await upload(office, headers, data, name)
        assert other.status_code == 200, other.text
        assert (other.json()["already_imported_by"], other.json()["statement_id"]) == (
            "content", first.json()["statement_id"])
    assert await table_counts(office) == before and await _ledger_rows(office) == ledger
    await ledger_clean(office)


async def test_statements_that_differ_only_in_period_or_balances_are_each_imported(office):
    await build_world(office, vietcombank=1)
    headers = await as_bank(office, VIETCOMBANK)
    monday = statement(VIETCOMBANK, [], opening=100_000_000, opening_date=date(2026, 3, 9),
                       closing_date=date(2026, 3, 9))
    tuesday = statement(VIETCOMBANK, [], opening=100_000_000, opening_date=date(2026, 3, 10),
                        closing_date=date(2026, 3, 10))
    assert (await upload(office, headers, write_statement_csv(monday), "t2.csv")).status_code == 201
    second = await upload(office, headers, write_statement_csv(tuesday), "t3.csv")
    assert second.status_code == 201, second.text
    assert second.json()["statements"][0]["gap"] is None
    interest = other_line(VIETCOMBANK, 1_500, bank_reference="LAI-03")
    one = statement(VIETCOMBANK, [interest], opening=100_000_000, opening_date=date(2026, 3, 11),
                    closing_date=date(2026, 3, 11))
    two = statement(VIETCOMBANK, [interest], opening=100_001_500, opening_date=date(2026, 3, 11),
                    closing_date=date(2026, 3, 11))
    assert statement_fingerprint(VIETCOMBANK, one) != statement_fingerprint(VIETCOMBANK, two)
    assert (await upload(office, headers, write_statement_xlsx(one), "lai-1.xlsx")).status_code == 201
    assert (await upload(office, headers, write_statement_xlsx(two), "lai-2.xlsx")).status_code == 201
    async with session_scope(office.engine) as session:
        assert await session.scalar(text("SELECT count(DISTINCT fingerprint) FROM bank_statement")) == 4


async def test_a_file_holding_the_same_statement_twice_is_refused_and_nothing_applied(office):
    _, p = await build_world(office, vietcombank=1)
    headers = await as_bank(office, VIETCOMBANK)
    before = await table_counts(office)
    twice = statement(VIETCOMBANK, [debit(p[0])])
    response = await upload(office, headers, write_mt940(twice) + write_mt940(twice), "hai-lan.sta")
    assert response.status_code == 422, response.text
    assert "cùng một sao kê 2 lần" in response.json()["detail"] and "statements 1, 2" in response.json()["detail"]
    after = await table_counts(office)
    assert after == {**before, "statement_upload": before["statement_upload"] + 1,
                     "audit_log": before["audit_log"] + 1}  # kept as rejected, and audited
    assert (await payout_states(office))[p[0].reference] == ("sent", None)


async def test_the_database_refuses_a_second_copy_of_a_statement(office):
    _, p = await build_world(office, vietcombank=1)
    headers = await as_bank(office, VIETCOMBANK)
    first = await upload(office, headers, write_statement_csv(statement(VIETCOMBANK, [debit(p[0])])), "a.csv")
    assert first.status_code == 201
    copy = """INSERT INTO bank_statement (upload_id, position, bank_bin, account, statement_id, sha256, format,
                                          currency, opening_balance, closing_balance, opening_date, closing_date,
                                          line_count, credit_total, debit_total, uploaded_by, fingerprint,
                                          duplicate_of)
              SELECT upload_id, 2, bank_bin, account, 'sha256:copy:1', sha256, 'xlsx', currency, opening_balance,
                     closing_balance, opening_date, closing_date, line_count, credit_total, debit_total,
                     uploaded_by, fingerprint, {duplicate_of}
                FROM bank_statement WHERE id = $1"""
    async with session_scope(office.engine) as session:
        driver = await driver_connection(session)
        with pytest.raises(UniqueViolationError, match="uq_bank_statement_fingerprint"):
            await driver.execute(copy.format(duplicate_of="NULL"), first.json()["statement_id"])
    async with session_scope(office.engine) as session:
        driver = await driver_connection(session)
        with pytest.raises(UniqueViolationError, match="cannot be a copy"):
            await driver.execute(copy.format(duplicate_of="id"), first.json()["statement_id"])


async def test_the_cli_says_a_statement_in_another_format_was_already_imported(office, database_url,
                                                                               tmp_path: Path, monkeypatch):
    _, p = await build_world(office, vietcombank=2)
    monkeypatch.setenv("DATABASE_URL", database_url)
    same = statement(VIETCOMBANK, [debit(p[0]), debit(p[1])])
    csv_path, xlsx_path = tmp_path / "sao-ke.csv", tmp_path / "sao-ke.xlsx"
    csv_path.write_bytes(write_statement_csv(same))
    xlsx_path.write_bytes(write_statement_xlsx(same))

    async def run(*args: str):
        return await asyncio.to_thread(
            CliRunner().invoke, main, ["statements", "import", *args], catch_exceptions=False)

    real = await run(str(csv_path), "--bank", VIETCOMBANK)
    assert real.exit_code == 0 and json.loads(real.stdout)["status"] == "created"
    before = await table_counts(office)
    for extra in (("--dry-run",), ()):
        again = await run(str(xlsx_path), "--bank", VIETCOMBANK, *extra)
        assert again.exit_code == 0, again.stderr
        body = json.loads(again.stdout)
        assert (body["status"], body["already_imported"], body["already_imported_by"], body["dry_run"]) == (
            "existing", True, "content", bool(extra))
        assert body["statement_id"] == json.loads(real.stdout)["statement_id"]
        assert "sao-ke.csv" in body["message"] and body["exceptions"] == 0
    assert await table_counts(office) == before


COUNTS = ("lines", "matched", "returned", "exceptions", "duplicates", "funding", "payouts_credited")


async def test_a_camt053_sent_again_with_a_description_changed_is_named_as_the_same_content_with_its_counts(office):
    """Only a remittance text changed, the same format: the answer says the statement's content was imported
    (not 'in a file of another format'), from which file, by which rule, with the first import's counts —
    also after an officer resolved its exceptions."""
    _, p = await build_world(office, vietcombank=3)
    lines = [debit(p[0]), debit(p[1]), returned(p[1], "AC04"), debit(p[0], bank_reference="FT-LAN-HAI"),
             other_line(VIETCOMBANK, -123_456),
             other_line(VIETCOMBANK, 100_000_000, bank_reference="FT-BUDGET-970436", description="Cap kinh phi")]
    first_statement = statement(VIETCOMBANK, lines, statement_id="SK202603/7", opening=0)
    headers = await as_bank(office, VIETCOMBANK)
    first_file = write_camt053(first_statement)
    first = await upload(office, headers, first_file, "sao-ke-07.xml")
    assert first.status_code == 201, first.text
    counts = {key: first.json()[key] for key in COUNTS}
    assert counts == {"lines": 6, "matched": 3, "returned": 1, "exceptions": 2, "duplicates": 1, "funding": 1,
                      "payouts_credited": 2}
    await office.be("lan.officer")  # the unknown debit resolved as a bank fee since
    queue = (await office.client.get("/api/reconciliation/exceptions")).json()
    fee = next(item for item in queue["items"] if item["amount"] == -123_456)
    assert (await office.post(f"/api/reconciliation/exceptions/{fee['id']}/resolve",
                              json={"action": "bank_fee", "note": "phí"})).status_code == 200

    changed = replace(first_statement, lines=tuple(
        replace(line, description="Chi tro cap thang 3 (sua)") if line.line_no == 1 else line
        for line in first_statement.lines))
    headers = await as_bank(office, VIETCOMBANK)
    again = await upload(office, headers, write_camt053(changed), "sao-ke-07-sua.xml")
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["already_imported"], body["already_imported_by"], body["statement_id"]) == (
        True, "content", first.json()["statement_id"])
    assert {key: body[key] for key in COUNTS} == counts
    assert body["message"].startswith("Nội dung sao kê này đã được nhập trước đó (sao-ke-07.xml, 09/03/2026 – "
                                      "12/03/2026): ")
    assert "this statement's content was already imported (sao-ke-07.xml, 09/03/2026 – 12/03/2026)" in body["message"]
    assert "khác định dạng" not in body["message"] and "another format" not in body["message"]
    # The same rows as an MT940: that one is another format, and says so.
    mt940 = (await upload(office, headers, write_mt940(changed), "sao-ke-07.sta")).json()
    assert "khác định dạng" in mt940["message"] and "in a file of another format" in mt940["message"]
    assert {key: mt940[key] for key in COUNTS} == counts
    # The same file again, and the same statement id with other lines: each says by which rule.
    same_file = (await upload(office, headers, first_file, "sao-ke-07.xml")).json()
    assert (same_file["already_imported_by"], {key: same_file[key] for key in COUNTS}) == ("file", counts)
    other_lines = replace(first_statement, lines=first_statement.lines[:5],
                          closing_balance=first_statement.closing_balance - 100_000_000)
    reused = (await upload(office, headers, write_camt053(other_lines), "sao-ke-07-khac.xml")).json()
    assert (reused["content_differs"], reused["already_imported_by"]) == (True, "statement_id")
