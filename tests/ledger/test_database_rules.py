"""The database itself refuses what would corrupt the ledger, and verify finds tampering."""

from __future__ import annotations

from uuid import uuid4

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from ledger import AccountSpec, AccountType, TransferKind, create_transfer_arrays, verify_ledger
from tests.support.ledger import open_accounts

A, L = AccountType.asset, AccountType.liability


async def _pending_and_post(session):
    ids = await open_accounts(session, ("payable:b", L), ("bank:K", A))
    pending, post = uuid4(), uuid4()
    await create_transfer_arrays(session, ids=[pending], kind=TransferKind.pending, debit_account_ids=[ids["payable:b"]],
                                 credit_account_ids=[ids["bank:K"]], amounts=[750_000], code="send")
    await create_transfer_arrays(session, ids=[post], kind=TransferKind.post, pending_ids=[pending], code="match")
    await session.commit()
    return ids, pending, post


async def _refused(session, sql: str, params: dict | None = None) -> str:
    with pytest.raises(DBAPIError) as caught:
        async with session.begin_nested():
            await session.execute(text(sql), params or {})
    return str(caught.value.orig)


async def test_transfers_refuse_update_delete_truncate(session):
    _, pending, _ = await _pending_and_post(session)
    assert "append-only" in await _refused(session, "UPDATE ledger_transfer SET amount = 1 WHERE id = :id",
                                           {"id": pending})
    assert "append-only" in await _refused(session, "DELETE FROM ledger_transfer WHERE id = :id", {"id": pending})
    assert "append-only" in await _refused(session, "TRUNCATE ledger_transfer CASCADE")
    await create_transfer_arrays(session, ids=[uuid4()], kind=TransferKind.post, pending_ids=[pending], code="again")
    assert "append-only" in await _refused(session, "DELETE FROM ledger_transfer_failure")
    assert "append-only" in await _refused(session, "UPDATE ledger_transfer_failure SET result = 'ok'")
    amount = (await session.execute(text("SELECT amount FROM ledger_transfer WHERE id = :id"),
                                    {"id": pending})).scalar_one()
    assert amount == 750_000


async def test_second_post_of_a_pending_is_refused_by_unique_index(session):
    ids, pending, _ = await _pending_and_post(session)
    with pytest.raises(IntegrityError, match="ledger_transfer_resolved_once"):
        await session.execute(text(
            """INSERT INTO ledger_transfer (id, seq, kind, debit_account_id, credit_account_id, amount, pending_id,
                                            code, event_at, created_at, hash)
               VALUES (:id, 99, 'void', :debit, :credit, 750000, :pending, 'x', now(), now(),
                       decode(repeat('ab', 32), 'hex'))"""),
            {"id": uuid4(), "debit": ids["payable:b"], "credit": ids["bank:K"], "pending": pending})


async def test_trigger_refuses_a_resolution_that_does_not_match_its_pending(session):
    ids = await open_accounts(session, ("payable:b", L), ("bank:K", A))
    insert = text(
        """INSERT INTO ledger_transfer (id, seq, kind, debit_account_id, credit_account_id, amount, pending_id,
                                        code, event_at, created_at, hash)
           VALUES (:id, :seq, :kind, :debit, :credit, :amount, :pending, 'x', now(), now(),
                   decode(repeat('ab', 32), 'hex'))""")
    pending = uuid4()
    await session.execute(insert, {"id": pending, "seq": 1, "kind": "pending", "debit": ids["payable:b"],
                                   "credit": ids["bank:K"], "amount": 5, "pending": None})
    for kind, amount, pending_id in (("post", 6, pending), ("void", 5, uuid4())):
        with pytest.raises(IntegrityError, match="not a pending transfer with the same accounts and amount"):
            async with session.begin_nested():
                await session.execute(insert, {"id": uuid4(), "seq": 2, "kind": kind, "debit": ids["payable:b"],
                                               "credit": ids["bank:K"], "amount": amount, "pending": pending_id})
    with pytest.raises(IntegrityError, match="ledger_transfer_accounts_differ"):
        await session.execute(insert, {"id": uuid4(), "seq": 2, "kind": "single", "debit": ids["bank:K"],
                                       "credit": ids["bank:K"], "amount": 5, "pending": None})


async def test_verify_reports_a_transfer_to_a_missing_account(session):
    ids = await open_accounts(session, ("payable:b", L))
    await session.execute(text(
        """INSERT INTO ledger_transfer (id, seq, kind, debit_account_id, credit_account_id, amount, code, event_at,
                                        created_at, hash)
           VALUES (:id, 1, 'single', :debit, 777, 5, 'x', now(), now(), decode(repeat('ab', 32), 'hex'))"""),
        {"id": uuid4(), "debit": ids["payable:b"]})
    report = await verify_ledger(session)
    checks = {problem.check for problem in report.problems}
    assert {"account_missing", "account_totals", "chain_hash", "chain_head"} <= checks
    assert any("777" in p.message_en for p in report.problems if p.check == "account_missing")


async def test_account_limit_and_identity_are_enforced_by_the_database(session):
    await open_accounts(session, AccountSpec(code="wallet", type=L, debits_must_not_exceed_credits=True))
    message = await _refused(session, "UPDATE ledger_account SET debits_pending = 1 WHERE code = 'wallet'")
    assert "ledger_account_debits_within_credits" in message
    assert "immutable" in await _refused(session, "UPDATE ledger_account SET code = 'other' WHERE code = 'wallet'")
    assert "append-only" in await _refused(session, "DELETE FROM ledger_account WHERE code = 'wallet'")


async def test_verify_finds_tampering_behind_the_triggers(session):
    ids, pending, post = await _pending_and_post(session)
    await create_transfer_arrays(session, ids=[uuid4()], debit_account_ids=[ids["bank:K"]],
                                 credit_account_ids=[ids["payable:b"]], amounts=[10], code="refund")
    assert (await verify_ledger(session)).ok
    # a superuser bypasses the append-only triggers and rewrites history
    await session.execute(text("SET LOCAL session_replication_role = replica"))
    await session.execute(text("UPDATE ledger_transfer SET amount = 740000 WHERE id = :id"), {"id": pending})
    await session.execute(text("SET LOCAL session_replication_role = origin"))
    report = await verify_ledger(session)
    assert not report.ok
    checks = {problem.check for problem in report.problems}
    assert {"chain_hash", "pending_resolution", "account_totals"} <= checks
    broken = [p for p in report.problems if p.check == "chain_hash"]
    assert [p.transfer for p in broken] == [str(pending)]
    totals = [p for p in report.problems if p.check == "account_totals"]
    assert {p.account for p in totals} == {"payable:b", "bank:K"}
    # the pending now holds 740,000 but its post released 750,000
    assert any("its transfers add up to -10000" in p.message_en for p in totals)


async def test_verify_reports_running_totals_changed_without_transfers(session):
    await _pending_and_post(session)
    await session.execute(text("UPDATE ledger_account SET credits_posted = credits_posted + 1 WHERE code = 'payable:b'"))
    report = await verify_ledger(session)
    assert not report.ok
    assert {p.check for p in report.problems} == {"account_totals", "debits_equal_credits"}
