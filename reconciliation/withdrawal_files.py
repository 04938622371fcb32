"""Withdrawal activity as banks send it (JSON list, CSV or xlsx) read into checked rows.

A file is accepted whole or not at all: every bad row is listed with its column and a message in
Vietnamese and English, and nothing of a rejected file is stored.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from reconciliation.parsers.model import LOCAL_TIMEZONE
from reconciliation.workbook_size import (
    EXCEL_MAX_ROWS,
    SheetLimits,
    WorkbookRefused,
    check_sheet_extent,
    check_xlsx_size,
)

BANK_CHANNELS = ("atm", "counter", "transfer", "qr", "pos", "agent")
COMMUNE_CHANNELS = ("assisted", "cash_handover")
CHANNELS = BANK_CHANNELS + COMMUNE_CHANNELS
MAX_ROWS = 2_000_000
# One withdrawal of a social allowance never comes near a billion đồng: the bound of a bank's row and of a
# withdrawal commune staff record (``app.withdrawals_api``), well inside the ledger's bigint.
MAX_AMOUNT = 1_000_000_000
# A withdrawal sheet has six columns; 64 leaves room for a bank's own extra columns, and its grid
# (rows × columns calamine allocates) stays within 32 columns' worth of a full Excel sheet.
XLSX_LIMITS = SheetLimits(max_columns=64, max_rows=EXCEL_MAX_ROWS, max_area=32 * EXCEL_MAX_ROWS,
                          max_cells=16 * EXCEL_MAX_ROWS)
ZIP_MAGIC = b"PK\x03\x04"

# Folded header text (no accents, lower case) -> field. Headers may be "Vietnamese / English".
_HEADER_ALIASES = {
    "account_number": ("account number", "account", "account no", "so tai khoan", "tai khoan", "stk"),
    "occurred_at": ("occurred at", "time", "date time", "datetime", "transaction time", "thoi gian",
                    "thoi diem", "ngay gio", "thoi gian giao dich", "ngay giao dich"),
    "amount": ("amount", "so tien", "so tien rut"),
    "channel": ("channel", "kenh", "kenh rut"),
    "bank_ref": ("bank ref", "bank reference", "reference", "ref", "ma giao dich", "so tham chieu",
                 "so but toan"),
    "bank_bin": ("bank bin", "bin", "ma ngan hang"),
}
REQUIRED_FIELDS = ("account_number", "occurred_at", "amount", "channel", "bank_ref")
_COLUMN_NAMES = {"account_number": "Số tài khoản / account_number", "occurred_at": "Thời gian / occurred_at",
                 "amount": "Số tiền / amount", "channel": "Kênh / channel", "bank_ref": "Mã giao dịch / bank_ref",
                 "bank_bin": "Mã ngân hàng / bank_bin"}
_CHANNEL_ALIASES = {"atm": "atm", "quay": "counter", "tai quay": "counter", "counter": "counter",
                    "chuyen khoan": "transfer", "transfer": "transfer", "qr": "qr", "pos": "pos",
                    "dai ly": "agent", "agent": "agent", "diem giao dich": "agent"}


def fold(text: str) -> str:
    """Lower case without Vietnamese accents, punctuation as single spaces."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).lower()
    return " ".join(re.sub(r"[^a-z0-9]+", " ", plain).split())


@dataclass(frozen=True)
class WithdrawalRow:
    """One checked withdrawal of a bank's feed."""

    row: int  # 1-based row of the file (JSON: position in the list)
    account_number: str
    occurred_at: datetime
    amount: int
    channel: str
    bank_ref: str
    bank_bin: str | None = None


