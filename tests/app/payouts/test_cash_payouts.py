"""Cash payouts: a commune plays the bank's part. Its cash is funded per programme, send posts the cash to it at
once (and refuses what its funding does not cover), old pending cash transfers are settled once by
``ansinh payouts settle-cash``, and cash the commune could not hand over comes back and is paid again once."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import uuid
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.payouts.accounts import commune_cash_account, payable_account
from app.payouts.service.ledger_steps import payout_transfer_id
from app.payouts.service.orders import cash_handover
from app.registry.fake import BeneficiaryFaker, FakePerson
from ledger import verify_ledger
from ledger.accounts import ensure_accounts
from ledger.schemas import TransferKind, TransferResult
from ledger.service import create_transfer_arrays
from tests.support.actors import add_user
from tests.support.ledger import totals, usage_by_place
from tests.support.processes import base_env, run_cli
from tests.support.world import CAO_BANG_COMMUNE, HANOI_COMMUNE, VIETCOMBANK, Office, person

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
HANOI_CASH = f"cash:commune:{HANOI_COMMUNE}"
CAO_BANG_CASH = f"cash:commune:{CAO_BANG_COMMUNE}"
TGXH_HANOI = 650_000  # NCT_80 in Hà Nội: 650,000 × 1.0
TGXH_CAO_BANG = 500_000  # NCT_80 at the national level: 500,000 × 1.0
NCC_AMOUNT = 8_367_000  # MVNAH: 2,789,000 × 3.0


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


def cash_person(faker: BeneficiaryFaker, commune: str = HANOI_COMMUNE) -> FakePerson:
    """A TGXH NCT_80 beneficiary paid in cash from 2026-03 (one month in March's run)."""
    return person(faker, commune=commune, bank=None, start="2026-03")


def cash_heroic_mother(faker: BeneficiaryFaker) -> FakePerson:
    """An NCC beneficiary (MVNAH) in Hoàn Kiếm paid in cash from 2026-03."""
    base = faker.person(commune_code=HANOI_COMMUNE, with_bank=False, category=("NCC", "MVNAH"))
    return dataclasses.replace(base, start_month=date(2026, 3, 1))


async def _payouts(office: Office, run_id: str) -> dict[str, dict]:
    """The run's payouts by the person's national id."""
    async with session_scope(office.engine) as session:
        rows = await session.execute(text(
            """SELECT b.national_id, p.id, p.status, p.amount, p.channel, p.return_reason,
                      array(SELECT to_char(m.month, 'YYYY-MM') FROM payout_month m WHERE m.payout_id = p.id
                             ORDER BY m.month) AS months
                 FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id WHERE p.run_id = :run"""),
            {"run": run_id})
        return {r.national_id: r._asdict() for r in rows}


async def _transfer(office: Office, transfer_id) -> dict | None:
    async with session_scope(office.engine) as session:
        row = (await session.execute(text(
            """SELECT t.kind, t.amount, t.pending_id, d.code AS debit, c.code AS credit
                 FROM ledger_transfer t JOIN ledger_account d ON d.id = t.debit_account_id
                 JOIN ledger_account c ON c.id = t.credit_account_id WHERE t.id = :id"""),
            {"id": transfer_id})).first()
    return None if row is None else row._asdict()


async def _verified(office: Office) -> None:
    async with session_scope(office.engine) as session:
        report = await verify_ledger(session)
    assert report.ok, report.problems


async def test_send_refuses_cash_its_commune_was_not_funded_for_then_posts_it_to_the_commune(office, engine):
    faker = BeneficiaryFaker(seed=11)
    hanoi_1, hanoi_2, rural = cash_person(faker), cash_person(faker), cash_person(faker, CAO_BANG_COMMUNE)
    await office.import_people([hanoi_1, hanoi_2, rural])
    run_id = await office.approved_run("2026-03", "TGXH")

    refused = await office.post(f"/api/payout-runs/{run_id}/send")
    assert refused.status_code == 409
    body = refused.json()
    assert body["shortfall"] == []  # no bank payouts
    assert [(s["commune_code"], s["commune_name"], s["needed"], s["available"], s["shortfall"], s["programme"])
            for s in body["commune_shortfall"]] == [
        (HANOI_COMMUNE, "Phường Hoàn Kiếm", 2 * TGXH_HANOI, 0, 2 * TGXH_HANOI, "TGXH"),
        (CAO_BANG_COMMUNE, body["commune_shortfall"][1]["commune_name"], TGXH_CAO_BANG, 0, TGXH_CAO_BANG, "TGXH")]
    assert "Phường Hoàn Kiếm (00070) thiếu 1.300.000 đ tiền mặt" in body["detail"]
    assert "insufficient funding for programme TGXH at: commune Phường Hoàn Kiếm (00070) short 1,300,000 đồng of cash" in body["detail"]
    assert (await _payouts(office, run_id))[hanoi_1.national_id]["status"] == "scheduled"

    # Funding a commune: exactly one of bank and commune, idempotent by reference, within the officer's provinces.
    both = await office.post("/api/funding", json={"bank_bin": VIETCOMBANK, "commune_code": HANOI_COMMUNE,
                                                    "programme": "TGXH", "amount": 1, "reference": "X",
                                                    "value_date": "2026-03-05"})
    assert both.status_code == 422 and "exactly one of bank_bin" in both.json()["detail"]
    neither = await office.post("/api/funding", json={"programme": "TGXH", "amount": 1, "reference": "X",
                                                       "value_date": "2026-03-05"})
    assert neither.status_code == 422 and "đúng một trong hai" in neither.json()["detail"]
    unknown = await office.fund(None, 1, "X", commune_code="99999")
    assert unknown.status_code == 404
    await add_user(engine, "tuan.caobang", Role.officer, provinces=("04",))
    await office.be("tuan.caobang")
    outside = await office.post("/api/funding", json={"commune_code": HANOI_COMMUNE, "programme": "TGXH",
                                                       "amount": 1, "reference": "X", "value_date": "2026-03-05"})
    assert outside.status_code == 403 and "không thuộc phạm vi" in outside.json()["detail"]

    funded = await office.fund(None, 2 * TGXH_HANOI + 100_000, "TM-HK-2603", commune_code=HANOI_COMMUNE)
    assert funded.status_code == 201, funded.text
    assert (funded.json()["commune_code"], funded.json()["bank_bin"]) == (HANOI_COMMUNE, None)
    again = await office.fund(None, 2 * TGXH_HANOI + 100_000, "TM-HK-2603", commune_code=HANOI_COMMUNE)
    assert again.status_code == 200 and again.json()["id"] == funded.json()["id"]
    changed = await office.fund(None, 5, "TM-HK-2603", commune_code=HANOI_COMMUNE)
    assert changed.status_code == 409 and "different details" in changed.json()["detail"]
    # The same reference at another commune is another funding.
    assert (await office.fund(None, TGXH_CAO_BANG - 1, "TM-HK-2603",
                              commune_code=CAO_BANG_COMMUNE)).status_code == 201
    still = await office.post(f"/api/payout-runs/{run_id}/send")
    assert still.status_code == 409
    assert [(s["commune_code"], s["shortfall"]) for s in still.json()["commune_shortfall"]] == [(CAO_BANG_COMMUNE, 1)]
    assert (await office.fund(None, 1, "TM-CB-2603-2", commune_code=CAO_BANG_COMMUNE)).status_code == 201
    async with session_scope(engine) as session:
        assert await totals(session, HANOI_CASH) == (2 * TGXH_HANOI + 100_000, 0, 0, 0)

    sent = await office.post(f"/api/payout-runs/{run_id}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["by_status"] == {"sent": 3}
    payouts = await _payouts(office, run_id)
    for someone, account in ((hanoi_1, HANOI_CASH), (hanoi_2, HANOI_CASH), (rural, CAO_BANG_CASH)):
        payout = payouts[someone.national_id]
        transfer = await _transfer(office, payout_transfer_id(payout["id"], "send"))
        assert transfer is not None and transfer["kind"] == "single" and transfer["credit"] == account
        assert transfer["amount"] == payout["amount"]
    async with session_scope(engine) as session:
        # Funded 1,400,000, sent 1,300,000: 100,000 left at the commune, nothing pending.
        assert await totals(session, HANOI_CASH) == (2 * TGXH_HANOI + 100_000, 2 * TGXH_HANOI, 0, 0)
        assert await totals(session, CAO_BANG_CASH) == (TGXH_CAO_BANG, TGXH_CAO_BANG, 0, 0)
    await _verified(office)


async def test_tgxh_funding_at_a_commune_does_not_cover_ncc_cash_there(office):
    faker = BeneficiaryFaker(seed=12)
    await office.import_people([cash_person(faker), cash_heroic_mother(faker)])
    assert (await office.fund(None, 20_000_000, "TM-TGXH-1", commune_code=HANOI_COMMUNE)).status_code == 201
    ncc = await office.approved_run("2026-03", "NCC")
    refused = await office.post(f"/api/payout-runs/{ncc}/send")
    assert refused.status_code == 409
    (short,) = refused.json()["commune_shortfall"]
    assert (short["commune_code"], short["programme"], short["needed"], short["available"]) == (
        HANOI_COMMUNE, "NCC", NCC_AMOUNT, 0)
    assert short["programme_budget"] == {"programme": "NCC", "funded": 0, "used": 0, "available": 0,
                                         "needed": NCC_AMOUNT, "shortfall": NCC_AMOUNT}
    assert "chương trình NCC" in refused.json()["detail"]
    assert (await office.fund(None, NCC_AMOUNT, "TM-NCC-1", programme="NCC",
                              commune_code=HANOI_COMMUNE)).status_code == 201
    assert (await office.post(f"/api/payout-runs/{ncc}/send")).status_code == 200
    # TGXH's funding there is untouched by NCC's cash, and a second NCC month is not covered by it.
    tgxh = await office.approved_run("2026-03", "TGXH")
    assert (await office.post(f"/api/payout-runs/{tgxh}/send")).status_code == 200
    april = await office.approved_run("2026-04", "NCC")
    short_april = (await office.post(f"/api/payout-runs/{april}/send")).json()["commune_shortfall"]
    assert [(s["programme"], s["programme_budget"]["funded"], s["programme_budget"]["used"], s["shortfall"])
            for s in short_april] == [("NCC", NCC_AMOUNT, NCC_AMOUNT, NCC_AMOUNT)]
    async with session_scope(office.engine) as session:
        assert await totals(session, HANOI_CASH) == (20_000_000 + NCC_AMOUNT, NCC_AMOUNT + TGXH_HANOI, 0, 0)
    await _verified(office)


async def _send_the_old_way(office: Office, run_id: str) -> dict[str, dict]:
    """Mark the approved run's payouts sent with a pending ``payable`` → ``cash:commune`` transfer each, as send
    did before cash was posted at once (through the ledger API, with the send step's id)."""
    payouts = await _payouts(office, run_id)
    async with session_scope(office.engine) as session:
        rows = (await session.execute(text(
            "SELECT id, beneficiary_id, commune_code, amount, reference FROM payout WHERE run_id = :run ORDER BY id"),
            {"run": run_id})).all()
        specs = [payable_account(r.beneficiary_id) for r in rows] + [commune_cash_account(r.commune_code)
                                                                      for r in rows]
        ids = await ensure_accounts(session, list({s.code: s for s in specs}.values()))
        results = await create_transfer_arrays(
            session, ids=[payout_transfer_id(r.id, "send") for r in rows], code="payout.send",
            kind=TransferKind.pending,
            debit_account_ids=[ids[payable_account(r.beneficiary_id).code] for r in rows],
            credit_account_ids=[ids[commune_cash_account(r.commune_code).code] for r in rows],
            amounts=[r.amount for r in rows], references=[r.reference for r in rows])
        assert results == [TransferResult.ok] * len(rows)
        await session.execute(text("UPDATE payout_run SET status = 'sending', sent_by = 'lan.officer' WHERE id = :r"),
                              {"r": run_id})
        await session.execute(text(
            "UPDATE payout SET status = 'sent', sent_at = :at WHERE run_id = :r"),
            {"r": run_id, "at": datetime(2026, 3, 8, 9, tzinfo=VIETNAM)})
        await session.execute(text("UPDATE payout_run SET status = 'sent', sent_at = :at WHERE id = :r"),
                              {"r": run_id, "at": datetime(2026, 3, 8, 9, tzinfo=VIETNAM)})
    return payouts


async def test_settle_cash_posts_old_pending_cash_transfers_once(office, database_url):
    faker = BeneficiaryFaker(seed=13)
    people = [cash_person(faker), cash_person(faker), cash_person(faker, CAO_BANG_COMMUNE)]
    await office.import_people(people)
    run_id = await office.approved_run("2026-03", "TGXH")
    payouts = await _send_the_old_way(office, run_id)
    total = 2 * TGXH_HANOI + TGXH_CAO_BANG
    async with session_scope(office.engine) as session:
        assert await totals(session, HANOI_CASH) == (0, 0, 0, 2 * TGXH_HANOI)

    env = base_env(DATABASE_URL=database_url)
    first = await asyncio.to_thread(run_cli, "payouts", "settle-cash", "--as", "lan.officer", env=env)
    assert first.returncode == 0, first.stderr
    assert "posted 3 cash transfers, 1,800,000 đ" in first.stdout and total == 1_800_000
    for someone in people:
        payout = payouts[someone.national_id]
        post = await _transfer(office, payout_transfer_id(payout["id"], "credit"))
        assert post is not None and post["kind"] == "post"
        assert post["pending_id"] == payout_transfer_id(payout["id"], "send") and post["amount"] == payout["amount"]
    async with session_scope(office.engine) as session:
        assert await totals(session, HANOI_CASH) == (0, 2 * TGXH_HANOI, 0, 0)
        assert await totals(session, CAO_BANG_CASH) == (0, TGXH_CAO_BANG, 0, 0)
        audited = await session.scalar(text("SELECT after FROM audit_log WHERE action = 'payout.cash_settle'"))
    assert audited["transfers"] == 3 and audited["amount"] == total
    again = await asyncio.to_thread(run_cli, "payouts", "settle-cash", "--as", "lan.officer", env=env)
    assert again.returncode == 0, again.stderr
    assert "posted 0 cash transfers, 0 đ" in again.stdout
    async with session_scope(office.engine) as session:
        assert await totals(session, HANOI_CASH) == (0, 2 * TGXH_HANOI, 0, 0)
        posts = await session.scalar(text("SELECT count(*) FROM ledger_transfer WHERE code = 'payout.cash_settle'"))
    assert posts == 3
    await _verified(office)


async def test_cash_the_commune_gives_back_is_returned_and_paid_again_once(office, engine):
    faker = BeneficiaryFaker(seed=14)
    moved, handed, banked = cash_person(faker), cash_person(faker), person(faker, start="2026-03")
    await office.import_people([moved, handed, banked])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 3 * TGXH_HANOI, "FT-2603")).status_code == 201
    march = (await office.run_cycle("2026-03"))["id"]
    payouts = await _payouts(office, march)
    moved_payout, handed_payout = payouts[moved.national_id], payouts[handed.national_id]
    url = f"/api/payout-runs/{march}/payouts/{{}}/cash-return"
    async with session_scope(engine) as session:
        before = await totals(session, HANOI_CASH)

    # Refused: a bank payout, a payout of another run, no reason, another province's officer.
    bank_payout = payouts[banked.national_id]["id"]
    not_cash = await office.post(url.format(bank_payout), json={"reason": "chuyển đi"})
    assert not_cash.status_code == 409 and "tiền mặt" in not_cash.json()["detail"]
    other_run = await office.post(f"/api/payout-runs/{bank_payout}/payouts/{moved_payout['id']}/cash-return",
                                  json={"reason": "chuyển đi"})
    assert other_run.status_code == 404
    blank = await office.post(url.format(moved_payout["id"]), json={"reason": "  "})
    assert blank.status_code == 422 and "lý do" in blank.json()["detail"]
    await add_user(engine, "tuan.caobang", Role.officer, provinces=("04",))
    await office.be("tuan.caobang")
    outside = await office.post(url.format(moved_payout["id"]), json={"reason": "chuyển đi"})
    assert outside.status_code == 404 and "no such payout in this run" in outside.json()["detail"]  # as unknown
    await office.be("minh.approver")
    assert (await office.post(url.format(moved_payout["id"]), json={"reason": "x"})).status_code == 403

    # Refused once any of the cash was handed over (a cash_handover withdrawal recorded by the commune).
    await office.be("lan.officer")
    beneficiary = await office.beneficiary_id(handed.national_id)
    handover = await office.post(f"/api/beneficiaries/{beneficiary}/assisted-withdrawals",  # after the cash left
                                 json={"occurred_at": datetime.now(UTC).isoformat(), "amount": 200_000})
    assert handover.status_code == 201 and handover.json()["channel"] == "cash_handover"
    after_handover = await office.post(url.format(handed_payout["id"]), json={"reason": "không tìm thấy"})
    assert after_handover.status_code == 409 and "already handed over" in after_handover.json()["detail"]

    returned = await office.post(url.format(moved_payout["id"]), json={"reason": "Chuyển đi tỉnh khác"})
    assert returned.status_code == 200, returned.text
    assert returned.json()["status"] == "returned" and returned.json()["months_released"] == 1
    reversal = await _transfer(office, payout_transfer_id(moved_payout["id"], "return"))
    assert reversal == {"kind": "single", "amount": TGXH_HANOI, "pending_id": None, "debit": HANOI_CASH,
                        "credit": payable_account(await office.beneficiary_id(moved.national_id)).code}
    after = (await _payouts(office, march))[moved.national_id]
    assert (after["status"], after["return_reason"]) == ("returned", "Chuyển đi tỉnh khác")
    async with session_scope(engine) as session:
        assert await totals(session, HANOI_CASH) == (before[0] + TGXH_HANOI, before[1], 0, 0)
        audit = (await session.execute(text(
            "SELECT actor, after FROM audit_log WHERE action = 'payout.cash_return'"))).one()
    assert audit.actor == "lan.officer" and audit.after["reference"] == returned.json()["reference"]
    twice = await office.post(url.format(moved_payout["id"]), json={"reason": "Chuyển đi tỉnh khác"})
    assert twice.status_code == 409 and "returned" in twice.json()["detail"]

    # The cash went back to the commune's budget, and March is paid again with April — once.
    april = (await office.run_cycle("2026-04"))["id"]
    assert (await _payouts(office, april))[moved.national_id]["months"] == ["2026-03", "2026-04"]
    may = await office.approved_run("2026-05", "TGXH")
    assert (await _payouts(office, may))[moved.national_id]["months"] == ["2026-05"]
    async with session_scope(engine) as session:
        commune_funding = await session.scalar(text(
            "SELECT count(*) FROM funding WHERE commune_code = :c AND reference LIKE 'TM-%'"), {"c": HANOI_COMMUNE})
    assert commune_funding == 2  # March's and April's shortfalls; the returned cash counted towards April's
    async with session_scope(engine) as session:
        kept, summed = await usage_by_place(session)
    # Cash: March's two payouts less the one given back, then April's three months (March paid again);
    # the bank: the banked person's two months.
    assert kept == summed == {("TGXH", False, HANOI_COMMUNE): (2 - 1 + 3) * TGXH_HANOI,
                              ("TGXH", True, VIETCOMBANK): 2 * TGXH_HANOI}
    await _verified(office)


