"""The columns of a beneficiary import file: Vietnamese or English headers, in any order."""

from __future__ import annotations

import re
from dataclasses import dataclass

from app.registry.identity import fold_accents


@dataclass(frozen=True)
class Column:
    """A field of the import and the headers that name it (compared accent- and case-insensitively)."""

    field: str
    vi: str
    en: str
    required: bool
    aliases: tuple[str, ...] = ()


COLUMNS: tuple[Column, ...] = (
    Column("full_name", "Họ và tên", "Full name", True, ("ho ten", "ten", "name")),
    Column("date_of_birth", "Ngày sinh", "Date of birth", True, ("ngay thang nam sinh", "dob", "birth date")),
    Column("sex", "Giới tính", "Sex", True, ("gender",)),
    Column("national_id", "Số CCCD", "Citizen ID", True,
           ("cccd", "so can cuoc", "so can cuoc cong dan", "so dinh danh", "so dinh danh ca nhan", "national id",
            "citizen id number", "id number")),
    Column("commune_code", "Mã xã", "Commune code", True, ("ma phuong xa", "ma xa phuong", "commune")),
    Column("address", "Địa chỉ", "Address", False, ()),
    Column("phone", "Điện thoại", "Phone", False, ("so dien thoai", "sdt", "phone number", "telephone")),
    Column("programme", "Chương trình", "Programme", True, ("program", "ma chuong trinh", "programme code")),
    Column("category", "Đối tượng", "Category", True, ("ma doi tuong", "category code")),
    Column("coefficient", "Hệ số", "Coefficient", False, ()),
    Column("start_month", "Tháng bắt đầu", "Start month", True, ("thang bat dau huong", "tu thang")),
    Column("decision_number", "Số quyết định", "Decision number", True,
           ("so qd", "quyet dinh", "decision no", "decision")),
    Column("decision_date", "Ngày quyết định", "Decision date", False, ("ngay qd",)),
    Column("bank", "Ngân hàng", "Bank", False, ("ma ngan hang", "bank bin", "bin")),
    Column("account_number", "Số tài khoản", "Account number", False, ("so tk", "stk", "account no", "account")),
    Column("holder_name", "Tên chủ tài khoản", "Account holder", False,
           ("chu tai khoan", "ten tai khoan", "holder name", "account holder name", "account name")),
    Column("account_opened", "Ngày mở tài khoản", "Account opened", False,
           ("ngay mo tk", "ngay mo", "account opened on", "opened on", "opening date")),
    Column("channel", "Hình thức nhận", "Channel", False, ("hinh thuc chi tra", "payment channel")),
)
REQUIRED = tuple(c for c in COLUMNS if c.required)
ERRORS_HEADER = "Lỗi / Errors"

_NON_WORD = re.compile(r"[^a-z0-9]+")


def header_key(text: str) -> str:
    """A header reduced for comparison: accents, case and punctuation removed."""
    return _NON_WORD.sub(" ", fold_accents(text)).strip()


_LOOKUP: dict[str, Column] = {}
for _column in COLUMNS:
    for _name in (_column.vi, _column.en, *_column.aliases):
        _LOOKUP[header_key(_name)] = _column


def match_header(text: object) -> Column | None:
    """The column a header cell names ("Số CCCD", "Citizen ID", "Họ và tên / Full name"), or None."""
    if not isinstance(text, str) or not text.strip():
        return None
    found = _LOOKUP.get(header_key(text))
    if found is not None:
        return found
    for part in re.split(r"[/(\n]", text):
        found = _LOOKUP.get(header_key(part.rstrip(")")))
        if found is not None:
            return found
    return None
