"""Helpers shared by the ledger tests."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from ledger import AccountSpec, AccountType, Balance, ensure_accounts, get_account


async def open_accounts(session: AsyncSession, *specs: tuple[str, AccountType] | AccountSpec) -> dict[str, int]:
    """Create accounts (code, type) or full specs; code -> id."""
    full = [s if isinstance(s, AccountSpec) else AccountSpec(code=s[0], type=s[1]) for s in specs]
    return await ensure_accounts(session, full)


async def totals(session: AsyncSession, code: str) -> tuple[int, int, int, int]:
    """(debits_posted, credits_posted, debits_pending, credits_pending) of an account."""
    account = await get_account(session, code)
    assert account is not None, code
    b: Balance = account.balance
    return b.debits_posted, b.credits_posted, b.debits_pending, b.credits_pending