async def test_cash_handover_list_names_the_issuer_in_vietnamese_and_is_dated_in_vietnam(office, engine):
    faker = BeneficiaryFaker(seed=13)
    await office.import_people([cash_person(faker), cash_person(faker)])
    run_id = await office.approved_run("2026-03", "TGXH")
    assert (await office.fund(None, 2 * TGXH_HANOI, "TM-HK-2603", commune_code=HANOI_COMMUNE)).status_code == 201
    assert (await office.post(f"/api/payout-runs/{run_id}/send")).status_code == 200
    issued = "Đơn vị lập/Issued by: Sở Lao động - Thương binh và Xã hội / Labour department"

    # 06:57 on 01/12 in Việt Nam (still 30/11 in UTC): the list is dated 01/12.
    async with session_scope(engine) as session:
        content = await cash_handover(session, uuid.UUID(run_id), now=datetime(2026, 11, 30, 23, 57, tzinfo=UTC))
    workbook = openpyxl.load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Tổng hợp - Summary", f"{HANOI_COMMUNE} Phường Hoàn Kiếm"]
    summary, commune = workbook["Tổng hợp - Summary"], workbook[f"{HANOI_COMMUNE} Phường Hoàn Kiếm"]
    assert summary["A3"].value == f"{issued} — Ngày lập/Created on: 01/12/2026"
    assert commune["A1"].value == "DANH SÁCH CHI TRẢ TIỀN MẶT / CASH HANDOVER LIST"
    assert commune["A4"].value == f"{issued} — Ngày lập/Created on: 01/12/2026"
    # What commune staff download says the same.
    downloaded = await office.client.get(f"/api/payout-runs/{run_id}/cash-handover")
    assert downloaded.status_code == 200
    sheet = openpyxl.load_workbook(io.BytesIO(downloaded.content))[f"{HANOI_COMMUNE} Phường Hoàn Kiếm"]
    assert sheet["A4"].value.startswith(f"{issued} — Ngày lập/Created on: ")
    texts = [cell for ws in workbook for row in ws.iter_rows(values_only=True) for cell in row if isinstance(cell, str)]
    assert not [text for text in texts if "Lao dong" in text or "Thuong binh" in text]


