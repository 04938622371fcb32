"""The allocation continued from each person's frontier, checked only against the changes the caller noted,
is the from-scratch FIFO of their whole history: a random walk of bank and commune withdrawals (some
back-dated, some before anything arrived), cancellations, credits (some dated before earlier credits)
and returns after use, compared after every step with a recompute from zero."""

from __future__ import annotations

import random
from datetime import timedelta
from uuid import UUID

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.ledger_steps import payout_transfer_id, send_run
from app.registry.fake import BeneficiaryFaker
from ledger import TransferKind, TransferResult, create_transfer_arrays, verify_ledger
from reconciliation import withdrawals
from reconciliation.withdrawal_files import WithdrawalRow
from reconciliation.withdrawals import (
    CommuneWithdrawal,
    cancel_commune_withdrawal,
    note_changes,
    reallocate,
    reallocate_noted,
    record_bank_withdrawals,
    record_commune_withdrawal,
    record_commune_withdrawals,
)
from tests.support.withdrawal_world import T0
from tests.support.world import VIETCOMBANK, Office, person

SNAPSHOT = """
    SELECT (SELECT array_agg((a.payout_id, a.withdrawal_id, a.amount, a.effective_at)
                             ORDER BY a.payout_id, a.withdrawal_id) FROM withdrawal_allocation a)::text,
           (SELECT array_agg((id, first_withdrawal_at, withdrawn_at) ORDER BY id) FROM payout)::text,
           (SELECT array_agg((beneficiary_id, credited, drawn) ORDER BY beneficiary_id) FROM undrawn_position)::text
"""


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _assert_from_scratch(session, label: str) -> None:
    """The allocation as it stands equals a recompute of everyone from zero (which is then undone), read
    both ways: joined with the whole payout and withdrawal tables (a large scope) and person by person."""
    incremental = (await session.execute(text(SNAPSHOT))).one()
    default = withdrawals.BY_PERSON_BELOW
    try:
        for threshold in (0, 10**9):
            withdrawals.BY_PERSON_BELOW = threshold
            scratch = await session.begin_nested()
            await session.execute(text("DELETE FROM allocation_frontier"))
            await reallocate(session, None)
            assert (await session.execute(text(SNAPSHOT))).one() == incremental, (label, threshold)
            await scratch.rollback()
    finally:
        withdrawals.BY_PERSON_BELOW = default


async def _handover(engine, who: UUID, at, amount: int = 650_000) -> None:
    async with session_scope(engine) as session:
        await record_commune_withdrawal(session, beneficiary_id=who, occurred_at=at, amount=amount,
                                        channel="cash_handover", helper_name="Cán bộ xã", note="", recorded_by="test")


async def _arrival(session, payout_id: UUID, at, *, returned: bool) -> None:
    """Credit a sent payout as the statement import does (ledger, status), or return a sent or credited one
    (status only: the walk is about the allocation), then note the change and reallocate the person."""
    if not returned:
        results = await create_transfer_arrays(
            session, ids=[payout_transfer_id(payout_id, "credit")], code="payout.credit", kind=TransferKind.post,
            pending_ids=[payout_transfer_id(payout_id, "send")])
        assert all(r in (TransferResult.ok, TransferResult.exists) for r in results), results
    changed = await session.scalar(text(
        """UPDATE payout SET status = CASE WHEN :returned THEN 'returned' ELSE 'credited' END,
                  credited_at = CASE WHEN :returned THEN credited_at ELSE :at END,
                  returned_at = CASE WHEN :returned THEN :at END
            WHERE id = :id AND status IN ('sent', 'credited') RETURNING beneficiary_id"""),
        {"returned": returned, "at": at, "id": payout_id})
    assert changed is not None
    await note_changes(session, payout_ids=[payout_id])
    await reallocate_noted(session)


async def _people_with_payouts(office, engine, count: int, periods: tuple[str, ...]):
    """``count`` people paid by bank for each period (sent, not credited): their ids by account number, and the
    sent payouts (id, person) in order."""
    faker = BeneficiaryFaker(seed=23)
    people = [person(faker, category="NCT_80", start="2026-03") for _ in range(count)]
    await office.import_people(people)
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 50_000_000, "NS-2026")).status_code in (200, 201)
    for period in periods:
        await office.run_cycle(period)
    async with session_scope(engine) as session:
        ids = {r.national_id: r.id for r in (await session.execute(text(
            "SELECT id, national_id FROM beneficiary"))).all()}
        sent = [(r.id, r.beneficiary_id) for r in (await session.execute(text(
            "SELECT id, beneficiary_id FROM payout WHERE status = 'sent' ORDER BY serial"))).all()]
    return {ids[p.national_id]: p.account_number for p in people}, sent


