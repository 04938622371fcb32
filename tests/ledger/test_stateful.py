"""Hypothesis state machine: random accounts and batches against an independent model of the rules.

After every step the database's running totals equal the model's (so a rejected transfer changed
no balance), and at the end of every example ``verify_ledger`` finds nothing wrong.
"""

from __future__ import annotations

import asyncio
import itertools
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID, uuid4

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule, run_state_machine_as_test
from sqlalchemy import text

from app.database import make_engine, session_scope
from ledger import (
    AccountSpec,
    AccountType,
    Transfer,
    TransferKind,
    TransferResult,
    create_transfers,
    ensure_accounts,
    verify_ledger,
)

R = TransferResult
K = TransferKind
MISSING_ACCOUNT = 9_000_000_000
_examples = itertools.count()

# Failures the ledger remembers for the id (they depend on the ledger's state).
STICKY = {R.debit_account_not_found, R.credit_account_not_found, R.pending_transfer_not_found,
          R.pending_transfer_not_pending, R.pending_transfer_has_different_debit_account,
          R.pending_transfer_has_different_credit_account, R.pending_transfer_has_different_amount,
          R.pending_transfer_already_posted, R.pending_transfer_already_voided, R.exceeds_credits, R.exceeds_debits}


@dataclass
class ModelAccount:
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    totals: list[int] = field(default_factory=lambda: [0, 0, 0, 0])  # dp, cp, dq, cq

    def ok(self) -> bool:
        dp, cp, dq, cq = self.totals
        return not (self.debits_must_not_exceed_credits and dp + dq > cp) and not (
            self.credits_must_not_exceed_debits and cp + cq > dp)


def _move(debit: ModelAccount, credit: ModelAccount, kind: TransferKind, amount: int) -> None:
    if kind == K.single:
        debit.totals[0] += amount
        credit.totals[1] += amount
    elif kind == K.pending:
        debit.totals[2] += amount
        credit.totals[3] += amount
    elif kind == K.post:
        debit.totals[2] -= amount
        debit.totals[0] += amount
        credit.totals[3] -= amount
        credit.totals[1] += amount
    else:
        debit.totals[2] -= amount
        credit.totals[3] -= amount


