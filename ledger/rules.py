"""The ledger's rules, applied to a batch one transfer after the other (TigerBeetle's semantics).

``evaluate`` is the reference: it decides every transfer's result against the ledger's state as
left by the transfers before it in the batch. ``create_transfers`` only runs it when its fast,
set-based path cannot prove that every transfer of the batch is ``ok``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from uuid import UUID

from ledger.batch import TransferColumns
from ledger.schemas import STICKY_FAILURES, TransferKind, TransferResult

R = TransferResult
SINGLE, PENDING, POST, VOID = TransferKind.single, TransferKind.pending, TransferKind.post, TransferKind.void
MAX_CODE_LENGTH = 64
MAX_REFERENCE_LENGTH = 140


@dataclass(slots=True)
class AccountState:
    """The part of an account the rules read: limits and the four running totals."""

    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    def within_limits(self) -> bool:
        if self.debits_must_not_exceed_credits and self.debits_posted + self.debits_pending > self.credits_posted:
            return False
        return not (self.credits_must_not_exceed_debits
                    and self.credits_posted + self.credits_pending > self.debits_posted)


@dataclass(frozen=True, slots=True)
class StoredFields:
    """The fields of a stored transfer that a resubmission is compared with."""

    kind: TransferKind
    debit_account_id: int
    credit_account_id: int
    amount: int
    pending_id: UUID | None
    code: str
    reference: str | None
    metadata: str | None
    event_at: datetime


@dataclass(slots=True)
class LedgerState:
    """What ``evaluate`` needs to know about the ledger for one batch (and updates as it goes)."""

    accounts: dict[int, AccountState] = field(default_factory=dict)
    transfers: dict[UUID, StoredFields] = field(default_factory=dict)  # batch ids and pending ids
    failed: dict[UUID, TransferResult] = field(default_factory=dict)
    resolutions: dict[UUID, TransferKind] = field(default_factory=dict)  # pending id -> post or void


@dataclass(slots=True)
class Evaluation:
    results: list[TransferResult]
    accepted: list[int]  # positions of the transfers to write, in batch order
    accepted_batch: TransferColumns  # those transfers with accounts, amount and event_at filled in
    sticky: list[int]  # positions of failures to remember


def check_fields(batch: TransferColumns, i: int) -> TransferResult:
    """Checks on the transfer alone (no ledger state); ``ok`` when it is well formed."""
    kind = batch.kinds[i]
    debit, credit, amount = batch.debits[i], batch.credits[i], batch.amounts[i]
    if batch.ids[i].int == 0:
        return R.id_must_not_be_zero
    code = batch.codes[i]
    if not code or len(code) > MAX_CODE_LENGTH or "\x00" in code:
        return R.code_invalid
    reference = batch.references[i]
    if reference is not None and (not 0 < len(reference) <= MAX_REFERENCE_LENGTH or "\x00" in reference):
        return R.reference_invalid
    if kind is SINGLE or kind is PENDING:
        if batch.pending_ids[i] is not None:
            return R.pending_id_must_be_absent
        if debit is None or credit is None:
            return R.accounts_must_be_given
        if debit == credit:
            return R.accounts_must_be_different
        if amount is None or amount <= 0:
            return R.amount_must_be_positive
        return R.ok
    if batch.pending_ids[i] is None:
        return R.pending_id_required
    if debit is not None and debit == credit:
        return R.accounts_must_be_different
    if amount is not None and amount <= 0:
        return R.amount_must_be_positive
    return R.ok


def same_fields(batch: TransferColumns, i: int, stored: StoredFields) -> bool:
    """Whether a resubmitted transfer matches the stored one (left-out fields match anything)."""
    return (
        batch.kinds[i] == stored.kind
        and batch.debits[i] in (None, stored.debit_account_id)
        and batch.credits[i] in (None, stored.credit_account_id)
        and batch.amounts[i] in (None, stored.amount)
        and batch.pending_ids[i] == stored.pending_id
        and batch.codes[i] == stored.code
        and batch.references[i] == stored.reference
        and batch.metadata[i] == stored.metadata
        and batch.event_ats[i] in (None, stored.event_at)
    )


def _resolve(batch: TransferColumns, i: int, state: LedgerState) -> tuple[TransferResult, int, int, int]:
    """Result and (debit, credit, amount) of a post or void against its pending transfer."""
    pending_id = batch.pending_ids[i]
    assert pending_id is not None
    pending = state.transfers.get(pending_id)
    if pending is None:
        return R.pending_transfer_not_found, 0, 0, 0
    if pending.kind is not PENDING:
        return R.pending_transfer_not_pending, 0, 0, 0
    if batch.debits[i] not in (None, pending.debit_account_id):
        return R.pending_transfer_has_different_debit_account, 0, 0, 0
    if batch.credits[i] not in (None, pending.credit_account_id):
        return R.pending_transfer_has_different_credit_account, 0, 0, 0
    if batch.amounts[i] not in (None, pending.amount):
        return R.pending_transfer_has_different_amount, 0, 0, 0
    resolution = state.resolutions.get(pending_id)
    if resolution is POST:
        return R.pending_transfer_already_posted, 0, 0, 0
    if resolution is VOID:
        return R.pending_transfer_already_voided, 0, 0, 0
    return R.ok, pending.debit_account_id, pending.credit_account_id, pending.amount


def apply_to(debit: AccountState, credit: AccountState, kind: TransferKind, amount: int) -> None:
    """Move one transfer's amount on its two accounts' running totals."""
    if kind is SINGLE:
        debit.debits_posted += amount
        credit.credits_posted += amount
    elif kind is PENDING:
        debit.debits_pending += amount
        credit.credits_pending += amount
    elif kind is POST:
        debit.debits_pending -= amount
        debit.debits_posted += amount
        credit.credits_pending -= amount
        credit.credits_posted += amount
    else:
        debit.debits_pending -= amount
        credit.credits_pending -= amount


def evaluate(batch: TransferColumns, state: LedgerState, created_at: datetime) -> Evaluation:
    """Decide each transfer in order, updating ``state`` with those that succeed."""
    results: list[TransferResult] = []
    accepted: list[int] = []
    sticky: list[int] = []
    filled_debits: list[int] = []
    filled_credits: list[int] = []
    filled_amounts: list[int] = []
    for i in range(len(batch)):
        transfer_id = batch.ids[i]
        kind = batch.kinds[i]
        stored = state.transfers.get(transfer_id)
        if stored is not None:
            results.append(R.exists if same_fields(batch, i, stored) else R.exists_with_different_fields)
            continue
        previous_failure = state.failed.get(transfer_id)
        if previous_failure is not None:
            results.append(previous_failure)
            continue
        result = check_fields(batch, i)
        debit_id = credit_id = amount = 0
        if result is R.ok:
            if kind is SINGLE or kind is PENDING:
                debit_id, credit_id, amount = batch.debits[i] or 0, batch.credits[i] or 0, batch.amounts[i] or 0
            else:
                result, debit_id, credit_id, amount = _resolve(batch, i, state)
        if result is R.ok:
            debit = state.accounts.get(debit_id)
            credit = state.accounts.get(credit_id)
            if debit is None:
                result = R.debit_account_not_found
            elif credit is None:
                result = R.credit_account_not_found
            else:
                apply_to(debit, credit, kind, amount)
                if not debit.within_limits() or not credit.within_limits():
                    exceeded_on_debit = not debit.within_limits()
                    apply_to(debit, credit, kind, -amount)
                    result = R.exceeds_credits if exceeded_on_debit else R.exceeds_debits
        results.append(result)
        if result is R.ok:
            accepted.append(i)
            filled_debits.append(debit_id)
            filled_credits.append(credit_id)
            filled_amounts.append(amount)
            state.transfers[transfer_id] = StoredFields(
                kind=kind, debit_account_id=debit_id, credit_account_id=credit_id, amount=amount,
                pending_id=batch.pending_ids[i], code=batch.codes[i], reference=batch.references[i],
                metadata=batch.metadata[i], event_at=batch.event_ats[i] or created_at,
            )
            pending_id = batch.pending_ids[i]
            if pending_id is not None:
                state.resolutions[pending_id] = kind
        elif result in STICKY_FAILURES:
            sticky.append(i)
            state.failed[transfer_id] = result
    accepted_batch = batch.take(accepted)
    accepted_batch.debits = list(filled_debits)
    accepted_batch.credits = list(filled_credits)
    accepted_batch.amounts = list(filled_amounts)
    accepted_batch.event_ats = [moment or created_at for moment in accepted_batch.event_ats]
    return Evaluation(results=results, accepted=accepted, accepted_batch=accepted_batch, sticky=sticky)


@dataclass(slots=True)
class AccountDeltas:
    """Per-account sums of a batch, sorted by account id (the order rows are locked in)."""

    account_ids: list[int]
    debits_posted: list[int]
    credits_posted: list[int]
    debits_pending: list[int]
    credits_pending: list[int]


def account_deltas(batch: TransferColumns) -> AccountDeltas:
    """Sum a resolved batch's effect on each account (one UPDATE row per account)."""
    debits_posted: dict[int, int] = {}
    credits_posted: dict[int, int] = {}
    debits_pending: dict[int, int] = {}
    credits_pending: dict[int, int] = {}
    kinds = set(batch.kinds)
    if kinds == {SINGLE} or kinds == {PENDING}:
        debit_sums, credit_sums = (debits_posted, credits_posted) if SINGLE in kinds else (debits_pending,
                                                                                          credits_pending)
        debit_get, credit_get = debit_sums.get, credit_sums.get
        for debit, credit, amount in zip(batch.debits, batch.credits, batch.amounts, strict=True):
            debit_sums[debit] = debit_get(debit, 0) + amount  # type: ignore[index,arg-type,operator]
            credit_sums[credit] = credit_get(credit, 0) + amount  # type: ignore[index,arg-type,operator]
    else:
        for kind, debit, credit, amount in zip(batch.kinds, batch.debits, batch.credits, batch.amounts,
                                               strict=True):
            assert debit is not None and credit is not None and amount is not None
            if kind is SINGLE or kind is POST:
                debits_posted[debit] = debits_posted.get(debit, 0) + amount
                credits_posted[credit] = credits_posted.get(credit, 0) + amount
            if kind is PENDING:
                debits_pending[debit] = debits_pending.get(debit, 0) + amount
                credits_pending[credit] = credits_pending.get(credit, 0) + amount
            elif kind is not SINGLE:
                debits_pending[debit] = debits_pending.get(debit, 0) - amount
                credits_pending[credit] = credits_pending.get(credit, 0) - amount
    account_ids = sorted(debits_posted.keys() | credits_posted.keys() | debits_pending.keys()
                         | credits_pending.keys())
    return AccountDeltas(
        account_ids=account_ids,
        debits_posted=[debits_posted.get(a, 0) for a in account_ids],
        credits_posted=[credits_posted.get(a, 0) for a in account_ids],
        debits_pending=[debits_pending.get(a, 0) for a in account_ids],
        credits_pending=[credits_pending.get(a, 0) for a in account_ids],
    )


def limits_hold_throughout(batch: TransferColumns, limited: dict[int, AccountState]) -> bool:
    """Whether every limited account stays within its limit after each transfer of the batch.

    ``limited`` holds the limited accounts' totals before the batch. Checking each step (not only
    the end) finds a transfer that would fail on its own turn even though the batch as a whole
    ends within the limit.
    """
    states = {account_id: AccountState(state.debits_must_not_exceed_credits, state.credits_must_not_exceed_debits,
                                       state.debits_posted, state.credits_posted, state.debits_pending,
                                       state.credits_pending)
              for account_id, state in limited.items()}
    scratch = AccountState(False, False, 0, 0, 0, 0)
    for i, (debit, credit) in enumerate(zip(batch.debits, batch.credits, strict=True)):
        if debit not in states and credit not in states:
            continue
        debit_state = states.get(debit, scratch)  # type: ignore[arg-type]
        credit_state = states.get(credit, scratch)  # type: ignore[arg-type]
        apply_to(debit_state, credit_state, batch.kinds[i], batch.amounts[i])  # type: ignore[arg-type]
        if not debit_state.within_limits() or not credit_state.within_limits():
            return False
    return True
