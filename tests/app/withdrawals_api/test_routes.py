"""Banks' withdrawal intake, assisted withdrawals and follow-up notes over HTTP."""

from __future__ import annotations

import asyncio
import io
import json
import time
from datetime import timedelta

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.database import session_scope
from app.vietnam_time import VIETNAM_TODAY_SQL
from ledger import verify_ledger
from tests.support.actors import bank_key
from tests.support.credit import credit_payouts, payout_of
from tests.support.pages import csrf_in
from tests.support.withdrawal_world import AMOUNT, T0, iso
from tests.support.world import BIDV, count_rows


async def test_intake_is_idempotent_and_keeps_unknown_accounts(world, engine):
    rows = [world.row("A", "VCB-1", T0 + timedelta(days=1)),
            {"account_number": "9999000011112222", "occurred_at": iso(T0), "amount": 200_000, "channel": "pos",
             "bank_ref": "VCB-UNKNOWN"}]
    first = await world.bank_post(rows)
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["accepted"], body["duplicates"]) == (2, 0)
    assert [(u["row"], u["account_number"], u["amount"]) for u in body["unknown_accounts"]] == [
        (2, "9999000011112222", 200_000)]
    again = await world.bank_post(rows)
    assert (again.json()["accepted"], again.json()["duplicates"], again.json()["unknown_accounts"]) == (0, 2, [])
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 2
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE beneficiary_id IS NULL") == 1
    # Same reference with another amount (first one kept), a repeat, and a new row: each counted once.
    changed = (await world.bank_post([dict(rows[0], amount=1), rows[1],
                                      world.row("A", "VCB-2", T0 + timedelta(days=2))])).json()
    assert (changed["rows"], changed["accepted"], changed["duplicates"]) == (3, 1, 1)
    assert [(c["row"], c["bank_ref"]) for c in changed["conflicts"]] == [(1, "VCB-1")]
    assert changed["rows"] == changed["accepted"] + changed["duplicates"] + len(changed["conflicts"])
    async with session_scope(engine) as session:
        intake = (await session.execute(text(
            "SELECT rows, accepted, duplicates FROM withdrawal_intake WHERE id = :id"),
            {"id": changed["intake_id"]})).one()
    assert tuple(intake) == (3, 1, 1)
    assert await count_rows(engine, "SELECT sum(amount) FROM withdrawal WHERE bank_reference = 'VCB-1'") == AMOUNT
    # The person's page names the bank, not its BIN.
    await world.office.be("lan.officer")
    page = await world.office.client.get(f"/beneficiaries/{world.ids['A']}")
    assert "Vietcombank, mã VCB-1" in page.text and "Ngân hàng 970436" not in page.text


async def test_csv_and_xlsx_files_with_vietnamese_headers(world, engine):
    account = world.people["A"].account_number
    csv_body = ("Số tài khoản / Account number;Thời gian;Số tiền;Kênh;Mã giao dịch\n"
                f"{account};11/03/2026 09:30;300.000;ATM;CSV-1\n").encode()
    uploaded = await world.office.client.post("/api/bank/withdrawals", headers=world.bank_headers,
                                              files={"file": ("rut-tien.csv", csv_body, "text/csv")})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["accepted"] == 1
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.append(["account_number", "occurred_at", "amount", "channel", "bank_ref"])
    sheet.append([account, "2026-03-12T10:00:00+07:00", 350_000, "quầy", "XLSX-1"])
    buffer = io.BytesIO()
    book.save(buffer)
    raw = await world.office.client.post("/api/bank/withdrawals", content=buffer.getvalue(), headers={
        **world.bank_headers,
        "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"})
    assert raw.status_code == 200, raw.text
    async with session_scope(engine) as session:
        stored = (await session.execute(text(
            "SELECT bank_reference, amount, channel, occurred_at FROM withdrawal ORDER BY occurred_at"))).all()
    assert [(r.bank_reference, r.amount, r.channel) for r in stored] == [("CSV-1", 300_000, "atm"),
                                                                         ("XLSX-1", 350_000, "counter")]
    assert stored[0].occurred_at == T0 + timedelta(days=1, hours=1, minutes=30)  # 09:30 Vietnam time


