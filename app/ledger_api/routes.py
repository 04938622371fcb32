"""Ledger API: verify the whole ledger, look at one account."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from litestar import Controller, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import requires
from app.auth.models import Role
from app.http.problems import Problem, bilingual
from app.ledger_api.schemas import AccountDetail, TransferLine
from app.payouts.service.usage import verify_ledger_and_usage
from ledger import (
    VerifyReport,
    account_transfers,
    balance_as_of,
    get_account,
    get_accounts,
)


class LedgerController(Controller):
    path = "/api/ledger"
    tags = ["ledger"]

    @get("/verify", guards=[requires(Role.auditor, Role.admin)])
    async def verify(self, db_session: AsyncSession) -> VerifyReport:
        """Recompute every account from its transfers and check the hash chain; lists every problem."""
        return await verify_ledger_and_usage(db_session)

    @get("/accounts/{code:str}", guards=[requires(Role.officer, Role.auditor)])
    async def account(
        self,
        db_session: AsyncSession,
        code: str,
        limit: Annotated[int, Parameter(ge=1, le=500, description="how many recent transfers")] = 50,
        as_of: Annotated[datetime | None, Parameter(description="also give the balance as of this moment")] = None,
    ) -> AccountDetail:
        """An account's running totals, optionally its balance as of a moment, and its recent transfers."""
        account = await get_account(db_session, code)
        if account is None:
            raise Problem(404, bilingual(f"Không có tài khoản sổ cái mã {code}", f"No ledger account with code {code}"))
        if as_of is not None and as_of.tzinfo is None:
            raise Problem(422, bilingual("as_of phải có múi giờ (ví dụ 2026-01-31T23:59:59+07:00)",
                                         "as_of needs a time zone (for example 2026-01-31T23:59:59+07:00)"))
        transfers = await account_transfers(db_session, account.id, limit=limit)
        others = await get_accounts(db_session, {t.debit_account_id for t in transfers}
                                    | {t.credit_account_id for t in transfers})
        return AccountDetail(
            id=account.id,
            code=account.code,
            type=account.type.value,
            debits_must_not_exceed_credits=account.debits_must_not_exceed_credits,
            credits_must_not_exceed_debits=account.credits_must_not_exceed_debits,
            balance=account.balance,
            net=account.balance.net(account.type),
            as_of=as_of,
            balance_as_of=None if as_of is None else await balance_as_of(db_session, account.id, as_of),
            transfers=[
                TransferLine(
                    id=t.id, kind=t.kind.value, direction="debit" if t.debit_account_id == account.id else "credit",
                    debit_account=others[t.debit_account_id].code, credit_account=others[t.credit_account_id].code,
                    amount=t.amount, pending_id=t.pending_id, code=t.code, reference=t.reference,
                    metadata=t.metadata, event_at=t.event_at, created_at=t.created_at,
                )
                for t in transfers
            ],
        )
