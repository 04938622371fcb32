"""Field parsers shared by the API and the file import: a cell or JSON value in, a clean value or a
bilingual :class:`FieldError` out. Spreadsheet quirks handled here: numbers that lost their leading
zeros, Excel date cells and serial numbers, a leading apostrophe, thousands of stray spaces."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from app.registry.identity import (
    HOLDER_NAME_PATTERN,
    Message,
    bank_holder_name,
    fold_accents,
    normalise_name,
    normalise_spaces,
)

EXCEL_EPOCH = date(1899, 12, 30)
MAX_COEFFICIENT = Decimal("99.99")


class FieldError(ValueError):
    """A value that cannot be used, with the reason in Vietnamese and English."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.message = Message(vi, en)


def cell_text(value: Any) -> str:
    """A cell as trimmed text: whole floats lose ".0", None is "", a leading apostrophe is dropped."""
    if type(value) is str:  # the common case first: imports call this for every cell
        text = value.strip()
        return text[1:].strip() if text.startswith("'") else text
    if value is None:
        return ""
    if isinstance(value, float):
        if value.is_integer():
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    text = str(value).strip()
    if text.startswith("'"):
        text = text[1:].strip()
    return text


def is_blank(value: Any) -> bool:
    """True for None and whitespace-only text."""
    return value is None or (isinstance(value, str) and not value.strip())


def _digits(value: Any, *, separators: str = " .-") -> str:
    text = cell_text(value)
    for separator in separators:
        text = text.replace(separator, "")
    return text


def parse_full_name(value: Any) -> str:
    """A person's name: NFC, single spaces, at most 120 characters, with at least one letter."""
    name = normalise_name(cell_text(value))
    if not name:
        raise FieldError("Thiếu họ và tên", "The full name is missing")
    if len(name) > 120:
        raise FieldError("Họ và tên dài quá 120 ký tự", "The full name is longer than 120 characters")
    if not any(ch.isalpha() for ch in name):
        raise FieldError("Họ và tên phải có chữ cái", "The full name must contain letters")
    return name


_DMY = re.compile(r"^(\d{1,2})[/.\-](\d{1,2})[/.\-](\d{4})$")
_ISO_DATE = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")


def parse_date(value: Any) -> date:
    """dd/mm/yyyy text, an ISO date, an Excel date cell or an Excel serial number."""
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float) and not isinstance(value, bool):
        if 1 <= value < 2958466 and float(value).is_integer():
            return EXCEL_EPOCH + timedelta(days=int(value))
        raise FieldError(f"Ngày '{cell_text(value)}' không hợp lệ", f"'{cell_text(value)}' is not a valid date")
    text = cell_text(value)
    if not text:
        raise FieldError("Thiếu ngày", "The date is missing")
    match = _DMY.match(text)
    try:
        if match:
            return date(int(match.group(3)), int(match.group(2)), int(match.group(1)))
        match = _ISO_DATE.match(text)
        if match:
            return date(int(match.group(1)), int(match.group(2)), int(match.group(3)))
    except ValueError:
        raise FieldError(f"Ngày '{text}' không tồn tại", f"The date '{text}' does not exist") from None
    raise FieldError(f"Ngày '{text}' không đúng dạng dd/mm/yyyy", f"The date '{text}' is not in dd/mm/yyyy form")


def parse_date_of_birth(value: Any, today: date) -> date:
    """A birth date between 1900-01-01 and today."""
    born = parse_date(value)
    if born > today:
        raise FieldError("Ngày sinh ở tương lai", "The date of birth is in the future")
    if born < date(1900, 1, 1):
        raise FieldError("Ngày sinh trước năm 1900", "The date of birth is before 1900")
    return born


_SEXES = {"nam": "male", "male": "male", "m": "male", "nu": "female", "female": "female", "f": "female"}


