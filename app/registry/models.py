"""Registry tables: reference data, beneficiaries and their history, bank accounts, programmes,
enrolments, banks' disbursement accounts and import uploads. Schema: migrations 0001 and 0003."""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Computed,
    Date,
    DateTime,
    ForeignKey,
    Identity,
    Integer,
    LargeBinary,
    Numeric,
    SmallInteger,
    String,
    Text,
    Uuid,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base
from app.vietnam_time import VIETNAM_TODAY_SQL


class Province(Base):
    __tablename__ = "province"

    code: Mapped[str] = mapped_column(String(2), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    division_type: Mapped[str] = mapped_column(Text)


class Commune(Base):
    __tablename__ = "commune"

    code: Mapped[str] = mapped_column(String(5), primary_key=True)
    name: Mapped[str] = mapped_column(Text)
    division_type: Mapped[str] = mapped_column(Text)
    province_code: Mapped[str] = mapped_column(ForeignKey("province.code"))


class Bank(Base):
    __tablename__ = "bank"

    bin: Mapped[str] = mapped_column(String(6), primary_key=True)
    short_name: Mapped[str] = mapped_column(Text, unique=True)
    name: Mapped[str] = mapped_column(Text)


class Programme(Base):
    __tablename__ = "programme"

    code: Mapped[str] = mapped_column(String(16), primary_key=True)
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)
    pay_day: Mapped[int] = mapped_column(SmallInteger)
    benefit_group: Mapped[str] = mapped_column(Text)


class ProgrammeCategory(Base):
    __tablename__ = "programme_category"

    programme_code: Mapped[str] = mapped_column(ForeignKey("programme.code"), primary_key=True)
    code: Mapped[str] = mapped_column(String(32), primary_key=True)
    coefficient: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    name_vi: Mapped[str] = mapped_column(Text)
    name_en: Mapped[str] = mapped_column(Text)


class ProgrammeRate(Base):
    """An effective-dated base amount, national (province_code NULL) or for one province; append-only."""

    __tablename__ = "programme_rate"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    programme_code: Mapped[str] = mapped_column(ForeignKey("programme.code"))
    province_code: Mapped[str | None] = mapped_column(ForeignKey("province.code"))
    effective_from: Mapped[date] = mapped_column(Date)
    base_amount: Mapped[int] = mapped_column(BigInteger)
    legal_basis: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class Beneficiary(Base):
    """A person paid by a programme; status and commune change only through BeneficiaryEvent rows."""

    __tablename__ = "beneficiary"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    national_id: Mapped[str] = mapped_column(String(12), unique=True)
    full_name: Mapped[str] = mapped_column(Text)
    search_name: Mapped[str] = mapped_column(Text, Computed("fold_vietnamese(full_name)"))
    # The name in the order of Vietnamese lists, by given name then whole name, compared byte by byte (migrations
    # 0039, 0040): lists of people sort by it.
    name_sort_key: Mapped[str] = mapped_column(Text(collation="C"), Computed("vietnamese_person_sort_key(full_name)"))
    date_of_birth: Mapped[date] = mapped_column(Date)
    sex: Mapped[str] = mapped_column(Text)
    commune_code: Mapped[str] = mapped_column(ForeignKey("commune.code"))
    address: Mapped[str] = mapped_column(Text, default="")
    phone: Mapped[str | None] = mapped_column(String(11))
    channel: Mapped[str] = mapped_column(Text, default="cash")
    status: Mapped[str] = mapped_column(Text, server_default="active")
    deceased_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BeneficiaryEvent(Base):
    """One entry of a person's status history (append-only; a trigger applies it to Beneficiary)."""

    __tablename__ = "beneficiary_event"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    beneficiary_id: Mapped[UUID] = mapped_column(ForeignKey("beneficiary.id"))
    kind: Mapped[str] = mapped_column(Text)
    effective_on: Mapped[date] = mapped_column(Date)
    from_commune: Mapped[str | None] = mapped_column(String(5))
    to_commune: Mapped[str | None] = mapped_column(ForeignKey("commune.code"))
    status_after: Mapped[str] = mapped_column(Text)
    commune_after: Mapped[str] = mapped_column(String(5))
    reason: Mapped[str] = mapped_column(Text, default="")
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BankAccount(Base):
    """A beneficiary's account; the one with effective_to NULL is active, the others are history."""

    __tablename__ = "bank_account"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    beneficiary_id: Mapped[UUID] = mapped_column(ForeignKey("beneficiary.id"))
    bank_bin: Mapped[str] = mapped_column(ForeignKey("bank.bin"))
    account_number: Mapped[str] = mapped_column(String(19))
    holder_name: Mapped[str] = mapped_column(Text)
    verification_status: Mapped[str] = mapped_column(Text, default="unverified")
    # Việt Nam's date whatever the session's time zone (migration 0044)
    effective_from: Mapped[date] = mapped_column(
        Date, server_default=text(VIETNAM_TODAY_SQL))
    effective_to: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BankAccountRequest(Base):
    """An account change asked for by commune staff, waiting for an officer's decision."""

    __tablename__ = "bank_account_request"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    beneficiary_id: Mapped[UUID] = mapped_column(ForeignKey("beneficiary.id"))
    bank_bin: Mapped[str] = mapped_column(ForeignKey("bank.bin"))
    account_number: Mapped[str] = mapped_column(String(19))
    holder_name: Mapped[str] = mapped_column(Text)
    note: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(Text, default="pending")
    requested_by: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    decided_by: Mapped[str | None] = mapped_column(Text)
    decided_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    decision_note: Mapped[str] = mapped_column(Text, default="")
    bank_account_id: Mapped[int | None] = mapped_column(ForeignKey("bank_account.id"))


class Enrolment(Base):
    """A beneficiary in a programme category from start_month to end_month (inclusive), by decision."""

    __tablename__ = "enrolment"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    beneficiary_id: Mapped[UUID] = mapped_column(ForeignKey("beneficiary.id"))
    programme_code: Mapped[str] = mapped_column(String(16))
    category_code: Mapped[str] = mapped_column(String(32))
    coefficient: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    start_month: Mapped[date] = mapped_column(Date)
    end_month: Mapped[date | None] = mapped_column(Date)
    decision_number: Mapped[str] = mapped_column(Text)
    decision_date: Mapped[date | None] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class DisbursementAccount(Base):
    """A bank's account from which payouts leave and into which budget arrives."""

    __tablename__ = "disbursement_account"

    id: Mapped[int] = mapped_column(BigInteger, Identity(always=True), primary_key=True)
    bank_bin: Mapped[str] = mapped_column(ForeignKey("bank.bin"))
    account_number: Mapped[str] = mapped_column(String(19))
    registered_by: Mapped[str] = mapped_column(Text)
    registered_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class BeneficiaryImport(Base):
    """An uploaded import file as sent, with its outcome (append-only)."""

    __tablename__ = "beneficiary_import"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    filename: Mapped[str] = mapped_column(Text)
    size_bytes: Mapped[int] = mapped_column(BigInteger)
    sha256: Mapped[bytes] = mapped_column(LargeBinary)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    outcome: Mapped[str] = mapped_column(Text)
    row_count: Mapped[int] = mapped_column(Integer, default=0)
    created: Mapped[int] = mapped_column(Integer, default=0)
    updated: Mapped[int] = mapped_column(Integer, default=0)
    unchanged: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[list[dict[str, Any]]] = mapped_column(JSONB, default=list)
