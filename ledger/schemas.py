"""Inputs and outputs of the ledger: account specs, transfers, results, balances, verify reports."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec


class AccountType(enum.StrEnum):
    asset = "asset"
    liability = "liability"
    equity = "equity"
    income = "income"
    expense = "expense"
    memo = "memo"


DEBIT_NORMAL_TYPES = frozenset({AccountType.asset, AccountType.expense, AccountType.memo})


class TransferKind(enum.StrEnum):
    single = "single"  # posted at once
    pending = "pending"  # reserves the amount on both accounts
    post = "post"  # posts a pending transfer (its full amount)
    void = "void"  # releases a pending transfer


class TransferResult(enum.StrEnum):
    """Outcome of one transfer in a batch (TigerBeetle's results, in snake_case)."""

    ok = "ok"
    exists = "exists"  # same id, same fields: nothing changed
    exists_with_different_fields = "exists_with_different_fields"
    # Checks on the transfer itself: not remembered, a corrected resubmission may succeed.
    id_must_not_be_zero = "id_must_not_be_zero"
    accounts_must_be_given = "accounts_must_be_given"
    accounts_must_be_different = "accounts_must_be_different"
    amount_must_be_positive = "amount_must_be_positive"
    pending_id_required = "pending_id_required"
    pending_id_must_be_absent = "pending_id_must_be_absent"
    code_invalid = "code_invalid"
    reference_invalid = "reference_invalid"
    metadata_invalid = "metadata_invalid"
    # Checks on the ledger's state: remembered, resubmitting the id returns the same result.
    debit_account_not_found = "debit_account_not_found"
    credit_account_not_found = "credit_account_not_found"
    pending_transfer_not_found = "pending_transfer_not_found"
    pending_transfer_not_pending = "pending_transfer_not_pending"
    pending_transfer_has_different_debit_account = "pending_transfer_has_different_debit_account"
    pending_transfer_has_different_credit_account = "pending_transfer_has_different_credit_account"
    pending_transfer_has_different_amount = "pending_transfer_has_different_amount"
    pending_transfer_already_posted = "pending_transfer_already_posted"
    pending_transfer_already_voided = "pending_transfer_already_voided"
    exceeds_credits = "exceeds_credits"  # the debit account's debits would exceed its credits
    exceeds_debits = "exceeds_debits"  # the credit account's credits would exceed its debits
    # all_or_nothing batches: this transfer was fine but another one in the batch failed.
    batch_failed = "batch_failed"


APPLIED_RESULTS = frozenset({TransferResult.ok, TransferResult.exists})

# Failures that depend on the ledger's state when the transfer arrived. They are recorded in
# ledger_transfer_failure so the same id can never succeed later (TigerBeetle's id_already_failed).
STICKY_FAILURES = frozenset({
    TransferResult.debit_account_not_found,
    TransferResult.credit_account_not_found,
    TransferResult.pending_transfer_not_found,
    TransferResult.pending_transfer_not_pending,
    TransferResult.pending_transfer_has_different_debit_account,
    TransferResult.pending_transfer_has_different_credit_account,
    TransferResult.pending_transfer_has_different_amount,
    TransferResult.pending_transfer_already_posted,
    TransferResult.pending_transfer_already_voided,
    TransferResult.exceeds_credits,
    TransferResult.exceeds_debits,
})


class AccountSpec(msgspec.Struct, frozen=True):
    """An account to create: a unique code, a type and at most one limit."""

    code: str
    type: AccountType
    debits_must_not_exceed_credits: bool = False
    credits_must_not_exceed_debits: bool = False


class AccountCreated(enum.StrEnum):
    ok = "ok"
    exists = "exists"
    exists_with_different_fields = "exists_with_different_fields"


class Transfer(msgspec.Struct, frozen=True, kw_only=True):
    """A transfer to create. For post and void, accounts and amount may be left out (taken from the
    pending transfer); when given they must match it. ``event_at`` defaults to the time of creation."""

    id: UUID
    kind: TransferKind = TransferKind.single
    debit_account_id: int | None = None
    credit_account_id: int | None = None
    amount: int | None = None
    pending_id: UUID | None = None
    code: str
    reference: str | None = None
    metadata: dict[str, Any] | None = None
    event_at: datetime | None = None


class StoredTransfer(msgspec.Struct, frozen=True, kw_only=True):
    """A transfer as the ledger holds it."""

    id: UUID
    seq: int
    kind: TransferKind
    debit_account_id: int
    credit_account_id: int
    amount: int
    pending_id: UUID | None
    code: str
    reference: str | None
    metadata: dict[str, Any] | None
    event_at: datetime
    created_at: datetime


class Balance(msgspec.Struct, frozen=True, kw_only=True):
    """An account's four totals (đồng), now or as of a moment."""

    debits_posted: int
    credits_posted: int
    debits_pending: int
    credits_pending: int

    def net(self, account_type: AccountType) -> int:
        """Posted balance on the account's normal side (debit-normal: debits minus credits)."""
        if account_type in DEBIT_NORMAL_TYPES:
            return self.debits_posted - self.credits_posted
        return self.credits_posted - self.debits_posted


class AccountView(msgspec.Struct, frozen=True, kw_only=True):
    id: int
    code: str
    type: AccountType
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    balance: Balance
    created_at: datetime


class VerifyProblem(msgspec.Struct, frozen=True, kw_only=True):
    """One inconsistency found by ``verify_ledger``."""

    check: str
    message: str  # Vietnamese
    message_en: str
    account: str | None = None
    transfer: str | None = None


class VerifyReport(msgspec.Struct, frozen=True, kw_only=True):
    ok: bool
    accounts: int
    transfers: int
    problems: list[VerifyProblem]
    chain_head_hash: str  # hex; record it outside the database to anchor the chain
