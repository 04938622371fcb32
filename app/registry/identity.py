"""Who a person is: citizen ID structure, Vietnamese accent folding, bank holder names, masking.

The accent folding here and the SQL function ``fold_vietnamese`` (migration 0003) follow the same
steps, so a name folded in Python matches the ``search_name`` column in the database.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache
from typing import NamedTuple

from app.registry.reference import read_reference_csv

# Folding = Unicode NFD, drop every combining mark (U+0300-U+036F: tones, circumflex, breve, horn),
# đ/Đ -> d, lower case, single spaces. SQL fold_vietnamese does the same with normalize() and regexp.
COMBINING_MARKS = range(0x0300, 0x0370)
_FOLD_TABLE: dict[int, str | None] = {mark: None for mark in COMBINING_MARKS}
_FOLD_TABLE.update({ord("đ"): "d", ord("Đ"): "d"})
_SPACES = re.compile(r"\s+")


def normalise_spaces(text: str) -> str:
    """Trim and collapse runs of whitespace to one space."""
    if "  " not in text and text.isprintable():  # no tabs, newlines or non-ASCII spaces (they are not printable)
        return text.strip()
    return _SPACES.sub(" ", text).strip()


def normalise_name(text: str) -> str:
    """A person's name as stored: Unicode NFC, single spaces, trimmed."""
    return normalise_spaces(unicodedata.normalize("NFC", text))


def fold_accents(text: str) -> str:
    """Lower-case ASCII form of Vietnamese text ("Nguyễn Thị Hoà" -> "nguyen thi hoa"); same as SQL fold_vietnamese."""
    return normalise_spaces(unicodedata.normalize("NFD", text).translate(_FOLD_TABLE).lower())


def bank_holder_name(text: str) -> str:
    """A name the way banks print it: upper case, no accents, single spaces."""
    return fold_accents(text).upper()


HOLDER_NAME_PATTERN = re.compile(r"^[A-Z0-9]+( [A-Z0-9]+)*$")


def holder_name_matches(full_name: str, holder_name: str) -> bool:
    """Whether a bank holder name is the person's name with accents removed (as SQL holder_name_matches)."""
    return bank_holder_name(full_name) == normalise_spaces(holder_name)


def mask_digits(value: str | None, keep: int = 4) -> str | None:
    """Hide all but the last ``keep`` characters ("001234567890" -> "********7890")."""
    if value is None:
        return None
    if len(value) <= keep:
        return value
    return "*" * (len(value) - keep) + value[-keep:]


class Message(NamedTuple):
    """A staff-facing message in Vietnamese and English."""

    vi: str
    en: str


@lru_cache(maxsize=1)
def birth_province_codes() -> frozenset[str]:
    """The 63 three-digit codes of the province where a birth was registered (Circular 07/2016/TT-BCA)."""
    return frozenset(row["code"] for row in read_reference_csv("birth_provinces"))


CITIZEN_ID_PATTERN = re.compile(r"^[0-9]{12}$")
SEXES = ("male", "female")


def century_sex_digit(birth_year: int, sex: str) -> int | None:
    """Digit 4 of a citizen ID for a birth year and sex: 1900s male 0 / female 1, 2000s 2 / 3, ..."""
    century_index = birth_year // 100 - 19
    if not 0 <= century_index <= 4 or sex not in SEXES:
        return None
    return century_index * 2 + (1 if sex == "female" else 0)


def citizen_id_problems(national_id: str, date_of_birth: date | None, sex: str | None) -> list[Message]:
    """Every rule of the citizen ID structure the number breaks (empty when valid); no checksum exists."""
    if not CITIZEN_ID_PATTERN.match(national_id):
        return [Message("Số CCCD phải gồm đúng 12 chữ số", "The citizen ID must have exactly 12 digits")]
    problems: list[Message] = []
    province = national_id[:3]
    if province not in birth_province_codes():
        problems.append(Message(
            f"3 chữ số đầu '{province}' không phải mã tỉnh nơi đăng ký khai sinh (63 tỉnh cũ)",
            f"The first 3 digits '{province}' are not a birth-registration province code (the old 63 provinces)",
        ))
    if date_of_birth is None or sex not in SEXES:
        return problems
    expected = century_sex_digit(date_of_birth.year, sex)
    if expected is None or int(national_id[3]) != expected:
        wanted = "?" if expected is None else str(expected)
        sex_vi = "nữ" if sex == "female" else "nam"
        problems.append(Message(
            f"Chữ số thứ 4 ({national_id[3]}) không khớp giới tính {sex_vi} và thế kỷ sinh {date_of_birth.year} "
            f"(phải là {wanted})",
            f"Digit 4 ({national_id[3]}) does not agree with sex {sex} and birth century {date_of_birth.year} "
            f"(expected {wanted})",
        ))
    if national_id[4:6] != f"{date_of_birth.year % 100:02d}":
        problems.append(Message(
            f"Chữ số thứ 5–6 ({national_id[4:6]}) không khớp năm sinh {date_of_birth.year}",
            f"Digits 5-6 ({national_id[4:6]}) do not agree with birth year {date_of_birth.year}",
        ))
    return problems


def is_valid_citizen_id(national_id: str, date_of_birth: date, sex: str) -> bool:
    """True when the number fits the structure for this date of birth and sex."""
    return not citizen_id_problems(national_id, date_of_birth, sex)
