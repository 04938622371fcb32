"""Beneficiaries: create, read (scoped, masked), correct, search, and their status history."""

from __future__ import annotations

import re
from datetime import date, datetime
from typing import Any
from uuid import UUID

import msgspec
import structlog
from msgspec import UNSET
from sqlalchemy import ColumnElement, Select, and_, case, func, literal_column, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.http.paging import page_window
from app.http.problems import Problem, bilingual
from app.registry.category_ages import enrolment_age_warnings
from app.registry.identity import (
    Message,
    citizen_id_problems,
    fold_accents,
    holder_name_matches,
    mask_digits,
)
from app.registry.models import (
    Bank,
    BankAccount,
    BankAccountRequest,
    Beneficiary,
    BeneficiaryEvent,
    Commune,
    Enrolment,
)
from app.registry.schemas import (
    BankAccountOut,
    BeneficiaryIn,
    BeneficiaryOut,
    BeneficiaryPage,
    BeneficiaryPatch,
    BeneficiarySummary,
    EnrolmentOut,
    EnrolmentWarning,
    EventIn,
    EventOut,
)
from app.registry.scope import commune_in_scope, commune_scope_condition, masks_identifiers
from app.registry.service.common import FieldCollector, actor_of, find_commune, invalid, not_found
from app.registry.validation import (
    FieldError,
    format_month,
    parse_address,
    parse_channel,
    parse_citizen_id,
    parse_commune_code,
    parse_full_name,
    parse_phone,
    parse_sex,
)
from app.vietnam_time import vietnam_today

log = structlog.get_logger()

STATUSES = ("active", "suspended", "deceased")
EVENT_KINDS = ("suspended", "resumed", "deceased", "moved")
MAX_PAGE_SIZE = 200


async def load_beneficiary(
    session: AsyncSession, beneficiary_id: UUID, principal: Principal | None, *, lock: bool = False
) -> Beneficiary:
    """The person if they exist and are in the caller's scope, else 404 (never 403: no existence leak)."""
    query = select(Beneficiary).where(Beneficiary.id == beneficiary_id)
    condition = commune_scope_condition(principal, Beneficiary.commune_code)
    if condition is not None:
        query = query.where(condition)
    if lock:
        query = query.with_for_update()
    person = await session.scalar(query.execution_options(populate_existing=True))
    if person is None:
        raise not_found()
    return person


def _identity_problems(collector: FieldCollector, national_id: str | None, born: date | None,
                       sex: str | None) -> None:
    if national_id is None:
        return
    for problem in citizen_id_problems(national_id, born, sex):
        collector.add("national_id", problem)


def _check_birth_date(collector: FieldCollector, born: date, today: date | None = None) -> None:
    if born > (today or vietnam_today()):
        collector.add("date_of_birth", Message("Ngày sinh ở tương lai", "The date of birth is in the future"))
    elif born < date(1900, 1, 1):
        collector.add("date_of_birth", Message("Ngày sinh trước năm 1900", "The date of birth is before 1900"))


