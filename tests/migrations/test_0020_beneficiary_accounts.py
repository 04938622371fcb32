"""Migration 0020: registering a person opens their payable and undrawn ledger accounts (codes as the Python
side builds them); existing people get theirs; a code taken by another account is left alone; the migration
goes down and up again."""

from __future__ import annotations

import asyncio

from app.database import downgrade_database, migration_heads, upgrade_database
from app.payouts.accounts import payable_account
from reconciliation.withdrawals import undrawn_account
from tests.support.migrations import run_sql, versions

_REGISTER = """
    INSERT INTO beneficiary (national_id, full_name, date_of_birth, sex, commune_code, address, phone, channel)
    SELECT '0011' || '45' || lpad(CAST(n AS text), 6, '0'), 'Nguyễn Thị Thử ' || n, DATE '1945-03-01', 'female',
           '00070', 'Thôn 1', '0900000000', 'bank'
      FROM unnest(CAST($1 AS int[])) AS n
    RETURNING CAST(id AS text) AS id
"""


def _register(url: str, *numbers: int) -> list[str]:
    return [row["id"] for row in run_sql(url, _REGISTER, list(numbers))]


def _accounts(url: str, people: list[str]) -> dict[str, str]:
    codes = [spec.code for person in people for spec in (payable_account(person), undrawn_account(person))]
    return {row["code"]: row["type"] for row in run_sql(
        url, "SELECT code, type FROM ledger_account WHERE code = ANY($1::text[])", codes)}


def _opened(people: list[str]) -> dict[str, str]:
    return {**{payable_account(p).code: "liability" for p in people}, **{undrawn_account(p).code: "memo" for p in people}}


async def test_registration_opens_each_persons_two_accounts(database_url):
    url = database_url
    await asyncio.to_thread(downgrade_database, url, "0019")
    before = await asyncio.to_thread(_register, url, 1, 2)
    assert await asyncio.to_thread(_accounts, url, before) == {}  # nothing opened them yet
    # Someone's undrawn code is already an asset account: the migration leaves it as it is.
    await asyncio.to_thread(run_sql, url, "INSERT INTO ledger_account (code, type) VALUES ($1, 'asset')",
                            undrawn_account(before[1]).code)

    await asyncio.to_thread(upgrade_database, url)
    assert await asyncio.to_thread(_accounts, url, before) == {
        **_opened(before), undrawn_account(before[1]).code: "asset"}
    # One INSERT registering two people opens four accounts, with the codes the Python side uses.
    registered = await asyncio.to_thread(_register, url, 3, 4)
    assert await asyncio.to_thread(_accounts, url, registered) == _opened(registered)
    balances = await asyncio.to_thread(run_sql, url, """
        SELECT DISTINCT debits_posted, credits_posted, debits_pending, credits_pending,
                        debits_must_not_exceed_credits OR credits_must_not_exceed_debits AS limited
          FROM ledger_account WHERE code = ANY($1::text[])""", list(_opened(registered)))
    assert [tuple(row) for row in balances] == [(0, 0, 0, 0, False)]

    await asyncio.to_thread(downgrade_database, url, "0019")
    without = await asyncio.to_thread(_register, url, 5)
    assert await asyncio.to_thread(_accounts, url, without) == {}
    await asyncio.to_thread(upgrade_database, url)
    assert await asyncio.to_thread(_accounts, url, without) == _opened(without)
    assert await asyncio.to_thread(versions, url) == list(migration_heads())
