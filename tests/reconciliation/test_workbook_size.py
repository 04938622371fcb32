"""The one size check the statement, withdrawal and registry readers share refuses far-away cells quickly."""

from __future__ import annotations

import io
import time

import openpyxl
import pytest

from app.withdrawals_api.service import EARLIEST_WITHDRAWAL
from reconciliation.parsers import StatementParseError, parse_statement_file
from reconciliation.withdrawal_files import WithdrawalFileRejected, rows_from_file
from reconciliation.workbook_size import SheetLimits, WorkbookRefused, check_xlsx_size
from tests.support.hostile_xlsx import far_cell_xlsx


def _withdrawal_refusal(content: bytes) -> WithdrawalFileRejected:
    started = time.perf_counter()
    with pytest.raises(WithdrawalFileRejected) as caught:
        rows_from_file(content, earliest=EARLIEST_WITHDRAWAL)
    assert time.perf_counter() - started < 2  # refused from the zip, no grid built
    assert caught.value.vi.startswith("Bảng tính quá lớn") and caught.value.en.startswith("The sheet is too large")
    assert caught.value.errors[0]["message"] == caught.value.vi
    return caught.value


def test_withdrawal_file_with_one_cell_at_xfd1048576_is_refused() -> None:
    content = far_cell_xlsx()
    assert len(content) < 5000
    error = _withdrawal_refusal(content)
    assert "column 16384 (at most 64)" in error.en and "cột thứ 16384" in error.vi


def test_reviewers_cell_at_all5000_is_refused_for_withdrawals() -> None:
    assert "column 1000 (at most 64)" in _withdrawal_refusal(far_cell_xlsx(far="ALL5000")).en


def test_declared_dimension_alone_is_refused() -> None:
    error = _withdrawal_refusal(far_cell_xlsx(far="E2", dimension="A1:XFD1048576"))
    assert "declares 1048576 rows × 16384 columns" in error.en


def test_far_row_in_a_narrow_column_is_refused_by_the_area_limit() -> None:
    # One column only but a million rows: 26 columns' worth of grid is fine, a 1.04M-row wide table is not.
    error = _withdrawal_refusal(far_cell_xlsx(far="AH1048576"))
    assert "rows × 34 columns" in error.en


def test_each_file_kind_has_its_own_column_limit() -> None:
    wide = far_cell_xlsx(far="CV2")  # column 100: too wide for withdrawals, fine for a statement's 256
    assert "column 100 (at most 64)" in _withdrawal_refusal(wide).en
    check_xlsx_size(wide, SheetLimits(max_columns=256))
    with pytest.raises(WorkbookRefused) as caught:
        check_xlsx_size(wide, SheetLimits(max_columns=99))
    assert not caught.value.damaged


def test_statement_parser_uses_the_same_check() -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(far_cell_xlsx(), "sao-ke.xlsx")
    assert "column 16384 (at most 256)" in caught.value.message_en


def test_damaged_zip_is_a_plain_cannot_read() -> None:
    content = far_cell_xlsx(far="E2")
    with pytest.raises(WithdrawalFileRejected) as caught:
        rows_from_file(content[: len(content) // 2], earliest=EARLIEST_WITHDRAWAL)
    assert caught.value.en == "the Excel file cannot be read"


def test_an_ordinary_withdrawal_workbook_still_reads() -> None:
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(["account_number", "occurred_at", "amount", "channel", "bank_ref", "ghi chú"])
    sheet.append(["0011001234567", "2026-03-12T10:00:00+07:00", 350_000, "ATM", "X-1", "note"])
    buffer = io.BytesIO()
    book.save(buffer)
    rows = rows_from_file(buffer.getvalue(), earliest=EARLIEST_WITHDRAWAL)
    assert [(r.account_number, r.amount, r.channel, r.bank_ref) for r in rows] == [
        ("0011001234567", 350_000, "atm", "X-1")]