async def create_beneficiary(session: AsyncSession, data: BeneficiaryIn, principal: Principal | None,
                             now: datetime | None = None) -> UUID:
    """Register a person (active), with an optional bank account and enrolments; 409 on a known citizen ID."""
    from app.registry.service.accounts import parse_bank_account_input, replace_bank_account
    from app.registry.service.enrolments import insert_enrolment, parse_enrolment_input

    actor, role = actor_of(principal)
    today = vietnam_today(now)
    collector = FieldCollector()
    full_name = collector.parse("full_name", parse_full_name, data.full_name)
    national_id = collector.parse("national_id", parse_citizen_id, data.national_id)
    sex = collector.parse("sex", parse_sex, data.sex)
    _check_birth_date(collector, data.date_of_birth, today)
    _identity_problems(collector, national_id, data.date_of_birth, sex)
    commune_code = collector.parse("commune_code", parse_commune_code, data.commune_code)
    address = collector.parse("address", parse_address, data.address)
    phone = collector.parse("phone", parse_phone, data.phone)
    channel = collector.parse("channel", parse_channel, data.channel)
    commune = await find_commune(session, commune_code) if commune_code else None
    if commune_code and (commune is None or not commune_in_scope(principal, commune.code, commune.province_code)):
        collector.add("commune_code", Message(f"Mã xã '{commune_code}' không có hoặc ngoài phạm vi của bạn",
                                              f"Commune '{commune_code}' is unknown or outside your scope"))
    account = None
    if data.bank_account is not None:
        account = await parse_bank_account_input(session, collector, data.bank_account, full_name or "",
                                                 prefix="bank_account.")
    enrolments = [await parse_enrolment_input(session, collector, item, prefix=f"enrolments[{index}].",
                                              date_of_birth=data.date_of_birth)
                  for index, item in enumerate(data.enrolments)]
    if channel == "bank" and account is None:
        collector.add("channel", Message("Nhận qua ngân hàng cần có tài khoản",
                                         "The bank channel needs a bank account"))
    collector.raise_if_any()
    if await session.scalar(select(Beneficiary.id).where(Beneficiary.national_id == national_id)):
        raise Problem(409, bilingual("Số CCCD này đã có trong danh sách người hưởng",
                                     "This citizen ID is already registered"))
    person = Beneficiary(national_id=national_id, full_name=full_name, date_of_birth=data.date_of_birth, sex=sex,
                         commune_code=commune_code, address=address or "", phone=phone,
                         channel=channel or ("bank" if account else "cash"))
    session.add(person)
    try:
        await session.flush()
    except IntegrityError:
        raise Problem(409, bilingual("Số CCCD này đã có trong danh sách người hưởng",
                                     "This citizen ID is already registered")) from None
    session.add(BeneficiaryEvent(beneficiary_id=person.id, kind="registered", effective_on=today,
                                 status_after="active", commune_after=commune_code, recorded_by=actor))
    await session.flush()
    await record(session, actor=actor, actor_role=role, action="beneficiary.create", object_type="beneficiary",
                 object_id=person.id, after=_audit_fields(person))
    if account is not None:
        await replace_bank_account(session, person, account, principal, today=today)
    for enrolment in enrolments:
        assert enrolment is not None  # parse errors were raised above
        await insert_enrolment(session, person, enrolment, principal)
    log.info("beneficiary_created", beneficiary_id=str(person.id), commune=commune_code)
    return person.id


def _audit_fields(person: Beneficiary) -> dict[str, Any]:
    return {"national_id": person.national_id, "full_name": person.full_name, "date_of_birth": person.date_of_birth,
            "sex": person.sex, "commune_code": person.commune_code, "address": person.address,
            "phone": person.phone, "channel": person.channel}


