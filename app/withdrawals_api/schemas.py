"""Input and output shapes of the withdrawals API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from app.http.money import Dong


class IntakeOut(msgspec.Struct):
    """A bank's intake: rows = accepted + duplicates + conflicts_total. ``unknown_accounts`` and ``conflicts``
    list the first 1,000 rows each (by row number; ``*_truncated`` when there are more), the totals count
    them all; the file as received is at ``upload_url``."""

    intake_id: UUID
    rows: int
    accepted: int
    duplicates: int
    unknown_accounts: list[dict[str, Any]]
    conflicts: list[dict[str, Any]]
    unknown_accounts_total: int = 0
    unknown_account_numbers: int = 0
    unknown_accounts_truncated: bool = False
    conflicts_total: int = 0
    conflicts_truncated: bool = False
    upload_url: str | None = None
    # Commune staff's assisted records of withdrawals this feed reports: cancelled, counted once as the bank's.
    assisted_confirmed: int = 0


class AssistedWithdrawalIn(msgspec.Struct):
    occurred_at: datetime
    amount: Dong
    channel: str | None = None  # assisted | cash_handover; default by the person's channel
    helper_name: str | None = None
    note: str = ""


class AssistedWithdrawalOut(msgspec.Struct):
    id: int
    beneficiary_id: UUID
    occurred_at: datetime
    amount: int
    channel: str
    helper_name: str
    note: str
    recorded_by: str
    undrawn_amount: int


class FollowUpNoteIn(msgspec.Struct):
    kind: str
    text: str = ""
    at: datetime | None = None


class FollowUpNoteOut(msgspec.Struct):
    id: int
    beneficiary_id: UUID
    kind: str
    at: datetime
    recorded_by: str
    text: str


class WithdrawalCancelIn(msgspec.Struct):
    reason: str = ""  # required: a missing or blank reason gets the 422 that names the field


class WithdrawalOut(msgspec.Struct):
    id: int
    beneficiary_id: UUID
    occurred_at: datetime
    amount: int
    channel: str
    source: str  # bank | commune
    bank_bin: str | None
    bank_name: str | None  # the bank's short name (Vietcombank), for people to read
    bank_reference: str | None
    recorded_by: str
    helper_name: str | None
    note: str
    cancelled_at: datetime | None
    cancelled_by: str | None
    cancel_reason: str | None
