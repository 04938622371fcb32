"""Input and output shapes of the registry API (msgspec)."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import msgspec
from msgspec import UNSET, UnsetType

from app.http.money import Dong


class BankAccountIn(msgspec.Struct, forbid_unknown_fields=True):
    """A new account: bank by BIN (or short name), digits, holder name as printed (derived when omitted)."""

    bank_bin: str
    account_number: str
    holder_name: str | None = None
    note: str = ""


class BankAccountOut(msgspec.Struct):
    id: int
    bank_bin: str
    bank_short_name: str
    account_number: str
    holder_name: str
    verification_status: str
    name_matches: bool
    effective_from: date
    effective_to: date | None


class EnrolmentIn(msgspec.Struct, forbid_unknown_fields=True):
    """Programme and category by code; coefficient defaults to the category's; months as YYYY-MM or MM/YYYY."""

    programme: str
    category: str
    start_month: str
    decision_number: str
    coefficient: Decimal | None = None
    end_month: str | None = None
    decision_date: date | None = None


class EnrolmentEndIn(msgspec.Struct, forbid_unknown_fields=True):
    """The last month paid (YYYY-MM or MM/YYYY) and why it ends (required to end one, kept in the audit entry);
    null reopens the enrolment."""

    end_month: str | None
    reason: str | None = None


class EnrolmentOut(msgspec.Struct):
    id: int
    programme: str
    category: str
    coefficient: Decimal
    start_month: str
    end_month: str | None
    decision_number: str
    decision_date: date | None
    monthly_amount: int | None


class BeneficiaryIn(msgspec.Struct, forbid_unknown_fields=True):
    national_id: str
    full_name: str
    date_of_birth: date
    sex: str
    commune_code: str
    address: str = ""
    phone: str | None = None
    channel: str | None = None
    bank_account: BankAccountIn | None = None
    enrolments: list[EnrolmentIn] = msgspec.field(default_factory=list)


class BeneficiaryPatch(msgspec.Struct, forbid_unknown_fields=True):
    """Corrections of a person's details; status and commune change only through events."""

    full_name: str | UnsetType = UNSET
    address: str | UnsetType = UNSET
    phone: str | None | UnsetType = UNSET
    channel: str | UnsetType = UNSET
    national_id: str | UnsetType = UNSET
    date_of_birth: date | UnsetType = UNSET
    sex: str | UnsetType = UNSET
    status: str | UnsetType = UNSET
    commune_code: str | UnsetType = UNSET


class BeneficiarySummary(msgspec.Struct):
    id: UUID
    national_id: str
    full_name: str
    date_of_birth: date
    sex: str
    commune_code: str
    commune_name: str
    province_code: str
    phone: str | None
    address: str
    status: str
    channel: str
    bank_account: BankAccountOut | None


class EnrolmentWarning(msgspec.Struct):
    """An active enrolment whose category does not fit the person's age in its start month (after a correction of
    the date of birth): what is wrong and what to do, in Vietnamese (``message``) and English."""

    enrolment_id: int
    programme: str
    category: str
    start_month: str
    message: str
    message_en: str


class BeneficiaryOut(msgspec.Struct):
    id: UUID
    national_id: str
    full_name: str
    date_of_birth: date
    sex: str
    commune_code: str
    commune_name: str
    province_code: str
    phone: str | None
    address: str
    status: str
    deceased_on: date | None
    channel: str
    bank_account: BankAccountOut | None
    enrolments: list[EnrolmentOut]
    payouts: list[dict[str, Any]]
    pending_bank_account_request: int | None
    created_at: datetime
    updated_at: datetime
    # Active enrolments whose category does not fit the person's age in their start month, as long as it lasts.
    warnings: list[EnrolmentWarning] = msgspec.field(default_factory=list)


class BeneficiaryPage(msgspec.Struct):
    items: list[BeneficiarySummary]
    total: int
    page: int
    page_size: int


class EventIn(msgspec.Struct, forbid_unknown_fields=True):
    """suspended, resumed, deceased (effective_on = date of death, required) or moved (to_commune)."""

    kind: str
    effective_on: date | None = None
    to_commune: str | None = None
    reason: str = ""


class EventOut(msgspec.Struct):
    id: int
    kind: str
    effective_on: date
    from_commune: str | None
    to_commune: str | None
    status_after: str
    commune_after: str
    reason: str
    recorded_by: str
    recorded_at: datetime


class BankAccountRequestOut(msgspec.Struct):
    id: int
    beneficiary_id: UUID
    bank_bin: str
    account_number: str
    holder_name: str
    note: str
    status: str
    requested_by: str
    requested_at: datetime
    decided_by: str | None
    decided_at: datetime | None
    decision_note: str
    bank_account_id: int | None


class DecisionIn(msgspec.Struct, forbid_unknown_fields=True):
    note: str = ""


class BackPayLimitOut(msgspec.Struct):
    """New enrolments of a programme that start before the month its next run pays back pay from."""

    programme: str
    enrolments: int
    earliest_start: str  # YYYY-MM
    next_period: str  # the programme's next regular run
    paid_from: str  # the first month that run pays a never-paid month (12 months back at most)
    message: str
    message_en: str


class ImportResultOut(msgspec.Struct):
    upload_id: UUID
    rows: int
    created: int
    updated: int
    unchanged: int
    name_mismatches: int
    back_pay: list[BackPayLimitOut] = msgspec.field(default_factory=list)


class CategoryOut(msgspec.Struct):
    code: str
    coefficient: Decimal
    name_vi: str
    name_en: str


class RateOut(msgspec.Struct):
    id: int
    province_code: str | None
    effective_from: date
    base_amount: int
    legal_basis: str
    created_by: str


class ProgrammeOut(msgspec.Struct):
    code: str
    name_vi: str
    name_en: str
    pay_day: int
    benefit_group: str
    categories: list[CategoryOut]
    rates: list[RateOut]


class RateIn(msgspec.Struct, forbid_unknown_fields=True):
    """A base amount in whole đồng from the first day of a month, national or for one province."""

    effective_from: date
    base_amount: Dong
    province_code: str | None = None
    legal_basis: str = ""


class BankOut(msgspec.Struct):
    bin: str
    short_name: str
    name: str
    disbursement_account: str | None


class DisbursementAccountIn(msgspec.Struct, forbid_unknown_fields=True):
    account_number: str


class DisbursementAccountOut(msgspec.Struct):
    id: int
    bank_bin: str
    account_number: str
    registered_by: str
    registered_at: datetime
    closed_at: datetime | None