async def test_a_bad_file_is_rejected_whole_with_every_bad_row(world, engine):
    account = world.people["A"].account_number
    csv_body = ("account_number,occurred_at,amount,channel,bank_ref\n"
                f"{account},2026-03-11T09:00:00+07:00,100000,atm,OK-1\n"
                f"12AB,2026-03-11T09:00:00+07:00,100000,atm,BAD-1\n"
                f"{account},hôm qua,100000.5,bay,BAD-2\n"
                f"{account},2026-03-11T09:00:00+07:00,100000,atm,OK-1\n").encode()
    response = await world.office.client.post("/api/bank/withdrawals", headers=world.bank_headers,
                                              files={"file": ("x.csv", csv_body, "text/csv")})
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    errors = response.json()["errors"]
    assert sorted({(e["row"], e["column"].split(" / ")[1]) for e in errors}) == [
        (3, "account_number"), (4, "amount"), (4, "channel"), (4, "occurred_at"), (5, "bank_ref")]
    assert all(e["message"] and e["message_en"] for e in errors)
    assert response.json()["detail"].startswith("3 dòng có lỗi; chưa lưu dòng nào")
    assert " / 3 rows have errors; nothing was stored" in response.json()["detail"]
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0


async def test_one_bad_row_is_named_in_the_singular(world):
    account = world.people["A"].account_number
    csv_body = ("account_number,occurred_at,amount,channel,bank_ref\n"
                f"{account},2026-03-11T09:00:00+07:00,100000,atm,OK-1\n"
                f"{account},2026-03-11T09:00:00+07:00,100000,bay,BAD-1\n").encode()
    response = await world.office.client.post("/api/bank/withdrawals", headers=world.bank_headers,
                                              files={"file": ("x.csv", csv_body, "text/csv")})
    assert response.status_code == 422
    assert response.json()["detail"] == ("1 dòng có lỗi; chưa lưu dòng nào. Sửa và gửi lại cả tệp / 1 row has errors; "
                                         "nothing was stored. Fix them and send the whole file again")


async def test_a_bank_cannot_send_another_banks_rows_nor_use_staff_routes(world, engine):
    bidv = await bank_key(engine, BIDV)
    row = dict(world.row("A", "X-1", T0), bank_bin="970436")
    denied = await world.office.client.post("/api/bank/withdrawals", json=[row], headers=bidv)
    assert denied.status_code == 403 and "970418" in denied.json()["detail"]
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
    # Under its own BIN the same account is simply unknown to BIDV: stored, reported, never allocated.
    own = await world.office.client.post("/api/bank/withdrawals", json=[world.row("A", "X-1", T0)], headers=bidv)
    assert own.status_code == 200 and len(own.json()["unknown_accounts"]) == 1
    staff_route = await world.office.client.get(f"/api/beneficiaries/{world.ids['A']}/follow-up-notes",
                                                headers=bidv)
    assert staff_route.status_code == 403


