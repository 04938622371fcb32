"""Budget reaching a bank's disbursement account (``bank:K:disbursement`` ← ``funding:P``) or a commune's cash
for its cash-channel payouts (``cash:commune:C`` ← ``funding:P``)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, time
from typing import Any

from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.payouts.accounts import bank_disbursement_account, commune_cash_account, funding_account
from app.payouts.models import Funding
from app.payouts.service.errors import Conflict, NotFound, PayoutError
from app.payouts.service.ledger_steps import budget_left, funding_lock_key
from app.vietnam_time import VIETNAM, vietnam_today
from ledger.accounts import ensure_accounts
from ledger.schemas import APPLIED_RESULTS, TransferKind
from ledger.service import create_transfer_arrays, lock_ledger

FUNDING_NAMESPACE = uuid.UUID("0b9e3a52-1f5d-4f7e-8d0c-2a6b7c8d9e10")
# One entry's largest amount: a thousand trillion đồng (the ledger's balances are bigint; migration 0028).
MAX_FUNDING = 10**15


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
    if amount > MAX_FUNDING:
        raise PayoutError(f"Số tiền một lần cấp không được quá {MAX_FUNDING:,} đồng".replace(",", "."),
                          f"one funding entry cannot exceed {MAX_FUNDING:,} đồng")
    today = vietnam_today()
    if value_date > today:
        raise PayoutError(f"Ngày có tiền ({value_date:%d/%m/%Y}) không được sau hôm nay ({today:%d/%m/%Y}): chỉ ghi "
                          f"khoản kinh phí đã về tài khoản",
                          f"the value date {value_date} is after today ({today}): record budget that has arrived")
    reference = reference.strip()
    if not reference:
        raise PayoutError("Thiếu số tham chiếu của khoản cấp tiền", "the funding's reference is required")
    place = Funding.bank_bin == bank_bin if bank_bin is not None else Funding.commune_code == commune_code
    existing = await session.scalar(select(Funding).where(place, Funding.reference == reference))
    if existing is not None and await session.scalar(text(
            "SELECT EXISTS (SELECT 1 FROM funding_reversal WHERE funding_id = :id)"), {"id": existing.id}):
        raise Conflict(f"Khoản cấp kinh phí số tham chiếu {reference} đã được ghi rồi hủy: ghi khoản đúng với một số "
                       f"tham chiếu khác (ví dụ {reference[:60]}-2)",
                       f"funding {reference} was recorded and then reversed: record the correct entry under another "
                       f"reference (for example {reference[:60]}-2)")
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


async def reverse_funding(session: AsyncSession, funding_id: uuid.UUID, *, reason: str | None,
                          actor: str) -> tuple[Funding, dict[str, Any]]:
    """Take back a funding entry recorded by mistake: a reversing ledger transfer (``funding:P`` ← the bank's
    disbursement account or the commune's cash) and a ``funding_reversal`` row; the funding stays as it was.

    409 when it was reversed already, when a bank statement confirmed it (the money did arrive), or when the
    programme's payouts have taken the money (what is left of its budget there, or in the bank's pooled
    account, is less than the amount). Serialised with send's budget check (the programme's lock)."""
    reason = (reason or "").strip()
    if not reason:
        raise PayoutError("Cần ghi lý do hủy khoản cấp kinh phí", "a reason is required to reverse a funding entry")
    if len(reason) > 500:
        raise PayoutError("Lý do quá dài (tối đa 500 ký tự)", "the reason is too long (500 characters at most)")
    bank_bin = await session.scalar(text("SELECT bank_bin FROM funding WHERE id = :id"), {"id": funding_id})
    if bank_bin is not None:
        # A statement import of the bank may be matching this entry right now: wait for it (its lock, taken
        # before the ledger's as the import takes them), so the check below sees what it confirmed.
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                              {"key": f"statement_import:{bank_bin}"})
    await lock_ledger(session)  # the ledger's lock next, as every writer to it
    funding = await session.get(Funding, funding_id)
    if funding is None:
        raise NotFound("Không có khoản cấp kinh phí này", "no such funding entry")
    await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                          {"key": funding_lock_key(funding.programme_code)})
    state = (await session.execute(text(
        """SELECT (SELECT reversed_at FROM funding_reversal WHERE funding_id = f.id) AS reversed_at,
                  EXISTS (SELECT 1 FROM statement_line l WHERE l.funding_id = f.id) AS confirmed
             FROM funding f WHERE f.id = :id"""), {"id": funding_id})).one()
    if state.reversed_at is not None:
        raise Conflict(f"Khoản cấp kinh phí {funding.reference} đã được hủy lúc "
                       f"{state.reversed_at.astimezone(VIETNAM):%H:%M %d/%m/%Y}",
                       f"funding {funding.reference} was already reversed")
    if state.confirmed:
        raise Conflict(f"Sao kê của ngân hàng đã xác nhận khoản {funding.reference} về tài khoản: không hủy được "
                       f"(nếu sai số tiền, hãy ghi một khoản điều chỉnh khác)",
                       f"a bank statement confirmed funding {funding.reference} arrived: it cannot be reversed")
    left = await budget_left(session, funding.programme_code, bank_bin=funding.bank_bin,
                             commune_code=funding.commune_code)
    if left < funding.amount:
        raise Conflict(
            f"Không hủy được khoản {funding.reference}: kinh phí {funding.programme_code} tại đây chỉ còn "
            f"{left:,} đồng chưa dùng, ít hơn {funding.amount:,} đồng".replace(",", "."),
            f"cannot reverse funding {funding.reference}: only {left} đồng of {funding.programme_code}'s budget "
            f"there is unused, less than {funding.amount}", available=left)
    holder = bank_disbursement_account(funding.bank_bin) if funding.bank_bin is not None \
        else commune_cash_account(funding.commune_code or "")
    budget = funding_account(funding.programme_code)
    ids = await ensure_accounts(session, [holder, budget])
    transfer_id = uuid.uuid5(FUNDING_NAMESPACE, f"reversal:{funding.id}")
    results = await create_transfer_arrays(
        session, ids=[transfer_id], code="funding.reversal", kind=TransferKind.single,
        debit_account_ids=[ids[budget.code]], credit_account_ids=[ids[holder.code]], amounts=[funding.amount],
        references=[funding.reference[:64]])
    if results[0] not in APPLIED_RESULTS:
        raise Conflict(f"Sổ cái từ chối hủy khoản cấp kinh phí: {results[0]} (tài khoản chi không còn đủ tiền)",
                       f"the ledger refused the reversal: {results[0]}")
    reversed_at = await session.scalar(text(
        """INSERT INTO funding_reversal (funding_id, reason, reversed_by, transfer_id)
           VALUES (:id, :reason, :actor, :transfer) RETURNING reversed_at"""),
        {"id": funding.id, "reason": reason, "actor": actor, "transfer": transfer_id})
    reversal = {"reason": reason, "reversed_by": actor, "reversed_at": reversed_at, "transfer_id": transfer_id}
    await record(session, actor=actor, action="funding.reverse", object_type="funding", object_id=funding.id,
                 before={"amount": funding.amount, "reference": funding.reference},
                 after={"reversed": True, "reason": reason, "transfer_id": transfer_id})
    return funding, reversal

