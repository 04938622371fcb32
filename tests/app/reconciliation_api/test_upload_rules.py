"""Who may upload what, and files that must be refused whole (kept for audit, nothing applied)."""

from __future__ import annotations

import asyncio
import io
import os
from dataclasses import replace
from datetime import datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import text

from app.database import session_scope
from reconciliation.parsers.model import LOCAL_TIMEZONE
from reconciliation.writers import write_camt053, write_mt940, write_statement_csv
from tests.app.reconciliation_api.world import (
    as_bank,
    build_world,
    debit,
    ledger_clean,
    payout_states,
    returned,
    statement,
    table_counts,
    upload,
)
from tests.support.actors import bank_key
from tests.support.world import BIDV, VIETCOMBANK, Office

ENTITY_BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"><BkToCstmrStmt>&lol3;</BkToCstmrStmt></Document>"""



async def _uploads(office: Office) -> list[tuple[str, int]]:
    async with session_scope(office.engine) as session:
        rows = await session.execute(text("SELECT status, length(content) AS size FROM statement_upload ORDER BY uploaded_at"))
        return [(r.status, r.size) for r in rows]


async def test_unbalanced_and_non_vnd_statements_are_refused_whole_and_kept(office):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    before = await table_counts(office)
    good = statement(VIETCOMBANK, [debit(p[0]), debit(p[1])])
    unbalanced = write_camt053(replace(good, closing_balance=good.closing_balance + 1))
    response = await upload(office, headers, unbalanced, "lech.xml")
    assert response.status_code == 422
    problem = response.json()
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "không có dòng nào được ghi nhận" in problem["detail"] and "nothing was applied" in problem["detail"]
    assert "khác số dư cuối kỳ" in problem["errors"][0]["message"] and problem["upload_id"]
    usd = write_statement_csv(replace(good, currency="USD", lines=tuple(replace(x, currency="USD") for x in good.lines)))
    response = await upload(office, headers, usd, "usd.csv")
    assert response.status_code == 422 and "chỉ nhận VND" in response.json()["errors"][0]["message"]
    assert await _uploads(office) == [("rejected", len(unbalanced)), ("rejected", len(usd))]
    after = await table_counts(office)
    assert after["statement_line"] == before["statement_line"] and after["ledger_transfer"] == before["ledger_transfer"]
    assert set((await payout_states(office)).values()) == {("sent", None)}


async def test_two_lines_with_one_bank_reference_refuse_the_file_and_lines_without_one_do_not(office):
    """The bank's own transaction reference given to two lines of the account: 422 naming each row, nothing
    applied, the upload kept; lines that give no reference (MT940 NONREF, an empty cell) are not compared."""
    _, p = await build_world(office, vietcombank=3)
    headers = await as_bank(office, VIETCOMBANK)
    before = await table_counts(office)
    twice = statement(VIETCOMBANK, [debit(p[0]), debit(p[1]), debit(p[2], bank_reference=f"FT{p[0].reference[-8:]}")])
    data = write_statement_csv(twice)
    response = await upload(office, headers, data, "sao-ke-trung.csv")
    assert response.status_code == 422, response.text
    problem = response.json()
    assert "không có dòng nào được ghi nhận" in problem["detail"] and problem["upload_id"]
    rows = [(e["row"], e["column"]) for e in problem["errors"]]
    assert [column for _, column in rows] == ["Số tham chiếu/Reference"] * 2 and rows[1][0] - rows[0][0] == 2
    error = problem["errors"][0]
    assert f"số tham chiếu FT{p[0].reference[-8:]} của ngân hàng có ở 2 dòng" in error["message"]
    assert f"bank reference FT{p[0].reference[-8:]} is on 2 rows" in error["message_en"]
    assert " / " not in error["message"] and "số tham chiếu" not in error["message_en"]
    assert problem["total_errors"] == 2
    assert await _uploads(office) == [("rejected", len(data))]
    after = await table_counts(office)
    assert after["statement_line"] == before["statement_line"] and after["ledger_transfer"] == before["ledger_transfer"]
    assert set((await payout_states(office)).values()) == {("sent", None)}
    # the same in camt: each entry by its number
    camt = await upload(office, headers, write_camt053(twice), "sao-ke-trung.xml")
    assert camt.status_code == 422 and [(e["row"], e["column"]) for e in camt.json()["errors"]] == [
        (1, "Ntry/AcctSvcrRef"), (3, "Ntry/AcctSvcrRef")]
    # a bank that gives its lines no reference of its own (//NONREF in MT940): matched by the end-to-end reference
    none = statement(VIETCOMBANK, [debit(p[0], bank_reference="NONREF"), debit(p[1], bank_reference="NONREF"),
                                   debit(p[2], bank_reference="NONREF")])
    accepted = await upload(office, headers, write_mt940(none), "sao-ke.sta")
    assert accepted.status_code == 201, accepted.text
    assert accepted.json()["matched"] == 3
    assert set((await payout_states(office)).values()) == {("credited", None)}


