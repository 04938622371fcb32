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
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

import structlog

from reconciliation.parsers.amounts import (
    AmountError,
    _combine,
    currency_exponent,
    decimal_to_minor,
)
from reconciliation.parsers.camt import LOCAL_TIMEZONE
from reconciliation.parsers.detect import decode_text
from reconciliation.parsers.errors import RowErrors, StatementParseError
from reconciliation.parsers.model import Statement, StatementLine

log = structlog.get_logger()

HEADER_SEARCH_ROWS = 100
DEFAULT_CURRENCY = "VND"

_COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
    "row_number": ("stt", "no", "số thứ tự", "tt", "seq", "#", "số tt"),
    "booking_date": ("ngày giao dịch", "ngày gd", "ngày hạch toán", "ngày ghi sổ", "ngày", "ngày thực hiện",
                     "thời gian giao dịch", "ngày giờ giao dịch", "thời gian", "transaction date", "trans date",
                     "txn date", "posting date", "booking date", "date", "transaction time", "date time"),
    "value_date": ("ngày hiệu lực", "ngày giá trị", "ngày hl", "effective date", "value date"),
    "bank_reference": ("số tham chiếu", "số bút toán", "mã giao dịch", "số giao dịch", "số chứng từ", "số ct",
                       "mã gd", "mã tham chiếu", "số tham chiếu giao dịch", "reference", "reference no",
                       "reference number", "ref no", "ref", "transaction no", "transaction id",
                       "transaction number", "trans no", "doc no", "số bút toán/ref no"),
    "end_to_end_ref": ("mã tham chiếu đầu cuối", "mã giao dịch đầu cuối", "mã thanh toán đầu cuối",
                       "end-to-end id", "end to end id", "endtoendid", "end-to-end reference", "e2e", "e2e id"),
    "debit": ("số tiền ghi nợ", "ghi nợ", "nợ", "phát sinh nợ", "số tiền nợ", "tiền ra", "số tiền rút",
              "số tiền chi", "debit", "debit amount", "debits", "withdrawal", "withdrawals", "money out"),
    "credit": ("số tiền ghi có", "ghi có", "có", "phát sinh có", "số tiền có", "tiền vào", "số tiền gửi",
               "số tiền thu", "credit", "credit amount", "credits", "deposit", "deposits", "money in"),
    "amount": ("số tiền", "số tiền giao dịch", "số tiền gd", "amount", "transaction amount"),
    "direction": ("nợ/có", "ghi nợ/ghi có", "d/c", "dr/cr", "c/d", "cr/dr", "debit/credit", "credit/debit"),
    "balance": ("số dư", "số dư cuối", "số dư sau giao dịch", "số dư tài khoản", "balance", "running balance",
                "available balance"),
    "description": ("nội dung", "nội dung chi tiết", "mô tả", "diễn giải", "nội dung giao dịch",
                    "chi tiết giao dịch", "diễn giải giao dịch", "nội dung thanh toán", "description", "details",
                    "transaction details", "transactions in detail", "remarks", "remark", "narrative",
                    "content", "memo"),
    "counterparty_account": ("tài khoản đối ứng", "số tài khoản đối ứng", "tk đối ứng", "số tk đối ứng",
                             "tài khoản người nhận", "số tài khoản người nhận", "tài khoản thụ hưởng",
                             "số tài khoản thụ hưởng", "counterparty account", "beneficiary account",
                             "corresponsive account", "contra account"),
    "counterparty_name": ("tên đối ứng", "tên tài khoản đối ứng", "tên người nhận", "tên người thụ hưởng",
                          "người thụ hưởng", "đơn vị thụ hưởng", "người hưởng", "tên người hưởng",
                          "tên đơn vị đối ứng", "counterparty name", "beneficiary name", "beneficiary",
                          "corresponsive name", "contra account name"),
    "currency": ("loại tiền", "tiền tệ", "đơn vị tiền", "currency", "ccy"),
    "return_reason": ("mã lý do trả lại", "lý do trả lại", "mã lý do hoàn trả", "return reason",
                      "return code", "return reason code"),
    "reversal": ("giao dịch hủy", "giao dịch huỷ", "hủy", "huỷ", "đảo", "hủy/đảo", "reversal", "reversed"),
}
_INFO_ALIASES: dict[str, tuple[str, ...]] = {
    "account": ("số tài khoản", "tài khoản", "số tk", "stk", "tài khoản số", "account number", "account no",
                "account", "a/c no", "acc no", "account num"),
    "currency": ("loại tiền", "loại tiền tệ", "tiền tệ", "đơn vị tiền tệ", "currency", "ccy"),
    "from_date": ("từ ngày", "from", "from date", "kỳ sao kê từ ngày"),
    "to_date": ("đến ngày", "to", "to date"),
}
_SPECIAL_ROWS: dict[str, tuple[str, ...]] = {
    "opening": ("số dư đầu kỳ", "số dư đầu", "dư đầu kỳ", "số dư đầu ngày", "số dư đầu kì", "opening balance",
                "beginning balance", "balance brought forward"),
    "closing": ("số dư cuối kỳ", "số dư cuối", "dư cuối kỳ", "số dư cuối ngày", "số dư cuối kì",
                "closing balance", "ending balance", "balance carried forward"),
    "total": ("tổng", "tổng cộng", "cộng", "tổng phát sinh", "cộng phát sinh", "tổng số", "total", "totals",
              "total amount", "grand total", "tổng cộng phát sinh"),
}
_TRUE_WORDS = {"x", "có", "co", "yes", "y", "true", "1", "đã hủy", "đã huỷ", "reversed", "hủy", "huỷ"}
_DEBIT_WORDS = {"d", "dr", "nợ", "no", "debit", "ghi nợ", "-", "n"}
_CREDIT_WORDS = {"c", "cr", "có", "co", "credit", "ghi có", "+"}
_SPLIT_LABEL = re.compile(r"\s*[/\n|]\s*|\s*\(\s*|\s*\)\s*")
_STRIP_CHARS = " \t\r\n.:*()[]-_"
_DATE_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")
_CURRENCY_MARKS = re.compile(r"(?i)\s*(vnd|vnđ|đồng|dong|đ|₫)\s*$")
_EXCEL_EPOCH = date(1899, 12, 30)
_GROUPED_INTEGER = re.compile(r"\d{1,3}(?:\.\d{3})+|\d{1,3}(?:,\d{3})+")
_DATE_TEXT = r"(\d{1,2}[/.\-]\d{1,2}[/.\-]\d{4}|\d{4}-\d{2}-\d{2})"
_PERIOD = re.compile(r"(?:tu ngay|from)\s*:?\s*" + _DATE_TEXT + r".*?(?:den ngay|to)\s*:?\s*" + _DATE_TEXT)


