"""create_transfers: kinds, idempotency, sticky failures, limits, batches, reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from sqlalchemy import text

from ledger import (
    AccountConflict,
    AccountCreated,
    AccountSpec,
    AccountSpecError,
    AccountType,
    Transfer,
    TransferKind,
    TransferResult,
    account_ids,
    account_transfers,
    balance_as_of,
    create_accounts,
    create_transfer_arrays,
    create_transfers,
    ensure_accounts,
    get_transfers,
    new_transfer_id,
    transfer_failures,
    verify_ledger,
)
from tests.support.ledger import open_accounts, totals

R = TransferResult
A, L, E = AccountType.asset, AccountType.liability, AccountType.expense


async def test_single_transfer_moves_posted_totals_and_chains(session):
    ids = await open_accounts(session, ("expense:P", E), ("payable:beneficiary:b1", L))
    first, second = new_transfer_id(), new_transfer_id()
    results = await create_transfers(session, [
        Transfer(id=first, debit_account_id=ids["expense:P"], credit_account_id=ids["payable:beneficiary:b1"],
                 amount=750_000, code="payout.approve", reference="AS0000000001", metadata={"run": 7}),
        Transfer(id=second, debit_account_id=ids["expense:P"], credit_account_id=ids["payable:beneficiary:b1"],
                 amount=250_000, code="payout.approve"),
    ])
    assert results == [R.ok, R.ok]
    assert await totals(session, "expense:P") == (1_000_000, 0, 0, 0)
    assert await totals(session, "payable:beneficiary:b1") == (0, 1_000_000, 0, 0)
    stored = await get_transfers(session, [first, second])
    assert stored[first].metadata == {"run": 7} and stored[first].reference == "AS0000000001"
    assert (stored[first].seq, stored[second].seq) == (1, 2)
    head = (await session.execute(text("SELECT last_seq FROM ledger_chain"))).scalar_one()
    assert head == 2
    report = await verify_ledger(session)
    assert report.ok, report.problems
    assert (report.accounts, report.transfers) == (2, 2)


async def test_pending_then_post_and_void(session):
    ids = await open_accounts(session, ("payable:beneficiary:b1", L), ("bank:970436:disbursement", A))
    payable, bank = ids["payable:beneficiary:b1"], ids["bank:970436:disbursement"]
    to_post, to_void = uuid4(), uuid4()
    assert await create_transfer_arrays(
        session, ids=[to_post, to_void], kind=TransferKind.pending, debit_account_ids=[payable, payable],
        credit_account_ids=[bank, bank], amounts=[500_000, 300_000], code="payout.send",
    ) == [R.ok, R.ok]
    assert await totals(session, "payable:beneficiary:b1") == (0, 0, 800_000, 0)
    assert await totals(session, "bank:970436:disbursement") == (0, 0, 0, 800_000)

    post_id, void_id = uuid4(), uuid4()
    results = await create_transfer_arrays(
        session, ids=[post_id, void_id], kind=[TransferKind.post, TransferKind.void], pending_ids=[to_post, to_void],
        code="statement.match",
    )
    assert results == [R.ok, R.ok]
    assert await totals(session, "payable:beneficiary:b1") == (500_000, 0, 0, 0)
    assert await totals(session, "bank:970436:disbursement") == (0, 500_000, 0, 0)
    stored = await get_transfers(session, [post_id, void_id])
    assert (stored[post_id].debit_account_id, stored[post_id].amount) == (payable, 500_000)
    assert stored[void_id].amount == 300_000

    again = await create_transfer_arrays(session, ids=[uuid4(), uuid4()], kind=[TransferKind.void, TransferKind.post],
                                         pending_ids=[to_post, to_void], code="statement.match")
    assert again == [R.pending_transfer_already_posted, R.pending_transfer_already_voided]
    assert (await verify_ledger(session)).ok


async def test_post_and_void_checks_against_the_pending(session):
    ids = await open_accounts(session, ("a", A), ("b", L), ("c", L))
    pending = uuid4()
    single = uuid4()
    assert await create_transfers(session, [
        Transfer(id=pending, kind=TransferKind.pending, debit_account_id=ids["a"], credit_account_id=ids["b"],
                 amount=100, code="hold"),
        Transfer(id=single, debit_account_id=ids["a"], credit_account_id=ids["b"], amount=5, code="pay"),
    ]) == [R.ok, R.ok]
    results = await create_transfers(session, [
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=uuid4(), code="post"),
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=single, code="post"),
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=pending, amount=99, code="post"),
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=pending, credit_account_id=ids["c"], code="post"),
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=pending, debit_account_id=ids["c"], code="post"),
        Transfer(id=uuid4(), kind=TransferKind.post, code="post"),
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=pending, amount=100, debit_account_id=ids["a"],
                 credit_account_id=ids["b"], code="post"),
        Transfer(id=uuid4(), kind=TransferKind.void, pending_id=pending, code="void"),
    ])
    assert results == [
        R.pending_transfer_not_found, R.pending_transfer_not_pending, R.pending_transfer_has_different_amount,
        R.pending_transfer_has_different_credit_account, R.pending_transfer_has_different_debit_account,
        R.pending_id_required, R.ok, R.pending_transfer_already_posted,
    ]
    assert await totals(session, "a") == (105, 0, 0, 0)


async def test_pending_created_and_posted_in_the_same_batch(session):
    ids = await open_accounts(session, ("a", A), ("b", L))
    pending = uuid4()
    results = await create_transfers(session, [
        Transfer(id=pending, kind=TransferKind.pending, debit_account_id=ids["a"], credit_account_id=ids["b"],
                 amount=40, code="hold"),
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=pending, code="post"),
        Transfer(id=uuid4(), kind=TransferKind.void, pending_id=pending, code="void"),
    ])
    assert results == [R.ok, R.ok, R.pending_transfer_already_posted]
    assert await totals(session, "a") == (40, 0, 0, 0)
    assert (await verify_ledger(session)).ok


async def test_idempotency_exists_and_different_fields(session):
    ids = await open_accounts(session, ("a", A), ("b", L))
    transfer = Transfer(id=uuid4(), debit_account_id=ids["a"], credit_account_id=ids["b"], amount=10, code="pay",
                        reference="R1", metadata={"k": [1, 2]}, event_at=datetime(2026, 1, 5, tzinfo=UTC))
    assert await create_transfers(session, [transfer]) == [R.ok]
    same = Transfer(id=transfer.id, debit_account_id=ids["a"], credit_account_id=ids["b"], amount=10, code="pay",
                    reference="R1", metadata={"k": [1, 2]},
                    event_at=datetime(2026, 1, 5, 7, tzinfo=UTC) - timedelta(hours=7))
    different_amount = Transfer(id=transfer.id, debit_account_id=ids["a"], credit_account_id=ids["b"], amount=11,
                                code="pay", reference="R1", metadata={"k": [1, 2]})
    different_metadata = Transfer(id=transfer.id, debit_account_id=ids["a"], credit_account_id=ids["b"], amount=10,
                                  code="pay", reference="R1", metadata={"k": [2, 1]})
    assert await create_transfers(session, [same, different_amount, different_metadata]) == [
        R.exists, R.exists_with_different_fields, R.exists_with_different_fields]
    # duplicates inside one batch: the first one wins
    twin = uuid4()
    twin_results = await create_transfer_arrays(
        session, ids=[twin, twin, twin], debit_account_ids=[ids["a"]] * 3, credit_account_ids=[ids["b"]] * 3,
        amounts=[1, 1, 2], code="pay")
    assert twin_results == [R.ok, R.exists, R.exists_with_different_fields]
    assert await totals(session, "a") == (11, 0, 0, 0)


async def test_failure_is_sticky_even_when_it_would_succeed_later(session):
    ids = await open_accounts(session, AccountSpec(code="funding", type=A),
                              AccountSpec(code="bank:K", type=A, credits_must_not_exceed_debits=True),
                              AccountSpec(code="payable:b", type=L))
    too_early = uuid4()
    send = Transfer(id=too_early, kind=TransferKind.pending, debit_account_id=ids["payable:b"],
                    credit_account_id=ids["bank:K"], amount=700, code="send")
    assert await create_transfers(session, [send]) == [R.exceeds_debits]
    assert await totals(session, "bank:K") == (0, 0, 0, 0)
    # fund the bank account: the same transfer would now fit, but its id stays failed
    assert await create_transfer_arrays(session, ids=[uuid4()], debit_account_ids=[ids["bank:K"]],
                                        credit_account_ids=[ids["funding"]], amounts=[1_000], code="fund") == [R.ok]
    assert await create_transfers(session, [send]) == [R.exceeds_debits]
    assert await transfer_failures(session, [too_early]) == {too_early: R.exceeds_debits}
    assert await totals(session, "bank:K") == (1_000, 0, 0, 0)
    fresh = Transfer(id=uuid4(), kind=TransferKind.pending, debit_account_id=ids["payable:b"],
                     credit_account_id=ids["bank:K"], amount=700, code="send")
    assert await create_transfers(session, [fresh]) == [R.ok]
    assert await totals(session, "bank:K") == (1_000, 0, 0, 700)
    # pending amounts count against the limit
    assert await create_transfer_arrays(session, ids=[uuid4()], kind="pending", debit_account_ids=[ids["payable:b"]],
                                        credit_account_ids=[ids["bank:K"]], amounts=[301], code="send") == [
        R.exceeds_debits]
    assert (await verify_ledger(session)).ok


async def test_limits_are_checked_transfer_by_transfer_within_a_batch(session):
    ids = await open_accounts(session, AccountSpec(code="wallet", type=L, debits_must_not_exceed_credits=True),
                              AccountSpec(code="income", type=AccountType.income),
                              AccountSpec(code="cash", type=A))
    wallet, income, cash = ids["wallet"], ids["income"], ids["cash"]
    # spend before the top-up arrives in the same batch: the spend fails on its own turn,
    # even though the batch as a whole would end within the limit
    results = await create_transfer_arrays(
        session, ids=[uuid4(), uuid4(), uuid4()], debit_account_ids=[wallet, income, wallet],
        credit_account_ids=[cash, wallet, cash], amounts=[50, 80, 30], code="move")
    assert results == [R.exceeds_credits, R.ok, R.ok]
    assert await totals(session, "wallet") == (30, 80, 0, 0)
    # 50 left: the second spend crosses the limit, the third fits again
    assert await create_transfer_arrays(
        session, ids=[uuid4(), uuid4(), uuid4()], debit_account_ids=[wallet] * 3, credit_account_ids=[cash] * 3,
        amounts=[25, 26, 25], code="move") == [R.ok, R.exceeds_credits, R.ok]
    assert await totals(session, "wallet") == (80, 80, 0, 0)


async def test_input_errors_are_not_remembered(session):
    ids = await open_accounts(session, ("a", A), ("b", L))
    bad = uuid4()
    results = await create_transfer_arrays(
        session, ids=[bad, uuid4(), uuid4(), uuid4(), uuid4(), uuid4()],
        debit_account_ids=[ids["a"], ids["a"], ids["a"], None, ids["a"], ids["a"]],
        credit_account_ids=[ids["b"], ids["a"], ids["b"], ids["b"], ids["b"], 999_999],
        amounts=[0, 5, 5, 5, 5, 5], code=["pay", "pay", "", "pay", "pay", "pay"],
        references=[None, None, None, None, "x" * 141, None])
    assert results == [R.amount_must_be_positive, R.accounts_must_be_different, R.code_invalid,
                       R.accounts_must_be_given, R.reference_invalid, R.credit_account_not_found]
    assert await transfer_failures(session, [bad]) == {}
    fixed = await create_transfer_arrays(session, ids=[bad], debit_account_ids=[ids["a"]],
                                         credit_account_ids=[ids["b"]], amounts=[5], code="pay")
    assert fixed == [R.ok]
    with pytest.raises(TypeError, match="amount must be int, got float"):
        await create_transfer_arrays(session, ids=[uuid4()], debit_account_ids=[ids["a"]],
                                     credit_account_ids=[ids["b"]], amounts=[5.0], code="pay")
    with pytest.raises(ValueError, match="aware"):
        await create_transfer_arrays(session, ids=[uuid4()], debit_account_ids=[ids["a"]],
                                     credit_account_ids=[ids["b"]], amounts=[5], code="pay",
                                     event_at=datetime(2026, 1, 1))


async def test_all_or_nothing_applies_nothing_on_one_failure(session):
    ids = await open_accounts(session, ("a", A), ("b", L))
    good, missing = uuid4(), uuid4()
    results = await create_transfer_arrays(
        session, ids=[good, missing], debit_account_ids=[ids["a"], ids["a"]], credit_account_ids=[ids["b"], 424242],
        amounts=[5, 5], code="pay", all_or_nothing=True)
    assert results == [R.batch_failed, R.credit_account_not_found]
    assert await totals(session, "a") == (0, 0, 0, 0)
    assert await get_transfers(session, [good]) == {}
    assert await transfer_failures(session, [missing]) == {}  # nothing written, not even the failure
    assert await create_transfer_arrays(session, ids=[good], debit_account_ids=[ids["a"]],
                                        credit_account_ids=[ids["b"]], amounts=[5], code="pay",
                                        all_or_nothing=True) == [R.ok]
    assert (await verify_ledger(session)).ok


async def test_batch_larger_than_a_chunk_hits_a_hot_account_once_per_chunk(session, monkeypatch):
    import ledger.service

    monkeypatch.setattr(ledger.service, "CHUNK_SIZE", 100)
    codes = [f"payable:beneficiary:{i}" for i in range(250)]
    ids = await ensure_accounts(session, [AccountSpec(code="expense:P", type=E),
                                          *[AccountSpec(code=c, type=L) for c in codes]])
    results = await create_transfer_arrays(
        session, ids=[new_transfer_id() for _ in codes], debit_account_ids=[ids["expense:P"]] * len(codes),
        credit_account_ids=[ids[c] for c in codes], amounts=list(range(1, 251)), code="payout.approve")
    assert results == [R.ok] * 250
    # 250 beneficiary rows once each, the hot expense account once per chunk of 100
    updates = (await session.execute(text(
        "SELECT n_tup_upd FROM pg_stat_xact_user_tables WHERE relname = 'ledger_account'"))).scalar_one()
    assert updates == 253
    assert await totals(session, "expense:P") == (sum(range(1, 251)), 0, 0, 0)
    assert await totals(session, codes[-1]) == (0, 250, 0, 0)
    report = await verify_ledger(session)
    assert report.ok and report.transfers == 250


async def test_balance_as_of_and_recent_transfers(session):
    ids = await open_accounts(session, ("a", A), ("b", L))
    day = datetime(2026, 3, 1, tzinfo=UTC)
    pending = uuid4()
    await create_transfers(session, [
        Transfer(id=uuid4(), debit_account_id=ids["a"], credit_account_id=ids["b"], amount=100, code="pay",
                 event_at=day),
        Transfer(id=pending, kind=TransferKind.pending, debit_account_id=ids["a"], credit_account_id=ids["b"],
                 amount=30, code="hold", event_at=day + timedelta(days=1)),
        Transfer(id=uuid4(), kind=TransferKind.post, pending_id=pending, code="post", event_at=day + timedelta(days=2)),
    ])
    assert (await balance_as_of(session, ids["a"], day - timedelta(seconds=1))).debits_posted == 0
    at_day = await balance_as_of(session, ids["a"], day)
    assert (at_day.debits_posted, at_day.debits_pending) == (100, 0)
    held = await balance_as_of(session, ids["a"], day + timedelta(days=1, hours=1))
    assert (held.debits_posted, held.debits_pending) == (100, 30)
    later = await balance_as_of(session, ids["b"], day + timedelta(days=3))
    assert (later.credits_posted, later.credits_pending) == (130, 0)
    assert later.net(AccountType.liability) == 130
    recent = await account_transfers(session, ids["a"], limit=2)
    assert [t.kind for t in recent] == [TransferKind.post, TransferKind.pending]


async def test_ensure_and_create_accounts(session):
    first = await ensure_accounts(session, [AccountSpec(code="x", type=A), AccountSpec(code="y", type=L)])
    again = await ensure_accounts(session, [AccountSpec(code="y", type=L), AccountSpec(code="z", type=L)])
    assert again["y"] == first["y"] and again["z"] not in first.values()
    assert await create_accounts(session, [AccountSpec(code="x", type=A), AccountSpec(code="w", type=A),
                                           AccountSpec(code="y", type=A)]) == [
        AccountCreated.exists, AccountCreated.ok, AccountCreated.exists_with_different_fields]
    with pytest.raises(AccountConflict, match="y"):
        await ensure_accounts(session, [AccountSpec(code="y", type=AccountType.memo)])
    with pytest.raises(AccountSpecError, match="invalid account code"):
        await ensure_accounts(session, [AccountSpec(code="bad code", type=A)])
    assert await account_ids(session, ["x", "nope"]) == {"x": first["x"]}


async def test_ensure_accounts_from_query_creates_the_missing_ones_once(session):
    from ledger.accounts import ensure_accounts_from_query

    existing = await ensure_accounts(session, [AccountSpec(code="payable:b", type=L)])
    query = "SELECT $1 || x FROM unnest(CAST($2 AS text[])) AS t(x)"
    assert await ensure_accounts_from_query(session, query, ["payable:", ["a", "b", "c", "a"]], L) == 2
    assert await ensure_accounts_from_query(session, query, ["payable:", ["a", "b", "c"]], L) == 0
    ids = await account_ids(session, ["payable:a", "payable:b", "payable:c"])
    assert len(set(ids.values())) == 3 and ids["payable:b"] == existing["payable:b"]
    assert await create_accounts(session, [AccountSpec(code="payable:c", type=L)]) == [AccountCreated.exists]
    with pytest.raises(Exception, match="ledger_account_code"):
        async with session.begin_nested():
            await ensure_accounts_from_query(session, query, ["bad code ", ["d"]], L)