async def test_assisted_withdrawal_and_notes_are_scoped_to_the_staff_communes(world, engine, client):
    await credit_payouts(engine, [world.payouts["A"]], T0)
    csrf = await world.as_commune_staff("nam.commune")  # Cửa Nam staff; A lives in Hoàn Kiếm
    denied = await client.post(f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals", headers=csrf,
                               json={"occurred_at": iso(T0 + timedelta(days=1)), "amount": AMOUNT})
    # The registry's answer for a person outside the caller's communes: not found (as for an unknown id).
    assert denied.status_code == 404 and "Không tìm thấy người hưởng" in denied.json()["detail"]
    assert (await client.post(f"/api/beneficiaries/{world.ids['A']}/follow-up-notes", headers=csrf,
                              json={"kind": "visit", "text": "x"})).status_code == 404
    csrf = await world.as_commune_staff("hoa.commune")
    helped = await client.post(f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals", headers=csrf,
                               json={"occurred_at": iso(T0 + timedelta(days=1)), "amount": 400_000,
                                     "note": "Đưa bà ra ATM"})
    assert helped.status_code == 201, helped.text
    body = helped.json()
    assert (body["channel"], body["helper_name"], body["undrawn_amount"]) == ("assisted", "Nguyễn Thị Hoa", 250_000)
    payout = await payout_of(engine, world.ids["A"], "2026-03")
    assert payout["first_withdrawal_at"] == T0 + timedelta(days=1) and payout["withdrawn_at"] is None
    bad = await client.post(f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals", headers=csrf,
                            json={"occurred_at": iso(T0), "amount": -5, "channel": "atm"})
    assert bad.status_code == 422 and {e["column"] for e in bad.json()["errors"]} == {"amount", "channel"}
    note = await client.post(f"/api/beneficiaries/{world.ids['A']}/follow-up-notes", headers=csrf,
                             json={"kind": "call", "text": "Hẹn thứ Hai ra xã", "at": iso(T0 + timedelta(days=3))})
    assert note.status_code == 201, note.text
    listed = await client.get(f"/api/beneficiaries/{world.ids['A']}/follow-up-notes")
    assert [(n["kind"], n["text"], n["recorded_by"]) for n in listed.json()] == [
        ("call", "Hẹn thứ Hai ra xã", "hoa.commune")]
    detail = await client.get(f"/api/beneficiaries/{world.ids['A']}")
    assert detail.json()["payouts"][0]["credited_at"] is not None
    assert detail.json()["payouts"][0]["days_to_withdraw"] is None  # not all withdrawn yet


async def test_an_assisted_withdrawal_after_the_death_is_refused_and_sent_to_the_labour_department(
        world, engine, client):
    """A bank-channel person who died on 15/03/2026: staff cannot record money taken after that day as the
    person's withdrawal (409, report it for recovery); on the day of the death and before, it is recorded."""
    await credit_payouts(engine, [world.payouts["A"]], T0)  # 10/03/2026
    await world.office.be("lan.officer")
    died = await world.office.post(f"/api/beneficiaries/{world.ids['A']}/events",
                                   json={"kind": "deceased", "effective_on": "2026-03-15"})
    assert died.status_code in (200, 201), died.text
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals"
    after = await client.post(url, headers=csrf, json={"occurred_at": "2026-03-16T03:00:00Z", "amount": 100_000,
                                                       "note": "Con gái rút ở ATM"})
    assert after.status_code == 409, after.text
    body = after.json()
    assert body["deceased_on"] == "2026-03-15"
    assert "Người hưởng đã mất ngày 15/03/2026: không ghi nhận rút tiền hộ người đã mất" in body["detail"]
    assert "báo cho Phòng Lao động - Thương binh và Xã hội" in body["detail"] and "thu hồi" in body["detail"]
    assert "report it to the labour department" in body["detail"] and "is recovered" in body["detail"]
    assert "tiền mặt" not in body["detail"]  # not the cash handover's advice: nothing to hand back here
    assert [(e["column"], e["message"], e["message_en"]) for e in body["errors"]] == [
        ("occurred_at", "Người hưởng đã mất ngày 15/03/2026", "the beneficiary died on 15/03/2026")]
    # Any channel: an explicit 'assisted' and a late time of the day after (Việt Nam) are refused alike.
    late = await client.post(url, headers=csrf, json={"occurred_at": "2026-03-15T17:30:00Z", "amount": 100_000,
                                                      "channel": "assisted"})  # 00:30 on 16/03 in Việt Nam
    assert late.status_code == 409 and late.json()["deceased_on"] == "2026-03-15"
    # The page's form: the same refusal, shown with the form again rather than recorded.
    page = await client.get(f"/beneficiaries/{world.ids['A']}")
    assert page.status_code == 200
    posted = await client.post(f"/follow-up/{world.ids['A']}/withdrawal",
                               data={"_csrf": csrf_in(page.text), "amount": "100.000",
                                     "occurred_at": "2026-03-20T09:00"})
    assert posted.status_code == 409
    assert "không ghi nhận rút tiền hộ người đã mất" in posted.text
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
    # Withdrawn on the day of the death (Việt Nam) and before, recorded late: the person's own, accepted.
    same_day = await client.post(url, headers=csrf, json={"occurred_at": "2026-03-15T16:30:00Z",
                                                          "amount": 100_000})  # 23:30 on 15/03 in Việt Nam
    assert same_day.status_code == 201, same_day.text
    before = await client.post(url, headers=csrf, json={"occurred_at": "2026-03-12T03:00:00Z", "amount": 200_000})
    assert before.status_code == 201 and before.json()["undrawn_amount"] == AMOUNT - 300_000
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE channel = 'assisted'") == 2