@dataclass
class Model:
    """The rules written out plainly, one transfer after the other."""

    accounts: dict[int, ModelAccount] = field(default_factory=dict)
    transfers: dict[UUID, dict[str, Any]] = field(default_factory=dict)
    failed: dict[UUID, TransferResult] = field(default_factory=dict)
    resolved: dict[UUID, TransferKind] = field(default_factory=dict)

    def snapshot(self) -> tuple[Any, ...]:
        return ({k: (v.debits_must_not_exceed_credits, v.credits_must_not_exceed_debits, list(v.totals))
                 for k, v in self.accounts.items()}, dict(self.transfers), dict(self.failed), dict(self.resolved))

    def restore(self, snapshot: tuple[Any, ...]) -> None:
        accounts, self.transfers, self.failed, self.resolved = snapshot
        self.accounts = {k: ModelAccount(a, b, list(t)) for k, (a, b, t) in accounts.items()}

    def one(self, t: Transfer) -> TransferResult:
        if t.id in self.transfers:
            stored = self.transfers[t.id]
            same = (t.kind == stored["kind"] and t.pending_id == stored["pending_id"] and t.code == stored["code"]
                    and all(getattr(t, name) in (None, stored[name])
                            for name in ("debit_account_id", "credit_account_id", "amount")))
            return R.exists if same else R.exists_with_different_fields
        if t.id in self.failed:
            return self.failed[t.id]
        if t.kind in (K.single, K.pending):
            if t.debit_account_id == t.credit_account_id:
                return R.accounts_must_be_different
            if t.amount is None or t.amount <= 0:
                return R.amount_must_be_positive
            debit_id, credit_id, amount = t.debit_account_id, t.credit_account_id, t.amount
        else:
            if t.amount is not None and t.amount <= 0:
                return R.amount_must_be_positive
            pending = self.transfers.get(t.pending_id)  # type: ignore[arg-type]
            if pending is None:
                return self._fail(t, R.pending_transfer_not_found)
            if pending["kind"] != K.pending:
                return self._fail(t, R.pending_transfer_not_pending)
            if t.amount not in (None, pending["amount"]):
                return self._fail(t, R.pending_transfer_has_different_amount)
            if t.pending_id in self.resolved:
                return self._fail(t, R.pending_transfer_already_posted if self.resolved[t.pending_id] == K.post
                                  else R.pending_transfer_already_voided)
            debit_id, credit_id, amount = pending["debit_account_id"], pending["credit_account_id"], pending["amount"]
        if debit_id not in self.accounts:
            return self._fail(t, R.debit_account_not_found)
        if credit_id not in self.accounts:
            return self._fail(t, R.credit_account_not_found)
        debit, credit = self.accounts[debit_id], self.accounts[credit_id]
        _move(debit, credit, t.kind, amount)
        if not debit.ok() or not credit.ok():
            result = R.exceeds_credits if not debit.ok() else R.exceeds_debits
            _move(debit, credit, t.kind, -amount)
            return self._fail(t, result)
        self.transfers[t.id] = {"kind": t.kind, "debit_account_id": debit_id, "credit_account_id": credit_id,
                                "amount": amount, "pending_id": t.pending_id, "code": t.code}
        if t.pending_id is not None:
            self.resolved[t.pending_id] = t.kind
        return R.ok

    def _fail(self, t: Transfer, result: TransferResult) -> TransferResult:
        self.failed[t.id] = result
        return result

    def batch(self, transfers: list[Transfer], all_or_nothing: bool) -> list[TransferResult]:
        before = self.snapshot()
        results = [self.one(t) for t in transfers]
        if all_or_nothing and any(r not in (R.ok, R.exists) for r in results):
            self.restore(before)
            return [R.batch_failed if r == R.ok else r for r in results]
        return results