def parse_sex(value: Any) -> str:
    """Nam/Nữ (or male/female, M/F) as ``male``/``female``."""
    text = fold_accents(cell_text(value))
    if not text:
        raise FieldError("Thiếu giới tính", "The sex is missing")
    sex = _SEXES.get(text)
    if sex is None:
        raise FieldError(f"Giới tính '{cell_text(value)}' không hợp lệ (Nam hoặc Nữ)",
                         f"Sex '{cell_text(value)}' is not valid (Nam/male or Nữ/female)")
    return sex


def parse_citizen_id(value: Any) -> str:
    """Twelve digits as text. A number cell lost the ID's leading zeros: the province code (its first three
    digits) runs from 001 to 096, so one zero (provinces 010-096, 11 digits left) or two (001-009, Hà Nội
    among them: 10 digits left) come back. The ID's structure is checked afterwards against the date of
    birth and sex (``identity.citizen_id_problems``). A text cell is taken as typed: 10 or 11 digits there
    get a hint to format the column as text."""
    text = _digits(value)
    if not text:
        raise FieldError("Thiếu số CCCD", "The citizen ID is missing")
    number_cell = isinstance(value, int | float) and not isinstance(value, bool)
    if number_cell and text.isdigit() and len(text) in (10, 11):
        text = text.zfill(12)
    if not text.isdigit() or len(text) != 12:
        hint_vi = hint_en = ""
        if text.isdigit() and len(text) in (10, 11):
            hint_vi = ("; có thể Excel đã bỏ số 0 ở đầu: hãy định dạng cột CCCD là Văn bản (Text) và gõ lại đủ "
                       "12 chữ số")
            hint_en = ("; Excel may have dropped its leading zeros: format the citizen ID column as Text and type "
                       "all 12 digits")
        raise FieldError(f"Số CCCD '{cell_text(value)}' phải gồm đúng 12 chữ số{hint_vi}",
                         f"The citizen ID '{cell_text(value)}' must have exactly 12 digits{hint_en}")
    return text


def parse_commune_code(value: Any) -> str:
    """A five-digit commune code (leading zeros restored)."""
    text = _digits(value)
    if not text:
        raise FieldError("Thiếu mã xã", "The commune code is missing")
    if not text.isdigit() or len(text) > 5:
        raise FieldError(f"Mã xã '{cell_text(value)}' phải gồm 5 chữ số",
                         f"The commune code '{cell_text(value)}' must have 5 digits")
    return text.zfill(5)


def parse_phone(value: Any) -> str | None:
    """A Vietnamese phone number as 0xxxxxxxxx (10 or 11 digits); +84 and lost leading zeros fixed."""
    text = _digits(value, separators=" .-()")
    if not text:
        return None
    if text.startswith("+84"):
        text = "0" + text[3:]
    elif text.startswith("84") and len(text) in (11, 12):
        text = "0" + text[2:]
    elif not text.startswith("0") and len(text) in (9, 10) and text.isdigit():
        text = "0" + text
    if not re.fullmatch(r"0[0-9]{9,10}", text):
        raise FieldError(f"Số điện thoại '{cell_text(value)}' không hợp lệ",
                         f"The phone number '{cell_text(value)}' is not valid")
    return text


def parse_code(value: Any, *, what_vi: str, what_en: str) -> str:
    """An upper-case code such as a programme (TGXH) or a category (NCT_80)."""
    text = cell_text(value).upper().replace(" ", "")
    if not text:
        raise FieldError(f"Thiếu {what_vi}", f"The {what_en} is missing")
    return text


def parse_coefficient(value: Any) -> Decimal | None:
    """A positive coefficient with at most two decimals ("1,5" and "1.5" both work); blank is None."""
    if is_blank(value):
        return None
    text = cell_text(value).replace(",", ".")
    try:
        coefficient = Decimal(text)
    except InvalidOperation:
        raise FieldError(f"Hệ số '{text}' không phải là số", f"The coefficient '{text}' is not a number") from None
    if not coefficient.is_finite() or coefficient <= 0 or coefficient > MAX_COEFFICIENT:
        raise FieldError(f"Hệ số '{text}' phải lớn hơn 0 và không quá 99,99",
                         f"The coefficient '{text}' must be above 0 and at most 99.99")
    if coefficient != coefficient.quantize(Decimal("0.01")):
        raise FieldError(f"Hệ số '{text}' có quá 2 chữ số thập phân",
                         f"The coefficient '{text}' has more than two decimals")
    return coefficient.quantize(Decimal("0.01"))


