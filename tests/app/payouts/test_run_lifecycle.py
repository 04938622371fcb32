"""A payout run through its whole life, as officers, an approver and banks use it over HTTP."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker
from ledger import verify_ledger
from tests.support.actors import PASSWORD, add_user, bank_key
from tests.support.ledger import totals
from tests.support.sheets import a4_landscape_fit_width, print_setup
from tests.support.world import BIDV, CAO_BANG_COMMUNE, HANOI_COMMUNE, VIETCOMBANK, Office, person


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _people(office: Office):
    faker = BeneficiaryFaker(seed=7)
    hanoi = person(faker, category="NCT_80")  # 650,000 × 1.0
    cash_rural = person(faker, commune=CAO_BANG_COMMUNE, category="NKT_DBN", bank=None)  # 500,000 × 2.0
    deceased = person(faker, category="NCT_NGHEO_80")
    await office.import_people([hanoi, cash_rural, deceased])
    dead_id = await office.beneficiary_id(deceased.national_id)
    response = await office.post(f"/api/beneficiaries/{dead_id}/events",
                                 json={"kind": "deceased", "effective_on": "2026-02-15"})
    assert response.status_code in (200, 201), response.text
    return faker, hanoi, cash_rural, deceased


async def test_compute_pays_each_person_at_the_rate_of_their_province(office):
    _, hanoi, cash_rural, _ = await _people(office)
    created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})
    assert created.status_code == 201
    run = created.json()
    assert run["status"] == "draft" and run["arrears_from"] == "2026-03"  # first run = go-live, no arrears
    computed = (await office.post(f"/api/payout-runs/{run['id']}/compute")).json()
    assert computed["status"] == "computed" and computed["prepared_by"] == "lan.officer"
    assert computed["count"] == 2 and computed["total_amount"] == 650_000 + 1_000_000
    by_bank = {row["bank_bin"]: (row["count"], row["amount"]) for row in computed["by_bank"]}
    assert by_bank == {VIETCOMBANK: (1, 650_000), "cash": (1, 1_000_000)}
    listed = (await office.client.get(f"/api/payout-runs/{run['id']}/payouts")).json()
    amounts = {item["full_name"]: (item["amount"], item["months"], item["channel"]) for item in listed["items"]}
    assert amounts == {hanoi.full_name: (650_000, ["2026-03"], "bank"),
                       cash_rural.full_name: (1_000_000, ["2026-03"], "cash")}
    assert all(len(item["reference"]) <= 35 and item["reference"].isalnum() for item in listed["items"])
    for bank, name, channel in (("cash", cash_rural.full_name, "cash"), (VIETCOMBANK, hanoi.full_name, "bank")):
        # every key of by_bank filters the run's payouts to the ones it counts
        chosen = (await office.client.get(f"/api/payout-runs/{run['id']}/payouts", params={"bank": bank})).json()
        assert chosen["total"] == 1
        assert [(item["full_name"], item["channel"]) for item in chosen["items"]] == [(name, channel)]


async def test_one_regular_run_per_programme_and_period(office):
    first = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})
    second = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})
    assert first.status_code == 201 and second.status_code == 409
    assert second.headers["content-type"].startswith("application/problem+json")


async def test_maker_checker_send_needs_funding_and_orders_reach_only_their_bank(office, engine, client):
    await _people(office)
    await office.register_disbursement(VIETCOMBANK)
    await office.be("minh.approver")  # an approver prepares this run, so they may not approve it
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    assert (await office.post(f"/api/payout-runs/{run_id}/compute")).status_code == 200
    own = await office.post(f"/api/payout-runs/{run_id}/approve")
    assert own.status_code == 409 and "hai người" in own.json()["detail"]
    await office.be("lan.officer")
    assert (await office.post(f"/api/payout-runs/{run_id}/approve")).status_code == 403  # officers do not approve
    assert (await office.post(f"/api/payout-runs/{run_id}/compute")).status_code == 200  # officer prepares again
    await office.be("minh.approver")
    approved = await office.post(f"/api/payout-runs/{run_id}/approve")
    assert approved.status_code == 200 and approved.json()["approved_by"] == "minh.approver"
    async with session_scope(engine) as session:
        assert await totals(session, "expense:TGXH") == (1_650_000, 0, 0, 0)

    await office.be("lan.officer")
    short = await office.post(f"/api/payout-runs/{run_id}/send")
    assert short.status_code == 409
    assert short.json()["shortfall"] == [{
        "bank_bin": VIETCOMBANK, "bank_name": "Vietcombank", "needed": 650_000, "available": 0, "shortfall": 650_000,
        "programme": "TGXH",
        "programme_budget": {"programme": "TGXH", "funded": 0, "used": 0, "available": 0, "needed": 650_000,
                             "shortfall": 650_000},
        "disbursement_account": {"account": f"bank:{VIETCOMBANK}:disbursement", "available": 0, "needed": 650_000,
                                 "shortfall": 650_000}}]
    # The cash goes to the commune, which must be funded for it as a bank is.
    assert [(s["commune_code"], s["shortfall"], s["programme"]) for s in short.json()["commune_shortfall"]] == [
        (CAO_BANG_COMMUNE, 1_000_000, "TGXH")]
    assert (await office.fund(None, 1_000_000, "TM-2603-01273", commune_code=CAO_BANG_COMMUNE)).status_code == 201
    funded = await office.fund(VIETCOMBANK, 600_000, "FT26064001")
    assert funded.status_code == 201
    assert (await office.fund(VIETCOMBANK, 600_000, "FT26064001")).status_code == 200  # same bank reference: no-op
    still_short = await office.post(f"/api/payout-runs/{run_id}/send")
    assert still_short.json()["shortfall"][0]["shortfall"] == 50_000
    assert (await office.fund(VIETCOMBANK, 100_000, "FT26064002")).status_code == 201
    sent = await office.post(f"/api/payout-runs/{run_id}/send")
    assert sent.status_code == 200 and sent.json()["status"] == "sent"
    assert sent.json()["by_status"] == {"sent": 2}
    async with session_scope(engine) as session:
        assert await totals(session, f"bank:{VIETCOMBANK}:disbursement") == (700_000, 0, 0, 650_000)
        assert await totals(session, f"cash:commune:{CAO_BANG_COMMUNE}") == (1_000_000, 1_000_000, 0, 0)
        report = await verify_ledger(session)
    assert report.ok, report.problems

    xlsx = await client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK, "format": "xlsx"})
    assert xlsx.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content)).active
    assert any(650_000 in row for row in sheet.iter_rows(values_only=True))
    assert print_setup(sheet) == a4_landscape_fit_width(2)  # under the "not a payment instruction" title
    csv_file = await client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK, "format": "csv"})
    rows = list(csv.reader(io.StringIO(csv_file.content.decode("utf-8-sig"))))
    assert csv_file.headers["content-type"] == "text/csv; charset=utf-8"  # one charset, not two
    assert len(rows) >= 2
    pain = await client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK, "format": "pain001"})
    assert b"<PurpCd>" not in pain.content and b"SSBE" in pain.content and b"<CtrlSum>650000" in pain.content
    cash = await client.get(f"/api/payout-runs/{run_id}/cash-handover")
    assert cash.status_code == 200
    # Commune staff hand the cash over: their own commune's list, nobody else's.
    await add_user(engine, "xa.caobang", Role.commune_staff, communes=(CAO_BANG_COMMUNE,))
    await add_user(engine, "xa.hanoi", Role.commune_staff, communes=(HANOI_COMMUNE,))
    await office.be("xa.caobang")
    own_cash = await client.get(f"/api/payout-runs/{run_id}/cash-handover")
    assert own_cash.status_code == 200 and own_cash.content[:2] == b"PK"
    follow_up = await client.get("/follow-up")  # where commune staff find it
    assert f'href="/api/payout-runs/{run_id}/cash-handover"' in follow_up.text
    assert "TGXH tháng 03/2026: 1 người nhận tiền mặt" in follow_up.text
    await office.be("lan.officer")
    april = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-04"})).json()["id"]
    assert (await office.post(f"/api/payout-runs/{april}/compute")).status_code == 200
    await office.be("xa.caobang")
    not_yet = await client.get(f"/api/payout-runs/{april}/cash-handover")
    assert not_yet.status_code == 409
    assert not_yet.json()["detail"] == ("Đợt chi đã tính, đang chờ duyệt: chưa có tiền mặt để giao / the run is "
                                        "computed and waiting for approval: there is no cash to hand over")
    await office.approve(april)
    await office.be("xa.caobang")
    approved = await client.get(f"/api/payout-runs/{april}/cash-handover")
    assert approved.status_code == 409 and "chưa được duyệt" not in approved.json()["detail"]
    assert approved.json()["detail"].startswith("Đợt chi đã được duyệt, đang chờ gửi đi: tiền mặt chưa về xã/phường")
    assert "the run is approved and waiting to be sent" in approved.json()["detail"]
    assert f"/api/payout-runs/{april}/cash-handover" not in (await client.get("/follow-up")).text
    await office.be("xa.hanoi")
    assert (await client.get(f"/api/payout-runs/{run_id}/cash-handover")).status_code == 404  # none of theirs
    other = await client.get(f"/api/payout-runs/{run_id}/cash-handover", params={"commune": CAO_BANG_COMMUNE})
    assert other.status_code == 403 and "không thuộc phạm vi" in other.json()["detail"]
    assert (await client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK})).status_code == 403
    await office.be("lan.officer")

    client.cookies.clear()
    # The officer's pain.001 took the order into a batch: the bank finds it under that batch's MsgId, not as new.
    vietcombank_key = await bank_key(engine, VIETCOMBANK)
    vietcombank = (await client.get("/api/bank/payment-orders", headers=vietcombank_key)).json()
    assert vietcombank["items"] == []
    batches = (await client.get("/api/bank/payment-orders/batches", headers=vietcombank_key)).json()["items"]
    assert [(b["message_id"], b["fetched_by"], b["orders"]) for b in batches] == [
        (pain.headers["X-Message-Id"], "lan.officer", 1)]
    taken = (await client.get(f"/api/bank/payment-orders/batches/{batches[0]['message_id']}",
                              params={"format": "json"}, headers=vietcombank_key)).json()
    assert [item["amount"] for item in taken["items"]] == [650_000]
    bidv = (await client.get("/api/bank/payment-orders", headers=await bank_key(engine, BIDV))).json()
    assert bidv["items"] == []
    denied = await client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK},
                              headers=await bank_key(engine, VIETCOMBANK))
    assert denied.status_code == 403


async def test_no_month_is_paid_twice_across_runs_and_late_enrolments_get_arrears(office, engine):
    faker, hanoi, _, _ = await _people(office)
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-BUDGET-1")).status_code == 201
    march = await office.run_cycle("2026-03")
    assert march["count"] == 2
    late = person(faker, category="NCT_80", start="2026-02")  # decided late: February and March are owed
    await office.import_people([late])
    april = await office.run_cycle("2026-04")
    listed = (await office.client.get(f"/api/payout-runs/{april['id']}/payouts")).json()["items"]
    months = {item["full_name"]: item["months"] for item in listed}
    assert months[hanoi.full_name] == ["2026-04"]
    # arrears reach back to the programme's go-live (2026-03) in ansinh, not to February
    assert months[late.full_name] == ["2026-03", "2026-04"]
    assert {item["full_name"]: item["amount"] for item in listed}[late.full_name] == 1_300_000

    async with session_scope(engine) as session:
        paid = await session.scalar(text("SELECT count(*) FROM payout_month"))
        assert paid == 2 + 4  # March: two people; April: two people and the late one with two months
        row = (await session.execute(text("SELECT * FROM payout_month LIMIT 1"))).first()
    with pytest.raises(IntegrityError):
        async with session_scope(engine) as session:
            await session.execute(text(
                """INSERT INTO payout_month (payout_id, enrolment_id, beneficiary_id, benefit_group, month,
                                             base_amount, coefficient, amount)
                   SELECT p.id, :enrolment, :beneficiary, :group, :month, 1, 1, 1 FROM payout p
                    WHERE p.id <> :payout LIMIT 1"""),
                {"enrolment": row.enrolment_id, "beneficiary": row.beneficiary_id, "group": row.benefit_group,
                 "month": row.month, "payout": row.payout_id})


async def test_database_refuses_changing_a_payout_amount_and_approval_by_preparer(office, engine):
    await _people(office)
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    await office.post(f"/api/payout-runs/{run_id}/compute")
    with pytest.raises(Exception, match="immutable"):
        async with session_scope(engine) as session:
            await session.execute(text("UPDATE payout SET amount = amount + 1"))
    with pytest.raises(IntegrityError, match="four_eyes"):
        async with session_scope(engine) as session:
            await session.execute(text(
                "UPDATE payout_run SET status = 'approved', approved_by = prepared_by WHERE id = :id"), {"id": run_id})


async def test_the_preparer_in_another_case_cannot_approve_and_the_database_refuses_it_too(office, engine, client):
    """Usernames are one name whatever their case (sign-in finds "MINH.APPROVER" as minh.approver): the run's
    preparer under any spelling is still its preparer, for the approval route (409) and for the database's own
    check (migration 0041), which a direct UPDATE meets."""
    await _people(office)
    client.cookies.clear()
    typed = await client.post("/api/auth/login", json={"username": "MINH.APPROVER", "password": PASSWORD})
    assert typed.status_code == 200, typed.text
    shouting = {"X-CSRF-Token": typed.json()["csrf_token"]}
    run_id = (await client.post("/api/payout-runs", headers=shouting,
                                json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    computed = await client.post(f"/api/payout-runs/{run_id}/compute", headers=shouting)
    assert computed.status_code == 200 and computed.json()["prepared_by"] == "minh.approver"
    # A run whose preparer was written as typed (a script, an older version): the same person all the same.
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout_run SET prepared_by = 'Minh.Approver' WHERE id = :id"),
                              {"id": run_id})
    office.current = ""
    await office.be("minh.approver")
    own = await office.post(f"/api/payout-runs/{run_id}/approve")
    assert own.status_code == 409, own.text
    assert "Người lập không được tự duyệt đợt chi (nguyên tắc hai người)" in own.json()["detail"]
    assert "the preparer cannot approve their own run (maker-checker)" in own.json()["detail"]
    page = await client.get(f"/payout-runs/{run_id}")  # the run's page says why, with no approve button
    assert page.status_code == 200 and 'id="self-approval"' in page.text and "Duyệt đợt chi</button>" not in page.text
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT status, approved_by FROM payout_run WHERE id = :id"),
                                     {"id": run_id})).one()
    assert tuple(row) == ("computed", None)
    # The database's check, met directly: the preparer's name in another case is refused as approver ...
    for spelling in ("minh.approver", "MINH.APPROVER", "Minh.Approver"):
        with pytest.raises(IntegrityError, match="ck_payout_run_four_eyes"):
            async with session_scope(engine) as session:
                await session.execute(text(
                    "UPDATE payout_run SET status = 'approved', approved_by = :who WHERE id = :id"),
                    {"who": spelling, "id": run_id})
    # ... and another approver is not.
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout_run SET status = 'approved', approved_by = 'ha.approver' "
                                   "WHERE id = :id"), {"id": run_id})
        assert await session.scalar(text("SELECT approved_by FROM payout_run WHERE id = :id"),
                                    {"id": run_id}) == "ha.approver"


async def test_unknown_programme_and_bad_period_are_clear_errors(office):
    unknown = await office.post("/api/payout-runs", json={"programme": "XYZ", "period": "2026-03"})
    assert unknown.status_code == 404
    bad = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026/03"})
    assert bad.status_code == 422 and "MM/YYYY (ví dụ 03/2026) hoặc YYYY-MM" in bad.json()["detail"]
    await office.register_disbursement(VIETCOMBANK)
    malformed = await office.post("/api/funding", json={"bank_bin": VIETCOMBANK, "programme": "TGXH",
                                                        "amount": 5, "reference": "FT1", "value_date": "05/03/2026"})
    assert malformed.status_code == 400
    body = malformed.json()
    assert body["detail"].startswith("Dữ liệu gửi lên không hợp lệ / Validation failed")
    assert [(e["column"], e["message"]) for e in body["errors"]] == [
        ("value_date", "Giá trị của trường 'value_date' không hợp lệ")]
    assert "RFC" in body["errors"][0]["message_en"] or "date" in body["errors"][0]["message_en"]


@pytest.mark.parametrize("payouts", [1, 2])
async def test_database_refuses_months_that_do_not_add_up_to_their_payout(office, engine, payouts):
    """One payout named is checked by key, several by the range of their ids (migration 0043): both refuse."""
    await _people(office)
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    await office.post(f"/api/payout-runs/{run_id}/compute")
    insert = """INSERT INTO payout_month (payout_id, enrolment_id, beneficiary_id, benefit_group, month,
                                          base_amount, coefficient, amount)
                SELECT {payout}, m.enrolment_id, m.beneficiary_id, m.benefit_group, DATE '2026-05-01', 1, 1, 1
                  FROM payout_month m JOIN payout p ON p.id = m.payout_id
                 WHERE p.run_id = :run ORDER BY p.id LIMIT :payouts"""
    with pytest.raises(IntegrityError, match="differs from the sum of its months"):
        async with session_scope(engine) as session:
            await session.execute(text(insert.format(payout="m.payout_id")), {"run": run_id, "payouts": payouts})
    with pytest.raises(IntegrityError, match="refers to a missing payout"):
        async with session_scope(engine) as session:  # a month of a payout that does not exist
            await session.execute(text(insert.format(payout="gen_random_uuid()")), {"run": run_id, "payouts": payouts})
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM payout_month")) == 2
