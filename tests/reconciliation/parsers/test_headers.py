"""Vietnamese and bilingual header titles map to the right columns."""

from __future__ import annotations

import pytest

from reconciliation.parsers.headers import header_column


@pytest.mark.parametrize(("title", "column"), [
    ("Số tiền ghi nợ/Debit", "debit"), ("Số tiền ghi có/Credit", "credit"), ("STT/No.", "row_number"),
    ("Ngày hiệu lực/Effective date", "value_date"), ("Nội dung chi tiết/Transactions in detail", "description"),
    ("Số dư/Balance", "balance"), ("Ngày GD", "booking_date"), ("Nợ", "debit"), ("Có", "credit"),
    ("Nợ/Có", "direction"), ("SO TIEN GHI NO", "debit"), ("Số bút toán/Ref No", "bank_reference"),
    ("Tên người thụ hưởng", "counterparty_name"), ("Người lập biểu", None),
])
def test_header_titles(title: str, column: str | None) -> None:
    assert header_column(title) == column
