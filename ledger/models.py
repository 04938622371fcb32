"""The ledger's tables (created by migration 0002; the ledger keeps its own declarative base).

Writes go through ``ledger.service`` (set-based SQL and COPY); these mappings serve reads and
documentation. The database refuses UPDATE and DELETE on transfers and failures.
"""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from sqlalchemy import BigInteger, Boolean, DateTime, LargeBinary, MetaData, SmallInteger, Text
from sqlalchemy.dialects.postgresql import UUID as PgUUID
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class LedgerBase(DeclarativeBase):
    """Base for the ledger's tables only (``ledger`` imports nothing from ``app``)."""

    metadata = MetaData()


class Account(LedgerBase):
    __tablename__ = "ledger_account"

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True)
    code: Mapped[str] = mapped_column(Text, unique=True)
    type: Mapped[str] = mapped_column(Text)
    debits_must_not_exceed_credits: Mapped[bool] = mapped_column(Boolean, default=False)
    credits_must_not_exceed_debits: Mapped[bool] = mapped_column(Boolean, default=False)
    debits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_posted: Mapped[int] = mapped_column(BigInteger, default=0)
    debits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    credits_pending: Mapped[int] = mapped_column(BigInteger, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class TransferRow(LedgerBase):
    __tablename__ = "ledger_transfer"

    id: Mapped[UUID] = mapped_column(PgUUID(as_uuid=True), primary_key=True)
    seq: Mapped[int] = mapped_column(BigInteger)  # position in the hash chain
    kind: Mapped[str] = mapped_column(Text)
    debit_account_id: Mapped[int] = mapped_column(BigInteger)
    credit_account_id: Mapped[int] = mapped_column(BigInteger)
    amount: Mapped[int] = mapped_column(BigInteger)  # đồng
    pending_id: Mapped[UUID | None] = mapped_column(PgUUID(as_uuid=True))
    code: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    metadata_json: Mapped[str | None] = mapped_column("metadata", Text)  # canonical JSON text
    event_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    hash: Mapped[bytes] = mapped_column(LargeBinary)


class TransferFailure(LedgerBase):
    __tablename__ = "ledger_transfer_failure"

    id: Mapped[UUID] = mapped_column(PgUUID(as_uuid=True), primary_key=True)
    result: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(Text)
    debit_account_id: Mapped[int | None] = mapped_column(BigInteger)
    credit_account_id: Mapped[int | None] = mapped_column(BigInteger)
    amount: Mapped[int | None] = mapped_column(BigInteger)
    pending_id: Mapped[UUID | None] = mapped_column(PgUUID(as_uuid=True))
    code: Mapped[str] = mapped_column(Text)
    reference: Mapped[str | None] = mapped_column(Text)
    failed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class ChainHead(LedgerBase):
    __tablename__ = "ledger_chain"

    id: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    last_seq: Mapped[int] = mapped_column(BigInteger)
    last_hash: Mapped[bytes] = mapped_column(LargeBinary)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
