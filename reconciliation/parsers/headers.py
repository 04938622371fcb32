"""The words of a Vietnamese bank "sao kê": column headers, info labels, balance and total rows.

Labels are matched part by part ("Số tiền ghi nợ/Debit" is "Số tiền ghi nợ" and "Debit"), with
diacritics, and also without them for words long enough not to become ambiguous ("nợ" without
its mark is "no", as in "No.").
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

COLUMN_ALIASES: dict[str, tuple[str, ...]] = {
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
INFO_ALIASES: dict[str, tuple[str, ...]] = {
    "account": ("số tài khoản", "tài khoản", "số tk", "stk", "tài khoản số", "account number", "account no",
                "account", "a/c no", "acc no", "account num"),
    "currency": ("loại tiền", "loại tiền tệ", "tiền tệ", "đơn vị tiền tệ", "currency", "ccy"),
    "from_date": ("từ ngày", "from", "from date", "kỳ sao kê từ ngày"),
    "to_date": ("đến ngày", "to", "to date"),
}
SPECIAL_ROWS: dict[str, tuple[str, ...]] = {
    "opening": ("số dư đầu kỳ", "số dư đầu", "dư đầu kỳ", "số dư đầu ngày", "số dư đầu kì", "opening balance",
                "beginning balance", "balance brought forward"),
    "closing": ("số dư cuối kỳ", "số dư cuối", "dư cuối kỳ", "số dư cuối ngày", "số dư cuối kì",
                "closing balance", "ending balance", "balance carried forward"),
    "total": ("tổng", "tổng cộng", "cộng", "tổng phát sinh", "cộng phát sinh", "tổng số", "total", "totals",
              "total amount", "grand total", "tổng cộng phát sinh"),
}
TRUE_WORDS = {"x", "có", "co", "yes", "y", "true", "1", "đã hủy", "đã huỷ", "reversed", "hủy", "huỷ"}
DEBIT_WORDS = {"d", "dr", "nợ", "no", "debit", "ghi nợ", "-", "n"}
CREDIT_WORDS = {"c", "cr", "có", "co", "credit", "ghi có", "+"}
_SPLIT_LABEL = re.compile(r"\s*[/\n|]\s*|\s*\(\s*|\s*\)\s*")
_STRIP_CHARS = " \t\r\n.:*()[]-_"


def normalise(text: str) -> str:
    """Lower case, NFC, single spaces, without surrounding punctuation ("STT/No." → "stt/no")."""
    return " ".join(unicodedata.normalize("NFC", text).lower().split()).strip(_STRIP_CHARS)


def fold(text: str) -> str:
    """Without Vietnamese diacritics ("Số tiền ghi nợ" → "So tien ghi no")."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


def _alias_table(aliases: dict[str, tuple[str, ...]]) -> tuple[dict[str, str], dict[str, str]]:
    exact: dict[str, str] = {}
    folded: dict[str, str] = {}
    for name, words in aliases.items():
        for word in words:
            key = normalise(word)
            exact.setdefault(key, name)
            # Short words ("nợ", "có") lose their meaning without diacritics ("no" is No.).
            if " " in key or len(key) > 6:
                folded.setdefault(fold(key), name)
    return exact, folded


_COLUMNS_EXACT, _COLUMNS_FOLDED = _alias_table(COLUMN_ALIASES)
INFO_EXACT, INFO_FOLDED = _alias_table(INFO_ALIASES)
SPECIAL_EXACT, SPECIAL_FOLDED = _alias_table(SPECIAL_ROWS)


def _lookup(text: str, exact: dict[str, str], folded: dict[str, str]) -> str | None:
    key = normalise(text)
    if not key:
        return None
    return exact.get(key) or folded.get(fold(key))


def label_meanings(text: str, exact: dict[str, str], folded: dict[str, str]) -> set[str]:
    """What a (possibly bilingual, "Số tiền ghi nợ/Debit") label means, part by part."""
    whole = _lookup(text, exact, folded)
    if whole is not None:
        return {whole}
    return {found for part in _SPLIT_LABEL.split(text) if (found := _lookup(part, exact, folded))}


def header_column(text: str) -> str | None:
    """The canonical column a header cell names (``debit``, ``booking_date``…), or ``None``."""
    meanings = label_meanings(text, _COLUMNS_EXACT, _COLUMNS_FOLDED)
    if {"debit", "credit"} <= meanings:
        return "direction"
    if len(meanings) == 1:
        return meanings.pop()
    for preferred in ("booking_date", "value_date", "debit", "credit", "amount", "description"):
        if preferred in meanings:
            return preferred
    return None


@dataclass(slots=True)
class Header:
    """Where the header row is, which canonical column sits at which index, and its titles as written."""

    row: int
    columns: dict[str, int]
    titles: dict[str, str]

    @property
    def date_column(self) -> str:
        return "booking_date" if "booking_date" in self.columns else "value_date"


def find_header(cells: Sequence[Any], row: int) -> Header | None:
    """The header found in a row (a date column, an amount column and one more), or ``None``."""
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
        return Header(row=row, columns=columns, titles=titles)
    return None


def is_special_label(text: str) -> bool:
    """Whether a cell names an opening balance, closing balance or total row."""
    return bool(label_meanings(text.partition(":")[0], SPECIAL_EXACT, SPECIAL_FOLDED))