_MONTH_FIRST = re.compile(r"^(\d{1,2})[/.\-](\d{4})$")
_YEAR_FIRST = re.compile(r"^(\d{4})-(\d{1,2})$")


def parse_month(value: Any) -> date:
    """A month as MM/YYYY or YYYY-MM (or an Excel date cell): the first day of that month."""
    if isinstance(value, datetime | date):
        return date(value.year, value.month, 1)
    text = cell_text(value)
    if not text:
        raise FieldError("Thiếu tháng", "The month is missing")
    match = _MONTH_FIRST.match(text)
    year_month: tuple[int, int] | None = None
    if match:
        year_month = (int(match.group(2)), int(match.group(1)))
    else:
        match = _YEAR_FIRST.match(text)
        if match:
            year_month = (int(match.group(1)), int(match.group(2)))
    if year_month is None or not 1 <= year_month[1] <= 12 or year_month[0] < 1900:
        raise FieldError(f"Tháng '{text}' không đúng dạng MM/YYYY hoặc YYYY-MM",
                         f"The month '{text}' is not in MM/YYYY or YYYY-MM form")
    return date(year_month[0], year_month[1], 1)


def format_month(month: date | None) -> str | None:
    """A month as YYYY-MM (the API's period format)."""
    return None if month is None else f"{month.year:04d}-{month.month:02d}"


def parse_account_number(value: Any) -> str:
    """Bank account digits, 6 to 19, kept as text (spaces and dashes removed)."""
    text = _digits(value)
    if not text:
        raise FieldError("Thiếu số tài khoản", "The account number is missing")
    if not text.isdigit() or not 6 <= len(text) <= 19:
        raise FieldError(f"Số tài khoản '{cell_text(value)}' phải gồm 6 đến 19 chữ số",
                         f"The account number '{cell_text(value)}' must have 6 to 19 digits")
    return text


def parse_holder_name(value: Any) -> str:
    """The holder name as the bank prints it (upper case, no accents); accented input is converted."""
    text = bank_holder_name(cell_text(value))
    if not text:
        raise FieldError("Thiếu tên chủ tài khoản", "The account holder name is missing")
    if not HOLDER_NAME_PATTERN.match(text):
        raise FieldError(f"Tên chủ tài khoản '{cell_text(value)}' chỉ được có chữ cái không dấu, số và dấu cách",
                         f"The holder name '{cell_text(value)}' may contain only letters, digits and spaces")
    return text


_CHANNELS = {"bank": "bank", "ngan hang": "bank", "chuyen khoan": "bank", "tai khoan": "bank",
             "cash": "cash", "tien mat": "cash"}


def parse_channel(value: Any) -> str | None:
    """Payment channel ``bank`` or ``cash`` (Ngân hàng / Tiền mặt); blank is None."""
    text = fold_accents(cell_text(value))
    if not text:
        return None
    channel = _CHANNELS.get(text)
    if channel is None:
        raise FieldError(f"Hình thức nhận '{cell_text(value)}' không hợp lệ (Ngân hàng hoặc Tiền mặt)",
                         f"Channel '{cell_text(value)}' is not valid (bank or cash)")
    return channel


def parse_decision_number(value: Any) -> str:
    """The decision number as written (e.g. 123/QĐ-UBND), at most 64 characters."""
    text = normalise_spaces(cell_text(value))
    if not text:
        raise FieldError("Thiếu số quyết định", "The decision number is missing")
    if len(text) > 64:
        raise FieldError("Số quyết định dài quá 64 ký tự", "The decision number is longer than 64 characters")
    return text


def parse_address(value: Any) -> str:
    """Free-text address, single spaces, at most 300 characters."""
    text = normalise_name(cell_text(value))
    if len(text) > 300:
        raise FieldError("Địa chỉ dài quá 300 ký tự", "The address is longer than 300 characters")
    return text
