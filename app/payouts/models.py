"""Payout runs, payouts, the (enrolment, month) pairs they pay, skipped people and funding.

Schema: migrations 0006, 0015 (cancelled runs), 0023 (funding of a commune's cash) and 0033 (settled and
closed runs: ``app.payouts.service.settlement``). The database enforces the money rules: one regular run
per programme and period, maker-checker on approval, each (enrolment, month) and each (person, benefit
group, month) paid at most once across all runs, a payout's amount equal to the sum of its months,
immutable money fields, and a run settled only when none of its payouts is in flight.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from uuid import UUID

from sqlalchemy import BigInteger, Date, DateTime, ForeignKey, Numeric, String, Text, Uuid, func
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base
from app.registry import models as _registry_models  # noqa: F401 - tables the foreign keys point at

RUN_STATUSES = ("draft", "computing", "computed", "approved", "sending", "sent", "settled", "closed", "cancelled")
PAYOUT_STATUSES = ("scheduled", "sent", "credited", "returned", "cancelled")


class PayoutRun(Base):
    __tablename__ = "payout_run"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    programme_code: Mapped[str] = mapped_column(ForeignKey("programme.code"))
    period: Mapped[date] = mapped_column(Date)
    kind: Mapped[str] = mapped_column(Text, default="regular")
    status: Mapped[str] = mapped_column(Text, default="draft")
    arrears_from: Mapped[date] = mapped_column(Date)
    created_by: Mapped[str] = mapped_column(Text)
    prepared_by: Mapped[str | None] = mapped_column(Text)
    approved_by: Mapped[str | None] = mapped_column(Text)
    sent_by: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    computed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    # When compute / approval first read the registry (recheck.registry_reading, migration 0025): the oldest
    # transaction id then running, and the start of the oldest transaction then open.
    computed_xmin: Mapped[int | None] = mapped_column(BigInteger)
    approved_xmin: Mapped[int | None] = mapped_column(BigInteger)
    computed_oldest: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    approved_oldest: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    settled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(Text)
    cancelled_by: Mapped[str | None] = mapped_column(Text)
    cancelled_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    phase: Mapped[str | None] = mapped_column(Text)
    last_error: Mapped[str | None] = mapped_column(Text)
    progress_done: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_total: Mapped[int] = mapped_column(BigInteger, default=0)
    progress_started_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    payout_count: Mapped[int] = mapped_column(BigInteger, default=0)
    total_amount: Mapped[int] = mapped_column(BigInteger, default=0)


class Payout(Base):
    __tablename__ = "payout"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    run_id: Mapped[UUID] = mapped_column(ForeignKey("payout_run.id"))
    serial: Mapped[int] = mapped_column(BigInteger, unique=True)
    reference: Mapped[str] = mapped_column(String(35), unique=True)
    beneficiary_id: Mapped[UUID] = mapped_column(ForeignKey("beneficiary.id"))
    commune_code: Mapped[str] = mapped_column(String(5))
    channel: Mapped[str] = mapped_column(Text)
    bank_account_id: Mapped[int | None] = mapped_column(BigInteger)
    bank_bin: Mapped[str | None] = mapped_column(String(6))
    account_number: Mapped[str | None] = mapped_column(String(19))
    holder_name: Mapped[str | None] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    status: Mapped[str] = mapped_column(Text, default="scheduled")
    sent_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    credited_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    returned_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    return_reason: Mapped[str | None] = mapped_column(Text)
    first_withdrawal_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    withdrawn_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    reissue_of: Mapped[UUID | None] = mapped_column(ForeignKey("payout.id"))


class PayoutMonth(Base):
    __tablename__ = "payout_month"

    payout_id: Mapped[UUID] = mapped_column(ForeignKey("payout.id"), primary_key=True)
    enrolment_id: Mapped[int] = mapped_column(ForeignKey("enrolment.id"), primary_key=True)
    month: Mapped[date] = mapped_column(Date, primary_key=True)
    beneficiary_id: Mapped[UUID] = mapped_column(Uuid)
    benefit_group: Mapped[str] = mapped_column(Text)
    base_amount: Mapped[int] = mapped_column(BigInteger)
    coefficient: Mapped[Decimal] = mapped_column(Numeric(4, 2))
    amount: Mapped[int] = mapped_column(BigInteger)
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(Text)


class PayoutRunSkip(Base):
    __tablename__ = "payout_run_skip"

    run_id: Mapped[UUID] = mapped_column(ForeignKey("payout_run.id"), primary_key=True)
    beneficiary_id: Mapped[UUID] = mapped_column(ForeignKey("beneficiary.id"), primary_key=True)
    reason: Mapped[str] = mapped_column(Text)
    amount: Mapped[int] = mapped_column(BigInteger)
    since: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))  # when the cause of a hold arose
    detail: Mapped[str | None] = mapped_column(Text)  # the bank's return code behind a hold


class Funding(Base):
    __tablename__ = "funding"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    # Exactly one of the two (migration 0023): budget reaching a bank's disbursement account, or a commune's cash.
    bank_bin: Mapped[str | None] = mapped_column(ForeignKey("bank.bin"))
    commune_code: Mapped[str | None] = mapped_column(ForeignKey("commune.code"))
    programme_code: Mapped[str] = mapped_column(ForeignKey("programme.code"))
    amount: Mapped[int] = mapped_column(BigInteger)
    reference: Mapped[str] = mapped_column(Text)
    value_date: Mapped[date] = mapped_column(Date)
    recorded_by: Mapped[str] = mapped_column(Text)
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    transfer_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
