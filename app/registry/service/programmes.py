"""Programmes with effective-dated base amounts; banks and their disbursement accounts."""

from __future__ import annotations

import re
from datetime import date

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.http.problems import Problem, bilingual
from app.registry.identity import Message
from app.registry.models import (
    Bank,
    DisbursementAccount,
    Programme,
    ProgrammeCategory,
    ProgrammeRate,
    Province,
)
from app.registry.schemas import (
    BankOut,
    CategoryOut,
    DisbursementAccountOut,
    ProgrammeOut,
    RateIn,
    RateOut,
)
from app.registry.service.common import FieldCollector, actor_of
from app.registry.validation import parse_account_number

log = structlog.get_logger()

MAX_BASE_AMOUNT = 1_000_000_000


def _rate_out(rate: ProgrammeRate) -> RateOut:
    return RateOut(id=rate.id, province_code=rate.province_code, effective_from=rate.effective_from,
                   base_amount=rate.base_amount, legal_basis=rate.legal_basis, created_by=rate.created_by)


async def list_programmes(session: AsyncSession) -> list[ProgrammeOut]:
    """Every programme with its categories (coefficients) and rate history."""
    programmes = (await session.scalars(select(Programme).order_by(Programme.code))).all()
    categories = (await session.scalars(select(ProgrammeCategory).order_by(
        ProgrammeCategory.programme_code, ProgrammeCategory.code))).all()
    rates = (await session.scalars(select(ProgrammeRate).order_by(
        ProgrammeRate.programme_code, ProgrammeRate.effective_from, ProgrammeRate.province_code.nulls_first()))).all()
    return [
        ProgrammeOut(
            code=p.code, name_vi=p.name_vi, name_en=p.name_en, pay_day=p.pay_day, benefit_group=p.benefit_group,
            categories=[CategoryOut(code=c.code, coefficient=c.coefficient, name_vi=c.name_vi, name_en=c.name_en)
                        for c in categories if c.programme_code == p.code],
            rates=[_rate_out(r) for r in rates if r.programme_code == p.code],
        )
        for p in programmes
    ]


async def add_rate(session: AsyncSession, programme_code: str, data: RateIn, principal: Principal | None) -> RateOut:
    """Officer: a new base amount from the first day of a month (province officers: their province only)."""
    actor, role = actor_of(principal)
    programme = await session.get(Programme, programme_code.upper())
    if programme is None:
        raise Problem(404, bilingual("Không có chương trình này", "No such programme"))
    collector = FieldCollector()
    if data.effective_from.day != 1:
        collector.add("effective_from", Message("Mức mới phải có hiệu lực từ ngày 1 của tháng",
                                                "A new level must take effect on the first day of a month"))
    if not 0 < data.base_amount <= MAX_BASE_AMOUNT:
        collector.add("base_amount", Message("Mức chuẩn phải là số đồng dương",
                                             "The base amount must be a positive number of đồng"))
    province = data.province_code.strip() if data.province_code else None
    if province is not None and await session.get(Province, province) is None:
        collector.add("province_code", Message(f"Mã tỉnh '{province}' không tồn tại",
                                               f"Province '{province}' does not exist"))
    if principal is not None and principal.provinces and province not in principal.provinces:
        collector.add("province_code", Message("Bạn chỉ được đặt mức cho tỉnh của mình",
                                               "You may set levels only for your own province"))
    collector.raise_if_any()
    exists = await session.scalar(select(ProgrammeRate.id).where(
        ProgrammeRate.programme_code == programme.code, ProgrammeRate.effective_from == data.effective_from,
        ProgrammeRate.province_code.is_(None) if province is None else ProgrammeRate.province_code == province))
    if exists is not None:
        raise Problem(409, bilingual("Đã có mức cho chương trình, phạm vi và ngày hiệu lực này",
                                     "A level for this programme, scope and date already exists"))
    rate = ProgrammeRate(programme_code=programme.code, province_code=province, effective_from=data.effective_from,
                         base_amount=int(data.base_amount), legal_basis=data.legal_basis.strip()[:300], created_by=actor)
    session.add(rate)
    await session.flush()
    await session.refresh(rate)
    await record(session, actor=actor, actor_role=role, action="programme.rate_add", object_type="programme",
                 object_id=programme.code, after={"rate_id": rate.id, "province_code": province,
                                                  "effective_from": rate.effective_from,
                                                  "base_amount": rate.base_amount, "legal_basis": rate.legal_basis})
    log.info("programme_rate_added", programme=programme.code, province=province, base_amount=rate.base_amount)
    return _rate_out(rate)


