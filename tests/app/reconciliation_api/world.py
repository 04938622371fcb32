"""A world with sent payouts at two banks, statements for it, and uploads as a bank or an officer."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, replace
from datetime import date, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

from sqlalchemy import text

from app.database import session_scope
from app.registry.fake import BeneficiaryFaker
from ledger import verify_ledger
from reconciliation.parsers import Statement, StatementLine
from tests.support.actors import bank_key
from tests.support.world import BIDV, VIETCOMBANK, Office, person

ICT = timezone(timedelta(hours=7))
DISBURSEMENT = {VIETCOMBANK: "0011004455667", BIDV: "0022005566778"}
BOOKED = date(2026, 3, 10)


@dataclass(frozen=True)
class SentPayout:
    id: UUID
    reference: str
    amount: int
    bank_bin: str
    account_number: str
    beneficiary_id: UUID
    bank_account_id: int
    run_id: UUID


async def build_world(office: Office, *, vietcombank: int = 6, bidv: int = 0, period: str = "2026-03",
                      seed: int = 11) -> tuple[BeneficiaryFaker, list[SentPayout]]:
    """People at each bank, disbursement accounts registered and funded, one run computed, approved and sent."""
    faker = BeneficiaryFaker(seed=seed)
    people = [person(faker, bank=VIETCOMBANK) for _ in range(vietcombank)]
    people += [person(faker, bank=BIDV) for _ in range(bidv)]
    await office.import_people(people)
    for bank_bin, account in DISBURSEMENT.items():
        if bank_bin == VIETCOMBANK or bidv:
            await office.register_disbursement(bank_bin, account)
            funded = await office.fund(bank_bin, 100_000_000, f"FT-BUDGET-{bank_bin}")
            assert funded.status_code == 201, funded.text
    await office.run_cycle(period)
    return faker, await sent_payouts(office)


async def sent_payouts(office: Office, status: str = "sent") -> list[SentPayout]:
    async with session_scope(office.engine) as session:
        rows = await session.execute(text(
            """SELECT id, reference, amount, bank_bin, account_number, beneficiary_id, bank_account_id, run_id
                 FROM payout WHERE status = :status AND channel = 'bank' ORDER BY bank_bin DESC, serial"""),
            {"status": status})
        return [SentPayout(*row) for row in rows]


def debit(payout: SentPayout, **changes: Any) -> StatementLine:
    """The bank's line for a payout it executed (a debit of the disbursement account)."""
    line = StatementLine(
        account=DISBURSEMENT[payout.bank_bin], booking_date=BOOKED, value_date=BOOKED,
        booked_at=datetime(2026, 3, 10, 9, 15, tzinfo=ICT), amount=-payout.amount, currency="VND",
        bank_reference=f"FT{payout.reference[-8:]}", end_to_end_ref=payout.reference,
        counterparty_account=payout.account_number, counterparty_name="NGUYEN VAN A",
        description=f"Tro cap xa hoi {payout.reference}", return_reason=None, is_reversal=False, line_no=0)
    return replace(line, **changes)  # type: ignore[arg-type]


def returned(payout: SentPayout, reason: str | None = "AC04", **changes: Any) -> StatementLine:
    """The bank's line for a payout that came back (a credit with the reference and a reason code)."""
    return debit(payout, amount=payout.amount, return_reason=reason, booking_date=date(2026, 3, 12),
                 value_date=date(2026, 3, 12), booked_at=datetime(2026, 3, 12, 14, 0, tzinfo=ICT),
                 bank_reference=f"RT{payout.reference[-8:]}", description=f"Hoan tra {payout.reference}",
                 **changes)


# Each transaction of a bank has its own reference: a statement repeating one is refused.
_OTHER_REFERENCES = itertools.count(1)


def other_line(bank_bin: str, amount: int, **changes: Any) -> StatementLine:
    """A line of the bank's own (a fee, a budget transfer, something unknown), with a reference of its own."""
    line = StatementLine(
        account=DISBURSEMENT[bank_bin], booking_date=BOOKED, value_date=BOOKED, booked_at=None, amount=amount,
        currency="VND", bank_reference=f"FT9{next(_OTHER_REFERENCES):07d}", end_to_end_ref=None, counterparty_account="0999888777",
        counterparty_name="CONG TY LA", description="Giao dich khong ro", return_reason=None, is_reversal=False,
        line_no=0)
    return replace(line, **changes)  # type: ignore[arg-type]


def statement(bank_bin: str, lines: list[StatementLine], *, statement_id: str = "SK202603/1",
              opening: int = 100_000_000, opening_date: date = date(2026, 3, 9),
              closing_date: date = date(2026, 3, 12), **changes: Any) -> Statement:
    numbered = tuple(replace(item, line_no=index) for index, item in enumerate(lines, start=1))
    base = Statement(statement_id=statement_id, account=DISBURSEMENT[bank_bin], currency="VND",
                     opening_balance=opening, closing_balance=opening + sum(item.amount for item in numbered),
                     opening_date=opening_date, closing_date=closing_date, lines=numbered, source_format="test")
    return replace(base, **changes)  # type: ignore[arg-type]


async def as_bank(office: Office, bank_bin: str) -> dict[str, str]:
    """Drop the officer's session from the shared client; the bank's key headers."""
    office.client.cookies.clear()
    office.current = ""
    return await bank_key(office.engine, bank_bin)


async def upload(office: Office, headers: dict[str, str], data: bytes, filename: str, **params: Any) -> Any:
    return await office.client.post("/api/bank/statements", headers=headers, params=params,
                                    files={"file": (filename, data, "application/octet-stream")})


async def payout_states(office: Office) -> dict[str, tuple[str, str | None]]:
    async with session_scope(office.engine) as session:
        rows = await session.execute(text("SELECT reference, status, return_reason FROM payout"))
        return {r.reference: (r.status, r.return_reason) for r in rows}


async def ledger_clean(office: Office) -> None:
    async with session_scope(office.engine) as session:
        report = await verify_ledger(session)
    assert report.ok, report.problems


async def table_counts(office: Office) -> dict[str, int]:
    async with session_scope(office.engine) as session:
        counts = {}
        for table in ("statement_upload", "bank_statement", "statement_line", "statement_match", "ledger_transfer",
                      "audit_log", "beneficiary_flag"):
            counts[table] = int(await session.scalar(text(f"SELECT count(*) FROM {table}")) or 0)  # noqa: S608
        return counts
