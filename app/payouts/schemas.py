"""Input and output shapes of the payouts API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec

from app.http.money import Dong


class RunInput(msgspec.Struct):
    programme: str
    period: str
    kind: str = "regular"


class CancelInput(msgspec.Struct):
    reason: str = ""  # required: a missing or blank reason is refused with a clear 422


class Progress(msgspec.Struct):
    phase: str | None
    done: int
    total: int
    rate_per_second: float | None


class RunOutput(msgspec.Struct):
    id: UUID
    programme: str
    period: str
    kind: str
    status: str
    arrears_from: str
    created_by: str
    prepared_by: str | None
    approved_by: str | None
    sent_by: str | None
    created_at: datetime
    computed_at: datetime | None
    approved_at: datetime | None
    sent_at: datetime | None
    progress: Progress
    count: int
    total_amount: int
    last_error: str | None = None
    cancelled_by: str | None = None
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    # When the last payout of the sent run got its outcome (credited, returned, cash handed over in full or given
    # back, withheld), and when and by whom an officer closed it.
    settled_at: datetime | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    # Of a province-limited caller: {provinces, count, total_amount} of the run's payouts there; every list below
    # then holds those provinces' people only (count and total_amount above stay the whole run's).
    scope: dict[str, Any] | None = None
    by_bank: list[dict[str, Any]] = msgspec.field(default_factory=list)
    by_commune: list[dict[str, Any]] = msgspec.field(default_factory=list)
    by_status: dict[str, int] = msgspec.field(default_factory=dict)
    # Everyone compute did not pay for good (no usable account, a name mismatch …), the held below left out: the
    # whole count, and the first LISTED_SKIPS of them; GET /api/payout-runs/{id}/unpaid lists them all.
    skipped_count: int = 0
    skipped: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # People on the bank channel the run did not pay because of a cause an officer must fix (an open MD07
    # flag, an account blocked by a return); their months stay unpaid for the next run's arrears.
    held_count: int = 0
    held: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # Payouts withheld (cancelled, months released) because the registry changed after compute or approval.
    withheld_count: int = 0
    withheld: list[dict[str, Any]] = msgspec.field(default_factory=list)
    # Of a settled or closed run (detail only): what keeps it from being closed, or came up after it was —
    # {bank_in_flight, cash_in_flight, in_flight[], returns[], exceptions[], flags[]}; None for other runs.
    open_items: dict[str, Any] | None = None


class PayoutOutput(msgspec.Struct):
    id: UUID
    reference: str
    run_id: UUID
    beneficiary_id: UUID
    full_name: str
    commune_code: str
    channel: str
    bank_bin: str | None
    account_number: str | None
    amount: int
    months: list[str]
    status: str
    sent_at: datetime | None
    credited_at: datetime | None
    # When the money reached the person: credited_at, or for cash the time it reached the commune (sent_at);
    # days_to_withdraw counts from it, as the time-to-withdrawal report does.
    arrived_at: datetime | None
    return_reason: str | None
    first_withdrawal_at: datetime | None
    withdrawn_at: datetime | None
    days_to_withdraw: float | None


class FundingInput(msgspec.Struct):
    """Budget for a programme reaching a bank's disbursement account (``bank_bin``) or a commune's cash
    (``commune_code``): exactly one of the two."""

    programme: str
    amount: Dong
    reference: str
    value_date: date
    bank_bin: str | None = None
    commune_code: str | None = None


class FundingReversal(msgspec.Struct):
    """How a funding entry recorded by mistake was taken back (a new ledger transfer; the entry stays)."""

    reason: str
    reversed_by: str
    reversed_at: datetime
    transfer_id: UUID


class FundingOutput(msgspec.Struct):
    id: UUID
    bank_bin: str | None
    commune_code: str | None
    programme: str
    amount: int
    reference: str
    value_date: date
    recorded_by: str
    recorded_at: datetime
    created: bool
    reversal: FundingReversal | None = None


class FundingReversalInput(msgspec.Struct):
    """Why the funding entry is taken back (recorded at the wrong bank, the wrong amount, twice, ...)."""

    reason: str


class CashReturnInput(msgspec.Struct):
    """Why the commune gave the cash of a payout back (the person died, moved, could not be found)."""

    reason: str