async def test_a_statement_booking_money_tomorrow_is_refused_whole(office):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    before = await table_counts(office)
    tomorrow = datetime.now(LOCAL_TIMEZONE).date() + timedelta(days=1)
    good = statement(VIETCOMBANK, [debit(p[0]), debit(p[1])])
    ahead = replace(good, lines=(good.lines[0], replace(good.lines[1], booking_date=tomorrow, booked_at=None)))
    response = await upload(office, headers, write_camt053(ahead), "ngay-mai.xml")
    assert response.status_code == 422, response.text
    assert [(e["row"], e["column"]) for e in response.json()["errors"]] == [(2, "booking_date")]
    assert f"ngày ghi sổ {tomorrow:%d/%m/%Y} ở tương lai" in response.json()["errors"][0]["message"]
    assert f"booking date {tomorrow.isoformat()} is in the future" in response.json()["errors"][0]["message_en"]
    after = await table_counts(office)
    assert after["statement_line"] == before["statement_line"] and after["ledger_transfer"] == before["ledger_transfer"]
    assert set((await payout_states(office)).values()) == {("sent", None)}
    later = datetime.now(LOCAL_TIMEZONE) + timedelta(hours=2)  # booked "today" hours from now
    ahead = replace(good, lines=(good.lines[0], replace(good.lines[1], booking_date=later.date(), booked_at=later)))
    response = await upload(office, headers, write_camt053(ahead), "chieu-nay.xml")
    assert response.status_code == 422, response.text
    assert {e["column"] for e in response.json()["errors"]} <= {"booked_at", "booking_date"}
    accepted = await upload(office, headers, write_camt053(good), "hom-nay.xml")
    assert accepted.status_code == 201, accepted.text


async def test_a_line_booked_before_its_payout_could_be_sent_goes_to_the_queue_not_applied(office):
    """A run of 03/2026 is prepared from 02/2026 at the earliest: a debit, a return or a bank's batch debit of its
    payouts booked in 1999 (a mistyped or back-dated booking) is an exception for an officer, not a credit that
    would give the payout an arrival 27 years before its month and move the person's withdrawals onto it."""
    from datetime import date

    _, p = await build_world(office, vietcombank=3)
    headers = await as_bank(office, VIETCOMBANK)
    long_ago = date(1999, 1, 1)
    lines = [debit(p[0], booking_date=long_ago, value_date=long_ago, booked_at=None),
             replace(returned(p[1]), booking_date=long_ago, value_date=long_ago, booked_at=None),
             debit(p[2])]
    response = await upload(office, headers, write_camt053(statement(
        VIETCOMBANK, lines, statement_id="SK-1999/1", opening_date=long_ago)), "1999.xml")
    assert response.status_code == 201, response.text
    assert (response.json()["matched"], response.json()["exceptions"]) == (1, 2)
    states = await payout_states(office)
    assert states[p[0].reference] == ("sent", None) and states[p[1].reference] == ("sent", None)
    assert states[p[2].reference] == ("credited", None)
    async with session_scope(office.engine) as session:
        reasons = (await session.scalars(text(
            "SELECT exception_reason FROM statement_line WHERE status = 'exception' ORDER BY line_no"))).all()
    assert reasons == ["booked_too_early", "booked_too_early"]
    await ledger_clean(office)
    await office.be("lan.officer")
    queue = await office.client.get("/reconciliation/exceptions")
    assert "Ngày ghi sổ trước khi lệnh chi có thể được gửi" in queue.text