async def test_commune_staff_get_the_cash_list_with_citizen_ids_masked_officers_whole(office, engine):
    faker = BeneficiaryFaker(seed=17)
    people = [cash_person(faker), cash_person(faker)]
    await office.import_people(people)
    run_id = await office.approved_run("2026-03", "TGXH")
    assert (await office.fund(None, 2 * TGXH_HANOI, "TM-HK-2603-M", commune_code=HANOI_COMMUNE)).status_code == 201
    assert (await office.post(f"/api/payout-runs/{run_id}/send")).status_code == 200

    async def cells() -> set[str]:
        response = await office.client.get(f"/api/payout-runs/{run_id}/cash-handover")
        assert response.status_code == 200, response.text
        return {str(c) for sheet in openpyxl.load_workbook(io.BytesIO(response.content)).worksheets
                for row in sheet.iter_rows(values_only=True) for c in row if c is not None}

    officer_cells = await cells()
    assert all(p.national_id in officer_cells for p in people)
    await add_user(engine, "hoa.cash", Role.commune_staff, communes=(HANOI_COMMUNE,))
    await office.be("hoa.cash")
    staff_cells = await cells()
    assert not any(p.national_id in staff_cells for p in people)
    assert all("********" + p.national_id[-4:] in staff_cells for p in people)
    assert all(p.full_name in staff_cells for p in people)  # the names stay whole: the list is to sign
