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


async def usage_by_place(session: AsyncSession) -> tuple[dict[tuple[str, bool, str], int], dict[tuple[str, bool, str], int]]:
    """(``programme_usage`` as kept, the same sums read from every payout): what each programme's payouts took at
    each bank and commune (sent or credited). The two must be equal."""
    from sqlalchemy import text

    kept = {(r.programme_code, r.by_bank, r.place): int(r.used) for r in await session.execute(text(
        "SELECT programme_code, by_bank, place, used FROM programme_usage WHERE used <> 0"))}
    summed = {(r.programme_code, r.by_bank, r.place): int(r.used) for r in await session.execute(text(
        """SELECT r.programme_code, p.channel = 'bank' AS by_bank,
                  CASE p.channel WHEN 'bank' THEN p.bank_bin ELSE p.commune_code END AS place, sum(p.amount) AS used
             FROM payout p JOIN payout_run r ON r.id = p.run_id
            WHERE p.status IN ('sent', 'credited') AND p.channel IN ('bank', 'cash')
            GROUP BY 1, 2, 3"""))}
    return kept, summed