class WithdrawalFileRejected(Exception):
    """The file or list cannot be taken; ``errors`` lists every bad row as {row, column, message, message_en}."""

    def __init__(self, vi: str, en: str, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(en)
        self.vi, self.en = vi, en
        self.errors = errors or [{"row": None, "column": None, "message": vi, "message_en": en}]


def _error(row: int | None, field: str | None, vi: str, en: str) -> dict[str, Any]:
    return {"row": row, "column": _COLUMN_NAMES.get(field or "", field), "message": vi, "message_en": en}


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


def parse_amount(value: Any) -> int | None:
    """Whole đồng from an int, an integral float or text with optional thousands separators."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float):
        return int(value) if value.is_integer() else None
    text = _text(value).replace(" ", "").replace("\u00a0", "")
    text = text.removesuffix("đ").removesuffix("VND").removesuffix("vnd")
    if re.fullmatch(r"\d+", text):
        return int(text)
    if re.fullmatch(r"\d{1,3}([.,]\d{3})+", text) and len(set(re.sub(r"\d", "", text))) == 1:
        return int(re.sub(r"[.,]", "", text))
    return None


_DMY = re.compile(r"(\d{1,2})/(\d{1,2})/(\d{4})(?:[ T](\d{1,2}):(\d{2})(?::(\d{2}))?)?")


def parse_moment(value: Any) -> datetime | None:
    """An aware moment from a datetime, an ISO 8601 text or dd/mm/yyyy [hh:mm[:ss]]; naive = Vietnam time."""
    moment: datetime | None = None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        text = _text(value)
        if not text:
            return None
        match = _DMY.fullmatch(text)
        try:
            if match:
                day, month, year, hour, minute, second = match.groups()
                moment = datetime(int(year), int(month), int(day), int(hour or 0), int(minute or 0), int(second or 0))
            else:
                moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TIMEZONE)


def check_rows(raw_rows: Iterable[tuple[int, dict[str, Any]]], *, earliest: datetime, now: datetime | None = None,
               json_amounts: bool = False) -> list[WithdrawalRow]:
    """Check every raw row (field -> cell); all good: the rows, else WithdrawalFileRejected with every error.
    ``earliest``: no withdrawal of ansinh's money before it (the caller's rule: when ansinh began paying).
    ``json_amounts``: the rows are a JSON list, whose amounts must be JSON integers (a file's text cells are
    parsed, "650.000" included; JSON has a type for a number, and a string or a float there is a client's
    bug, not a format to guess)."""
    now = now or datetime.now(UTC)
    first_day = f"{earliest.astimezone(LOCAL_TIMEZONE):%d/%m/%Y}"
    most = f"{MAX_AMOUNT:,}"
    rows: list[WithdrawalRow] = []
    errors: list[dict[str, Any]] = []
    seen: dict[tuple[str | None, str], int] = {}
    for number, raw in raw_rows:
        problems: list[dict[str, Any]] = []
        account = re.sub(r"[\s.-]", "", _text(raw.get("account_number")))
        if not re.fullmatch(r"\d{6,19}", account):
            problems.append(_error(number, "account_number", "Số tài khoản phải gồm 6–19 chữ số",
                                   "account number must be 6-19 digits"))
        occurred = parse_moment(raw.get("occurred_at"))
        if occurred is None:
            problems.append(_error(number, "occurred_at", "Thời gian không hợp lệ (ví dụ 2026-03-12T09:30:00+07:00 "
                                   "hoặc 12/03/2026 09:30)", "invalid time (e.g. 2026-03-12T09:30:00+07:00 or "
                                   "12/03/2026 09:30)"))
        elif occurred > now + timedelta(hours=1):
            problems.append(_error(number, "occurred_at", "Thời gian ở tương lai", "time is in the future"))
        elif occurred < earliest:
            problems.append(_error(number, "occurred_at", f"Thời gian trước {first_day}, khi ansinh bắt đầu chi trả; "
                                   "hãy kiểm tra lại năm", f"time is before {first_day}, when ansinh began paying; "
                                   "check the year"))
        amount = parse_amount(raw.get("amount"))
        if json_amounts and type(raw.get("amount")) is not int:  # not str, float, bool (an int subclass), null
            amount = None
            problems.append(_error(number, "amount", "Số tiền phải là số nguyên JSON (số đồng): không đặt trong "
                                   "ngoặc kép, không có phần thập phân, không phải true/false hay null",
                                   "amount must be a JSON integer of đồng: not a string, not a decimal number, "
                                   "not true/false or null"))
        elif amount is None or amount <= 0:
            problems.append(_error(number, "amount", "Số tiền phải là số đồng nguyên dương",
                                   "amount must be a positive whole number of đồng"))
        elif amount > MAX_AMOUNT:
            problems.append(_error(number, "amount", f"Số tiền quá lớn: tối đa {most.replace(',', '.')} đ một giao "
                                   "dịch", f"amount too large: at most {most} đồng a withdrawal"))
        channel = _CHANNEL_ALIASES.get(fold(_text(raw.get("channel"))))
        if channel is None:
            problems.append(_error(number, "channel", f"Kênh phải là một trong: {', '.join(BANK_CHANNELS)}",
                                   f"channel must be one of: {', '.join(BANK_CHANNELS)}"))
        reference = _text(raw.get("bank_ref") if raw.get("bank_ref") is not None else raw.get("bank_reference"))
        if not 1 <= len(reference) <= 64:
            problems.append(_error(number, "bank_ref", "Thiếu mã giao dịch (tối đa 64 ký tự)",
                                   "bank reference missing (at most 64 characters)"))
        bank_bin = _text(raw.get("bank_bin")) or None
        if bank_bin is not None and not re.fullmatch(r"\d{6}", bank_bin):
            problems.append(_error(number, "bank_bin", "Mã ngân hàng (BIN) phải gồm 6 chữ số",
                                   "bank BIN must be 6 digits"))
        if reference and (bank_bin, reference) in seen:
            problems.append(_error(number, "bank_ref", f"Mã giao dịch trùng với dòng {seen[(bank_bin, reference)]}",
                                   f"bank reference repeats row {seen[(bank_bin, reference)]}"))
        elif reference:
            seen[(bank_bin, reference)] = number
        if problems:
            errors.extend(problems)
            continue
        assert occurred is not None and amount is not None and channel is not None
        rows.append(WithdrawalRow(row=number, account_number=account, occurred_at=occurred, amount=amount,
                                  channel=channel, bank_ref=reference, bank_bin=bank_bin))
        if len(rows) > MAX_ROWS:
            raise WithdrawalFileRejected(f"Tệp có quá {MAX_ROWS:,} dòng", f"more than {MAX_ROWS:,} rows")
    if errors:
        bad = len({e["row"] for e in errors})
        rows_have = "1 row has" if bad == 1 else f"{bad:,} rows have"
        raise WithdrawalFileRejected(f"{bad} dòng có lỗi; chưa lưu dòng nào. Sửa và gửi lại cả tệp",
                                     f"{rows_have} errors; nothing was stored. Fix them and send the whole file "
                                     "again", errors)
    if not rows:
        raise WithdrawalFileRejected("Tệp không có dòng giao dịch nào", "the file holds no withdrawals")
    return rows


def rows_from_json(items: Any, *, earliest: datetime) -> list[WithdrawalRow]:
    """A JSON list of {account_number, occurred_at, amount, channel, bank_ref[, bank_bin]} (``check_rows``)."""
    if isinstance(items, dict) and isinstance(items.get("items"), list):
        items = items["items"]
    if not isinstance(items, list):
        raise WithdrawalFileRejected("Dữ liệu phải là một danh sách JSON các giao dịch",
                                     "the body must be a JSON list of withdrawals")
    raw: list[tuple[int, dict[str, Any]]] = []
    for position, item in enumerate(items, start=1):
        raw.append((position, item if isinstance(item, dict) else {}))
    return check_rows(raw, earliest=earliest, json_amounts=True)


def _header_fields(cells: Sequence[Any]) -> dict[str, int]:
    found: dict[str, int] = {}
    for index, cell in enumerate(cells):
        text = _text(cell)
        parts = [fold(part) for part in re.split(r"[/()|]", text)] + [fold(text), fold(text).replace(" ", "_")]
        for field, aliases in _HEADER_ALIASES.items():
            if field not in found and any(part in aliases or part == field for part in parts if part):
                found[field] = index
    return found


def _table_rows(cells: list[list[Any]], earliest: datetime) -> list[WithdrawalRow]:
    header_index, columns = next(((index, found) for index, found in
                                  ((index, _header_fields(row)) for index, row in enumerate(cells[:20]))
                                  if len(found) >= 3), (-1, {}))
    if header_index < 0:
        raise WithdrawalFileRejected(
            "Không tìm thấy dòng tiêu đề (cần các cột: số tài khoản, thời gian, số tiền, kênh, mã giao dịch)",
            "no header row found (columns needed: account_number, occurred_at, amount, channel, bank_ref)")
    missing = [field for field in REQUIRED_FIELDS if field not in columns]
    if missing:
        raise WithdrawalFileRejected(
            "Thiếu cột: " + ", ".join(_COLUMN_NAMES[f] for f in missing), "missing columns: " + ", ".join(missing),
            [_error(header_index + 1, f, "Thiếu cột này", "column missing") for f in missing])
    raw = []
    for index in range(header_index + 1, len(cells)):
        row = cells[index]
        if all(_text(value) == "" for value in row):
            continue
        raw.append((index + 1, {field: row[col] if col < len(row) else None for field, col in columns.items()}))
    return check_rows(raw, earliest=earliest)


def _csv_cells(content: bytes) -> list[list[Any]]:
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise WithdrawalFileRejected("Tệp CSV phải mã hoá UTF-8", "the CSV file must be UTF-8") from None
    first = text.split("\n", 1)[0]
    delimiter = max(",;\t|", key=first.count)
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _xlsx_cells(content: bytes) -> list[list[Any]]:
    from python_calamine import CalamineWorkbook

    try:
        check_xlsx_size(content, XLSX_LIMITS)
    except WorkbookRefused as refused:
        if refused.damaged:
            raise WithdrawalFileRejected("Không đọc được tệp Excel", "the Excel file cannot be read") from None
        raise WithdrawalFileRejected(refused.vi, refused.en) from None
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        sheet = workbook.get_sheet_by_index(0)
    except Exception:  # calamine raises several types for damaged files
        raise WithdrawalFileRejected("Không đọc được tệp Excel", "the Excel file cannot be read") from None
    try:
        check_sheet_extent(sheet, sheet.name, XLSX_LIMITS)
    except WorkbookRefused as refused:
        raise WithdrawalFileRejected(refused.vi, refused.en) from None
    try:
        return [list(row) for row in sheet.to_python(skip_empty_area=False)]
    except Exception:  # calamine raises several types for damaged files
        raise WithdrawalFileRejected("Không đọc được tệp Excel", "the Excel file cannot be read") from None


def file_format(content: bytes) -> str:
    """'xlsx' for a zip workbook, else 'csv'."""
    return "xlsx" if content.startswith(ZIP_MAGIC) else "csv"


def rows_from_file(content: bytes, *, earliest: datetime) -> list[WithdrawalRow]:
    """Rows of a CSV (UTF-8, comma/semicolon/tab) or xlsx file (first sheet), header found in the first 20 rows
    (``check_rows``)."""
    if not content.strip():
        raise WithdrawalFileRejected("Tệp rỗng", "the file is empty")
    cells = _xlsx_cells(content) if file_format(content) == "xlsx" else _csv_cells(content)
    return _table_rows(cells, earliest)