async def update_beneficiary(session: AsyncSession, beneficiary_id: UUID, patch: BeneficiaryPatch,
                             principal: Principal | None) -> list[EnrolmentWarning]:
    """Correct a person's details; status and commune are refused here (they change through events). A corrected
    date of birth is saved even when an active enrolment's category no longer fits the age in its start month:
    the correction states a fact. Each such enrolment is returned as a warning, and kept in the audit entry."""
    actor, role = actor_of(principal)
    person = await load_beneficiary(session, beneficiary_id, principal, lock=True)
    collector = FieldCollector()
    for field_name in ("status", "commune_code"):
        if getattr(patch, field_name) is not UNSET:
            collector.add(field_name, Message(
                "Trạng thái và xã chỉ thay đổi qua sự kiện: POST /api/beneficiaries/{id}/events",
                "Status and commune change only through events: POST /api/beneficiaries/{id}/events"))
    changes: dict[str, Any] = {}
    if patch.full_name is not UNSET:
        changes["full_name"] = collector.parse("full_name", parse_full_name, patch.full_name)
    if patch.address is not UNSET:
        changes["address"] = collector.parse("address", parse_address, patch.address)
    if patch.phone is not UNSET:
        changes["phone"] = collector.parse("phone", parse_phone, patch.phone)
    if patch.channel is not UNSET:
        changes["channel"] = collector.parse("channel", parse_channel, patch.channel)
        if changes["channel"] is None:
            collector.add("channel", Message("Thiếu hình thức nhận", "The channel is missing"))
    if patch.national_id is not UNSET:
        changes["national_id"] = collector.parse("national_id", parse_citizen_id, patch.national_id)
    if patch.sex is not UNSET:
        changes["sex"] = collector.parse("sex", parse_sex, patch.sex)
    if patch.date_of_birth is not UNSET:
        assert isinstance(patch.date_of_birth, date)
        _check_birth_date(collector, patch.date_of_birth)
        changes["date_of_birth"] = patch.date_of_birth
    collector.raise_if_any()
    if {"national_id", "sex", "date_of_birth"} & changes.keys():
        _identity_problems(collector, changes.get("national_id", person.national_id),
                           changes.get("date_of_birth", person.date_of_birth), changes.get("sex", person.sex))
    if changes.get("channel") == "bank" and not await _active_account_id(session, person.id):
        collector.add("channel", Message("Nhận qua ngân hàng cần có tài khoản",
                                         "The bank channel needs a bank account"))
    collector.raise_if_any()
    changed = {k: v for k, v in changes.items() if getattr(person, k) != v}
    if not changed:
        return []
    if "national_id" in changed and await session.scalar(
            select(Beneficiary.id).where(Beneficiary.national_id == changed["national_id"])):
        raise Problem(409, bilingual("Số CCCD này đã có trong danh sách người hưởng",
                                     "This citizen ID is already registered"))
    before = {k: getattr(person, k) for k in changed}
    for key, value in changed.items():
        setattr(person, key, value)
    person.updated_at = func.now()
    await session.flush()
    if "full_name" in changed:
        await reflag_holder_names(session, [person.id])
    warnings: list[EnrolmentWarning] = []
    if "date_of_birth" in changed:
        enrolments = (await session.scalars(select(Enrolment).where(Enrolment.beneficiary_id == person.id)
                                            .order_by(Enrolment.start_month, Enrolment.id))).all()
        warnings = enrolment_age_warnings(person.date_of_birth, enrolments, this_month=vietnam_today().replace(day=1),
                                          deceased=person.status == "deceased")
        if warnings:
            log.info("birth_date_corrected_with_age_warnings", beneficiary_id=str(person.id),
                     enrolments=[warning.enrolment_id for warning in warnings])
    after = {**changed, "warnings": [msgspec.to_builtins(warning) for warning in warnings]} if warnings else changed
    await record(session, actor=actor, actor_role=role, action="beneficiary.update", object_type="beneficiary",
                 object_id=person.id, before=before, after=after)
    return warnings


async def reflag_holder_names(session: AsyncSession, beneficiary_ids: list[UUID]) -> None:
    """After a name change, flag active accounts whose holder name no longer matches (and unflag matches)."""
    await session.execute(
        text("""
            UPDATE bank_account a
               SET verification_status = CASE
                       WHEN NOT holder_name_matches(b.full_name, a.holder_name) THEN 'name_mismatch'
                       WHEN a.verification_status = 'name_mismatch' THEN 'unverified'
                       ELSE a.verification_status END
              FROM beneficiary b
             WHERE b.id = a.beneficiary_id AND a.effective_to IS NULL AND a.verification_status <> 'closed'
               AND b.id = ANY(:ids)
        """),
        {"ids": beneficiary_ids},
    )


async def _active_account_id(session: AsyncSession, beneficiary_id: UUID) -> int | None:
    return await session.scalar(select(BankAccount.id).where(BankAccount.beneficiary_id == beneficiary_id,
                                                             BankAccount.effective_to.is_(None)))