def _normalise(text: str) -> str:
    return " ".join(unicodedata.normalize("NFC", text).lower().split()).strip(_STRIP_CHARS)


def _fold(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _alias_table(aliases: dict[str, tuple[str, ...]]) -> tuple[dict[str, str], dict[str, str]]:
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    for name, words in aliases.items():
        for word in words:
            key = _normalise(word)
            exact.setdefault(key, name)
            # Short words ("nợ", "có") lose their meaning without diacritics ("no" is No.).
            if " " in key or len(key) > 6:
                folded.setdefault(_fold(key), name)
    return exact, folded


_COLUMNS_EXACT, _COLUMNS_FOLDED = _alias_table(_COLUMN_ALIASES)
_INFO_EXACT, _INFO_FOLDED = _alias_table(_INFO_ALIASES)
_SPECIAL_EXACT, _SPECIAL_FOLDED = _alias_table(_SPECIAL_ROWS)


def _lookup(text: str, exact: dict[str, str], folded: dict[str, str]) -> str | None:
    key = _normalise(text)
    if not key:
        return None
    return exact.get(key) or folded.get(_fold(key))


def _label_meanings(text: str, exact: dict[str, str], folded: dict[str, str]) -> set[str]:
    """What a (possibly bilingual, "Số tiền ghi nợ/Debit") label means, part by part."""
    whole = _lookup(text, exact, folded)
    if whole is not None:
        return {whole}
    return {found for part in _SPLIT_LABEL.split(text) if (found := _lookup(part, exact, folded))}


def header_column(text: str) -> str | None:
    """The canonical column a header cell names (``debit``, ``booking_date``…), or ``None``."""
    meanings = _label_meanings(text, _COLUMNS_EXACT, _COLUMNS_FOLDED)
    if {"debit", "credit"} <= meanings:
        return "direction"
    if len(meanings) == 1:
        return meanings.pop()
    for preferred in ("booking_date", "value_date", "debit", "credit", "amount", "description"):
        if preferred in meanings:
            return preferred
    return None


def _cell_text(cell: Any) -> str:
    if cell is None:
        return ""
    if isinstance(cell, str):
        return cell.strip()
    if isinstance(cell, bool):
        return "true" if cell else "false"
    if isinstance(cell, float) and cell.is_integer():
        return str(int(cell))
    if isinstance(cell, datetime):
        return cell.strftime("%d/%m/%Y %H:%M:%S")
    if isinstance(cell, date):
        return cell.strftime("%d/%m/%Y")
    return str(cell).strip()


@dataclass(slots=True)
class _Header:
    row: int
    columns: dict[str, int]
    titles: dict[str, str]

    @property
    def date_column(self) -> str:
        return "booking_date" if "booking_date" in self.columns else "value_date"


def _find_header(cells: Sequence[Any], row: int) -> _Header | None:
    columns: dict[str, int] = {}
    titles: dict[str, str] = {}
    for index, cell in enumerate(cells):
        if not isinstance(cell, str) or not cell.strip():
            continue
        name = header_column(cell)
        if name is not None and name not in columns:
            columns[name] = index
            titles[name] = " ".join(cell.split())
    has_date = "booking_date" in columns or "value_date" in columns
    has_amount = bool({"debit", "credit", "amount"} & columns.keys())
    if has_date and has_amount and len(columns) >= 3:
        return _Header(row=row, columns=columns, titles=titles)
    return None


class _AmountParser:
    """Text or numeric cells → signed minor units, exactly; ``None`` for an empty cell."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.exponent = currency_exponent(currency)
        self.scale = 10**self.exponent

    def parse(self, cell: Any) -> int | None:
        if cell is None:
            return None
        if isinstance(cell, bool):
            raise AmountError(f"số tiền không hợp lệ: {cell!r}", f"invalid amount {cell!r}")
        if isinstance(cell, int):
            return cell * self.scale
        if isinstance(cell, float):
            if cell != cell or cell in (float("inf"), float("-inf")):
                raise AmountError(f"số tiền không hợp lệ: {cell!r}", f"invalid amount {cell!r}")
            # repr() is the shortest text that reads back as this float: the number as typed.
            return decimal_to_minor(Decimal(repr(cell)), self.currency)
        if isinstance(cell, Decimal):
            return decimal_to_minor(cell, self.currency)
        if not isinstance(cell, str):
            raise AmountError(f"số tiền không hợp lệ: {cell!r}", f"invalid amount {cell!r}")
        text = cell.strip()
        if text.isdigit() and text.isascii():
            return int(text) * self.scale
        if _GROUPED_INTEGER.fullmatch(text):  # "1.500.000" or "1,500,000"
            return int(text.replace(".", "").replace(",", "")) * self.scale
        return self._parse_text(text)

    def _parse_text(self, original: str) -> int | None:
        text = _CURRENCY_MARKS.sub("", original.replace("\u00a0", " ")).replace(" ", "")
        if text in ("", "-", "–"):
            return None
        negative = False
        if text.startswith("(") and text.endswith(")"):
            negative, text = True, text[1:-1]
        if text[:1] in "+-":
            negative, text = text[0] == "-", text[1:]
        whole, fraction = self._split_number(text, original)
        value = _combine(whole, fraction, self.exponent, original, self.currency)
        return -value if negative else value

    def _split_number(self, text: str, original: str) -> tuple[str, str]:
        invalid = AmountError(f"số tiền không hợp lệ: {original!r}", f"invalid amount {original!r}")
        if not text or not all(ch.isdigit() or ch in ".," for ch in text) or not text[0].isdigit():
            raise invalid
        dots, commas = text.count("."), text.count(",")
        if dots and commas:
            decimal_mark = "." if text.rfind(".") > text.rfind(",") else ","
            thousands = "," if decimal_mark == "." else "."
            whole, _, fraction = text.rpartition(decimal_mark)
            if decimal_mark in whole or not _grouped(whole, thousands):
                raise invalid
            return whole.replace(thousands, ""), fraction
        separator = "." if dots else ("," if commas else "")
        if not separator:
            return text, ""
        head, _, tail = text.rpartition(separator)
        if dots + commas == 1 and len(tail) != 3:
            return head, tail  # "1500.5": a decimal mark, not a thousands separator
        if not _grouped(text, separator):
            raise invalid
        return text.replace(separator, ""), ""


def _grouped(text: str, separator: str) -> bool:
    groups = text.split(separator)
    return 1 <= len(groups[0]) <= 3 and groups[0].isdigit() and all(
        len(group) == 3 and group.isdigit() for group in groups[1:])


class _DateParser:
    """dd/mm/yyyy (optionally with a time), ISO dates, Excel date cells and serial numbers."""

    def __init__(self) -> None:
        self.cache: dict[str, tuple[date, datetime | None]] = {}

    def parse(self, cell: Any) -> tuple[date, datetime | None] | None:
        if type(cell) is str:
            cached = self.cache.get(cell)
            if cached is not None:
                return cached
        if cell is None or cell == "":
            return None
        if isinstance(cell, datetime):
            moment = cell if cell.tzinfo else cell.replace(tzinfo=LOCAL_TIMEZONE)
            return moment.date(), (moment if cell.time() != time(0) else None)
        if isinstance(cell, date):
            return cell, None
        if isinstance(cell, (int, float)) and not isinstance(cell, bool):
            if 20000 <= cell <= 80000:  # an Excel serial day number (1954-2119)
                moment = datetime.combine(_EXCEL_EPOCH, time(0)) + timedelta(days=float(cell))
                moment = moment.replace(microsecond=0)
                return moment.date(), (moment.replace(tzinfo=LOCAL_TIMEZONE) if moment.time() != time(0) else None)
            raise ValueError(f"không phải ngày: {cell!r}")
        text = cell.strip() if isinstance(cell, str) else str(cell)
        if not text:
            return None
        parsed = self._parse_text(text)
        if len(self.cache) < 100_000 and isinstance(cell, str):
            self.cache[cell] = parsed
        return parsed

    @staticmethod
    def _parse_text(text: str) -> tuple[date, datetime | None]:
        match = _DATE_DMY.fullmatch(text)
        if match:
            day, month, year = int(match.group(1)), int(match.group(2)), int(match.group(3))
        else:
            match = _DATE_ISO.fullmatch(text)
            if match is None:
                raise ValueError(text)
            year, month, day = int(match.group(1)), int(match.group(2)), int(match.group(3))
        the_date = date(year, month, day)
        if match.group(4) is None:
            return the_date, None
        moment = datetime(year, month, day, int(match.group(4)), int(match.group(5)), int(match.group(6) or 0),
                          tzinfo=LOCAL_TIMEZONE)
        return the_date, moment


@dataclass(slots=True)
class _Info:
    account: str | None = None
    currency: str | None = None
    from_date: date | None = None
    to_date: date | None = None


def _at(cells: Sequence[Any], index: int) -> Any:
    """The cell at ``index`` (``None`` when the row is short or the cell empty)."""
    if index < 0 or index >= len(cells):
        return None
    return _empty_to_none(cells[index])


def _empty_to_none(value: Any) -> Any:
    return None if value is None or (type(value) is str and not value.strip()) else value


class _SheetReader:
    """Reads the rows of one sheet (or CSV) in order and builds its single statement."""

    def __init__(self, source_format: str) -> None:
        self.source_format = source_format
        self.errors = RowErrors()
        self.info = _Info()
        self.header: _Header | None = None
        self.dates = _DateParser()
        self.amounts = _AmountParser(DEFAULT_CURRENCY)
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
        texts = [_cell_text(cell) for cell in cells]
        for index, text in enumerate(texts):
            if not text:
                continue
            period = _PERIOD.search(_fold(text).lower())
            if period:  # "Từ ngày 01/01/2024 đến ngày 31/01/2024" in one cell
                self._set_period("from_date", period.group(1), period.group(1))
                self._set_period("to_date", period.group(2), period.group(2))
                continue
            label, colon, inline_value = text.partition(":")
            meanings = _label_meanings(label, _INFO_EXACT, _INFO_FOLDED) if len(label) <= 60 else set()
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
            folded = _fold(value).upper()
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

    def start(self, header: _Header) -> None:
        """The header row is found: fix the currency and the column positions."""
        self.header = header
        self.currency = self.info.currency or DEFAULT_CURRENCY
        try:
            self.amounts = _AmountParser(self.currency)
        except AmountError as exc:
            raise StatementParseError(exc.message_vi, exc.message_en) from None
        # Rows are padded to ``width``; an absent column points at the always-empty last cell.
        self.width = max(header.columns.values()) + 2
        absent = self.width - 1
        self.index = {name: header.columns.get(name, absent) for name in _COLUMN_ALIASES}
        self.index["date"] = header.columns[header.date_column]
        self.present = {name: name in header.columns for name in _COLUMN_ALIASES}

    # --- after the header --------------------------------------------------------------
    def read_row(self, row: int, cells: Sequence[Any]) -> None:
        """One row after the header: a transaction, a balance or total row, or text to skip."""
        if len(cells) < self.width:
            cells = [*cells, *([""] * (self.width - len(cells)))]
        index = self.index
        date_cell = _empty_to_none(cells[index["date"]])
        debit_cell = _empty_to_none(cells[index["debit"]])
        credit_cell = _empty_to_none(cells[index["credit"]])
        amount_cell = _empty_to_none(cells[index["amount"]])
        has_amount = debit_cell is not None or credit_cell is not None or amount_cell is not None
        if has_amount and date_cell is not None and (type(date_cell) is not str or date_cell[:1].isdigit()):
            self._transaction_row(row, cells, date_cell, debit_cell, credit_cell, amount_cell)
            return
        special = self._special_kind(cells)
        if special is not None:
            self._special_row(special, row, cells)
        elif (date_cell is not None and (not isinstance(date_cell, str) or date_cell[:1].isdigit())) or any(
                _looks_numeric(c) for c in (debit_cell, credit_cell, amount_cell)):
            if _find_header([c if isinstance(c, str) else "" for c in cells], row) is None:
                self._transaction_row(row, cells, date_cell, debit_cell, credit_cell, amount_cell)
        # anything else is text between or after the lines (page headers, signatures): skipped

    def _special_kind(self, cells: Sequence[Any]) -> str | None:
        for value in cells:
            if isinstance(value, str) and value and len(value) <= 80:
                meanings = _label_meanings(value.partition(":")[0], _SPECIAL_EXACT, _SPECIAL_FOLDED)
                if len(meanings) == 1:
                    return meanings.pop()
        return None

    def _special_row(self, kind: str, row: int, cells: Sequence[Any]) -> None:
        header = self.header
        assert header is not None
        index = self.index
        if kind == "total":
            try:
                debit = self.amounts.parse(_at(cells, index["debit"]))
                credit = self.amounts.parse(_at(cells, index["credit"]))
            except AmountError:
                debit = credit = None
            self.totals = (row, debit, credit)
            return
        balance_cell = _at(cells, index["balance"])
        candidates = [balance_cell] if balance_cell is not None else [
            c for c in reversed(cells) if c not in (None, "") and not (isinstance(c, str) and _special_text(c))]
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
            parsed = self.dates.parse(_at(cells, index["date"]))
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
                            f"ngày không hợp lệ: {_cell_text(date_cell)!r} (cần dd/mm/yyyy)",
                            f"invalid date {_cell_text(date_cell)!r} (expected dd/mm/yyyy)")
        amount = self._amount(row, cells, debit_cell, credit_cell, amount_cell)
        value_date = None
        if self.present["value_date"] and header.date_column != "value_date":
            value_cell = _empty_to_none(cells[index["value_date"]])
            try:
                value_parsed = self.dates.parse(value_cell)
                value_date = value_parsed[0] if value_parsed else None
            except (ValueError, TypeError):
                self.errors.add(row, header.titles["value_date"],
                                f"ngày hiệu lực không hợp lệ: {_cell_text(value_cell)!r}",
                                f"invalid value date {_cell_text(value_cell)!r}")
        if self.present["currency"]:
            self._check_row_currency(row, _empty_to_none(cells[index["currency"]]))
        if self.errors.count != errors_before or parsed is None or amount is None:
            return
        booking_date, booked_at = parsed
        if header.date_column == "value_date":
            value_date = booking_date
        reversal_cell = cells[index["reversal"]]
        self.lines.append(StatementLine(
            account=self.info.account or "", booking_date=booking_date, value_date=value_date,
            booked_at=booked_at, amount=amount, currency=self.currency,
            bank_reference=_optional_text(cells[index["bank_reference"]]),
            end_to_end_ref=_optional_text(cells[index["end_to_end_ref"]]),
            counterparty_account=_optional_text(cells[index["counterparty_account"]]),
            counterparty_name=_optional_text(cells[index["counterparty_name"]]),
            description=_optional_text(cells[index["description"]]),
            return_reason=_optional_text(cells[index["return_reason"]]),
            is_reversal=reversal_cell != "" and reversal_cell is not None
            and _normalise(_cell_text(reversal_cell)) in _TRUE_WORDS,
            line_no=len(self.lines) + 1,
        ))

    def _check_row_currency(self, row: int, value: Any) -> None:
        if value is None:
            return
        assert self.header is not None
        row_currency = _fold(_cell_text(value)).upper()
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
            direction = _normalise(_cell_text(cells[index["direction"]]))
            if direction in _DEBIT_WORDS:
                value = -abs(value)
            elif direction in _CREDIT_WORDS:
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
                                f"dòng Tổng ghi nợ {debit_total} khác tổng các dòng {self.debit_sum}",
                                f"the total row's debit {debit_total} differs from the sum of the lines "
                                f"{self.debit_sum}")
            if credit_total is not None and credit_total != self.credit_sum:
                self.errors.add(row, header.titles["credit"],
                                f"dòng Tổng ghi có {credit_total} khác tổng các dòng {self.credit_sum}",
                                f"the total row's credit {credit_total} differs from the sum of the lines "
                                f"{self.credit_sum}")
        self.errors.raise_if_any("Sao kê có dòng không hợp lệ", "The statement has invalid rows")
        assert self.info.account is not None
        return Statement(
            statement_id=None, account=self.info.account, currency=self.currency,
            opening_balance=self.opening, closing_balance=self.closing,
            opening_date=self.info.from_date or self.opening_date,
            closing_date=self.info.to_date or self.closing_date,
            lines=tuple(self.lines), source_format=self.source_format,
        )


class _RowAmountError(Exception):
    """An amount cell was bad; the row error is already recorded."""


def _looks_numeric(cell: Any) -> bool:
    """A number, or text made of digits and separators (not a signature or a note in that column)."""
    if cell is None or isinstance(cell, bool):
        return False
    if not isinstance(cell, str):
        return isinstance(cell, (int, float, Decimal))
    return any(ch.isdigit() for ch in cell) and not any(ch.isalpha() for ch in _CURRENCY_MARKS.sub("", cell))


def _special_text(text: str) -> bool:
    return bool(_label_meanings(text.partition(":")[0], _SPECIAL_EXACT, _SPECIAL_FOLDED))


def _optional_text(cell: Any) -> str | None:
    if type(cell) is str:
        text = cell.strip()
        if not text:
            return None
        if "  " in text or "\n" in text or "\t" in text or "\r" in text:
            return " ".join(text.split())
        return text
    text = _cell_text(cell)
    return " ".join(text.split()) if text else None


def read_rows(rows: Iterable[tuple[int, Sequence[Any]]], source_format: str) -> Statement:
    """Interpret numbered rows of a sao kê (CSV records or sheet rows) as one statement."""
    reader = _SheetReader(source_format)
    iterator = iter(rows)
    for number, cells in iterator:
        header = _find_header(cells, number)
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
                header = _find_header(cells, number)
                if header is not None:
                    if len(header.columns) > best_columns:
                        best, best_columns = delimiter, len(header.columns)
                    break
        except csv.Error:
            continue
    return best
