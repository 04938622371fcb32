"""Response shapes of the ledger API."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import msgspec

from ledger import Balance


class TransferLine(msgspec.Struct, kw_only=True):
    id: UUID
    kind: str
    direction: str  # "debit" or "credit": the side this account is on
    debit_account: str
    credit_account: str
    amount: int
    pending_id: UUID | None
    code: str
    reference: str | None
    metadata: dict[str, Any] | None
    event_at: datetime
    created_at: datetime


class AccountDetail(msgspec.Struct, kw_only=True):
    id: int
    code: str
    type: str
    debits_must_not_exceed_credits: bool
    credits_must_not_exceed_debits: bool
    balance: Balance
    net: int  # posted balance on the account's normal side
    as_of: datetime | None
    balance_as_of: Balance | None
    transfers: list[TransferLine]