async def test_commune_staff_cannot_record_more_than_the_person_has_undrawn(world, engine, client):
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals"
    nothing_yet = await client.post(url, headers=csrf, json={"occurred_at": iso(T0), "amount": 100_000})
    assert nothing_yet.status_code == 422, nothing_yet.text  # nothing has reached A yet
    assert nothing_yet.json()["errors"][0]["message"] == "Tối đa 0 đ"
    await credit_payouts(engine, [world.payouts["A"]], T0)
    too_much = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=1)),
                                                          "amount": 99_000_000})
    assert too_much.status_code == 422
    body = too_much.json()
    assert "650.000 đ" in body["detail"] and "650,000" in body["detail"]
    assert [(e["column"], e["message"], e["message_en"]) for e in body["errors"]] == [
        ("amount", "Tối đa 650.000 đ", "at most 650,000 đồng")]
    # The bank's own record counts: after 400,000 at the ATM, 250,000 is left to hand over.
    assert (await world.bank_post([world.row("A", "A-ATM", T0 + timedelta(hours=5), amount=400_000)])
            ).status_code == 200
    assert (await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=1)),
                                                       "amount": 250_001})).status_code == 422
    exact = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=1)),
                                                       "amount": 250_000})
    assert exact.status_code == 201 and exact.json()["undrawn_amount"] == 0
    assert (await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=2)),
                                                       "amount": 1})).status_code == 422
    async with engine.connect() as conn:
        assert await conn.scalar(text("SELECT count(*) FROM withdrawal WHERE beneficiary_id = :b"),
                                 {"b": world.ids["A"]}) == 2