async def test_another_banks_statement_is_refused_alike_whether_or_not_that_bank_imported_it(office, engine):
    """BIDV uploading Vietcombank's statement learns nothing of Vietcombank's imports: the file Vietcombank
    imported and one it never sent are refused with the same status and words."""
    _, payouts = await build_world(office, vietcombank=2, bidv=1)
    vcb = [p for p in payouts if p.bank_bin == VIETCOMBANK]
    imported = write_camt053(statement(VIETCOMBANK, [debit(vcb[0])], statement_id="VCB-1"))
    never = write_camt053(statement(VIETCOMBANK, [debit(vcb[1])], statement_id="VCB-2"))
    assert (await upload(office, await as_bank(office, VIETCOMBANK), imported, "sk.xml")).status_code == 201
    bidv_headers = await as_bank(office, BIDV)
    answers = [await upload(office, bidv_headers, data, "sk.xml") for data in (imported, never)]
    assert [a.status_code for a in answers] == [403, 403]
    bodies = [a.json() for a in answers]
    assert all(body.pop("upload_id") for body in bodies)  # each refused upload is kept, under its own id
    assert bodies[0] == bodies[1]
    assert "không phải tài khoản chi của ngân hàng này" in bodies[0]["detail"]
    assert "ngân hàng khác" not in answers[0].text and "another bank" not in answers[0].text
    assert (await payout_states(office))[vcb[1].reference] == ("sent", None)


async def test_a_bank_key_acts_only_for_its_own_bank_and_accounts(office, engine):
    _, p = await build_world(office, vietcombank=1, bidv=1)
    vcb = next(x for x in p if x.bank_bin == VIETCOMBANK)
    data = write_camt053(statement(VIETCOMBANK, [debit(vcb)]))
    bidv_headers = await as_bank(office, BIDV)
    # BIDV's key naming Vietcombank, and BIDV uploading Vietcombank's account statement: both denied
    assert (await upload(office, bidv_headers, data, "x.xml", bank=VIETCOMBANK)).status_code == 403
    denied = await upload(office, bidv_headers, data, "x.xml")
    assert denied.status_code == 403 and "không phải tài khoản chi" in denied.json()["detail"]
    assert (await payout_states(office))[vcb.reference] == ("sent", None)
    # an account no bank registered: 422
    stranger = write_camt053(replace(statement(VIETCOMBANK, [debit(vcb)]), account="0123450000"))
    assert (await upload(office, await bank_key(engine, VIETCOMBANK), stranger, "y.xml")).status_code == 422
    # the statement of BIDV is not readable by Vietcombank
    own = await upload(office, bidv_headers, write_camt053(statement(BIDV, [])), "b.xml")
    assert own.status_code == 201
    other = await office.client.get(f"/api/statements/{own.json()['statement_id']}",
                                    headers=await bank_key(engine, VIETCOMBANK))
    assert other.status_code == 404
    assert (await office.client.get("/api/bank/statements", headers=await bank_key(engine, VIETCOMBANK))).json()[
        "total"] == 0
    # no key at all
    office.client.cookies.clear()
    assert (await upload(office, {}, data, "x.xml")).status_code == 401


