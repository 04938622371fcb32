"""Beneficiaries' bank accounts (effective-dated, one active) and commune staff's change requests."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from uuid import UUID

import structlog
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.http.problems import Problem, bilingual
from app.reconciliation_api.blocks import open_block_on_number
from app.registry.identity import Message, holder_name_matches, mask_digits
from app.registry.models import Bank, BankAccount, BankAccountRequest, Beneficiary
from app.registry.schemas import BankAccountIn, BankAccountOut, BankAccountRequestOut
from app.registry.scope import commune_scope_condition, masks_identifiers
from app.registry.service.beneficiaries import bank_account_out, load_beneficiary
from app.registry.service.common import FieldCollector, actor_of, field_error, invalid, resolve_bank
from app.registry.validation import parse_account_number, parse_holder_name
from app.vietnam_time import vietnam_today

log = structlog.get_logger()


@dataclass(frozen=True)
class NewAccount:
    """A validated account to attach to a person."""

    bank_bin: str
    account_number: str
    holder_name: str


async def parse_bank_account_input(session: AsyncSession, collector: FieldCollector, data: BankAccountIn,
                                   full_name: str, *, prefix: str = "") -> NewAccount | None:
    """Check bank, number and holder name (derived from the person's name when omitted)."""
    bank = await resolve_bank(session, data.bank_bin)
    if bank is None:
        collector.add(f"{prefix}bank_bin", Message(f"Ngân hàng '{data.bank_bin}' không có trong danh sách",
                                                   f"Bank '{data.bank_bin}' is not in the bank list"))
    number = collector.parse(f"{prefix}account_number", parse_account_number, data.account_number)
    holder = collector.parse(f"{prefix}holder_name", parse_holder_name,
                             data.holder_name if data.holder_name else full_name)
    if bank is None or number is None or holder is None:
        return None
    return NewAccount(bank_bin=bank.bin, account_number=number, holder_name=holder)


async def _ensure_number_free(session: AsyncSession, account: NewAccount, beneficiary_id: UUID) -> None:
    holder = await session.scalar(select(BankAccount.beneficiary_id).where(
        BankAccount.bank_bin == account.bank_bin, BankAccount.account_number == account.account_number,
        BankAccount.effective_to.is_(None), BankAccount.beneficiary_id != beneficiary_id))
    if holder is not None:
        raise Problem(409, bilingual("Số tài khoản này đang là tài khoản của một người hưởng khác",
                                     "This account is the active account of another beneficiary"))


async def refuse_if_blocked(session: AsyncSession, account: NewAccount, principal: Principal | None) -> None:
    """409 when a bank returned money from this account number saying it cannot receive money and no officer
    released that block: whatever row or holder name it is registered under, the next run would pay into it."""
    block = await open_block_on_number(session, account.bank_bin, account.account_number)
    if block is not None:
        masked = masks_identifiers(principal)
        vi, en = block.messages(masked=masked)
        raise Problem(409, bilingual(vi, en), extra={"block": block.as_dict(masked=masked)})


async def replace_bank_account(session: AsyncSession, person: Beneficiary, account: NewAccount,
                               principal: Principal | None, *, today: date | None = None) -> BankAccount:
    """Make ``account`` the person's active account; the previous one is closed today (in Việt Nam; ``today``
    to give the day) and kept as history. An account number with an open block is refused (409)."""
    actor, role = actor_of(principal)
    await refuse_if_blocked(session, account, principal)
    await _ensure_number_free(session, account, person.id)
    current = await session.scalar(select(BankAccount).where(
        BankAccount.beneficiary_id == person.id, BankAccount.effective_to.is_(None)).with_for_update())
    if current is not None and (current.bank_bin, current.account_number, current.holder_name) == (
            account.bank_bin, account.account_number, account.holder_name):
        return current
    today = today or vietnam_today()
    if current is not None:
        await session.execute(update(BankAccount).where(BankAccount.id == current.id).values(effective_to=today))
    status = "unverified" if holder_name_matches(person.full_name, account.holder_name) else "name_mismatch"
    new = BankAccount(beneficiary_id=person.id, bank_bin=account.bank_bin, account_number=account.account_number,
                      holder_name=account.holder_name, verification_status=status, effective_from=today,
                      created_by=actor)
    session.add(new)
    if person.channel != "bank":
        person.channel = "bank"
        person.updated_at = func.now()
    await session.flush()
    await record(session, actor=actor, actor_role=role, action="bank_account.replace", object_type="beneficiary",
                 object_id=person.id,
                 before=None if current is None else {"bank_account_id": current.id, "bank_bin": current.bank_bin,
                                                      "account_number": current.account_number},
                 after={"bank_account_id": new.id, "bank_bin": new.bank_bin, "account_number": new.account_number,
                        "holder_name": new.holder_name, "verification_status": status})
    log.info("bank_account_replaced", beneficiary_id=str(person.id), bank=new.bank_bin, status=status)
    return new


async def _account_out(session: AsyncSession, account: BankAccount, person: Beneficiary,
                       principal: Principal | None) -> BankAccountOut:
    short_name = await session.scalar(select(Bank.short_name).where(Bank.bin == account.bank_bin)) or ""
    return bank_account_out(account, short_name, person.full_name, masked=masks_identifiers(principal))


async def add_bank_account(session: AsyncSession, beneficiary_id: UUID, data: BankAccountIn,
                           principal: Principal | None) -> BankAccountOut:
    """Officer: the new account becomes the active one at once."""
    person = await load_beneficiary(session, beneficiary_id, principal, lock=True)
    collector = FieldCollector()
    account = await parse_bank_account_input(session, collector, data, person.full_name)
    collector.raise_if_any()
    assert account is not None
    _refuse_if_deceased(person)
    new = await replace_bank_account(session, person, account, principal)
    return await _account_out(session, new, person, principal)


def _refuse_if_deceased(person: Beneficiary) -> None:
    if person.status == "deceased":
        raise Problem(409, bilingual("Người hưởng đã mất", "The beneficiary is deceased"))


async def list_bank_accounts(session: AsyncSession, beneficiary_id: UUID,
                             principal: Principal | None) -> list[BankAccountOut]:
    """Every account a person has had, newest first (the active one has no effective_to)."""
    person = await load_beneficiary(session, beneficiary_id, principal)
    rows = (await session.execute(
        select(BankAccount, Bank.short_name).join(Bank, Bank.bin == BankAccount.bank_bin)
        .where(BankAccount.beneficiary_id == person.id)
        .order_by(BankAccount.effective_to.is_(None).desc(), BankAccount.effective_from.desc(), BankAccount.id.desc())
    )).all()
    masked = masks_identifiers(principal)
    return [bank_account_out(a, short_name, person.full_name, masked=masked) for a, short_name in rows]


def request_out(request: BankAccountRequest, *, masked: bool) -> BankAccountRequestOut:
    """A change request for the API; ``masked`` hides all but the last 4 digits of the account number."""
    return BankAccountRequestOut(
        id=request.id, beneficiary_id=request.beneficiary_id, bank_bin=request.bank_bin,
        account_number=(mask_digits(request.account_number) if masked else request.account_number) or "", holder_name=request.holder_name, note=request.note,
        status=request.status, requested_by=request.requested_by, requested_at=request.requested_at,
        decided_by=request.decided_by, decided_at=request.decided_at, decision_note=request.decision_note,
        bank_account_id=request.bank_account_id,
    )


async def request_bank_account_change(session: AsyncSession, beneficiary_id: UUID, data: BankAccountIn,
                                      principal: Principal) -> BankAccountRequestOut:
    """Commune staff: file a request that an officer confirms; one pending request per person."""
    actor, role = actor_of(principal)
    person = await load_beneficiary(session, beneficiary_id, principal, lock=True)
    collector = FieldCollector()
    account = await parse_bank_account_input(session, collector, data, person.full_name)
    collector.raise_if_any()
    assert account is not None
    _refuse_if_deceased(person)
    pending = await session.scalar(select(BankAccountRequest.id).where(
        BankAccountRequest.beneficiary_id == person.id, BankAccountRequest.status == "pending"))
    if pending is not None:
        raise Problem(409, bilingual(f"Đã có yêu cầu số {pending} đang chờ duyệt cho người này",
                                     f"Request {pending} for this person is already waiting for an officer"))
    await refuse_if_blocked(session, account, principal)
    await _ensure_number_free(session, account, person.id)
    request = BankAccountRequest(beneficiary_id=person.id, bank_bin=account.bank_bin,
                                 account_number=account.account_number, holder_name=account.holder_name,
                                 note=data.note.strip()[:500], status="pending", requested_by=actor)
    session.add(request)
    await session.flush()
    await session.refresh(request)
    await record(session, actor=actor, actor_role=role, action="bank_account.request", object_type="beneficiary",
                 object_id=person.id, after={"request_id": request.id, "bank_bin": request.bank_bin,
                                             "account_number": request.account_number,
                                             "holder_name": request.holder_name})
    return request_out(request, masked=False)


async def list_bank_account_requests(session: AsyncSession, principal: Principal | None,
                                     status: str | None = "pending", *,
                                     beneficiary_id: UUID | None = None) -> list[BankAccountRequestOut]:
    """Requests in the caller's scope (commune staff: only the ones they can see), oldest first; one
    person's only with ``beneficiary_id``."""
    query = (select(BankAccountRequest).join(Beneficiary, Beneficiary.id == BankAccountRequest.beneficiary_id)
             .order_by(BankAccountRequest.requested_at, BankAccountRequest.id))
    condition = commune_scope_condition(principal, Beneficiary.commune_code)
    if condition is not None:
        query = query.where(condition)
    if status:
        query = query.where(BankAccountRequest.status == status)
    if beneficiary_id is not None:
        query = query.where(BankAccountRequest.beneficiary_id == beneficiary_id)
    requests = (await session.scalars(query)).all()
    return [request_out(r, masked=masks_identifiers(principal)) for r in requests]


async def decide_bank_account_request(session: AsyncSession, request_id: int, *, confirm: bool, note: str,
                                      principal: Principal) -> BankAccountRequestOut:
    """Officer: confirm (the account becomes active) or reject a pending request (a reason is required)."""
    actor, role = actor_of(principal)
    request = await session.scalar(select(BankAccountRequest).where(BankAccountRequest.id == request_id)
                                   .with_for_update())
    if request is None:
        raise Problem(404, bilingual("Không tìm thấy yêu cầu", "Request not found"))
    person = await load_beneficiary(session, request.beneficiary_id, principal, lock=True)
    if request.status != "pending":
        raise Problem(409, bilingual(f"Yêu cầu đã được xử lý ({request.status})",
                                     f"The request was already decided ({request.status})"))
    if request.requested_by == actor:
        raise Problem(409, bilingual("Người gửi yêu cầu không được tự duyệt",
                                     "The person who filed the request cannot decide it"))
    if not confirm and not note.strip():
        # Commune staff read the reason on the person's page: what to fix before asking again.
        raise invalid([field_error("note", Message("Cần ghi lý do từ chối để cán bộ xã biết phải sửa gì",
                                                   "Give the reason for refusing, so commune staff know what to fix"))])
    account_id = None
    if confirm:
        _refuse_if_deceased(person)
        account = await replace_bank_account(
            session, person,
            NewAccount(bank_bin=request.bank_bin, account_number=request.account_number,
                       holder_name=request.holder_name),
            principal)
        account_id = account.id
    await session.execute(
        update(BankAccountRequest).where(BankAccountRequest.id == request.id).values(
            status="confirmed" if confirm else "rejected", decided_by=actor, decided_at=func.now(),
            decision_note=note.strip()[:500], bank_account_id=account_id))
    await session.refresh(request)
    await record(session, actor=actor, actor_role=role,
                 action="bank_account.request_confirm" if confirm else "bank_account.request_reject",
                 object_type="beneficiary", object_id=person.id,
                 after={"request_id": request.id, "bank_account_id": account_id, "note": request.decision_note})
    return request_out(request, masked=False)
