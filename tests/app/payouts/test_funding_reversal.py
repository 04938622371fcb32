"""Funding entries: amounts within what the ledger can hold, value dates not in the future, and an entry
recorded by mistake taken back by a reversal (a new ledger transfer; the entry stays) — unless the bank's
statement confirmed it or the programme's payouts took the money."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.payouts.service.funding import MAX_FUNDING, VIETNAM
from app.registry.fake import BeneficiaryFaker
from ledger import verify_ledger
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, other_line, statement, upload
from tests.support.actors import add_user
from tests.support.ledger import totals
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office, person

BANK_ACCOUNT = f"bank:{VIETCOMBANK}:disbursement"
TGXH_AMOUNT = 650_000


@pytest.fixture
async def office(client, engine):
    office = await Office(client, engine).setup()
    await office.register_disbursement(VIETCOMBANK)
    return office


async def _fund(office: Office, amount: int, reference: str, *, value_date: str = "2026-03-05",
                **place: str) -> object:
    await office.be("lan.officer")
    return await office.post("/api/funding", json={**(place or {"bank_bin": VIETCOMBANK}), "programme": "TGXH",
                                                   "amount": amount, "reference": reference,
                                                   "value_date": value_date})


async def test_an_amount_beyond_the_cap_or_a_future_value_date_is_refused_before_the_ledger(office, engine):
    for amount in (MAX_FUNDING + 1, 10**19):
        refused = await _fund(office, amount, f"BIG-{amount}")
        assert refused.status_code == 422, refused.text
        assert "không được quá 1.000.000.000.000.000 đồng" in refused.json()["detail"]
        assert "cannot exceed" in refused.json()["detail"]
    assert (await _fund(office, MAX_FUNDING, "BIG-MAX")).status_code == 201
    # Another entry at the same bank, another programme: the balances still add up (no overflow, no 500).
    await office.be("lan.officer")
    other = await office.post("/api/funding", json={"bank_bin": VIETCOMBANK, "programme": "NCC",
                                                    "amount": MAX_FUNDING, "reference": "BIG-NCC",
                                                    "value_date": "2026-03-05"})
    assert other.status_code == 201, other.text

    tomorrow = datetime.now(VIETNAM).date() + timedelta(days=1)
    future = await _fund(office, 1_000_000, "LATER", value_date=tomorrow.isoformat())
    assert future.status_code == 422 and "không được sau hôm nay" in future.json()["detail"]
    async with session_scope(engine) as session:
        references = set((await session.scalars(text("SELECT reference FROM funding"))).all())
        assert references == {"BIG-MAX", "BIG-NCC"}
        assert await totals(session, BANK_ACCOUNT) == (2 * MAX_FUNDING, 0, 0, 0)


async def test_a_mistaken_entry_is_reversed_once_and_no_longer_counts(office, engine):
    faker = BeneficiaryFaker(seed=41)
    await office.import_people([person(faker, category="NCT_80")])
    right = await _fund(office, TGXH_AMOUNT, "FT-RIGHT")
    wrong = (await _fund(office, 90_000_000, "FT-TYPO")).json()
    run_id = await office.approved_run("2026-03", "TGXH")

    await office.be("lan.officer")
    blank = await office.post(f"/api/funding/{wrong['id']}/reverse", json={"reason": "  "})
    assert blank.status_code == 422 and "lý do" in blank.json()["detail"]
    await office.be("minh.approver")
    assert (await office.post(f"/api/funding/{wrong['id']}/reverse", json={"reason": "x"})).status_code == 403
    await add_user(engine, "xa.staff", Role.commune_staff, communes=(HANOI_COMMUNE,))
    await office.be("xa.staff")
    assert (await office.post(f"/api/funding/{wrong['id']}/reverse", json={"reason": "x"})).status_code == 403

    await office.be("lan.officer")
    reversed_ = await office.post(f"/api/funding/{wrong['id']}/reverse", json={"reason": "Gõ nhầm số tiền"})
    assert reversed_.status_code == 200, reversed_.text
    body = reversed_.json()
    assert (body["amount"], body["reference"]) == (90_000_000, "FT-TYPO")
    assert body["reversal"]["reason"] == "Gõ nhầm số tiền" and body["reversal"]["reversed_by"] == "lan.officer"
    again = await office.post(f"/api/funding/{wrong['id']}/reverse", json={"reason": "Gõ nhầm số tiền"})
    assert again.status_code == 409 and "đã được hủy" in again.json()["detail"]
    missing = await office.post("/api/funding/00000000-0000-4000-8000-000000000001/reverse", json={"reason": "x"})
    assert missing.status_code == 404

    listed = (await office.client.get("/api/funding", params={"bank_bin": VIETCOMBANK})).json()["items"]
    assert [(f["reference"], f["reversal"] is not None) for f in listed] == [("FT-TYPO", True), ("FT-RIGHT", False)]
    async with session_scope(engine) as session:
        # 90,000,000 in and out again; the right entry left: exactly the run's need, so send goes through.
        assert await totals(session, BANK_ACCOUNT) == (TGXH_AMOUNT + 90_000_000, 90_000_000, 0, 0)
        audit = await session.scalar(text("SELECT count(*) FROM audit_log WHERE action = 'funding.reverse'"))
        assert audit == 1
    assert right.status_code == 201
    sent = await office.post(f"/api/payout-runs/{run_id}/send")
    assert sent.status_code == 200, sent.text
    async with session_scope(engine) as session:
        report = await verify_ledger(session)
    assert report.ok, report.problems


async def test_an_entry_the_payouts_used_or_the_bank_confirmed_is_not_reversed(office, engine):
    faker = BeneficiaryFaker(seed=42)
    await office.import_people([person(faker, category="NCT_80")])
    used = (await _fund(office, TGXH_AMOUNT, "FT-USED")).json()
    await office.run_cycle("2026-03")
    await office.be("lan.officer")
    refused = await office.post(f"/api/funding/{used['id']}/reverse", json={"reason": "nhầm"})
    assert refused.status_code == 409, refused.text
    assert "chỉ còn 0 đồng chưa dùng" in refused.json()["detail"] and refused.json()["available"] == 0

    confirmed = (await _fund(office, 5_000_000, "FT-CONFIRMED")).json()
    headers = await as_bank(office, VIETCOMBANK)
    line = other_line(VIETCOMBANK, 5_000_000, bank_reference="FT-CONFIRMED", description="Cap kinh phi")
    uploaded = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [line], opening=0)), "s.xml")
    assert uploaded.status_code == 201 and uploaded.json()["funding"] == 1, uploaded.text
    await office.be("lan.officer")
    refused = await office.post(f"/api/funding/{confirmed['id']}/reverse", json={"reason": "nhầm"})
    assert refused.status_code == 409 and "Sao kê của ngân hàng đã xác nhận" in refused.json()["detail"]
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM funding_reversal")) == 0
        assert await session.scalar(text(
            "SELECT count(*) FROM ledger_transfer WHERE code = 'funding.reversal'")) == 0


async def test_a_reversed_entry_is_not_matched_by_a_later_statement(office, engine):
    reversed_ = (await _fund(office, 7_000_000, "FT-GONE")).json()
    await office.be("lan.officer")
    assert (await office.post(f"/api/funding/{reversed_['id']}/reverse",
                              json={"reason": "ghi hai lần"})).status_code == 200
    headers = await as_bank(office, VIETCOMBANK)
    line = other_line(VIETCOMBANK, 7_000_000, bank_reference="FT-GONE", description="Cap kinh phi")
    uploaded = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [line], opening=0)), "s.xml")
    assert uploaded.status_code == 201, uploaded.text
    assert (uploaded.json()["funding"], uploaded.json()["exceptions"]) == (0, 1)


async def test_a_reversed_reference_is_not_recorded_again_and_a_reversal_waits_for_the_banks_import(office, engine):
    from uuid import UUID

    from app.payouts.service.funding import reverse_funding

    first = (await _fund(office, 3_000_000, "FT-AGAIN")).json()
    await office.be("lan.officer")
    assert (await office.post(f"/api/funding/{first['id']}/reverse", json={"reason": "sai số tiền"})).status_code == 200
    for amount in (3_000_000, 30_000_000):
        again = await _fund(office, amount, "FT-AGAIN")
        assert again.status_code == 409, again.text
        assert "đã được ghi rồi hủy" in again.json()["detail"] and "FT-AGAIN-2" in again.json()["detail"]
    assert (await _fund(office, 30_000_000, "FT-AGAIN-2")).status_code == 201

    # A statement import of the bank holds its lock: the reversal waits for it (here: gives up after 0.3 s).
    other = (await _fund(office, 4_000_000, "FT-WAIT")).json()
    async with engine.connect() as importer:  # its transaction holds the lock until it ends
        await importer.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                               {"key": f"statement_import:{VIETCOMBANK}"})
        async with session_scope(engine) as session:
            await session.execute(text("SET LOCAL lock_timeout = '300ms'"))
            with pytest.raises(Exception, match="lock timeout"):
                await reverse_funding(session, UUID(other["id"]), reason="nhầm", actor="lan.officer")
        await importer.rollback()
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM funding_reversal")) == 1
