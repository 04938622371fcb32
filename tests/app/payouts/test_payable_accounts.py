"""Payable accounts: opened when the person is registered (migration 0020), credited by approval; a code
taken by another kind of account stops approval; people whose accounts are missing (rows written around
the registration trigger) still get them at approval."""

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
from tests.support.world import Office, person, register_by_sql

PEOPLE = 9


_CONFLICTING = "5b0c7a52-3c1e-4f7e-9d0a-6f1b2c3d4e5f"


async def _register_with_taken_code(engine, faker: BeneficiaryFaker) -> None:
    """One more person, registered (with a known id) after their payable code went to an asset account."""
    async with session_scope(engine) as session:
        await ensure_accounts(session, [AccountSpec(code=f"payable:beneficiary:{_CONFLICTING}", type=AccountType.asset)])
        await register_by_sql(session, [person(faker)], [_CONFLICTING])


async def _computed_run(client, engine, *, conflicting: bool = False) -> tuple[UUID, list[str]]:
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=47)
    await office.import_people([person(faker) for _ in range(PEOPLE - conflicting)])
    if conflicting:
        await _register_with_taken_code(engine, faker)
    async with session_scope(engine) as session:
        people = [str(b) for b in (await session.scalars(text("SELECT id FROM beneficiary ORDER BY id"))).all()]
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    await compute_run(engine, run_id, actor="lan.officer", chunk_size=2, writers=2)
    return run_id, people


async def _payables(engine) -> dict[str, tuple[str, int, int]]:
    async with session_scope(engine) as session:
        rows = (await session.execute(text(
            """SELECT substr(code, 21) AS person, type, credits_posted, debits_posted FROM ledger_account
                WHERE code LIKE 'payable:beneficiary:%'"""))).all()
    return {r.person: (r.type, r.credits_posted, r.debits_posted) for r in rows}


async def test_registration_opens_every_payable_account_and_approval_credits_it(client, engine):
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
    assert len(people) == PEOPLE and payables[_CONFLICTING] == ("asset", 0, 0)  # registration left it as it was
    with pytest.raises(AccountConflict) as refused:
        await approve_run(engine, run_id, actor="minh.approver", chunk_size=4)
    assert refused.value.codes == [f"payable:beneficiary:{_CONFLICTING}"]
    # Approval goes in payout id order, four at a time: the chunks before the conflict's were posted and
    # committed, the chunk holding it was not, nor any after it.
    async with session_scope(engine) as session:
        order = [str(b) for b in (await session.scalars(text(
            "SELECT beneficiary_id FROM payout WHERE run_id = :r ORDER BY id"), {"r": run_id})).all()]
        credited = (await session.scalars(text(
            """SELECT substr(code, 21) FROM ledger_account WHERE code LIKE 'payable:beneficiary:%'
                AND credits_posted > 0"""))).all()
    assert sorted(credited) == sorted(order[:order.index(_CONFLICTING) // 4 * 4])


async def test_approval_opens_the_accounts_people_registered_around_the_trigger_lack(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=48)
    async with session_scope(engine) as session:  # as if written before migration 0020, and not backfilled
        await session.execute(text("SET LOCAL session_replication_role = replica"))  # no triggers fire
        await register_by_sql(session, [person(faker) for _ in range(3)])
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    await compute_run(engine, run_id, actor="lan.officer", chunk_size=2, writers=1)
    assert await _payables(engine) == {}
    await approve_run(engine, run_id, actor="minh.approver", chunk_size=2)
    payables = await _payables(engine)
    assert len(payables) == 3 and set(payables.values()) == {("liability", 650_000, 0)}
