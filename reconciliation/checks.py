"""Checks a statement must pass before any of it is applied: VND, balances present, adds up; and gaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from reconciliation.parsers.errors import RowError, row_error
from reconciliation.parsers.model import LOCAL_TIMEZONE, Statement

# Clocks differ a little between a bank and us: a booking a few minutes "ahead" is not in the future.
BOOKING_SLACK = timedelta(minutes=15)


def statement_errors(statement: Statement, position: int, today: date | None = None) -> list[RowError]:
    """Why a parsed statement cannot be applied (empty when it can), bilingual. ``today`` (default: today in
    Việt Nam) bounds the booking dates: a bank books nothing tomorrow, and a payout credited in the future
    would count as waiting before the money reached anyone."""
    label = statement.statement_id or f"#{position}"
    errors: list[RowError] = []
    now = datetime.now(LOCAL_TIMEZONE)
    today = today or now.date()
    # A statement's closing date may be the end of the period asked for (a bank's export for 01/11–30/11
    # made on the 20th): only what was booked must not be in the future.
    for line in statement.lines:
        if line.booked_at is not None and line.booking_date <= today and line.booked_at > now + BOOKING_SLACK:
            errors.append(row_error(
                line.line_no, "booked_at",
                f"Sao kê {label}, dòng {line.line_no}: giờ ghi sổ {line.booked_at.astimezone(LOCAL_TIMEZONE):%H:%M} "
                f"hôm nay chưa đến",
                f"statement {label}, line {line.line_no}: booked at {line.booked_at.isoformat()}, later than now"))
        if line.booking_date > today:
            errors.append(row_error(
                line.line_no, "booking_date",
                f"Sao kê {label}, dòng {line.line_no}: ngày ghi sổ {line.booking_date:%d/%m/%Y} ở tương lai",
                f"statement {label}, line {line.line_no}: booking date {line.booking_date.isoformat()} is in the "
                f"future"))
    currencies = {statement.currency} if statement.currency else set()
    currencies |= {line.currency for line in statement.lines}
    if currencies - {"VND"} or not currencies and statement.lines:
        found = ", ".join(sorted(c or "?" for c in currencies)) or "?"
        errors.append(row_error(None, "currency", f"Sao kê {label}: chỉ nhận VND, tệp có {found}",
                                f"statement {label}: only VND is accepted, the file has {found}"))
    if statement.opening_balance is None or statement.closing_balance is None:
        errors.append(row_error(None, "balance", f"Sao kê {label}: thiếu số dư đầu kỳ hoặc cuối kỳ",
                                f"statement {label}: the opening or closing balance is missing"))
    elif not statement.adds_up:
        expected = statement.opening_balance + statement.line_total
        errors.append(row_error(
            None, "balance",
            f"Sao kê {label}: số dư đầu kỳ {statement.opening_balance} + phát sinh {statement.line_total} "
            f"= {expected}, khác số dư cuối kỳ {statement.closing_balance}",
            f"statement {label}: opening {statement.opening_balance} + lines {statement.line_total} = {expected}, "
            f"not the closing balance {statement.closing_balance}"))
    return errors


@dataclass(frozen=True)
class PreviousStatement:
    id: Any
    statement_id: str
    closing_balance: int
    closing_date: date | None


def statement_gap(previous: PreviousStatement | None, statement: Statement) -> dict[str, Any] | None:
    """A break against the account's previous statement (balance or days missing), or None."""
    if previous is None:
        return None
    gap: dict[str, Any] = {}
    if previous.closing_balance != statement.opening_balance:
        gap["expected_opening_balance"] = previous.closing_balance
        gap["opening_balance"] = statement.opening_balance
        gap["difference"] = (statement.opening_balance or 0) - previous.closing_balance
    if previous.closing_date is not None and statement.opening_date is not None \
            and statement.opening_date - previous.closing_date > timedelta(days=1):
        gap["missing_from"] = (previous.closing_date + timedelta(days=1)).isoformat()
        gap["missing_to"] = (statement.opening_date - timedelta(days=1)).isoformat()
    if not gap:
        return None
    gap["previous_statement"] = str(previous.id)
    gap["previous_bank_statement_id"] = previous.statement_id
    gap["message"] = ("Sao kê không liền mạch với sao kê trước của tài khoản / "
                      "this statement does not follow on from the account's previous one")
    return gap