class LedgerMachine(RuleBasedStateMachine):
    loop: asyncio.AbstractEventLoop
    engine: Any

    def __init__(self) -> None:
        super().__init__()
        self.example = next(_examples)
        self.model = Model()
        self.codes: dict[int, str] = {}
        self.submitted: list[Transfer] = []

    def run(self, coroutine: Any) -> Any:
        return self.loop.run_until_complete(coroutine)

    async def _in_session(self, work: Any) -> Any:
        async with session_scope(self.engine) as session:
            return await work(session)

    @initialize()
    def two_accounts(self) -> None:
        self.open_account(limit=None)
        self.open_account(limit=None)

    @rule(limit=st.sampled_from([None, "debits", "credits"]))
    def open_account(self, limit: str | None) -> None:
        code = f"ex{self.example}:acct{len(self.codes)}"
        spec = AccountSpec(code=code, type=AccountType.asset, debits_must_not_exceed_credits=limit == "debits",
                           credits_must_not_exceed_debits=limit == "credits")
        ids = self.run(self._in_session(lambda s: ensure_accounts(s, [spec])))
        self.codes[ids[code]] = code
        self.model.accounts[ids[code]] = ModelAccount(limit == "debits", limit == "credits")

    def _draw_transfer(self, data: st.DataObject) -> Transfer:
        accounts = list(self.model.accounts)
        pairs = [(d, c) for d in accounts for c in accounts if d != c]
        pendings = [i for i, t in self.model.transfers.items() if t["kind"] == K.pending]
        known = list(self.model.transfers) + list(self.model.failed)
        choice = data.draw(st.sampled_from(
            ["single"] * 3 + ["pending"] * 3 + ["resolve"] * 3 + ["resubmit"] * 2 + ["over_limit", "invalid"]))
        if choice == "resubmit" and self.submitted:
            old = data.draw(st.sampled_from(self.submitted))
            if data.draw(st.booleans()) or old.kind in (K.post, K.void):
                return old
            return Transfer(id=old.id, kind=old.kind, debit_account_id=old.debit_account_id,
                            credit_account_id=old.credit_account_id, amount=(old.amount or 0) + 1, code=old.code)
        if choice == "resolve":
            if pendings and data.draw(st.integers(0, 3)):
                target = data.draw(st.sampled_from(pendings))
            else:
                target = data.draw(st.sampled_from([*known, uuid4()]))
            stored_amount = self.model.transfers.get(target, {}).get("amount", 1)
            amount = data.draw(st.sampled_from([None, None, None, stored_amount, stored_amount + 1, 0]))
            return Transfer(id=uuid4(), kind=data.draw(st.sampled_from([K.post, K.void])), pending_id=target,
                            amount=amount, code="resolve")
        debit, credit = data.draw(st.sampled_from(pairs))
        amount = data.draw(st.integers(1, 5_000))
        if choice == "over_limit":
            amount = data.draw(st.integers(10_000, 1_000_000))
        elif choice == "invalid":
            debit, credit, amount = data.draw(st.sampled_from([
                (debit, debit, amount), (debit, MISSING_ACCOUNT, amount), (MISSING_ACCOUNT, credit, amount),
                (debit, credit, 0), (debit, credit, -5)]))
        kind = K.pending if choice == "pending" or data.draw(st.integers(0, 4)) == 0 else K.single
        return Transfer(id=uuid4(), kind=kind, debit_account_id=debit, credit_account_id=credit, amount=amount,
                        code=choice)

    @rule(data=st.data(), size=st.integers(1, 6), all_or_nothing=st.booleans())
    def submit_batch(self, data: st.DataObject, size: int, all_or_nothing: bool) -> None:
        batch = [self._draw_transfer(data) for _ in range(size)]
        expected = self.model.batch(batch, all_or_nothing)
        actual = self.run(self._in_session(lambda s: create_transfers(s, batch, all_or_nothing=all_or_nothing)))
        assert actual == expected, (batch, actual, expected)
        self.submitted.extend(batch)

    @rule(data=st.data())
    def fund_limited_account(self, data: st.DataObject) -> None:
        """Large clean single transfers (the fast path) that make room under the limits."""
        accounts = list(self.model.accounts)
        debit, credit = data.draw(st.sampled_from(accounts)), data.draw(st.sampled_from(accounts))
        if debit == credit:
            return
        batch = [Transfer(id=uuid4(), debit_account_id=debit, credit_account_id=credit, amount=50_000, code="fund")]
        expected = self.model.batch(batch, False)
        actual = self.run(self._in_session(lambda s: create_transfers(s, batch)))
        assert actual == expected

    @invariant()
    def database_totals_equal_the_model(self) -> None:
        async def read(session: Any) -> dict[int, list[int]]:
            rows = (await session.execute(text(
                "SELECT id, debits_posted, credits_posted, debits_pending, credits_pending FROM ledger_account "
                "WHERE id = ANY(:ids)"), {"ids": list(self.model.accounts)})).all()
            return {row[0]: list(row[1:]) for row in rows}

        stored = self.run(self._in_session(read))
        assert stored == {k: v.totals for k, v in self.model.accounts.items()}

    def teardown(self) -> None:
        report = self.run(self._in_session(verify_ledger))
        assert report.ok, report.problems


def test_ledger_matches_the_model(database_url):
    loop = asyncio.new_event_loop()
    LedgerMachine.loop = loop
    LedgerMachine.engine = make_engine(database_url, pool_size=1)
    try:
        run_state_machine_as_test(LedgerMachine, settings=settings(
            max_examples=40, stateful_step_count=20, deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much]))
    finally:
        loop.run_until_complete(LedgerMachine.engine.dispose())
        loop.close()