async def rate_in_force(session: AsyncSession, programme_code: str, province_code: str, month: date) -> int | None:
    """The base amount in force for a programme, province and month (SQL ``rate_in_force``)."""
    value = await session.scalar(select(func.rate_in_force(programme_code, province_code, month)))
    return None if value is None else int(value)


async def list_banks(session: AsyncSession) -> list[BankOut]:
    """Banks by NAPAS BIN with their active disbursement account."""
    rows = (await session.execute(
        select(Bank, DisbursementAccount.account_number)
        .outerjoin(DisbursementAccount, (DisbursementAccount.bank_bin == Bank.bin)
                   & DisbursementAccount.closed_at.is_(None))
        .order_by(Bank.short_name))).all()
    return [BankOut(bin=bank.bin, short_name=bank.short_name, name=bank.name, disbursement_account=number)
            for bank, number in rows]


def _disbursement_out(account: DisbursementAccount) -> DisbursementAccountOut:
    return DisbursementAccountOut(id=account.id, bank_bin=account.bank_bin, account_number=account.account_number,
                                  registered_by=account.registered_by, registered_at=account.registered_at,
                                  closed_at=account.closed_at)


async def register_disbursement_account(session: AsyncSession, bank_bin: str, account_number: str,
                                        principal: Principal | None) -> tuple[DisbursementAccountOut, bool]:
    """Officer: the bank's account for payouts and budget; replaces (closes) the previous one.

    Returns the account and whether it was newly registered (False: it already was the active one).
    """
    actor, role = actor_of(principal)
    bank = await session.get(Bank, bank_bin)
    if bank is None:
        raise Problem(404, bilingual("Không có ngân hàng với mã BIN này", "No bank with this BIN"))
    collector = FieldCollector()
    number = collector.parse("account_number", parse_account_number, account_number)
    collector.raise_if_any()
    await session.execute(select(Bank.bin).where(Bank.bin == bank.bin).with_for_update())
    existing = await session.scalar(select(DisbursementAccount).where(
        DisbursementAccount.bank_bin == bank.bin, DisbursementAccount.account_number == number))
    if existing is not None:
        if existing.closed_at is None:
            return _disbursement_out(existing), False
        raise Problem(409, bilingual("Tài khoản này đã được đăng ký trước đây và đã đóng",
                                     "This account was registered before and has been closed"))
    previous = await session.scalar(select(DisbursementAccount).where(
        DisbursementAccount.bank_bin == bank.bin, DisbursementAccount.closed_at.is_(None)))
    if previous is not None:
        await session.execute(update(DisbursementAccount).where(DisbursementAccount.id == previous.id)
                              .values(closed_at=func.now()))
    account = DisbursementAccount(bank_bin=bank.bin, account_number=number, registered_by=actor)
    session.add(account)
    await session.flush()
    await session.refresh(account)
    await record(session, actor=actor, actor_role=role, action="bank.disbursement_account_register",
                 object_type="bank", object_id=bank.bin,
                 before=None if previous is None else {"account_number": previous.account_number},
                 after={"account_number": number})
    log.info("disbursement_account_registered", bank=bank.bin)
    return _disbursement_out(account), True


async def list_disbursement_accounts(session: AsyncSession, bank_bin: str) -> list[DisbursementAccountOut]:
    """A bank's disbursement accounts, the active one first."""
    accounts = (await session.scalars(select(DisbursementAccount).where(DisbursementAccount.bank_bin == bank_bin)
                                      .order_by(DisbursementAccount.closed_at.is_(None).desc(),
                                                DisbursementAccount.registered_at.desc()))).all()
    return [_disbursement_out(a) for a in accounts]


async def is_disbursement_account(session: AsyncSession, bank_bin: str, account_number: str) -> bool:
    """Whether ``account_number`` is (or was) a registered disbursement account of this bank.

    Statements are accepted only for such accounts; a closed one still counts so that late
    statements of the old account reconcile.
    """
    digits = re.sub(r"[\s.\-]", "", account_number)
    found = await session.scalar(select(DisbursementAccount.id).where(
        DisbursementAccount.bank_bin == bank_bin, DisbursementAccount.account_number == digits))
    return found is not None


async def active_disbursement_account(session: AsyncSession, bank_bin: str) -> str | None:
    """The account number payouts leave from at this bank, or None when none is registered."""
    return await session.scalar(select(DisbursementAccount.account_number).where(
        DisbursementAccount.bank_bin == bank_bin, DisbursementAccount.closed_at.is_(None)))