async def test_a_mistaken_assisted_withdrawal_is_cancelled_by_a_new_row_and_the_money_waits_again(
        world, engine, client):
    await credit_payouts(engine, [world.payouts["A"]], T0)
    csrf = await world.as_commune_staff("hoa.commune")
    base = f"/api/beneficiaries/{world.ids['A']}"
    typed = await client.post(f"{base}/assisted-withdrawals", headers=csrf,
                              json={"occurred_at": iso(T0 + timedelta(days=1)), "amount": AMOUNT})
    assert typed.status_code == 201 and typed.json()["undrawn_amount"] == 0
    assert (await payout_of(engine, world.ids["A"], "2026-03"))["withdrawn_at"] == T0 + timedelta(days=1)
    wid = typed.json()["id"]
    assert (await client.post(f"{base}/assisted-withdrawals/{wid}/cancel", headers=csrf,
                              json={"reason": " "})).status_code == 422
    no_reason = await client.post(f"{base}/assisted-withdrawals/{wid}/cancel", headers=csrf, json={})
    assert no_reason.status_code == 422 and no_reason.json()["errors"][0]["column"] == "reason"
    csrf_other = await world.as_commune_staff("nam.commune")  # Cửa Nam staff: not A's commune
    assert (await client.post(f"{base}/assisted-withdrawals/{wid}/cancel", headers=csrf_other,
                              json={"reason": "nhầm người"})).status_code == 404
    csrf = await world.as_commune_staff("hoa.commune")
    cancelled = await client.post(f"{base}/assisted-withdrawals/{wid}/cancel", headers=csrf,
                                  json={"reason": "Ghi nhầm người, bà chưa ra xã"})
    assert cancelled.status_code == 200, cancelled.text
    assert (cancelled.json()["cancelled_by"], cancelled.json()["cancel_reason"]) == (
        "hoa.commune", "Ghi nhầm người, bà chưa ra xã")
    again = await client.post(f"{base}/assisted-withdrawals/{wid}/cancel", headers=csrf, json={"reason": "lần hai"})
    assert again.status_code == 409 and "đã được huỷ" in again.json()["detail"]
    # A double tap: two cancels of one record at once, one wins, the other is told (no 500).
    second = await client.post(f"{base}/assisted-withdrawals", headers=csrf,
                               json={"occurred_at": iso(T0 + timedelta(days=1, hours=1)), "amount": 1_000})
    assert second.status_code == 201, second.text
    taps = await asyncio.gather(*(client.post(f"{base}/assisted-withdrawals/{second.json()['id']}/cancel",
                                              headers=csrf, json={"reason": "bấm hai lần"}) for _ in range(3)))
    assert sorted(r.status_code for r in taps) == [200, 409, 409]
    payout = await payout_of(engine, world.ids["A"], "2026-03")
    assert (payout["first_withdrawal_at"], payout["withdrawn_at"]) == (None, None)  # waiting again
    # The withdrawal stays as typed; the memo ledger holds the 650,000 as undrawn again (new entries).
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM withdrawal WHERE id = :id"), {"id": wid}) == 1
        assert await session.scalar(text("SELECT count(*) FROM withdrawal_allocation WHERE withdrawal_id = :id"),
                                    {"id": wid}) == 0
        balance = await session.scalar(text(
            "SELECT debits_posted - credits_posted FROM ledger_account WHERE code = :c"),
            {"c": f"undrawn:{world.ids['A']}"})
        assert balance == AMOUNT
        assert (await verify_ledger(session)).ok
        with pytest.raises(DBAPIError):
            async with session.begin_nested():
                await session.execute(text("DELETE FROM withdrawal_cancellation WHERE withdrawal_id = :id"),
                                      {"id": wid})
    # A bank's activity is the bank's to correct.
    assert (await world.bank_post([world.row("A", "A-ATM", T0 + timedelta(days=2))])).status_code == 200
    listed = (await client.get(f"{base}/withdrawals")).json()
    assert [(w["source"], w["cancelled_by"]) for w in listed] == [("bank", None), ("commune", "hoa.commune"),
                                                                   ("commune", "hoa.commune")]
    bank_row = listed[0]["id"]
    refused = await client.post(f"{base}/assisted-withdrawals/{bank_row}/cancel", headers=csrf,
                                json={"reason": "không phải của xã"})
    assert refused.status_code == 409 and "ngân hàng" in refused.json()["detail"]
    assert (await client.post(f"/api/beneficiaries/{world.ids['B']}/assisted-withdrawals/{wid}/cancel",
                              headers=csrf, json={"reason": "người khác"})).status_code == 404


async def test_cli_import_counts_duplicates(world, engine, database_url, tmp_path, monkeypatch):
    from app.cli import main

    path = tmp_path / "rut.csv"
    path.write_text("account_number,occurred_at,amount,channel,bank_ref\n"
                    f"{world.people['B'].account_number},2026-03-11T09:00:00+07:00,650000,atm,CLI-1\n")
    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    first = await asyncio.to_thread(runner.invoke, main, ["withdrawals", "import", str(path), "--bank", "970436"])
    assert first.exit_code == 0, first.output
    assert '"accepted": 1' in first.output
    second = await asyncio.to_thread(runner.invoke, main, ["withdrawals", "import", str(path), "--bank", "970436"])
    assert '"duplicates": 1' in second.output and '"accepted": 0' in second.output


async def test_an_unknown_account_is_allocated_once_the_account_is_registered(world, engine):
    await credit_payouts(engine, [world.payouts["C"]], T0)
    new_number = "0451000123456"
    response = await world.bank_post([{"account_number": new_number, "occurred_at": iso(T0 + timedelta(days=2)),
                                       "amount": AMOUNT, "channel": "atm", "bank_ref": "NEW-ACC-1"}])
    assert response.json()["unknown_accounts"][0]["account_number"] == new_number
    async with session_scope(engine) as session:  # the person's new account, as the registry records it
        await session.execute(text(
            f"""UPDATE bank_account SET effective_to = {VIETNAM_TODAY_SQL} WHERE beneficiary_id = :b""")
            , {"b": world.ids["C"]})
        await session.execute(text(
            """INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, created_by)
               SELECT id, '970436', :n, upper(fold_vietnamese(full_name)), 'test' FROM beneficiary WHERE id = :b"""),
            {"n": new_number, "b": world.ids["C"]})
        from reconciliation.withdrawals import reallocate

        result = await reallocate(session, None)
    assert result.resolved_unknown == 1
    payout = await payout_of(engine, world.ids["C"], "2026-03")
    assert payout["withdrawn_at"] == T0 + timedelta(days=2)