async def record_event(session: AsyncSession, beneficiary_id: UUID, data: EventIn,
                       principal: Principal | None) -> BeneficiaryEvent:
    """Append a status event (suspended, resumed, deceased, moved); the database applies it to the person."""
    actor, role = actor_of(principal)
    person = await load_beneficiary(session, beneficiary_id, principal, lock=True)
    collector = FieldCollector()
    if data.kind not in EVENT_KINDS:
        collector.add("kind", Message(f"Loại sự kiện '{data.kind}' không hợp lệ ({', '.join(EVENT_KINDS)})",
                                      f"Event kind '{data.kind}' is not one of {', '.join(EVENT_KINDS)}"))
        collector.raise_if_any()
    if data.kind == "deceased" and data.effective_on is None:
        collector.add("effective_on", Message("Cần ngày mất", "The date of death is required"))
    today = vietnam_today()
    effective_on = data.effective_on or today
    if effective_on > today:
        collector.add("effective_on", Message("Ngày hiệu lực ở tương lai", "The effective date is in the future"))
    if effective_on < person.date_of_birth:
        collector.add("effective_on", Message("Ngày hiệu lực trước ngày sinh",
                                              "The effective date is before the date of birth"))
    last_effective = await session.scalar(
        select(func.max(BeneficiaryEvent.effective_on)).where(BeneficiaryEvent.beneficiary_id == person.id,
                                                              BeneficiaryEvent.kind != "registered"))
    if last_effective is not None and effective_on < last_effective:
        collector.add("effective_on", Message(
            f"Ngày hiệu lực trước sự kiện gần nhất ({last_effective:%d/%m/%Y}); lịch sử không được sửa lùi",
            f"The effective date is before the latest event ({last_effective.isoformat()}); history is append-only"))
    to_commune = None
    if data.kind == "moved":
        code = collector.parse("to_commune", parse_commune_code, data.to_commune or "")
        if code is not None:
            if await find_commune(session, code) is None:
                collector.add("to_commune", Message(f"Mã xã '{code}' không tồn tại", f"Commune '{code}' does not exist"))
            elif code == person.commune_code:
                collector.add("to_commune", Message("Người hưởng đã ở xã này", "The beneficiary already lives there"))
            to_commune = code
    elif data.to_commune:
        collector.add("to_commune", Message("Chỉ dùng xã mới cho sự kiện chuyển đi",
                                            "to_commune is only for a move"))
    collector.raise_if_any()
    _check_transition(person.status, data.kind)
    before = {"status": person.status, "commune_code": person.commune_code, "deceased_on": person.deceased_on}
    event = BeneficiaryEvent(
        beneficiary_id=person.id, kind=data.kind, effective_on=effective_on,
        from_commune=person.commune_code if data.kind == "moved" else None, to_commune=to_commune,
        # The trigger recomputes both from the person's current state.
        status_after=person.status, commune_after=person.commune_code,
        reason=data.reason.strip()[:500], recorded_by=actor,
    )
    session.add(event)
    await session.flush()
    await session.refresh(event)
    await session.refresh(person)
    await record(session, actor=actor, actor_role=role, action=f"beneficiary.{data.kind}",
                 object_type="beneficiary", object_id=person.id, before=before,
                 after={"status": person.status, "commune_code": person.commune_code,
                        "deceased_on": person.deceased_on, "effective_on": effective_on, "event_id": event.id})
    log.info("beneficiary_event", beneficiary_id=str(person.id), kind=data.kind, status=person.status)
    return event


def _check_transition(status: str, kind: str) -> None:
    if status == "deceased":
        raise Problem(409, bilingual("Người hưởng đã mất: không ghi thêm sự kiện",
                                     "The beneficiary is deceased: no further events"))
    if kind == "suspended" and status != "active":
        raise Problem(409, bilingual("Chỉ tạm dừng được người đang hưởng",
                                     "Only an active beneficiary can be suspended"))
    if kind == "resumed" and status != "suspended":
        raise Problem(409, bilingual("Chỉ tiếp tục được người đang tạm dừng",
                                     "Only a suspended beneficiary can be resumed"))


