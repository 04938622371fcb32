"""Excel (.xlsx) statements: the sheet's size is checked in the zip before python-calamine reads it.

The check (reconciliation.workbook_size, shared with the withdrawal files and the registry import)
refuses a sheet whose declared or actual extent is larger than any bank statement.
"""

from __future__ import annotations

import io
from typing import Any

import structlog
from python_calamine import CalamineError, CalamineWorkbook

from reconciliation.parsers.errors import StatementParseError
from reconciliation.parsers.model import Statement
from reconciliation.parsers.tabular import read_rows
from reconciliation.workbook_size import EXCEL_MAX_ROWS, SheetLimits, WorkbookRefused, check_xlsx_size

log = structlog.get_logger()

MAX_COLUMNS = 256
MAX_ROWS = EXCEL_MAX_ROWS
STATEMENT_LIMITS = SheetLimits(max_columns=MAX_COLUMNS, max_rows=MAX_ROWS)


def check_workbook_size(data: bytes) -> None:
    """Refuse zip bombs and sheets whose declared or actual extent no statement could have."""
    try:
        check_xlsx_size(data, STATEMENT_LIMITS)
    except WorkbookRefused as refused:
        raise StatementParseError(refused.vi, refused.en) from None


def parse_xlsx(data: bytes, filename: str | None = None) -> list[Statement]:
    """The first visible worksheet of an .xlsx sao kê, read with python-calamine."""
    check_workbook_size(data)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        index = _first_visible_sheet(workbook)
        sheet = workbook.get_sheet_by_index(index)
        rows: list[list[Any]] = sheet.to_python(skip_empty_area=False)
    except CalamineError as exc:
        raise StatementParseError(f"Không đọc được bảng tính: {exc}", f"Cannot read the workbook: {exc}") from None
    except (ValueError, OSError, IndexError) as exc:  # python-calamine reports some zip/xml faults this way
        raise StatementParseError(f"Không đọc được bảng tính: {exc}", f"Cannot read the workbook: {exc}") from None
    log.info("xlsx_sheet_loaded", sheet=index, rows=len(rows))
    return [read_rows(enumerate(rows, start=1), "xlsx")]


def _first_visible_sheet(workbook: CalamineWorkbook) -> int:
    for index, metadata in enumerate(workbook.sheets_metadata):
        if str(metadata.typ).endswith("WorkSheet") and str(metadata.visible).endswith("Visible"):
            return index
    if not workbook.sheets_metadata:
        raise StatementParseError("Bảng tính không có trang nào", "The workbook has no sheet")
    return 0
