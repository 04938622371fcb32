"""Cells of a statement sheet: amounts and dates as banks write them, read exactly."""

from __future__ import annotations

import re
from collections.abc import Sequence
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from typing import Any

from reconciliation.parsers.amounts import AmountError, combine_digits, currency_exponent, decimal_to_minor
from reconciliation.parsers.model import LOCAL_TIMEZONE

_DATE_DMY = re.compile(r"(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})(?:[ T]+(\d{1,2}):(\d{2})(?::(\d{2}))?)?")
_DATE_ISO = re.compile(r"(\d{4})-(\d{2})-(\d{2})(?:[ T](\d{2}):(\d{2})(?::(\d{2}))?)?")
_CURRENCY_MARKS = re.compile(r"(?i)\s*(vnd|vnđ|đồng|dong|đ|₫)\s*$")
_EXCEL_EPOCH = date(1899, 12, 30)
_GROUPED_INTEGER = re.compile(r"\d{1,3}(?:\.\d{3})+|\d{1,3}(?:,\d{3})+")


def cell_text(cell: Any) -> str:
    """A cell as the text a person sees (dates dd/mm/yyyy, whole floats without ".0")."""
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


class AmountCells:
    """Text or numeric cells → signed minor units, exactly; ``None`` for an empty cell."""

    def __init__(self, currency: str) -> None:
        self.currency = currency
        self.exponent = currency_exponent(currency)
        self.scale = 10**self.exponent

    def parse(self, cell: Any) -> int | None:
        """The cell's amount in signed minor units (``None`` when empty); AmountError if unreadable."""
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
        value = combine_digits(whole, fraction, self.exponent, original, self.currency)
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


class DateCells:
    """dd/mm/yyyy (optionally with a time), ISO dates, Excel date cells and serial numbers."""

    def __init__(self) -> None:
        self.cache: dict[str, tuple[date, datetime | None]] = {}

    def parse(self, cell: Any) -> tuple[date, datetime | None] | None:
        """(date, moment when a time is given) of the cell, ``None`` when empty; ValueError if unreadable."""
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


def cell_at(cells: Sequence[Any], index: int) -> Any:
    """The cell at ``index`` (``None`` when the row is short or the cell empty)."""
    if index < 0 or index >= len(cells):
        return None
    return empty_to_none(cells[index])


def empty_to_none(value: Any) -> Any:
    """``None`` for an empty or blank cell, the value otherwise."""
    return None if value is None or (type(value) is str and not value.strip()) else value


def looks_numeric(cell: Any) -> bool:
    """A number, or text made of digits and separators (not a signature or a note in that column)."""
    if cell is None or isinstance(cell, bool):
        return False
    if not isinstance(cell, str):
        return isinstance(cell, (int, float, Decimal))
    return any(ch.isdigit() for ch in cell) and not any(ch.isalpha() for ch in _CURRENCY_MARKS.sub("", cell))


def optional_text(cell: Any) -> str | None:
    """A text column's value with blanks collapsed, or ``None`` when empty."""
    if type(cell) is str:
        text = cell.strip()
        if not text:
            return None
        if "  " in text or "\n" in text or "\t" in text or "\r" in text:
            return " ".join(text.split())
        return text
    text = cell_text(cell)
    return " ".join(text.split()) if text else None
