"""``ansinh ledger verify`` as a separate process: exit 0 when consistent, 1 with every problem listed."""

from __future__ import annotations

import asyncio
from uuid import uuid4

from sqlalchemy import text

from app.database import make_engine, session_scope
from ledger import AccountSpec, AccountType, create_transfer_arrays, ensure_accounts
from tests.support.processes import base_env, run_cli


async def _history(url: str, tamper: bool) -> None:
    engine = make_engine(url, pool_size=1)
    try:
        async with session_scope(engine) as session:
            ids = await ensure_accounts(session, [AccountSpec(code="expense:P", type=AccountType.expense),
                                                  AccountSpec(code="payable:beneficiary:b1", type=AccountType.liability)])
            await create_transfer_arrays(session, ids=[uuid4(), uuid4()], debit_account_ids=[ids["expense:P"]] * 2,
                                         credit_account_ids=[ids["payable:beneficiary:b1"]] * 2,
                                         amounts=[750_000, 250_000], code="payout.approve")
            if tamper:
                await session.execute(text("UPDATE ledger_account SET debits_posted = 1 WHERE code = 'expense:P'"))
    finally:
        await engine.dispose()


def test_ledger_verify_exit_codes(database_url):
    env = base_env(DATABASE_URL=database_url)
    asyncio.run(_history(database_url, tamper=False))
    good = run_cli("ledger", "verify", env=env)
    assert good.returncode == 0, good.stderr
    assert "accounts: 2  transfers: 2" in good.stdout and "the ledger is consistent" in good.stdout

    asyncio.run(_history(database_url, tamper=True))
    bad = run_cli("ledger", "verify", env=env)
    assert bad.returncode == 1
    assert "account_totals: Tài khoản expense:P: debits_posted lưu 1" in bad.stdout
    assert "Account expense:P: debits_posted is 1, its transfers add up to 2000000" in bad.stdout
    assert "debits_equal_credits" in bad.stdout