async def test_money_withdrawn_before_it_arrived_waits_behind_a_frontier_and_counts_at_the_next_credit(office, engine):
    accounts, sent = await _people_with_payouts(office, engine, 1, ("2026-03", "2026-04"))
    (who, account), = accounts.items()
    (march, _), (april, _) = sent

    async def bank(ref: str, at, amount: int) -> None:
        async with session_scope(engine) as session:
            await record_bank_withdrawals(session, bank_bin=VIETCOMBANK, recorded_by="test", rows=[WithdrawalRow(
                row=1, account_number=account, occurred_at=at, amount=amount, channel="atm", bank_ref=ref)])

    async with session_scope(engine) as session:
        await _arrival(session, march, T0, returned=False)
    await bank("W-1", T0 + timedelta(days=1), 650_000)  # uses March up: every withdrawal used, frontier saved
    await bank("W-2", T0 + timedelta(days=2), 300_000)  # nothing left: it waits behind the frontier
    async with session_scope(engine) as session:
        await _arrival(session, april, T0 + timedelta(days=30), returned=False)
        row = (await session.execute(text(
            "SELECT first_withdrawal_at, withdrawn_at FROM payout WHERE id = :id"), {"id": april})).one()
        assert row.first_withdrawal_at == T0 + timedelta(days=30) and row.withdrawn_at is None
        assert await session.scalar(text(
            "SELECT sum(amount) FROM withdrawal_allocation WHERE payout_id = :id"), {"id": april}) == 300_000
        frontier = (await session.execute(text(
            "SELECT allocated, withdrawn FROM allocation_frontier WHERE beneficiary_id = :b"), {"b": who})).one()
        assert (frontier.allocated, frontier.withdrawn) == (950_000, 950_000)


@pytest.mark.parametrize("by_person", [True, False], ids=["by_person", "joined"])
async def test_noted_changes_continue_to_the_from_scratch_allocation(office, engine, monkeypatch, by_person):
    # Each step reallocates a few people: by person, as it would; or joined with the whole tables, as a scope of
    # BY_PERSON_BELOW people or more is.
    monkeypatch.setattr(withdrawals, "BY_PERSON_BELOW", 10**9 if by_person else 0)
    accounts, sent = await _people_with_payouts(office, engine, 3, ("2026-03", "2026-04", "2026-05", "2026-06",
                                                                    "2026-07"))
    rng = random.Random(20261130)
    commune_withdrawals: list[tuple[UUID, int]] = []
    credited: list[UUID] = []
    peak = 0
    seen = {"bank": 0, "commune": 0, "cancel": 0, "credit": 0, "return": 0, "return_after_credit": 0}
    for step in range(80):
        moment = T0 + timedelta(hours=rng.randrange(-72, 24 * 80))
        who = rng.choice(list(accounts))
        choice = rng.random()
        async with session_scope(engine) as session:
            if choice < 0.3:
                rows = [WithdrawalRow(row=i + 1, account_number=accounts[who], amount=rng.choice((100_000, 650_000, 900_000)),
                                      occurred_at=moment + timedelta(hours=i), channel="atm", bank_ref=f"R{step}-{i}")
                        for i in range(rng.randint(1, 2))]
                await record_bank_withdrawals(session, bank_bin=VIETCOMBANK, rows=rows, recorded_by="test")
                seen["bank"] += 1
            elif choice < 0.42:
                (withdrawal_id,) = await record_commune_withdrawals(session, [CommuneWithdrawal(
                    beneficiary_id=who, occurred_at=moment, amount=rng.choice((200_000, 650_000)),
                    channel="assisted", helper_name="Cán bộ xã", note="", recorded_by="test")])
                commune_withdrawals.append((who, withdrawal_id))
                seen["commune"] += 1
            elif choice < 0.5 and commune_withdrawals:
                person_id, withdrawal_id = commune_withdrawals.pop(rng.randrange(len(commune_withdrawals)))
                # A bank's feed may have confirmed the record already (the same person and amount within a day:
                # cancelled, superseded by the bank's row): then there is nothing left to cancel.
                if await session.scalar(text("SELECT superseded_by FROM withdrawal_cancellation "
                                             "WHERE withdrawal_id = :id"), {"id": withdrawal_id}) is None:
                    await cancel_commune_withdrawal(session, beneficiary_id=person_id, withdrawal_id=withdrawal_id,
                                                    reason="ghi nhầm", cancelled_by="test")
                    seen["cancel"] += 1
            elif credited and rng.random() < 0.12:
                await _arrival(session, credited.pop(rng.randrange(len(credited))), moment, returned=True)
                seen["return_after_credit"] += 1
            elif sent:
                payout_id, _ = sent.pop(rng.randrange(len(sent)))
                returned = rng.random() < 0.1
                await _arrival(session, payout_id, moment, returned=returned)
                if not returned:
                    credited.append(payout_id)
                seen["return" if returned else "credit"] += 1
            peak = max(peak, int(await session.scalar(text("SELECT count(*) FROM withdrawal_allocation"))))
            await _assert_from_scratch(session, f"step {step}")
    async with session_scope(engine) as session:
        report = await verify_ledger(session)
        assert report.ok, report.problems
    assert peak >= 10
    assert min(seen.values()) > 0, seen


