"""Each programme's budget is its own appropriation: send checks funding per (programme, bank), as well as
the bank's pooled disbursement account, and money a bank returns is the returned payout's programme's again."""

from __future__ import annotations

import dataclasses
from datetime import date

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.ledger_steps import bank_shortfalls
from app.registry.fake import BeneficiaryFaker, FakePerson
from ledger import verify_ledger
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, debit, returned, sent_payouts, statement, upload
from tests.support.ledger import totals, usage_by_place
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office, person

TGXH_AMOUNT = 650_000  # NCT_80 in Hà Nội: 650,000 × 1.0
NCC_AMOUNT = 8_367_000  # MVNAH (Vietnamese Heroic Mother): 2,789,000 × 3.0
BANK_ACCOUNT = f"bank:{VIETCOMBANK}:disbursement"


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


def heroic_mother(faker: BeneficiaryFaker) -> FakePerson:
    """An NCC beneficiary (MVNAH) with an account at Vietcombank, paid from 2026-01."""
    base = faker.person(commune_code=HANOI_COMMUNE, with_bank=False, category=("NCC", "MVNAH"))
    bank_bin, number = faker.account(VIETCOMBANK)
    return dataclasses.replace(base, start_month=date(2026, 1, 1), bank_bin=bank_bin, account_number=number,
                               holder_name=base.full_name.upper())


def _shortfall(needed: int, *, programme: str, funded: int, used: int, pooled: int) -> dict:
    budget = funded - used
    available = min(budget, pooled)
    return {"bank_bin": VIETCOMBANK, "bank_name": "Vietcombank", "needed": needed, "available": available,
            "shortfall": needed - available, "programme": programme,
            "programme_budget": {"programme": programme, "funded": funded, "used": used, "available": budget,
                                 "needed": needed, "shortfall": max(needed - budget, 0)},
            "disbursement_account": {"account": BANK_ACCOUNT, "available": pooled, "needed": needed,
                                     "shortfall": max(needed - pooled, 0)}}


async def test_tgxh_funding_does_not_pay_an_ncc_run_until_ncc_is_funded(office, engine):
    faker = BeneficiaryFaker(seed=31)
    await office.import_people([person(faker, category="NCT_80"), heroic_mother(faker)])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 20_000_000, "FT-TGXH-1", programme="TGXH")).status_code == 201

    ncc = await office.approved_run("2026-03", "NCC")
    refused = await office.post(f"/api/payout-runs/{ncc}/send")
    assert refused.status_code == 409
    assert refused.headers["content-type"].startswith("application/problem+json")
    body = refused.json()
    # The bank's account holds 20,000,000 (TGXH's), but NCC has nothing there.
    assert body["shortfall"] == [_shortfall(NCC_AMOUNT, programme="NCC", funded=0, used=0, pooled=20_000_000)]
    assert body["detail"].startswith("Chưa đủ kinh phí của chương trình NCC tại ngân hàng để chi: "
                                     "Vietcombank thiếu 8.367.000 đ")
    assert "insufficient funding for programme NCC at: Vietcombank short 8,367,000 đồng (needed 8,367,000 đồng" in body["detail"]
    async with session_scope(engine) as session:
        status = await session.scalar(text("SELECT status FROM payout_run WHERE id = :id"), {"id": ncc})
        assert status == "approved"
        assert await totals(session, BANK_ACCOUNT) == (20_000_000, 0, 0, 0)  # nothing reserved

    # Part of it is not enough: the shortfall is what NCC still lacks at the bank.
    assert (await office.fund(VIETCOMBANK, 8_000_000, "FT-NCC-1", programme="NCC")).status_code == 201
    short = await office.post(f"/api/payout-runs/{ncc}/send")
    assert short.status_code == 409
    assert short.json()["shortfall"] == [_shortfall(NCC_AMOUNT, programme="NCC", funded=8_000_000, used=0,
                                                    pooled=28_000_000)]
    assert short.json()["shortfall"][0]["shortfall"] == 367_000
    assert (await office.fund(VIETCOMBANK, 367_000, "FT-NCC-2", programme="NCC")).status_code == 201
    sent = await office.post(f"/api/payout-runs/{ncc}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent" and sent.json()["by_status"] == {"sent": 1}

    # TGXH's own run is still covered by TGXH's funding.
    tgxh = await office.approved_run("2026-03", "TGXH")
    async with session_scope(engine) as session:
        assert await bank_shortfalls(session, tgxh) == []
    assert (await office.post(f"/api/payout-runs/{tgxh}/send")).status_code == 200
    async with session_scope(engine) as session:
        assert await totals(session, BANK_ACCOUNT) == (28_367_000, 0, 0, NCC_AMOUNT + TGXH_AMOUNT)
        report = await verify_ledger(session)
    assert report.ok, report.problems


async def test_another_programmes_money_in_the_pool_does_not_cover_a_spent_budget(office, engine):
    """TGXH spent what it had at the bank; NCC's funding there does not pay TGXH's next month."""
    faker = BeneficiaryFaker(seed=32)
    await office.import_people([person(faker, category="NCT_80")])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, TGXH_AMOUNT, "FT-TGXH-1")).status_code == 201
    await office.run_cycle("2026-03")
    assert (await office.fund(VIETCOMBANK, 5_000_000, "FT-NCC-1", programme="NCC")).status_code == 201

    april = await office.approved_run("2026-04", "TGXH")
    refused = await office.post(f"/api/payout-runs/{april}/send")
    assert refused.status_code == 409
    assert refused.json()["shortfall"] == [_shortfall(TGXH_AMOUNT, programme="TGXH", funded=TGXH_AMOUNT,
                                                      used=TGXH_AMOUNT, pooled=5_000_000)]


