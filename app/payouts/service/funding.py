"""Budget reaching a bank's disbursement account (``bank:K:disbursement`` ← ``funding:P``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.payouts.accounts import bank_disbursement_account, funding_account
from app.payouts.models import Funding
from app.payouts.service.errors import Conflict, NotFound, PayoutError
from ledger.accounts import ensure_accounts
from ledger.schemas import APPLIED_RESULTS, TransferKind
from ledger.service import create_transfer_arrays

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
FUNDING_NAMESPACE = uuid.UUID("0b9e3a52-1f5d-4f7e-8d0c-2a6b7c8d9e10")


async def record_funding(session: AsyncSession, *, bank_bin: str, programme: str, amount: int, reference: str,
                         value_date: date, actor: str) -> tuple[Funding, bool]:
    """Record budget received by a bank for a programme; the same bank reference again is a no-op.

    Returns the funding and whether it was created now."""
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise PayoutError("Số tiền phải là số nguyên đồng dương", "amount must be a positive whole number of đồng")
    reference = reference.strip()
    if not reference:
        raise PayoutError("Thiếu số tham chiếu của ngân hàng", "the bank's reference is required")
    existing = await session.scalar(select(Funding).where(Funding.bank_bin == bank_bin, Funding.reference == reference))
    if existing is not None:
        if (existing.programme_code, existing.amount, existing.value_date) != (programme, amount, value_date):
            raise Conflict("Số tham chiếu này đã được ghi với nội dung khác",
                           "this reference was already recorded with different details")
        return existing, False
    if not await session.scalar(text("SELECT 1 FROM programme WHERE code = :code"), {"code": programme}):
        raise NotFound(f"Không có chương trình {programme}", f"no programme {programme}")
    registered = await session.scalar(text(
        "SELECT 1 FROM disbursement_account WHERE bank_bin = :bin AND closed_at IS NULL"), {"bin": bank_bin})
    if not registered:
        raise Conflict("Ngân hàng chưa có tài khoản chi được đăng ký",
                       "the bank has no registered disbursement account")
    bank, budget = bank_disbursement_account(bank_bin), funding_account(programme)
    ids = await ensure_accounts(session, [bank, budget])
    transfer_id = uuid.uuid5(FUNDING_NAMESPACE, f"{bank_bin}:{reference}")
    results = await create_transfer_arrays(
        session, ids=[transfer_id], code="funding", kind=TransferKind.single,
        debit_account_ids=[ids[bank.code]], credit_account_ids=[ids[budget.code]], amounts=[amount],
        references=[reference[:64]], event_at=datetime.combine(value_date, time(0, 0), VIETNAM),
    )
    if results[0] not in APPLIED_RESULTS:
        raise Conflict(f"Sổ cái từ chối ghi nhận: {results[0]}", f"the ledger refused the funding: {results[0]}")
    funding = Funding(bank_bin=bank_bin, programme_code=programme, amount=amount, reference=reference,
                      value_date=value_date, recorded_by=actor, transfer_id=transfer_id)
    session.add(funding)
    await session.flush()
    await record(session, actor=actor, action="funding.record", object_type="funding", object_id=funding.id,
                 after={"bank_bin": bank_bin, "programme": programme, "amount": amount, "reference": reference,
                        "value_date": value_date})
    return funding, True
