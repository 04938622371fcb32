"""Checks a statement must pass before any of it is applied: VND, balances present, adds up; and gaps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from reconciliation.fingerprint import statement_fingerprint
from reconciliation.matching import normalise_account
from reconciliation.parsers.amounts import amount_en, amount_vi
from reconciliation.parsers.errors import RowError, row_error
from reconciliation.parsers.model import LOCAL_TIMEZONE, NO_REFERENCE, Statement, StatementLine

# A refusal names the other rows of a repeated reference, up to this many (a file whose every line carries
# one constant would otherwise name a million rows in each of its million errors).
NAMED_REPEATS = 10

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
        # The file's row, as the parser's refusals name it (the sheet row of a CSV or xlsx, below any info
        # rows and the header; the :61: line of MT940; the entry of camt, with its XML line): not line_no,
        # the line's number among the statement's lines.
        row = line.file_row if line.file_row is not None else line.line_no
        if line.booked_at is not None and line.booking_date <= today and line.booked_at > now + BOOKING_SLACK:
            errors.append(row_error(
                row, "booked_at",
                f"Sao kê {label}, dòng {row}: giờ ghi sổ {line.booked_at.astimezone(LOCAL_TIMEZONE):%H:%M} "
                f"hôm nay chưa đến",
                f"statement {label}, row {row}: booked at {line.booked_at.isoformat()}, later than now",
                line.file_line))
        if line.booking_date > today:
            errors.append(row_error(
                row, "booking_date",
                f"Sao kê {label}, dòng {row}: ngày ghi sổ {line.booking_date:%d/%m/%Y} ở tương lai",
                f"statement {label}, row {row}: booking date {line.booking_date.isoformat()} is in the "
                f"future", line.file_line))
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
        unit = statement.currency
        errors.append(row_error(
            None, "balance",
            f"Sao kê {label}: số dư đầu kỳ {amount_vi(statement.opening_balance, unit)} + phát sinh "
            f"{amount_vi(statement.line_total, unit)} = {amount_vi(expected, unit)}, khác số dư cuối kỳ "
            f"{amount_vi(statement.closing_balance, unit)}",
            f"statement {label}: opening {amount_en(statement.opening_balance, unit)} + lines "
            f"{amount_en(statement.line_total, unit)} = {amount_en(expected, unit)}, not the closing balance "
            f"{amount_en(statement.closing_balance, unit)}"))
    return errors


def in_file_order(errors: list[RowError]) -> list[RowError]:
    """Refusals in the order of the file: those of no row (the whole statement: currency, balances, account)
    first, then by row and column; the order found is kept among equals."""
    return sorted(errors, key=lambda error: (error["row"] is not None, error["row"] or 0, error["column"] or ""))


def repeated_bank_references(statements: Sequence[Statement]) -> list[RowError]:
    """Every row of a file whose bank reference (the bank's own id of the transaction, not the end-to-end
    reference) another row of the same account in the file also gives, bilingual; empty when there is none.

    Two transactions of one account do not share the bank's reference: a second line with it is the same
    transaction listed twice, or a file put together wrongly, and applying either would count money twice or
    match a payout to the wrong line. Lines without a reference of their own (none, ``NONREF``,
    ``NOTPROVIDED``) are not compared, and the lines of one camt batch entry (its ``TxDtls``, one row of the
    file) share the entry's reference by design. A statement the file holds twice is left to its own
    refusal (the importer's "the same statement n times"): only its first copy is compared."""
    groups = _rows_by_reference(list(enumerate(statements, start=1)))
    if any(len({position for position, *_ in found}) > 1 for found in groups.values()):
        first_copies: dict[bytes, int] = {}
        for position, statement in enumerate(statements, start=1):
            first_copies.setdefault(statement_fingerprint("", statement), position)
        groups = _rows_by_reference([(position, statements[position - 1])
                                     for position in sorted(first_copies.values())])
    errors: list[RowError] = []
    for (account, reference), places in groups.items():
        named = ", ".join(str(row) for *_, row in places[:NAMED_REPEATS]) + (
            " …" if len(places) > NAMED_REPEATS else "")
        for position, statement, line, row in places:
            label = statement.statement_id or f"#{position}"
            errors.append(row_error(
                row, statement.reference_column or "bank_reference",
                f"Sao kê {label}: số tham chiếu {reference} của ngân hàng có ở {len(places)} dòng của tài khoản "
                f"{account} (dòng {named}); mỗi giao dịch có số tham chiếu riêng, ngân hàng cần kiểm tra và gửi "
                f"lại sao kê",
                f"statement {label}: bank reference {reference} is on {len(places)} rows of account {account} "
                f"(rows {named}); each transaction has its own reference, the bank needs to check the statement "
                f"and send it again",
                line.file_line))
    return errors


def _reference_of(line: StatementLine) -> str | None:
    reference = (line.bank_reference or "").strip()
    return None if reference.upper() in NO_REFERENCE else reference


def _row_of(position: int, line: StatementLine) -> int:
    """One row of the file as a number: a batch entry's lines have the entry's row (``file_row``); a line
    built without one is its own row."""
    own = line.file_row * 2 if line.file_row is not None else line.line_no * 2 + 1
    return position << 42 | own


def _rows_by_reference(statements: list[tuple[int, Statement]],
                       ) -> dict[tuple[str, str], list[tuple[int, Statement, StatementLine, int]]]:
    """(account, bank reference) → (position, statement, first line, row) of each file row giving it, for the
    references given on more than one row."""
    # A million lines: one small int per reference on the first pass, the lines read again only if one repeats.
    first_row: dict[str, dict[str, int]] = {}
    repeated: set[tuple[str, str]] = set()
    for position, statement in statements:
        account = normalise_account(statement.account)
        of_account = first_row.setdefault(account, {})
        for line in statement.lines:
            reference = _reference_of(line)
            if reference is None:
                continue
            here = _row_of(position, line)
            if of_account.setdefault(reference, here) != here:
                repeated.add((account, reference))
    places: dict[tuple[str, str], dict[int, tuple[int, Statement, StatementLine, int]]] = {}
    for position, statement in statements if repeated else ():
        account = normalise_account(statement.account)
        for line in statement.lines:
            reference = _reference_of(line)
            if reference is not None and (account, reference) in repeated:
                row = line.file_row if line.file_row is not None else line.line_no
                places.setdefault((account, reference), {}).setdefault(
                    _row_of(position, line), (position, statement, line, row))
    return {key: list(found.values()) for key, found in places.items()}


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
