"""Budget reaching a bank's disbursement account (``bank:K:disbursement`` ← ``funding:P``) or a commune's cash
for its cash-channel payouts (``cash:commune:C`` ← ``funding:P``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.payouts.accounts import bank_disbursement_account, commune_cash_account, funding_account
from app.payouts.models import Funding
from app.payouts.service.errors import Conflict, NotFound, PayoutError
from ledger.accounts import ensure_accounts
from ledger.schemas import APPLIED_RESULTS, TransferKind
from ledger.service import create_transfer_arrays

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")
FUNDING_NAMESPACE = uuid.UUID("0b9e3a52-1f5d-4f7e-8d0c-2a6b7c8d9e10")


def funding_transfer_id(reference: str, *, bank_bin: str | None = None, commune_code: str | None = None) -> uuid.UUID:
    """The ledger transfer id of a funding: one per (bank, reference) or (commune, reference)."""
    key = f"{bank_bin}:{reference}" if bank_bin is not None else f"commune:{commune_code}:{reference}"
    return uuid.uuid5(FUNDING_NAMESPACE, key)


async def record_funding(session: AsyncSession, *, programme: str, amount: int, reference: str, value_date: date,
                         actor: str, bank_bin: str | None = None,
                         commune_code: str | None = None) -> tuple[Funding, bool]:
    """Record budget received by a bank (``bank_bin``) or a commune (``commune_code``, exactly one of the two)
    for a programme; the same reference again at the same bank or commune is a no-op, with other details a 409.

    Returns the funding and whether it was created now. The caller checks the commune is in the actor's scope."""
    bank_bin = bank_bin.strip() if bank_bin else None
    commune_code = commune_code.strip() if commune_code else None
    if (bank_bin is None) == (commune_code is None):
        raise PayoutError("Phải ghi đúng một trong hai: ngân hàng (bank_bin) hoặc xã/phường (commune_code)",
                          "give exactly one of bank_bin (a bank) or commune_code (a commune's cash)")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise PayoutError("Số tiền phải là số nguyên đồng dương", "amount must be a positive whole number of đồng")
    reference = reference.strip()
    if not reference:
        raise PayoutError("Thiếu số tham chiếu của khoản cấp tiền", "the funding's reference is required")
    place = Funding.bank_bin == bank_bin if bank_bin is not None else Funding.commune_code == commune_code
    existing = await session.scalar(select(Funding).where(place, Funding.reference == reference))
    if existing is not None:
        if (existing.programme_code, existing.amount, existing.value_date) != (programme, amount, value_date):
            raise Conflict("Số tham chiếu này đã được ghi với nội dung khác",
                           "this reference was already recorded with different details")
        return existing, False
    if not await session.scalar(text("SELECT 1 FROM programme WHERE code = :code"), {"code": programme}):
        raise NotFound(f"Không có chương trình {programme}", f"no programme {programme}")
    if bank_bin is not None:
        registered = await session.scalar(text(
            "SELECT 1 FROM disbursement_account WHERE bank_bin = :bin AND closed_at IS NULL"), {"bin": bank_bin})
        if not registered:
            raise Conflict("Ngân hàng chưa có tài khoản chi được đăng ký",
                           "the bank has no registered disbursement account")
        holder = bank_disbursement_account(bank_bin)
    else:
        assert commune_code is not None
        if not await session.scalar(text("SELECT 1 FROM commune WHERE code = :code"), {"code": commune_code}):
            raise NotFound(f"Không có xã/phường mã {commune_code}", f"unknown commune {commune_code}")
        holder = commune_cash_account(commune_code)
    budget = funding_account(programme)
    ids = await ensure_accounts(session, [holder, budget])
    transfer_id = funding_transfer_id(reference, bank_bin=bank_bin, commune_code=commune_code)
    results = await create_transfer_arrays(
        session, ids=[transfer_id], code="funding", kind=TransferKind.single,
        debit_account_ids=[ids[holder.code]], credit_account_ids=[ids[budget.code]], amounts=[amount],
        references=[reference[:64]], event_at=datetime.combine(value_date, time(0, 0), VIETNAM),
    )
    if results[0] not in APPLIED_RESULTS:
        raise Conflict(f"Sổ cái từ chối ghi nhận: {results[0]}", f"the ledger refused the funding: {results[0]}")
    funding = Funding(bank_bin=bank_bin, commune_code=commune_code, programme_code=programme, amount=amount,
                      reference=reference, value_date=value_date, recorded_by=actor, transfer_id=transfer_id)
    session.add(funding)
    await session.flush()
    await record(session, actor=actor, action="funding.record", object_type="funding", object_id=funding.id,
                 after={"bank_bin": bank_bin, "commune_code": commune_code, "programme": programme, "amount": amount,
                        "reference": reference, "value_date": value_date})
    return funding, True
