"""Enrolments: a person in a programme category from a start month, by a decision."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID

import structlog
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.http.problems import Problem, bilingual
from app.registry.category_ages import category_age_problem
from app.registry.identity import Message, normalise_spaces
from app.registry.models import Beneficiary, Commune, Enrolment
from app.registry.schemas import EnrolmentEndIn, EnrolmentIn, EnrolmentOut
from app.registry.service.beneficiaries import enrolment_out, load_beneficiary
from app.registry.service.common import FieldCollector, actor_of, find_category
from app.registry.validation import parse_code, parse_coefficient, parse_decision_number, parse_month
from app.vietnam_time import month_text, vietnam_today

log = structlog.get_logger()

# Why an enrolment ends is kept in its audit entry: a few words at least (as for releasing a block), not an essay.
MIN_END_REASON = 3
MAX_END_REASON = 500


@dataclass(frozen=True)
class NewEnrolment:
    """A validated enrolment."""

    programme_code: str
    category_code: str
    coefficient: Decimal
    start_month: date
    end_month: date | None
    decision_number: str
    decision_date: date | None


async def parse_enrolment_input(session: AsyncSession, collector: FieldCollector, data: EnrolmentIn, *,
                                prefix: str = "", date_of_birth: date | None = None) -> NewEnrolment | None:
    """Check programme, category (and, given the date of birth, the person's age for it in the start month),
    coefficient (default: the category's), months and decision."""
    programme = collector.parse(f"{prefix}programme", parse_code, data.programme, what_vi="chương trình",
                                what_en="programme")
    category_code = collector.parse(f"{prefix}category", parse_code, data.category, what_vi="đối tượng",
                                    what_en="category")
    category = await find_category(session, programme, category_code) if programme and category_code else None
    if programme and category_code and category is None:
        collector.add(f"{prefix}category", Message(
            f"Đối tượng '{category_code}' không thuộc chương trình '{programme}'",
            f"Category '{category_code}' is not a category of programme '{programme}'"))
    coefficient = collector.parse(f"{prefix}coefficient", parse_coefficient,
                                  None if data.coefficient is None else str(data.coefficient))
    start = collector.parse(f"{prefix}start_month", parse_month, data.start_month)
    if category is not None and start is not None and date_of_birth is not None:
        age_problem = category_age_problem(category.programme_code, category.code, date_of_birth, start)
        if age_problem is not None:
            collector.add(f"{prefix}category", age_problem)
    end = collector.parse(f"{prefix}end_month", parse_month, data.end_month) if data.end_month else None
    if start and end and end < start:
        collector.add(f"{prefix}end_month", Message("Tháng kết thúc trước tháng bắt đầu",
                                                    "The end month is before the start month"))
    decision = collector.parse(f"{prefix}decision_number", parse_decision_number, data.decision_number)
    if category is None or start is None or decision is None or (data.end_month and end is None):
        return None
    return NewEnrolment(programme_code=category.programme_code, category_code=category.code,
                        coefficient=coefficient if coefficient is not None else category.coefficient,
                        start_month=start, end_month=end, decision_number=decision,
                        decision_date=data.decision_date)


async def insert_enrolment(session: AsyncSession, person: Beneficiary, enrolment: NewEnrolment,
                           principal: Principal | None) -> Enrolment:
    """Store an enrolment; 409 when the same decision (programme, category, start month) exists."""
    actor, role = actor_of(principal)
    exists = await session.scalar(select(Enrolment.id).where(
        Enrolment.beneficiary_id == person.id, Enrolment.programme_code == enrolment.programme_code,
        Enrolment.category_code == enrolment.category_code, Enrolment.start_month == enrolment.start_month))
    if exists is not None:
        raise Problem(409, bilingual(
            f"Người này đã được hưởng {enrolment.category_code} từ tháng {month_text(enrolment.start_month)} "
            f"(quyết định số {exists})",
            f"This person is already enrolled in {enrolment.category_code} from {month_text(enrolment.start_month)} "
            f"(enrolment {exists})"))
    row = Enrolment(beneficiary_id=person.id, programme_code=enrolment.programme_code,
                    category_code=enrolment.category_code, coefficient=enrolment.coefficient,
                    start_month=enrolment.start_month, end_month=enrolment.end_month,
                    decision_number=enrolment.decision_number, decision_date=enrolment.decision_date,
                    created_by=actor)
    session.add(row)
    await session.flush()
    await session.refresh(row)
    await record(session, actor=actor, actor_role=role, action="enrolment.create", object_type="beneficiary",
                 object_id=person.id,
                 after={"enrolment_id": row.id, "programme": row.programme_code, "category": row.category_code,
                        "coefficient": row.coefficient, "start_month": row.start_month, "end_month": row.end_month,
                        "decision_number": row.decision_number, "decision_date": row.decision_date})
    log.info("enrolment_created", beneficiary_id=str(person.id), programme=row.programme_code,
             category=row.category_code)
    return row


async def _with_amount(session: AsyncSession, person: Beneficiary, enrolment: Enrolment) -> EnrolmentOut:
    province = await session.scalar(select(Commune.province_code).where(Commune.code == person.commune_code))
    month = vietnam_today().replace(day=1)
    amount = await session.scalar(select(func.monthly_amount(
        func.rate_in_force(enrolment.programme_code, province, month), enrolment.coefficient)))
    return enrolment_out(enrolment, amount)


async def add_enrolment(session: AsyncSession, beneficiary_id: UUID, data: EnrolmentIn,
                        principal: Principal | None) -> EnrolmentOut:
    """Officer: enrol a person (not a deceased one) in a programme category."""
    person = await load_beneficiary(session, beneficiary_id, principal, lock=True)
    collector = FieldCollector()
    enrolment = await parse_enrolment_input(session, collector, data, date_of_birth=person.date_of_birth)
    collector.raise_if_any()
    assert enrolment is not None
    if person.status == "deceased":
        raise Problem(409, bilingual("Người hưởng đã mất", "The beneficiary is deceased"))
    row = await insert_enrolment(session, person, enrolment, principal)
    return await _with_amount(session, person, row)


async def set_enrolment_end(session: AsyncSession, beneficiary_id: UUID, enrolment_id: int, data: EnrolmentEndIn,
                            principal: Principal | None) -> EnrolmentOut:
    """Officer: set (or clear) the last paid month of an enrolment."""
    actor, role = actor_of(principal)
    person = await load_beneficiary(session, beneficiary_id, principal, lock=True)
    enrolment = await session.scalar(select(Enrolment).where(
        Enrolment.id == enrolment_id, Enrolment.beneficiary_id == person.id).with_for_update())
    if enrolment is None:
        raise Problem(404, bilingual("Không tìm thấy quyết định hưởng", "Enrolment not found"))
    collector = FieldCollector()
    end = collector.parse("end_month", parse_month, data.end_month) if data.end_month else None
    if end is not None and end < enrolment.start_month:
        collector.add("end_month", Message(
            f"Tháng kết thúc {month_text(end)} trước tháng bắt đầu hưởng {month_text(enrolment.start_month)}",
            f"The end month {month_text(end)} is before the start month {month_text(enrolment.start_month)}"))
    reason = normalise_spaces(data.reason or "")
    if data.end_month and len(reason) < MIN_END_REASON:
        collector.add("reason", Message(
            "Cần ghi lý do kết thúc hưởng (ví dụ: không còn hợp tuổi theo ngày sinh đã sửa)",
            "Give the reason for ending the enrolment (e.g. the category no longer fits the corrected age)"))
    elif len(reason) > MAX_END_REASON:
        collector.add("reason", Message(f"Lý do dài quá {MAX_END_REASON} ký tự",
                                        f"The reason is longer than {MAX_END_REASON} characters"))
    collector.raise_if_any()
    before = enrolment.end_month
    enrolment.end_month = end
    enrolment.updated_at = func.now()
    await session.flush()
    await session.refresh(enrolment)
    await record(session, actor=actor, actor_role=role, action="enrolment.end", object_type="beneficiary",
                 object_id=person.id, before={"enrolment_id": enrolment.id, "end_month": before},
                 after={"enrolment_id": enrolment.id, "end_month": end, "reason": reason or None})
    return await _with_amount(session, person, enrolment)
