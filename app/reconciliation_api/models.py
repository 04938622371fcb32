"""Statement uploads, bank statements, their lines, what each line matched, flags, reissues and closures.

Schema: migrations 0007 (the database enforces "nothing applied twice"; see its docstring), 0014
(returned payouts closed without reissue; flags closed by a recorded death or dismissed) and 0037 (a
statement accepted once by its content, whatever the file format). The import
and the resolutions write these tables set-based through SQL; the classes describe them for reads.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import (
    BigInteger,
    Boolean,
    Date,
    DateTime,
    ForeignKey,
    Integer,
    LargeBinary,
    String,
    Text,
    Uuid,
    func,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from app.orm import Base
from app.payouts import models as _payout_models  # noqa: F401 - tables the foreign keys point at

LINE_STATUSES = ("matched", "returned", "exception", "ignored", "fee")
FLAG_RESOLUTIONS = ("death_recorded", "dismissed")
MATCH_RULES = ("reference", "return", "bulk", "account_amount_date", "funding", "manual_match", "bank_fee", "ignore")


class StatementUpload(Base):
    __tablename__ = "statement_upload"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    bank_bin: Mapped[str] = mapped_column(ForeignKey("bank.bin"))
    filename: Mapped[str | None] = mapped_column(Text)
    sha256: Mapped[bytes] = mapped_column(LargeBinary)
    size: Mapped[int] = mapped_column(BigInteger)
    content: Mapped[bytes] = mapped_column(LargeBinary)
    format: Mapped[str | None] = mapped_column(Text)
    status: Mapped[str] = mapped_column(Text)  # accepted, rejected
    rejection: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BankStatement(Base):
    __tablename__ = "bank_statement"

    id: Mapped[UUID] = mapped_column(Uuid, primary_key=True, server_default=func.gen_random_uuid())
    upload_id: Mapped[UUID] = mapped_column(ForeignKey("statement_upload.id"))
    position: Mapped[int] = mapped_column(Integer)
    bank_bin: Mapped[str] = mapped_column(ForeignKey("bank.bin"))
    account: Mapped[str] = mapped_column(Text)
    statement_id: Mapped[str] = mapped_column(Text)
    sha256: Mapped[bytes] = mapped_column(LargeBinary)
    format: Mapped[str] = mapped_column(Text)
    currency: Mapped[str] = mapped_column(String(3))
    opening_balance: Mapped[int] = mapped_column(BigInteger)
    closing_balance: Mapped[int] = mapped_column(BigInteger)
    opening_date: Mapped[date | None] = mapped_column(Date)
    closing_date: Mapped[date | None] = mapped_column(Date)
    line_count: Mapped[int] = mapped_column(Integer)
    credit_total: Mapped[int] = mapped_column(BigInteger)
    debit_total: Mapped[int] = mapped_column(BigInteger)
    previous_statement: Mapped[UUID | None] = mapped_column(ForeignKey("bank_statement.id"))
    gap: Mapped[dict[str, Any] | None] = mapped_column(JSONB)
    uploaded_by: Mapped[str] = mapped_column(Text)
    uploaded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    # What it says, whatever the file's format (reconciliation.fingerprint): one statement per bank and
    # fingerprint; ``duplicate_of`` names the first of a statement imported twice before migration 0037.
    fingerprint: Mapped[bytes] = mapped_column(LargeBinary)
    duplicate_of: Mapped[UUID | None] = mapped_column(ForeignKey("bank_statement.id"))


class StatementLineRow(Base):
    __tablename__ = "statement_line"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    statement_id: Mapped[UUID] = mapped_column(ForeignKey("bank_statement.id"))
    line_no: Mapped[int] = mapped_column(Integer)
    bank_bin: Mapped[str] = mapped_column(String(6))
    booking_date: Mapped[date] = mapped_column(Date)
    value_date: Mapped[date | None] = mapped_column(Date)
    booked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    amount: Mapped[int] = mapped_column(BigInteger)
    bank_reference: Mapped[str | None] = mapped_column(Text)
    end_to_end_ref: Mapped[str | None] = mapped_column(Text)
    counterparty_account: Mapped[str | None] = mapped_column(Text)
    counterparty_name: Mapped[str | None] = mapped_column(Text)
    description: Mapped[str | None] = mapped_column(Text)
    return_reason: Mapped[str | None] = mapped_column(Text)
    is_reversal: Mapped[bool] = mapped_column(Boolean)
    status: Mapped[str] = mapped_column(Text)
    rule: Mapped[str | None] = mapped_column(Text)
    exception_reason: Mapped[str | None] = mapped_column(Text)
    payout_count: Mapped[int] = mapped_column(Integer)
    funding_id: Mapped[UUID | None] = mapped_column(ForeignKey("funding.id"))
    resolution: Mapped[str | None] = mapped_column(Text)
    resolution_note: Mapped[str | None] = mapped_column(Text)
    resolved_by: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))


class StatementMatch(Base):
    __tablename__ = "statement_match"

    payout_id: Mapped[UUID] = mapped_column(Uuid, primary_key=True)
    effect: Mapped[str] = mapped_column(Text, primary_key=True)  # credit, return
    line_id: Mapped[int] = mapped_column(BigInteger)
    rule: Mapped[str] = mapped_column(Text)
    transfer_id: Mapped[UUID] = mapped_column(Uuid, unique=True)
    matched_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class BeneficiaryFlag(Base):
    __tablename__ = "beneficiary_flag"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    beneficiary_id: Mapped[UUID] = mapped_column(ForeignKey("beneficiary.id"))
    kind: Mapped[str] = mapped_column(Text)
    payout_id: Mapped[UUID | None] = mapped_column(ForeignKey("payout.id"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("statement_line.id"))
    raised_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    resolved_by: Mapped[str | None] = mapped_column(Text)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    resolution: Mapped[str | None] = mapped_column(Text)  # death_recorded, dismissed
    event_id: Mapped[int | None] = mapped_column(ForeignKey("beneficiary_event.id"))  # the recorded death
    note: Mapped[str | None] = mapped_column(Text)


class BankAccountBlock(Base):
    """A bank account a bank returned money from with a reason saying it cannot receive money (migration
    0021); open while ``released_at`` is NULL, and payout runs hold its holder meanwhile."""

    __tablename__ = "bank_account_block"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    bank_account_id: Mapped[int] = mapped_column(ForeignKey("bank_account.id"))
    reason: Mapped[str] = mapped_column(Text)  # reconciliation.matching.ACCOUNT_UNUSABLE_REASONS
    payout_id: Mapped[UUID | None] = mapped_column(ForeignKey("payout.id"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("statement_line.id"))
    returned_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    recorded_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True))
    released_by: Mapped[str | None] = mapped_column(Text)
    release_note: Mapped[str | None] = mapped_column(Text)


class PayoutReissue(Base):
    __tablename__ = "payout_reissue"

    returned_payout_id: Mapped[UUID] = mapped_column(ForeignKey("payout.id"), primary_key=True)
    bank_account_id: Mapped[int] = mapped_column(ForeignKey("bank_account.id"))
    line_id: Mapped[int | None] = mapped_column(ForeignKey("statement_line.id"))
    requested_by: Mapped[str] = mapped_column(Text)
    requested_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())


class PayoutReturnClosure(Base):
    """A returned payout closed without paying it again (reason required; never together with a reissue)."""

    __tablename__ = "payout_return_closure"

    returned_payout_id: Mapped[UUID] = mapped_column(ForeignKey("payout.id"), primary_key=True)
    line_id: Mapped[int | None] = mapped_column(ForeignKey("statement_line.id"))
    reason: Mapped[str] = mapped_column(Text)
    closed_by: Mapped[str] = mapped_column(Text)
    closed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), server_default=func.now())