async def test_statement_credits_and_withdrawal_intake_at_once_do_not_deadlock(world, engine):
    """A statement import writes to the ledger, then reallocates; the intake reallocates, then writes memo
    entries. Reallocation takes the ledger's lock before its own, so both take them in the same order."""
    from app.database import make_sessionmaker
    from reconciliation.withdrawals import reallocate

    async with make_sessionmaker(engine)() as intake, make_sessionmaker(engine)() as importer:
        await reallocate(intake, [world.ids["C"]])
        with pytest.raises(DBAPIError, match="could not obtain lock"):
            await importer.execute(text("SELECT 1 FROM ledger_chain WHERE id = 1 FOR UPDATE NOWAIT"))
        await importer.rollback()
        await intake.rollback()
    # And for real: withdrawals arrive while statement credits are applied; both land.
    await credit_payouts(engine, [world.payouts["C"]], T0)
    outcomes = await asyncio.gather(
        world.bank_post([world.row("C", "AT-ONCE-1", T0 + timedelta(days=1))]),
        credit_payouts(engine, [world.payouts["D"]], T0),
    )
    assert outcomes[0].status_code == 200, outcomes[0].text
    payout = await payout_of(engine, world.ids["C"], "2026-03")
    assert payout["withdrawn_at"] == T0 + timedelta(days=1)