async def test_cash_sent_to_the_commune_is_allocated_at_send_even_when_dated_before_the_frontier(office, engine):
    """A cash payout arrives when it is sent to the commune; send reallocates the person in its transaction,
    so a send dated before where their allocation stands (a later run sent with an earlier date) is seen."""
    faker = BeneficiaryFaker(seed=5)
    cash = person(faker, category="NCT_80", start="2026-03", bank=None)
    await office.import_people([cash])
    who = UUID(await office.beneficiary_id(cash.national_id))
    march = await office.approved_run("2026-03")
    await office.fund_cash(march)
    await send_run(engine, UUID(march), actor="lan.officer", sent_at=T0 + timedelta(days=10))
    await _handover(engine, who, T0 + timedelta(days=11))  # uses March up: the frontier is at March
    april = await office.approved_run("2026-04")
    await office.fund_cash(april)
    await send_run(engine, UUID(april), actor="lan.officer", sent_at=T0 + timedelta(days=5))
    await _handover(engine, who, T0 + timedelta(days=12))
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT credited FROM undrawn_position WHERE beneficiary_id = :b"),
                                    {"b": who}) == 1_300_000
        assert await session.scalar(text("SELECT count(*) FROM withdrawal_allocation WHERE beneficiary_id = :b"),
                                    {"b": who}) == 2
        await _assert_from_scratch(session, "cash")


async def test_two_transactions_noting_one_person_at_once_give_the_from_scratch_allocation(office, engine):
    """Reallocations take turns on a lock and each sees what the other committed: a withdrawal noted by one
    transaction while another credits the person (or moves their frontier past it) is still counted right."""
    accounts, sent = await _people_with_payouts(office, engine, 1, ("2026-03", "2026-04", "2026-05"))
    (who, _), = accounts.items()
    (march, _), (april, _), (may, _) = sent
    async with session_scope(engine) as session:
        await _arrival(session, march, T0, returned=False)
    await _handover(engine, who, T0 + timedelta(days=1))  # March used up: every withdrawal used

    async def noted_withdrawal(session, at, amount: int) -> None:
        ids = (await session.execute(text(
            """INSERT INTO withdrawal (source, beneficiary_id, occurred_at, amount, channel, recorded_by, helper_name)
               VALUES ('commune', :b, :at, :amount, 'assisted', 'test', 'Cán bộ xã') RETURNING id"""),
            {"b": who, "at": at, "amount": amount})).scalars().all()
        await note_changes(session, withdrawal_ids=list(ids))

    async with session_scope(engine) as b:  # noted, not yet reallocated, while April is credited
        await noted_withdrawal(b, T0 + timedelta(days=3), 650_000)
        async with session_scope(engine) as a:
            await _arrival(a, april, T0 + timedelta(days=2), returned=False)
        await reallocate_noted(b)
    async with session_scope(engine) as session:
        await _assert_from_scratch(session, "credit meanwhile")
    async with session_scope(engine) as b:  # noted at T0+4d while May and a T0+5d withdrawal move the frontier
        await noted_withdrawal(b, T0 + timedelta(days=4), 300_000)
        async with session_scope(engine) as a:
            await _arrival(a, may, T0 + timedelta(days=3), returned=False)
        await _handover(engine, who, T0 + timedelta(days=5), amount=200_000)
        await reallocate_noted(b)
    async with session_scope(engine) as session:
        await _assert_from_scratch(session, "frontier moved past the noted withdrawal")
