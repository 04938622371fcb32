"""Reading an uploaded xlsx/xls/ods (python-calamine) or CSV into cells and finding the header row."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import structlog
from python_calamine import CalamineWorkbook

from app.registry.identity import Message
from app.registry.importer.columns import REQUIRED, Column, match_header
from reconciliation.workbook_size import (
    EXCEL_MAX_ROWS,
    SheetLimits,
    WorkbookRefused,
    check_sheet_extent,
    check_xlsx_size,
)

log = structlog.get_logger()

ZIP_MAGIC = b"PK\x03\x04"
OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
WORKBOOK_SUFFIXES = (".xlsx", ".xlsm", ".xls", ".ods")
HEADER_SEARCH_ROWS = 20
MIN_HEADER_MATCHES = 3
# The registry sheet has 18 known columns; 128 leaves room for an office's own notes columns. Its grid
# (rows × columns calamine allocates) stays within 40 columns' worth of a full Excel sheet.
WORKBOOK_LIMITS = SheetLimits(max_columns=128, max_rows=EXCEL_MAX_ROWS, max_area=40 * EXCEL_MAX_ROWS,
                              max_cells=24 * EXCEL_MAX_ROWS)


class FileRejected(Exception):
    """The file as a whole cannot be imported (unreadable, empty, no header); ``errors`` lists why."""

    def __init__(self, message: Message, errors: list[dict[str, Any]] | None = None) -> None:
        super().__init__(message.en)
        self.message = message
        self.errors = errors or [{"row": None, "column": None, "message": message.vi, "message_en": message.en}]


@dataclass
class Table:
    """The cells of the sheet that holds the data, with the header row located."""

    kind: str  # "workbook" or "csv"
    sheet_name: str | None
    cells: list[list[Any]]
    header_index: int  # 0-based index in cells; spreadsheet row number is index + 1
    columns: dict[str, int] = field(default_factory=dict)  # field -> 0-based column index
    headers: dict[str, str] = field(default_factory=dict)  # field -> header text as written

    def data_rows(self) -> Iterator[tuple[int, list[Any]]]:
        """(spreadsheet row number, cells) for every non-blank row below the header."""
        for index in range(self.header_index + 1, len(self.cells)):
            cells = self.cells[index]
            if any(not _blank(value) for value in cells):
                yield index + 1, cells


def _blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def is_workbook(content: bytes) -> bool:
    """Zip (xlsx, ods) or OLE2 (xls) content."""
    return content.startswith(ZIP_MAGIC) or content.startswith(OLE_MAGIC)


def _refused(refused: WorkbookRefused) -> FileRejected:
    if refused.damaged:
        return FileRejected(Message("Không đọc được tệp Excel (tệp hỏng hoặc không phải Excel)",
                                    "The Excel file cannot be read (damaged or not a workbook)"))
    return FileRejected(Message(refused.vi, refused.en))


def _workbook_sheets(content: bytes) -> Iterator[tuple[str, list[list[Any]]]]:
    if content.startswith(ZIP_MAGIC):
        try:
            check_xlsx_size(content, WORKBOOK_LIMITS)
        except WorkbookRefused as refused:
            log.info("import_workbook_refused", reason=refused.en[:200])
            raise _refused(refused) from None
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(content))
        names = list(workbook.sheet_names)
    except Exception as exc:  # calamine raises several types for corrupt zips and XML
        log.info("import_unreadable_workbook", error=str(exc)[:200])
        raise FileRejected(Message("Không đọc được tệp Excel (tệp hỏng hoặc không phải Excel)",
                                   "The Excel file cannot be read (damaged or not a workbook)")) from None
    for name in names:
        try:
            sheet = workbook.get_sheet_by_name(name)
            check_sheet_extent(sheet, name, WORKBOOK_LIMITS)
            cells = sheet.to_python(skip_empty_area=False)
        except WorkbookRefused as refused:
            raise _refused(refused) from None
        except Exception as exc:
            log.info("import_unreadable_sheet", sheet=name, error=str(exc)[:200])
            raise FileRejected(Message(f"Không đọc được trang tính '{name}'",
                                       f"The sheet '{name}' cannot be read")) from None
        yield name, cells


def _decode_text(content: bytes) -> str:
    if content.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = content.decode("utf-16")
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise FileRejected(Message(
                "Tệp không phải Excel và không phải CSV UTF-8. Hãy lưu dưới dạng .xlsx hoặc CSV UTF-8",
                "The file is neither Excel nor UTF-8 CSV. Save it as .xlsx or CSV UTF-8")) from None
    if "\x00" in text:
        raise FileRejected(Message("Tệp không phải là tệp văn bản CSV", "The file is not a CSV text file"))
    return text


def _csv_cells(content: bytes) -> list[list[Any]]:
    text = _decode_text(content)
    sample = text[:20000]
    try:
        delimiter = csv.Sniffer().sniff(sample.split("\n", 1)[0] or sample, delimiters=",;\t|").delimiter
    except csv.Error:
        delimiter = ","
    return [list(row) for row in csv.reader(io.StringIO(text), delimiter=delimiter)]


def _find_header(cells: list[list[Any]]) -> tuple[int, dict[str, int], dict[str, str]] | None:
    best: tuple[int, dict[str, int], dict[str, str]] | None = None
    for index, row in enumerate(cells[:HEADER_SEARCH_ROWS]):
        columns: dict[str, int] = {}
        headers: dict[str, str] = {}
        for position, value in enumerate(row):
            column = match_header(value)
            if column is not None and column.field not in columns:
                columns[column.field] = position
                headers[column.field] = str(value).strip()
        required = sum(1 for c in REQUIRED if c.field in columns)
        if required >= MIN_HEADER_MATCHES and (best is None or required > sum(
                1 for c in REQUIRED if c.field in best[1])):
            best = (index, columns, headers)
    return best


def _missing_columns_error(header_index: int, missing: list[Column], sheet: str | None) -> FileRejected:
    where_vi = f" (trang '{sheet}')" if sheet else ""
    where_en = f" (sheet '{sheet}')" if sheet else ""
    return FileRejected(
        Message("Thiếu cột bắt buộc" + where_vi, "Required columns are missing" + where_en),
        [{"row": header_index + 1, "column": f"{c.vi} / {c.en}",
          "message": f"Thiếu cột bắt buộc '{c.vi}'{where_vi}",
          "message_en": f"The required column '{c.en}' is missing{where_en}"} for c in missing],
    )


def read_table(content: bytes, filename: str) -> Table:
    """The data table of an upload: the first sheet whose header row names the required columns."""
    if not content.strip():
        raise FileRejected(Message("Tệp rỗng", "The file is empty"))
    if is_workbook(content):
        sheets: Iterator[tuple[str | None, list[list[Any]]]] = _workbook_sheets(content)
        kind = "workbook"
    elif filename.lower().endswith(WORKBOOK_SUFFIXES):
        raise FileRejected(Message("Tệp có đuôi Excel nhưng không phải là tệp Excel hợp lệ",
                                   "The file is named as Excel but is not a valid workbook"))
    else:
        sheets = iter([(None, _csv_cells(content))])
        kind = "csv"
    partial: tuple[str | None, int, dict[str, int]] | None = None
    any_cells = False
    for name, cells in sheets:
        any_cells = any_cells or any(any(not _blank(v) for v in row) for row in cells[:HEADER_SEARCH_ROWS])
        found = _find_header(cells)
        if found is None:
            continue
        header_index, columns, headers = found
        missing = [c for c in REQUIRED if c.field not in columns]
        if missing:
            partial = partial or (name, header_index, columns)
            continue
        table = Table(kind=kind, sheet_name=name, cells=cells, header_index=header_index, columns=columns,
                      headers=headers)
        if next(table.data_rows(), None) is None:
            raise FileRejected(Message("Tệp không có dòng dữ liệu nào dưới dòng tiêu đề",
                                       "The file has no data rows below the header row"))
        return table
    if partial is not None:
        sheet, header_index, columns = partial
        raise _missing_columns_error(header_index, [c for c in REQUIRED if c.field not in columns], sheet)
    if not any_cells:
        raise FileRejected(Message("Tệp rỗng", "The file is empty"))
    names = ", ".join(c.vi for c in REQUIRED)
    raise FileRejected(Message(
        f"Không tìm thấy trang tính có dòng tiêu đề với các cột bắt buộc ({names})",
        "No sheet has a header row with the required columns "
        f"({', '.join(c.en for c in REQUIRED)})"))
