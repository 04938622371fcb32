"""Payable accounts: opened by compute's writers, credited by approval; a code taken by another kind of
account stops approval; a run whose accounts are missing (computed before they were opened there) still
gets them at approval."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.compute import compute_run
from app.payouts.service.ledger_steps import approve_run
from app.registry.fake import BeneficiaryFaker
from ledger import AccountConflict, AccountSpec, AccountType, ensure_accounts
from tests.support.ledger import totals
from tests.support.world import Office, person

PEOPLE = 9


async def _computed_run(client, engine, *, conflicting: bool = False) -> tuple[UUID, list[str]]:
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=47)
    await office.import_people([person(faker) for _ in range(PEOPLE)])
    async with session_scope(engine) as session:
        people = [str(b) for b in (await session.scalars(text("SELECT id FROM beneficiary ORDER BY id"))).all()]
        if conflicting:  # the fifth person's payable code already names an asset account
            await ensure_accounts(session, [AccountSpec(code=f"payable:beneficiary:{people[4]}",
                                                        type=AccountType.asset)])
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    await compute_run(engine, run_id, actor="lan.officer", chunk_size=2, writers=2)
    return run_id, people


async def _payables(engine) -> dict[str, tuple[str, int, int]]:
    async with session_scope(engine) as session:
        rows = (await session.execute(text(
            """SELECT substr(code, 21) AS person, type, credits_posted, debits_posted FROM ledger_account
                WHERE code LIKE 'payable:beneficiary:%'"""))).all()
    return {r.person: (r.type, r.credits_posted, r.debits_posted) for r in rows}


async def test_compute_opens_every_payable_account_and_approval_credits_it(client, engine):
    run_id, people = await _computed_run(client, engine)
    assert await _payables(engine) == {p: ("liability", 0, 0) for p in people}  # opened, nothing posted yet
    await approve_run(engine, run_id, actor="minh.approver", chunk_size=4)
    async with session_scope(engine) as session:
        amounts = dict((await session.execute(text(
            "SELECT CAST(beneficiary_id AS text), amount FROM payout WHERE run_id = :r"), {"r": run_id})).all())
        assert await totals(session, "expense:TGXH") == (sum(amounts.values()), 0, 0, 0)
    assert await _payables(engine) == {p: ("liability", amounts[p], 0) for p in people}


async def test_a_payable_code_taken_by_another_account_type_stops_approval(client, engine):
    run_id, people = await _computed_run(client, engine, conflicting=True)
    payables = await _payables(engine)
    assert payables[people[4]] == ("asset", 0, 0)  # compute left the existing account as it was
    with pytest.raises(AccountConflict) as refused:
        await approve_run(engine, run_id, actor="minh.approver", chunk_size=4)
    assert refused.value.codes == [f"payable:beneficiary:{people[4]}"]
    # Approval goes in payout id order, four at a time: the chunks before the conflict's were posted and
    # committed, the chunk holding it was not, nor any after it.
    async with session_scope(engine) as session:
        order = [str(b) for b in (await session.scalars(text(
            "SELECT beneficiary_id FROM payout WHERE run_id = :r ORDER BY id"), {"r": run_id})).all()]
        credited = (await session.scalars(text(
            """SELECT substr(code, 21) FROM ledger_account WHERE code LIKE 'payable:beneficiary:%'
                AND credits_posted > 0"""))).all()
    assert sorted(credited) == sorted(order[:order.index(people[4]) // 4 * 4])


async def test_approval_opens_the_accounts_a_run_computed_without_them_lacks(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=48)
    await office.import_people([person(faker) for _ in range(3)])
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    async with session_scope(engine) as session:  # a run as compute wrote it before it opened the accounts
        await session.execute(text(
            """INSERT INTO payout (id, run_id, serial, reference, beneficiary_id, commune_code, channel, bank_account_id,
                                   bank_bin, account_number, holder_name, amount, status)
               SELECT gen_random_uuid(), :run, nextval('payout_serial'), 'LEGACY' || currval('payout_serial'), b.id,
                      b.commune_code, 'bank', a.id, a.bank_bin, a.account_number, a.holder_name, 650000, 'scheduled'
                 FROM beneficiary b JOIN bank_account a ON a.beneficiary_id = b.id"""), {"run": run_id})
        await session.execute(text(
            """UPDATE payout_run SET status = 'computed', prepared_by = 'lan.officer', computed_at = now(),
                      payout_count = 3, total_amount = 1950000 WHERE id = :run"""), {"run": run_id})
    assert await _payables(engine) == {}
    await approve_run(engine, run_id, actor="minh.approver", chunk_size=2)
    payables = await _payables(engine)
    assert len(payables) == 3 and set(payables.values()) == {("liability", 650_000, 0)}