async def test_an_officer_uploads_on_behalf_of_a_bank_and_raw_body_works(office):
    _, p = await build_world(office, vietcombank=1)
    await office.be("lan.officer")
    data = write_camt053(statement(VIETCOMBANK, [debit(p[0])]))
    assert (await upload(office, office.csrf, data, "x.xml")).status_code == 400  # which bank?
    response = await office.client.post("/api/bank/statements", params={"bank": VIETCOMBANK}, content=data,
                                        headers={**office.csrf, "content-type": "application/xml"})
    assert response.status_code == 201, response.text
    assert (await payout_states(office))[p[0].reference] == ("credited", None)
    detail = (await office.client.get(f"/api/statements/{response.json()['statement_id']}")).json()
    assert detail["lines"][0]["payouts"][0]["reference"] == p[0].reference


@pytest.mark.parametrize("data", [ENTITY_BOMB, os.urandom(4096) + b"\0", b"<Document>", b"a,b\n1,2\n",
                                  b"\xef\xbb\xbf:20:X\n:61:broken"])
async def test_hostile_or_garbage_uploads_are_4xx_never_500(office, data):
    await office.register_disbursement(VIETCOMBANK, "0011004455667")
    headers = await as_bank(office, VIETCOMBANK)
    response = await upload(office, headers, data, "hostile.xml")
    assert 400 <= response.status_code < 500, response.text
    assert response.json()["detail"]


async def test_row_errors_are_vietnamese_in_message_and_english_in_message_en(office):
    """The shape of every rejected file and body: {row, column, message (Vietnamese), message_en}."""
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    tomorrow = datetime.now(LOCAL_TIMEZONE).date() + timedelta(days=1)
    good = statement(VIETCOMBANK, [debit(p[0]), debit(p[1])])
    ahead = replace(good, lines=(good.lines[0], replace(good.lines[1], booking_date=tomorrow, booked_at=None)))
    response = await upload(office, headers, write_statement_csv(ahead), "ngay-mai.csv")
    assert response.status_code == 422, response.text
    error = response.json()["errors"][0]
    assert "ở tương lai" in error["message"] and " / " not in error["message"], error
    assert "is in the future" in error["message_en"] and "tương lai" not in error["message_en"]
    assert {"row", "column", "message", "message_en"} <= error.keys()


@pytest.mark.parametrize("send", ["multipart", "raw"])
async def test_an_empty_statement_file_is_422_with_the_reason(office, send):
    await office.register_disbursement(VIETCOMBANK, "0011004455667")
    headers = await as_bank(office, VIETCOMBANK)
    if send == "multipart":
        response = await upload(office, headers, b"", "sao-ke.csv")
    else:
        response = await office.client.post("/api/bank/statements", headers={**headers, "x-filename": "sao-ke.csv"},
                                            content=b"")
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    problem = response.json()
    assert "Tệp rỗng" in problem["detail"] and "The file is empty" in problem["detail"], problem


async def test_an_unreadable_statement_file_is_422_with_the_reason(office):
    await office.register_disbursement(VIETCOMBANK, "0011004455667")
    headers = await as_bank(office, VIETCOMBANK)
    response = await upload(office, headers, os.urandom(2048) + b"\0", "sao-ke.bin")
    assert response.status_code == 422, response.text
    assert response.json()["detail"] and " / " in response.json()["detail"]


async def test_a_too_large_sheet_is_refused_with_one_bilingual_message(office):
    await office.register_disbursement(VIETCOMBANK, "0011004455667")
    headers = await as_bank(office, VIETCOMBANK)
    book = openpyxl.Workbook()
    book.active["A1"] = "Số tài khoản: 0011004455667"
    book.active["XFD2"] = 1  # column 16384: no statement is that wide
    buffer = io.BytesIO()
    book.save(buffer)
    response = await upload(office, headers, buffer.getvalue(), "sao-ke.xlsx")
    assert response.status_code == 422, response.text
    detail = response.json()["detail"]
    assert detail == ("Bảng tính quá lớn: xl/worksheets/sheet1.xml khai báo kích thước 2 dòng × 16384 cột "
                      "(tối đa 1048576 dòng, 256 cột) / The sheet is too large: xl/worksheets/sheet1.xml declares 2 rows × 16384 "
                      "columns (at most 1048576 rows, 256 columns)")


