"""Statements exported by Vietnamese banks as CSV or Excel ("sao kê").

The shape (see ``shared/reference/social_assistance.md``): info rows on top (account number,
currency, period), a header row in Vietnamese or bilingual ("Số tiền ghi nợ/Debit"), optional
"Số dư đầu kỳ/Opening balance" and "Số dư cuối kỳ/Closing balance" rows, the transactions, a
"Tổng" total row, footer text. Dates are dd/mm/yyyy; amounts are whole đồng written with "." or
"," as thousands separator, or numeric cells.

Rows are read one at a time (a CSV of a million lines is never held as a list of rows). A bad row
is recorded with its row number and column header, and the file is rejected with all of them.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import structlog

from reconciliation.parsers.amounts import AmountError, amount_en, amount_vi
from reconciliation.parsers.cells import (
    AmountCells,
    DateCells,
    cell_at,
    cell_text,
    empty_to_none,
    looks_numeric,
    optional_text,
)
from reconciliation.parsers.detect import decode_text
from reconciliation.parsers.errors import RowErrors, StatementParseError
from reconciliation.parsers.headers import (
    COLUMN_ALIASES,
    CREDIT_WORDS,
    DEBIT_WORDS,
    INFO_EXACT,
    INFO_FOLDED,
    SPECIAL_EXACT,
    SPECIAL_FOLDED,
    TRUE_WORDS,
    Header,
    find_header,
    fold,
    is_special_label,
    label_meanings,
    normalise,
)
from reconciliation.parsers.model import Statement, StatementLine

log = structlog.get_logger()

HEADER_SEARCH_ROWS = 100
DEFAULT_CURRENCY = "VND"

_DATE_TEXT = r"(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}|\d{4}-\d{2}-\d{2})"
_PERIOD = re.compile(r"(?:tu ngay|from)\s*:?\s*" + _DATE_TEXT + r".*?(?:den ngay|to)\s*:?\s*" + _DATE_TEXT)


@dataclass(slots=True)
class _Info:
    account: str | None = None
    currency: str | None = None
    from_date: date | None = None
    to_date: date | None = None


class _SheetReader:
    """Reads the rows of one sheet (or CSV) in order and builds its single statement."""

    def __init__(self, source_format: str) -> None:
        self.source_format = source_format
        self.errors = RowErrors()
        self.info = _Info()
        self.header: Header | None = None
        self.dates = DateCells()
        self.amounts = AmountCells(DEFAULT_CURRENCY)
        self.currency = DEFAULT_CURRENCY
        self.lines: list[StatementLine] = []
        self.opening: int | None = None
        self.closing: int | None = None
        self.opening_date: date | None = None
        self.closing_date: date | None = None
        self.totals: tuple[int, int | None, int | None] | None = None  # row, debit total, credit total
        self.debit_sum = 0
        self.credit_sum = 0
        self.index: dict[str, int] = {}
        self.present: dict[str, bool] = {}
        self.width = 0

    # --- before the header -------------------------------------------------------------
    def read_info(self, cells: Sequence[Any]) -> None:
        """Pick the account number, currency and period out of an info row above the header."""
        texts = [cell_text(cell) for cell in cells]
        for index, text in enumerate(texts):
            if not text:
                continue
            period = _PERIOD.search(fold(text).lower())
            if period:  # "Từ ngày 01/01/2024 đến ngày 31/01/2024" in one cell
                self._set_period("from_date", period.group(1), period.group(1))
                self._set_period("to_date", period.group(2), period.group(2))
                continue
            label, colon, inline_value = text.partition(":")
            meanings = label_meanings(label, INFO_EXACT, INFO_FOLDED) if len(label) <= 60 else set()
            if not meanings:
                continue
            value, value_cell = inline_value.strip(), inline_value.strip()
            if not (colon and value):
                following = next((j for j in range(index + 1, len(texts)) if texts[j]), None)
                if following is None:
                    continue
                value, value_cell = texts[following], cells[following]
            for meaning in sorted(meanings):
                self._set_info(meaning, value, value_cell)

    def _set_info(self, meaning: str, value: str, value_cell: Any) -> None:
        if meaning == "account" and self.info.account is None:
            compact = value.replace(" ", "")
            token = re.match(r"[0-9A-Za-z][0-9A-Za-z.\-]{3,}", compact if compact.isalnum() else value)
            if token:
                self.info.account = token.group(0)
        elif meaning == "currency" and self.info.currency is None:
            folded = fold(value).upper()
            if folded.startswith(("VND", "DONG")):
                self.info.currency = "VND"
            else:
                code = re.match(r"[A-Z]{3}\b", folded)
                self.info.currency = code.group(0) if code else None
        elif meaning in ("from_date", "to_date"):
            self._set_period(meaning, value, value_cell)

    def _set_period(self, meaning: str, value: str, value_cell: Any) -> None:
        candidates: list[Any] = [value_cell] if not isinstance(value_cell, str) else re.findall(
            r"\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}|\d{4}-\d{2}-\d{2}", value)
        found: list[date] = []
        for candidate in candidates[:2]:
            try:
                parsed = self.dates.parse(candidate)
            except (ValueError, TypeError):
                continue
            if parsed is not None:
                found.append(parsed[0])
        if not found:
            return
        if meaning == "from_date" and self.info.from_date is None:
            self.info.from_date = found[0]
            if len(found) > 1 and self.info.to_date is None:  # "Từ ngày 01/01/2024 đến ngày 31/01/2024"
                self.info.to_date = found[1]
        elif meaning == "to_date" and self.info.to_date is None:
            self.info.to_date = found[-1]

    def start(self, header: Header) -> None:
        """The header row is found: fix the currency and the column positions."""
        self.header = header
        self.currency = self.info.currency or DEFAULT_CURRENCY
        try:
            self.amounts = AmountCells(self.currency)
        except AmountError as exc:
            raise StatementParseError(exc.message_vi, exc.message_en) from None
        # Rows are padded to ``width``; an absent column points at the always-empty last cell.
        self.width = max(header.columns.values()) + 2
        absent = self.width - 1
        self.index = {name: header.columns.get(name, absent) for name in COLUMN_ALIASES}
        self.index["date"] = header.columns[header.date_column]
        self.present = {name: name in header.columns for name in COLUMN_ALIASES}

    # --- after the header --------------------------------------------------------------
    def read_row(self, row: int, cells: Sequence[Any]) -> None:
        """One row after the header: a transaction, a balance or total row, or text to skip."""
        if len(cells) < self.width:
            cells = [*cells, *([""] * (self.width - len(cells)))]
        index = self.index
        date_cell = empty_to_none(cells[index["date"]])
        debit_cell = empty_to_none(cells[index["debit"]])
        credit_cell = empty_to_none(cells[index["credit"]])
        amount_cell = empty_to_none(cells[index["amount"]])
        has_amount = debit_cell is not None or credit_cell is not None or amount_cell is not None
        if has_amount and date_cell is not None and (type(date_cell) is not str or date_cell[:1].isdigit()):
            self._transaction_row(row, cells, date_cell, debit_cell, credit_cell, amount_cell)
            return
        special = self._special_kind(cells)
        if special is not None:
            self._special_row(special, row, cells)
        elif (date_cell is not None and (not isinstance(date_cell, str) or date_cell[:1].isdigit())) or any(
                looks_numeric(c) for c in (debit_cell, credit_cell, amount_cell)):
            if find_header([c if isinstance(c, str) else "" for c in cells], row) is None:
                self._transaction_row(row, cells, date_cell, debit_cell, credit_cell, amount_cell)
        # anything else is text between or after the lines (page headers, signatures): skipped

    def _special_kind(self, cells: Sequence[Any]) -> str | None:
        for value in cells:
            if isinstance(value, str) and value and len(value) <= 80:
                meanings = label_meanings(value.partition(":")[0], SPECIAL_EXACT, SPECIAL_FOLDED)
                if len(meanings) == 1:
                    return meanings.pop()
        return None

    def _special_row(self, kind: str, row: int, cells: Sequence[Any]) -> None:
        header = self.header
        assert header is not None
        index = self.index
        if kind == "total":
            try:
                debit = self.amounts.parse(cell_at(cells, index["debit"]))
                credit = self.amounts.parse(cell_at(cells, index["credit"]))
            except AmountError:
                debit = credit = None
            self.totals = (row, debit, credit)
            return
        balance_cell = cell_at(cells, index["balance"])
        candidates = [balance_cell] if balance_cell is not None else [
            c for c in reversed(cells) if c not in (None, "") and not (isinstance(c, str) and is_special_label(c))]
        value = None
        for candidate in candidates:
            try:
                value = self.amounts.parse(candidate)
            except AmountError:
                continue
            if value is not None:
                break
        if value is None:
            self.errors.add(row, header.titles.get("balance"),
                            "dòng số dư không có số tiền đọc được", "the balance row has no readable amount")
            return
        try:
            parsed = self.dates.parse(cell_at(cells, index["date"]))
        except (ValueError, TypeError):
            parsed = None
        when = parsed[0] if parsed else None
        if kind == "opening" and self.opening is None:
            self.opening, self.opening_date = value, when
        elif kind == "closing":
            self.closing, self.closing_date = value, when

    def _transaction_row(self, row: int, cells: Sequence[Any], date_cell: Any, debit_cell: Any,
                         credit_cell: Any, amount_cell: Any) -> None:
        header = self.header
        assert header is not None
        index = self.index
        errors_before = self.errors.count
        parsed: tuple[date, datetime | None] | None
        try:
            parsed = self.dates.parse(date_cell)
            if parsed is None:
                self.errors.add(row, header.titles[header.date_column], "thiếu ngày giao dịch",
                                "missing transaction date")
        except (ValueError, TypeError):
            parsed = None
            self.errors.add(row, header.titles[header.date_column],
                            f"ngày không hợp lệ: {cell_text(date_cell)!r} (cần dd/mm/yyyy)",
                            f"invalid date {cell_text(date_cell)!r} (expected dd/mm/yyyy)")
        amount = self._amount(row, cells, debit_cell, credit_cell, amount_cell)
        value_date = None
        if self.present["value_date"] and header.date_column != "value_date":
            value_cell = empty_to_none(cells[index["value_date"]])
            try:
                value_parsed = self.dates.parse(value_cell)
                value_date = value_parsed[0] if value_parsed else None
            except (ValueError, TypeError):
                self.errors.add(row, header.titles["value_date"],
                                f"ngày hiệu lực không hợp lệ: {cell_text(value_cell)!r}",
                                f"invalid value date {cell_text(value_cell)!r}")
        if self.present["currency"]:
            self._check_row_currency(row, empty_to_none(cells[index["currency"]]))
        if self.errors.count != errors_before or parsed is None or amount is None:
            return
        booking_date, booked_at = parsed
        if header.date_column == "value_date":
            value_date = booking_date
        reversal_cell = cells[index["reversal"]]
        self.lines.append(StatementLine(
            account=self.info.account or "", booking_date=booking_date, value_date=value_date,
            booked_at=booked_at, amount=amount, currency=self.currency,
            bank_reference=optional_text(cells[index["bank_reference"]]),
            end_to_end_ref=optional_text(cells[index["end_to_end_ref"]]),
            counterparty_account=optional_text(cells[index["counterparty_account"]]),
            counterparty_name=optional_text(cells[index["counterparty_name"]]),
            description=optional_text(cells[index["description"]]),
            return_reason=optional_text(cells[index["return_reason"]]),
            is_reversal=reversal_cell != "" and reversal_cell is not None
            and normalise(cell_text(reversal_cell)) in TRUE_WORDS,
            line_no=len(self.lines) + 1, file_row=row,
        ))

    def _check_row_currency(self, row: int, value: Any) -> None:
        if value is None:
            return
        assert self.header is not None
        row_currency = fold(cell_text(value)).upper()
        row_currency = "VND" if row_currency in ("VND", "DONG") else row_currency
        if row_currency != self.currency:
            self.errors.add(row, self.header.titles["currency"],
                            f"loại tiền {row_currency} khác loại tiền của tài khoản ({self.currency})",
                            f"currency {row_currency} differs from the account currency ({self.currency})")

    def _amount(self, row: int, cells: Sequence[Any], debit_cell: Any, credit_cell: Any,
                amount_cell: Any) -> int | None:
        header = self.header
        assert header is not None
        index = self.index
        try:
            if self.present["debit"] or self.present["credit"]:
                debit = self._column_amount(row, "debit", debit_cell)
                credit = self._column_amount(row, "credit", credit_cell)
                if debit or credit:
                    debit, credit = abs(debit or 0), credit or 0
                    if credit < 0:
                        self.errors.add(row, header.titles["credit"], "số tiền ghi có âm", "negative credit amount")
                        return None
                    if debit and credit:
                        self.errors.add(row, header.titles.get("debit"), "dòng có cả số tiền ghi nợ và ghi có",
                                        "the row has both a debit and a credit")
                        return None
                    self.debit_sum += debit
                    self.credit_sum += credit
                    return credit - debit
                if not self.present["amount"] or amount_cell is None:
                    self.errors.add(row, header.titles.get("debit") or header.titles.get("credit"),
                                    "thiếu số tiền (ghi nợ và ghi có đều trống hoặc bằng 0)",
                                    "missing amount (debit and credit both empty or zero)")
                    return None
            value = self._column_amount(row, "amount", amount_cell)
            if not value:
                self.errors.add(row, header.titles.get("amount"), "thiếu số tiền hoặc số tiền bằng 0",
                                "missing or zero amount")
                return None
            direction = normalise(cell_text(cells[index["direction"]]))
            if direction in DEBIT_WORDS:
                value = -abs(value)
            elif direction in CREDIT_WORDS:
                value = abs(value)
            if value < 0:
                self.debit_sum -= value
            else:
                self.credit_sum += value
            return value
        except _RowAmountError:
            return None

    def _column_amount(self, row: int, name: str, value: Any) -> int | None:
        assert self.header is not None
        try:
            return self.amounts.parse(value)
        except AmountError as exc:
            self.errors.add(row, self.header.titles.get(name), exc.message_vi, exc.message_en)
            raise _RowAmountError from None

    def finish(self) -> Statement:
        """The statement, or every recorded row error at once."""
        header = self.header
        assert header is not None
        if self.info.account is None:
            self.errors.add(None, None,
                            "không tìm thấy số tài khoản ở các dòng thông tin phía trên tiêu đề "
                            "(ví dụ \"Số tài khoản: 0011001234567\")",
                            "no account number in the info rows above the header "
                            "(e.g. \"Account number: 0011001234567\")")
        # Compared only when every line was read: after a bad row the sums are incomplete anyway.
        if self.totals is not None and not self.errors and "debit" in header.columns and "credit" in header.columns:
            row, debit_total, credit_total = self.totals
            if debit_total is not None and debit_total != self.debit_sum:
                self.errors.add(row, header.titles["debit"],
                                f"dòng Tổng ghi nợ {amount_vi(debit_total, self.currency)} khác tổng các dòng "
                                f"{amount_vi(self.debit_sum, self.currency)}",
                                f"the total row's debit {amount_en(debit_total, self.currency)} differs from the "
                                f"sum of the lines {amount_en(self.debit_sum, self.currency)}")
            if credit_total is not None and credit_total != self.credit_sum:
                self.errors.add(row, header.titles["credit"],
                                f"dòng Tổng ghi có {amount_vi(credit_total, self.currency)} khác tổng các dòng "
                                f"{amount_vi(self.credit_sum, self.currency)}",
                                f"the total row's credit {amount_en(credit_total, self.currency)} differs from the "
                                f"sum of the lines {amount_en(self.credit_sum, self.currency)}")
        self.errors.raise_if_any("Sao kê có dòng không hợp lệ", "The statement has invalid rows")
        assert self.info.account is not None
        return Statement(
            statement_id=None, account=self.info.account, currency=self.currency,
            opening_balance=self.opening, closing_balance=self.closing,
            opening_date=self.info.from_date or self.opening_date,
            closing_date=self.info.to_date or self.closing_date,
            lines=tuple(self.lines), source_format=self.source_format,
            reference_column=header.titles.get("bank_reference"),
        )


class _RowAmountError(Exception):
    """An amount cell was bad; the row error is already recorded."""


def read_rows(rows: Iterable[tuple[int, Sequence[Any]]], source_format: str) -> Statement:
    """Interpret numbered rows of a sao kê (CSV records or sheet rows) as one statement."""
    reader = _SheetReader(source_format)
    iterator = iter(rows)
    for number, cells in iterator:
        header = find_header(cells, number)
        if header is not None:
            reader.start(header)
            break
        reader.read_info(cells)
        if number >= HEADER_SEARCH_ROWS:
            break
    if reader.header is None:
        raise StatementParseError(
            "Không tìm thấy dòng tiêu đề của sao kê (cần các cột như Ngày giao dịch, Số tiền ghi nợ, "
            "Số tiền ghi có, Nội dung) trong 100 dòng đầu",
            "No statement header row (columns such as Transaction date, Debit, Credit, Description) "
            "in the first 100 rows")
    for number, cells in iterator:
        reader.read_row(number, cells)
    statement = reader.finish()
    log.info("tabular_statement_parsed", source_format=source_format, lines=len(statement.lines),
             header_row=reader.header.row, columns=sorted(reader.header.columns))
    return statement


# --- CSV -------------------------------------------------------------------------------------
_DELIMITERS = (",", ";", "\t", "|")


def parse_csv(data: bytes, filename: str | None = None) -> list[Statement]:
    """A Vietnamese bank CSV export (UTF-8, or UTF-16 with a byte-order mark)."""
    text = decode_text(data, filename)
    if "\x00" in text:
        raise StatementParseError("Tệp CSV chứa ký tự NUL (tệp nhị phân?)", "The CSV holds NUL characters (binary?)")
    delimiter = _sniff_delimiter(text)
    records = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    try:
        return [read_rows(enumerate(records, start=1), "csv")]
    except csv.Error as exc:
        raise StatementParseError(f"Tệp CSV sai định dạng: {exc}", f"Malformed CSV: {exc}") from None


def _sniff_delimiter(text: str) -> str:
    head = text[:65536].splitlines()[:HEADER_SEARCH_ROWS]
    best, best_columns = ",", 0
    for delimiter in _DELIMITERS:
        try:
            for number, cells in enumerate(csv.reader(head, delimiter=delimiter), start=1):
                header = find_header(cells, number)
                if header is not None:
                    if len(header.columns) > best_columns:
                        best, best_columns = delimiter, len(header.columns)
                    break
        except csv.Error:
            continue
    return best