async def list_events(session: AsyncSession, beneficiary_id: UUID, principal: Principal | None) -> list[EventOut]:
    """A person's status history, oldest first."""
    await load_beneficiary(session, beneficiary_id, principal)
    events = (await session.scalars(
        select(BeneficiaryEvent).where(BeneficiaryEvent.beneficiary_id == beneficiary_id)
        .order_by(BeneficiaryEvent.kind != "registered", BeneficiaryEvent.effective_on, BeneficiaryEvent.id)
    )).all()
    return [EventOut(id=e.id, kind=e.kind, effective_on=e.effective_on, from_commune=e.from_commune,
                     to_commune=e.to_commune, status_after=e.status_after, commune_after=e.commune_after,
                     reason=e.reason, recorded_by=e.recorded_by, recorded_at=e.recorded_at) for e in events]


def bank_account_out(account: BankAccount, bank_short_name: str, full_name: str, *, masked: bool) -> BankAccountOut:
    """An account for the API, masked for commune staff."""
    number = mask_digits(account.account_number) if masked else account.account_number
    return BankAccountOut(
        id=account.id, bank_bin=account.bank_bin, bank_short_name=bank_short_name, account_number=number or "",
        holder_name=account.holder_name, verification_status=account.verification_status,
        name_matches=holder_name_matches(full_name, account.holder_name),
        effective_from=account.effective_from, effective_to=account.effective_to,
    )


def _listing_query(principal: Principal | None) -> Select[Beneficiary, str, str, BankAccount, str]:
    query = (
        select(Beneficiary, Commune.name, Commune.province_code, BankAccount, Bank.short_name)
        .join(Commune, Commune.code == Beneficiary.commune_code)
        .outerjoin(BankAccount, and_(BankAccount.beneficiary_id == Beneficiary.id, BankAccount.effective_to.is_(None)))
        .outerjoin(Bank, Bank.bin == BankAccount.bank_bin)
    )
    condition = commune_scope_condition(principal, Beneficiary.commune_code)
    return query if condition is None else query.where(condition)


# A literal (not a bound parameter) so the expression matches the GIN index ix_beneficiary_search.
_SEARCH_CONFIG: ColumnElement[Any] = literal_column("'simple'::regconfig")
_WORD = re.compile(r"[a-z0-9]+")


def name_tsquery(q: str) -> str | None:
    """A prefix tsquery over the accent-folded words of ``q`` ("Nguyễn Thị Hoa" -> "nguyen:* & thi:* & hoa:*")."""
    words = _WORD.findall(fold_accents(q))
    return " & ".join(f"{word}:*" for word in words) if words else None