async def test_money_returned_on_tgxh_payouts_is_tgxh_s_to_send_again(office, engine):
    """One payout credited and then returned (a reversing transfer), one returned before it was credited
    (the pending reservation voided): both amounts are TGXH's to use at the bank again."""
    faker = BeneficiaryFaker(seed=33)
    await office.import_people([person(faker, category="NCT_80"), person(faker, category="NCT_80")])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 2 * TGXH_AMOUNT, "FT-TGXH-1")).status_code == 201
    await office.run_cycle("2026-03")
    assert (await office.fund(VIETCOMBANK, 5_000_000, "FT-NCC-1", programme="NCC")).status_code == 201
    april = await office.approved_run("2026-04", "TGXH")
    before = await office.post(f"/api/payout-runs/{april}/send")
    assert before.status_code == 409
    assert before.json()["shortfall"] == [_shortfall(2 * TGXH_AMOUNT, programme="TGXH", funded=2 * TGXH_AMOUNT,
                                                     used=2 * TGXH_AMOUNT, pooled=5_000_000)]

    march = await sent_payouts(office)
    assert len(march) == 2
    headers = await as_bank(office, VIETCOMBANK)
    # Codes that leave the accounts usable (AC04, AC01 would block them, and send would then withhold April).
    lines = [debit(march[0]), returned(march[0], "MS03"), returned(march[1], "MS02")]
    uploaded = await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "sao-ke.xml")
    assert uploaded.status_code == 201, uploaded.text
    assert uploaded.json()["returned"] == 2
    async with session_scope(engine) as session:
        statuses = await session.scalar(text(
            "SELECT array_agg(DISTINCT p.status) FROM payout p JOIN payout_run r ON r.id = p.run_id "
            "WHERE r.period = DATE '2026-03-01'"))
        assert statuses == ["returned"]
        assert await bank_shortfalls(session, april) == []
        # Both returns gave their amounts back to what TGXH took at the bank.
        kept, summed = await usage_by_place(session)
        assert kept == summed == {}

    await office.be("lan.officer")
    sent = await office.post(f"/api/payout-runs/{april}/send")
    assert sent.status_code == 200, sent.text
    assert sent.json()["status"] == "sent"
    async with session_scope(engine) as session:
        # 1,300,000 TGXH + 5,000,000 NCC in, the credited-then-returned payout reversed back in; the voided
        # one no longer reserved; April's two payouts reserved.
        assert await totals(session, BANK_ACCOUNT) == (
            2 * TGXH_AMOUNT + 5_000_000 + TGXH_AMOUNT, TGXH_AMOUNT, 0, 2 * TGXH_AMOUNT)
        kept, summed = await usage_by_place(session)
        assert kept == summed == {("TGXH", True, VIETCOMBANK): 2 * TGXH_AMOUNT}
        report = await verify_ledger(session)
    assert report.ok, report.problems


async def test_two_sends_of_one_programme_at_once_cannot_both_spend_one_budget(office, engine):
    """The budget check and the run's move to sending are serialised per programme: two runs sent at the same
    moment against funding for one of them send one and refuse the other (the pool holds enough for both)."""
    import asyncio
    from uuid import UUID

    from app.payouts.service.errors import Conflict
    from app.payouts.service.ledger_steps import send_run

    faker = BeneficiaryFaker(seed=17)
    await office.import_people([person(faker, category="NCT_80")])
    await office.register_disbursement(VIETCOMBANK)
    march = await office.approved_run("2026-03", "TGXH")
    april = await office.approved_run("2026-04", "TGXH")
    async with session_scope(engine) as session:
        needed = [(await bank_shortfalls(session, UUID(run)))[0]["needed"] for run in (march, april)]
    assert min(needed) > 0
    assert (await office.fund(VIETCOMBANK, max(needed), "FT-TGXH-ONE")).status_code == 201
    assert (await office.fund(VIETCOMBANK, 50_000_000, "FT-NCC-POOL", programme="NCC")).status_code == 201

    outcomes = await asyncio.gather(*(send_run(engine, UUID(run), actor="lan.officer") for run in (march, april)),
                                    return_exceptions=True)
    assert sorted(type(o).__name__ for o in outcomes) == ["Conflict", "NoneType"], outcomes
    refused = next(o for o in outcomes if isinstance(o, Conflict))
    assert "TGXH" in str(refused)
    async with session_scope(engine) as session:
        statuses = dict((await session.execute(text(
            "SELECT id::text, status FROM payout_run WHERE id::text = ANY(:ids)"), {"ids": [march, april]})).all())
        sent = await session.scalar(text(
            "SELECT coalesce(sum(p.amount), 0) FROM payout p WHERE p.run_id::text = ANY(:ids) AND p.status = 'sent'"),
            {"ids": [march, april]})
        report = await verify_ledger(session)
    assert sorted(statuses.values()) == ["approved", "sent"]
    assert sent <= max(needed)  # never more than TGXH's own funding
    async with session_scope(engine) as session:
        kept, summed = await usage_by_place(session)
    assert kept == summed == {("TGXH", True, VIETCOMBANK): sent}
    assert report.ok, report.problems
