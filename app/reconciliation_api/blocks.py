"""Bank accounts a bank returned money from with a reason saying they cannot receive it
(``bank_account_block``, migration 0021), as staff read them on a person's page."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reconciliation.matching import DECEASED_REASON, return_reason_text


@dataclass(frozen=True, slots=True)
class AccountBlock:
    """An open block on one of a person's bank accounts: payout runs hold the person while it is on their
    active account."""

    bank_account_id: int
    active: bool  # the person's current account (a corrected account registered since ends the hold)
    reason: str  # the bank's return code (AC04, MD07, ...)
    reason_message: str  # "Vietnamese / English"
    returned_at: datetime  # when the bank booked the return: the account is blocked since then
    payout_reference: str | None  # the returned payout

    @property
    def deceased_reported(self) -> bool:
        """The bank says the holder died (MD07): an officer checks it (exceptions queue) rather than
        registering another account."""
        return self.reason == DECEASED_REASON


async def open_account_blocks(session: AsyncSession, beneficiary_id: UUID) -> list[AccountBlock]:
    """The person's accounts that are blocked now (not released), the active account first."""
    rows = await session.execute(text(
        """SELECT k.bank_account_id, a.effective_to IS NULL AS active, k.reason, k.returned_at, p.reference
             FROM bank_account_block k
             JOIN bank_account a ON a.id = k.bank_account_id
             LEFT JOIN payout p ON p.id = k.payout_id
            WHERE a.beneficiary_id = :person AND k.released_at IS NULL
            ORDER BY a.effective_to IS NULL DESC, k.returned_at DESC"""), {"person": beneficiary_id})
    blocks = []
    for row in rows:
        blocks.append(AccountBlock(bank_account_id=row.bank_account_id, active=row.active, reason=row.reason,
                                   reason_message=return_reason_text(row.reason),
                                   returned_at=row.returned_at, payout_reference=row.reference))
    return blocks