async def test_a_workbook_with_a_far_away_cell_is_refused_quickly(office, engine, database_url, tmp_path,
                                                                  monkeypatch):
    """One cell at XFD1048576 (a 2 KB file) would make calamine build 17 billion cells: refused from the zip."""
    from app.cli import main
    from tests.support.hostile_xlsx import far_cell_xlsx

    hostile = far_cell_xlsx()
    headers = await bank_key(engine, "970436")
    started = time.perf_counter()
    for upload in ({"files": {"file": ("rut-tien.xlsx", hostile, "application/octet-stream")}},
                   {"content": hostile, "headers": {
                       "Content-Type": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"}}):
        response = await office.client.post("/api/bank/withdrawals", **{
            **upload, "headers": {**headers, **upload.get("headers", {})}})
        assert response.status_code == 422, response.text
        body = response.json()
        assert "Bảng tính quá lớn" in body["detail"] and "column 16384 (at most 64)" in body["detail"]
        assert body["errors"][0]["message_en"].startswith("The sheet is too large")
    assert time.perf_counter() - started < 10

    path = tmp_path / "rut.xlsx"
    path.write_bytes(hostile)
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = await asyncio.to_thread(CliRunner().invoke, main,
                                     ["withdrawals", "import", str(path), "--bank", "970436"])
    assert result.exit_code != 0
    assert "column 16384 (at most 64)" in result.output and "Bảng tính quá lớn" in result.output
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal_intake") == 0


async def test_a_reused_account_number_is_the_open_accounts_person_and_a_closed_one_its_last_holder(world, engine):
    """The intake finds each row's person among the bank's accounts with that number: the open one first,
    else the latest closed one. C's number was closed and given to D's new account; A's was closed only."""
    await credit_payouts(engine, [world.payouts[n] for n in "ACD"], T0)
    reused, closed_only = world.people["C"].account_number, world.people["A"].account_number
    async with session_scope(engine) as session:
        await session.execute(text(
            f"UPDATE bank_account SET effective_to = {VIETNAM_TODAY_SQL} WHERE beneficiary_id = ANY(:b)"),
                              {"b": [world.ids["A"], world.ids["C"], world.ids["D"]]})
        await session.execute(text(
            """INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, created_by)
               SELECT id, '970436', :n, upper(fold_vietnamese(full_name)), 'test' FROM beneficiary WHERE id = :b"""),
            {"n": reused, "b": world.ids["D"]})
    response = await world.bank_post([
        {"account_number": reused, "occurred_at": iso(T0 + timedelta(days=1)), "amount": AMOUNT, "channel": "atm",
         "bank_ref": "REUSED-1"},
        {"account_number": closed_only, "occurred_at": iso(T0 + timedelta(days=3)), "amount": AMOUNT,
         "channel": "atm", "bank_ref": "CLOSED-1"}])
    assert response.status_code == 200, response.text
    assert response.json()["accepted"] == 2 and response.json()["unknown_accounts"] == []
    async with session_scope(engine) as session:
        owners = dict((await session.execute(text(
            "SELECT bank_reference, beneficiary_id::text FROM withdrawal WHERE bank_reference IN ('REUSED-1', 'CLOSED-1')"
        ))).all())
    assert owners == {"REUSED-1": world.ids["D"], "CLOSED-1": world.ids["A"]}
    assert (await payout_of(engine, world.ids["D"], "2026-03"))["withdrawn_at"] == T0 + timedelta(days=1)
    assert (await payout_of(engine, world.ids["A"], "2026-03"))["withdrawn_at"] == T0 + timedelta(days=3)
    assert (await payout_of(engine, world.ids["C"], "2026-03"))["withdrawn_at"] is None


async def test_a_retry_of_a_large_feed_is_idempotent_with_a_bounded_answer(world, engine, monkeypatch):
    import reconciliation.withdrawals as intake

    monkeypatch.setattr(intake, "LISTED_ROWS", 5)  # the answer names the first 5 rows of each list
    unknown = [{"account_number": f"99990000{n % 4:08d}", "occurred_at": iso(T0 + timedelta(minutes=n)),
                "amount": 100_000 + n, "channel": "atm", "bank_ref": f"BIG-{n:03d}"} for n in range(12)]
    rows = [world.row("A", "BIG-A", T0 + timedelta(days=1)), *unknown]
    first = (await world.bank_post(rows)).json()
    assert (first["rows"], first["accepted"], first["duplicates"]) == (13, 13, 0)
    assert [u["row"] for u in first["unknown_accounts"]] == [2, 3, 4, 5, 6]
    assert (first["unknown_accounts_total"], first["unknown_account_numbers"], first["unknown_accounts_truncated"]) \
        == (12, 4, True)
    assert first["upload_url"] == f"/api/uploads/{first['intake_id']}"
    # The whole list stays with the bank: the file as received, from the upload's address.
    kept = await world.office.client.get(first["upload_url"], headers=world.bank_headers)
    assert kept.status_code == 200 and [r["bank_ref"] for r in json.loads(kept.content)] == \
        [r["bank_ref"] for r in rows]
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE beneficiary_id IS NULL") == 12

    # The retry reads no more rows back from the database than it lists: every row is counted in SQL, never
    # looked up one by one in Python (a set union per row made a retry of 300,000 rows run for minutes).
    fetched: list[int] = []
    real_driver_connection = intake.driver_connection

    class CountingDriver:
        def __init__(self, driver):
            self.driver = driver

        def __getattr__(self, name):
            return getattr(self.driver, name)

        async def fetch(self, *args):
            result = await self.driver.fetch(*args)
            fetched.append(len(result))
            return result

    async def counting_driver_connection(session):
        return CountingDriver(await real_driver_connection(session))

    monkeypatch.setattr(intake, "driver_connection", counting_driver_connection)
    again = (await world.bank_post(rows)).json()
    assert (again["accepted"], again["duplicates"], again["unknown_accounts"], again["unknown_accounts_total"],
            again["unknown_accounts_truncated"], again["conflicts"]) == (0, 13, [], 0, False, [])
    assert max(fetched, default=0) <= 5  # (lists with nothing to list are not read at all)
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 13
    assert await count_rows(engine, "SELECT sum(amount) FROM withdrawal WHERE bank_reference = 'BIG-A'") == AMOUNT

    # Conflicts are listed the same way: the first rows, with the total.
    changed = (await world.bank_post([dict(row, amount=1) for row in rows])).json()
    assert (changed["accepted"], changed["duplicates"], changed["conflicts_total"], changed["conflicts_truncated"]) \
        == (0, 0, 13, True)
    assert [c["row"] for c in changed["conflicts"]] == [1, 2, 3, 4, 5]
    assert changed["rows"] == changed["accepted"] + changed["duplicates"] + changed["conflicts_total"]


async def test_impossible_times_and_amounts_are_refused_whole_json(world, engine):
    rows = [world.row("A", "OK-1", T0 + timedelta(days=1)),
            dict(world.row("A", "OLD-1", T0), occurred_at="1900-01-01T00:00:00+07:00"),
            dict(world.row("A", "OLD-2", T0), occurred_at="0001-01-01T00:00:00"),
            dict(world.row("A", "OLD-3", T0), occurred_at="2024-12-31T16:59:00Z"),  # 23:59 in Việt Nam
            world.row("A", "BIG-1", T0, amount=10**15),
            world.row("A", "BIG-2", T0, amount=99999999999999999999),  # beyond bigint: was a 500 in the COPY
            world.row("A", "EDGE-1", T0, amount=1_000_000_000)]
    rows.append(dict(world.row("B", "EDGE-2", T0), occurred_at="2024-12-31T17:00:00Z"))  # 01/01/2025 00:00
    response = await world.bank_post(rows)
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["column"].split(" / ")[1]) for e in errors] == [
        (2, "occurred_at"), (3, "occurred_at"), (4, "occurred_at"), (5, "amount"), (6, "amount")]
    when = next(e for e in errors if e["row"] == 2)
    assert when["message"] == "Thời gian trước 01/01/2025, khi ansinh bắt đầu chi trả; hãy kiểm tra lại năm"
    assert when["message_en"] == "time is before 01/01/2025, when ansinh began paying; check the year"
    much = next(e for e in errors if e["row"] == 6)
    assert much["message"] == "Số tiền quá lớn: tối đa 1.000.000.000 đ một giao dịch"
    assert much["message_en"] == "amount too large: at most 1,000,000,000 đồng a withdrawal"
    assert response.json()["detail"].startswith("5 dòng có lỗi; chưa lưu dòng nào")
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal_intake") == 0
    # The rows at the limits are taken.
    edge = await world.bank_post([rows[6], rows[7]])
    assert edge.status_code == 200 and edge.json()["accepted"] == 2


async def test_impossible_times_and_amounts_are_refused_whole_csv_and_cli(world, engine, database_url, tmp_path,
                                                                         monkeypatch):
    from app.cli import main

    account = world.people["A"].account_number
    csv_body = ("Số tài khoản;Thời gian;Số tiền;Kênh;Mã giao dịch\n"
                f"{account};11/03/2026 09:30;300.000;ATM;CSV-OK\n"
                f"{account};01/01/1900 09:30;300.000;ATM;CSV-OLD\n"
                f"{account};11/03/2026 09:30;1.000.000.000.000.000;ATM;CSV-BIG\n"
                f"{account};11/03/2026 09:30;99999999999999999999;ATM;CSV-HUGE\n").encode()
    response = await world.office.client.post("/api/bank/withdrawals", headers=world.bank_headers,
                                              files={"file": ("rut.csv", csv_body, "text/csv")})
    assert response.status_code == 422, response.text
    assert [(e["row"], e["column"].split(" / ")[1]) for e in response.json()["errors"]] == [
        (3, "occurred_at"), (4, "amount"), (5, "amount")]
    path = tmp_path / "rut.csv"
    path.write_bytes(csv_body)
    monkeypatch.setenv("DATABASE_URL", database_url)
    result = await asyncio.to_thread(CliRunner().invoke, main,
                                     ["withdrawals", "import", str(path), "--bank", "970436"])
    assert result.exit_code != 0
    assert "row 5, Số tiền / amount: Số tiền quá lớn: tối đa 1.000.000.000 đ một giao dịch" in result.output
    assert "row 3, Thời gian / occurred_at: Thời gian trước 01/01/2025" in result.output
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