async def search_beneficiaries(
    session: AsyncSession, principal: Principal | None, *, q: str | None = None, commune: str | None = None,
    status: str | None = None, page: int = 1, page_size: int = 50,
) -> BeneficiaryPage:
    """Search by name (accents optional), citizen ID or phone, within the caller's scope; paged."""
    if status is not None and status not in STATUSES:
        raise invalid([{"row": None, "column": "status", "message": f"Trạng thái '{status}' không hợp lệ",
                        "message_en": f"Status '{status}' is not one of {', '.join(STATUSES)}"}])
    page, page_size = page_window(page, page_size, most=MAX_PAGE_SIZE)
    query = _listing_query(principal)
    if commune:
        query = query.where(Beneficiary.commune_code == commune.strip())
    if status:
        query = query.where(Beneficiary.status == status)
    order: list[Any] = [Beneficiary.name_sort_key, Beneficiary.id]  # Vietnamese alphabetical order
    q = (q or "").strip()
    if q:
        digits = re.sub(r"[\s.\-()]", "", q)
        if re.fullmatch(r"\+?[0-9]+", digits):
            # Identifiers match exactly: a prefix search would let masked viewers probe citizen IDs.
            condition = Beneficiary.national_id == digits
            try:
                phone = parse_phone(digits)
            except FieldError:
                phone = None
            if phone is not None:
                condition = condition | (Beneficiary.phone == phone)
            query = query.where(condition)
        else:
            tsquery = name_tsquery(q)
            if tsquery is None:
                return BeneficiaryPage(items=[], total=0, page=page, page_size=page_size)
            query = query.where(func.to_tsvector(_SEARCH_CONFIG, Beneficiary.search_name)
                                .op("@@")(func.to_tsquery(_SEARCH_CONFIG, tsquery)))
            order.insert(0, case((Beneficiary.search_name == fold_accents(q), 0), else_=1))
    total = int(await session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    rows = (await session.execute(query.order_by(*order).limit(page_size).offset((page - 1) * page_size))).all()
    masked = masks_identifiers(principal)
    items = [
        BeneficiarySummary(
            id=person.id, national_id=(mask_digits(person.national_id) if masked else person.national_id) or "",
            full_name=person.full_name, date_of_birth=person.date_of_birth, sex=person.sex,
            commune_code=person.commune_code, commune_name=commune_name, province_code=province_code,
            phone=person.phone, address=person.address, status=person.status, channel=person.channel,
            bank_account=None if account is None else bank_account_out(account, short_name, person.full_name,
                                                                         masked=masked),
        )
        for person, commune_name, province_code, account, short_name in rows
    ]
    return BeneficiaryPage(items=items, total=total, page=page, page_size=page_size)


async def beneficiary_detail(session: AsyncSession, beneficiary_id: UUID, principal: Principal | None) -> BeneficiaryOut:
    """A person with their active bank account, enrolments (with this month's amount) and payouts."""
    row = (await session.execute(
        _listing_query(principal).where(Beneficiary.id == beneficiary_id)
        .execution_options(populate_existing=True))).first()
    if row is None:
        raise not_found()
    person, commune_name, province_code, account, short_name = row
    masked = masks_identifiers(principal)
    month = vietnam_today().replace(day=1)
    enrolment_rows = (await session.execute(
        select(Enrolment, func.monthly_amount(func.rate_in_force(Enrolment.programme_code, province_code, month),
                                              Enrolment.coefficient))
        .where(Enrolment.beneficiary_id == person.id)
        .order_by(Enrolment.start_month, Enrolment.id)
    )).all()
    pending = await session.scalar(select(BankAccountRequest.id).where(
        BankAccountRequest.beneficiary_id == person.id, BankAccountRequest.status == "pending"))
    enrolments = [enrolment for enrolment, _ in enrolment_rows]
    return BeneficiaryOut(
        id=person.id, national_id=(mask_digits(person.national_id) if masked else person.national_id) or "",
        full_name=person.full_name, date_of_birth=person.date_of_birth, sex=person.sex,
        commune_code=person.commune_code, commune_name=commune_name, province_code=province_code,
        phone=person.phone, address=person.address, status=person.status, deceased_on=person.deceased_on,
        channel=person.channel,
        bank_account=None if account is None else bank_account_out(account, short_name, person.full_name,
                                                                     masked=masked),
        enrolments=[enrolment_out(e, amount) for e, amount in enrolment_rows],
        payouts=await _payout_history(session, beneficiary_id),
        pending_bank_account_request=pending,
        created_at=person.created_at, updated_at=person.updated_at,
        warnings=enrolment_age_warnings(person.date_of_birth, enrolments, this_month=month,
                                        deceased=person.status == "deceased"),
    )


def enrolment_out(enrolment: Enrolment, monthly_amount: int | None) -> EnrolmentOut:
    """An enrolment for the API; the amount is this month's (None once it ended or before it starts)."""
    month = vietnam_today().replace(day=1)
    running = enrolment.start_month <= month and (enrolment.end_month is None or enrolment.end_month >= month)
    return EnrolmentOut(
        id=enrolment.id, programme=enrolment.programme_code, category=enrolment.category_code,
        coefficient=enrolment.coefficient, start_month=format_month(enrolment.start_month) or "",
        end_month=format_month(enrolment.end_month), decision_number=enrolment.decision_number,
        decision_date=enrolment.decision_date, monthly_amount=monthly_amount if running else None,
    )


async def _payout_history(session: AsyncSession, beneficiary_id: UUID) -> list[dict[str, Any]]:
    """The person's payouts, newest first, with credited and withdrawn times and days to withdraw."""
    from app.payouts.service.history import list_payouts  # payouts builds on the registry, not the reverse

    listed = await list_payouts(session, beneficiary_id=beneficiary_id, page_size=120, newest_first=True)
    return [msgspec.to_builtins(item) for item in listed["items"]]