@pytest.mark.parametrize("form", [
    {"files": {"document": ("sao-ke.csv", b"a,b\n1,2\n", "text/csv")}},  # the file under another name
    {"data": {"note": "sao kê tháng 3"}},  # a form with no file at all
])
async def test_a_form_upload_without_the_file_field_says_so(office, form):
    await office.register_disbursement(VIETCOMBANK, "0011004455667")
    headers = await as_bank(office, VIETCOMBANK)
    response = await office.client.post("/api/bank/statements", headers=headers, **form)
    assert response.status_code == 400, response.text
    assert response.json()["detail"] == "Thiếu tệp (trường 'file') / the 'file' field is missing"
    assert await _uploads(office) == []  # nothing was taken for a statement


async def test_two_banks_uploading_at_once_do_not_interfere(office, engine):
    _, p = await build_world(office, vietcombank=3, bidv=3)
    by_bank = {bank: [x for x in p if x.bank_bin == bank] for bank in (VIETCOMBANK, BIDV)}
    files = {bank: write_camt053(statement(bank, [debit(x) for x in rows] + [returned(rows[0])]))
             for bank, rows in by_bank.items()}
    headers = {bank: await bank_key(engine, bank) for bank in files}
    office.client.cookies.clear()
    responses = await asyncio.gather(*[upload(office, headers[bank], files[bank], f"{bank}.xml") for bank in files]
                                     + [upload(office, headers[bank], files[bank], f"{bank}.xml") for bank in files])
    codes = sorted(r.status_code for r in responses)
    assert codes == [200, 200, 201, 201], [r.text for r in responses]
    states = await payout_states(office)
    for rows in by_bank.values():
        assert states[rows[0].reference][0] == "returned"
        assert all(states[x.reference] == ("credited", None) for x in rows[1:])
    await ledger_clean(office)


async def test_csv_refusals_name_the_sheet_row_in_the_order_of_the_file(office):
    """A CSV statement has the bank's info rows and the header above its lines: a line booked in the future
    is refused at its row of the sheet (not its number among the lines), and the refusals, found by
    different checks, are listed in the order of the file."""
    _, p = await build_world(office, vietcombank=3)
    headers = await as_bank(office, VIETCOMBANK)
    tomorrow = datetime.now(LOCAL_TIMEZONE).date() + timedelta(days=1)
    good = statement(VIETCOMBANK, [debit(p[0]), debit(p[1]),
                                   debit(p[2], bank_reference=f"FT{p[0].reference[-8:]}")])
    ahead = replace(good, lines=(good.lines[0], replace(good.lines[1], booking_date=tomorrow, booked_at=None),
                                 good.lines[2]))
    data = write_statement_csv(ahead)
    sheet = data.decode("utf-8-sig").split("\r\n")
    row_of = {i: next(n for n, row in enumerate(sheet, start=1) if p[i].reference in row) for i in range(3)}
    assert row_of[1] > 2 + 1  # info rows and the header above: the sheet row is not the line's number
    response = await upload(office, headers, data, "sao-ke.csv")
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [e["row"] for e in errors] == [row_of[0], row_of[1], row_of[2]]
    assert errors[1]["column"] == "booking_date" and "line" not in errors[1]
    assert f", dòng {row_of[1]}: ngày ghi sổ {tomorrow:%d/%m/%Y} ở tương lai" in errors[1]["message"]
    assert f", row {row_of[1]}: booking date {tomorrow.isoformat()} is in the future" in errors[1]["message_en"]
