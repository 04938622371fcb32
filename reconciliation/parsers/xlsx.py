"""Excel (.xlsx) statements: the sheet's size is checked in the zip before python-calamine reads it.

calamine allocates a dense grid from the first to the last used cell; a hostile sheet with one cell
in A1 and one in XFD1048576 (or a million-column dimension) would take the process down before
any Python exception could be raised. So the sheet XML is scanned first — declared dimension,
far-away cell references, cells without a position, decompressed size — and refused with a
clear message when it is larger than any bank statement.
"""

from __future__ import annotations

import io
import re
import zipfile
from typing import Any

import structlog
from python_calamine import CalamineError, CalamineWorkbook

from reconciliation.parsers.errors import StatementParseError
from reconciliation.parsers.model import Statement
from reconciliation.parsers.tabular import read_rows

log = structlog.get_logger()

MAX_COLUMNS = 256
MAX_ROWS = 1_048_576  # Excel's own limit
MAX_CELLS = 50_000_000
MAX_UNCOMPRESSED_BYTES = 2 * 1024**3
MAX_COMPRESSION_RATIO = 400
_CHUNK = 4 * 1024 * 1024
_OVERLAP = 64

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=[\"']([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?[\"']")
_WIDE_REF = re.compile(rb"""<(?:\w+:)?c\s[^>]*?\br=["']([A-Z]{2,})\d""")
_ROW_NUMBER = re.compile(rb"""<(?:\w+:)?row\s[^>]*?\br=["'](\d+)["']""")
_CELL_ROW = re.compile(rb"""<(?:\w+:)?c\s[^>]*?\br=["'][A-Z]+(\d{7,})["']""")
_CELL_WITHOUT_REF = re.compile(rb"<(?:\w+:)?c(?:\s+(?!r=)[\w:]+=(?:\"[^\"]*\"|'[^']*'))*\s*/?>")


def _column_number(letters: bytes | str) -> int:
    number = 0
    for letter in letters.decode("ascii") if isinstance(letters, bytes) else letters:
        number = number * 26 + (ord(letter) - 64)
    return number


def _too_big(vi: str, en: str) -> StatementParseError:
    return StatementParseError(f"Bảng tính quá lớn: {vi}", f"The sheet is too large: {en}")


def _invalid(vi: str, en: str) -> StatementParseError:
    return StatementParseError(f"Bảng tính không hợp lệ: {vi}", f"The sheet is invalid: {en}")


def check_workbook_size(data: bytes) -> None:
    """Refuse zip bombs and sheets whose declared or actual extent no statement could have."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            if total > MAX_UNCOMPRESSED_BYTES:
                raise _too_big(f"giải nén ra {total} byte", f"it unpacks to {total} bytes")
            for info in infos:
                if info.file_size > 10 * 1024**2 and info.file_size > MAX_COMPRESSION_RATIO * max(info.compress_size, 1):
                    raise _too_big(f"{info.filename} nén bất thường (tệp zip bomb?)",
                                   f"{info.filename} is abnormally compressed (a zip bomb?)")
            for info in infos:
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    _check_sheet(archive, info)
    except StatementParseError:  # a ValueError too: already the whole message, not a damaged file
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        raise StatementParseError(f"Tệp xlsx bị hỏng: {exc}", f"Damaged xlsx file: {exc}") from None


def _check_sheet(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    name = info.filename
    max_column = 26
    max_row = 0
    cells = 0
    tail = b""
    first = True
    with archive.open(info) as stream:
        while True:
            chunk = stream.read(_CHUNK)
            if not chunk:
                break
            window = tail + chunk
            if first:
                first = False
                _check_dimension(window, name)
            for letters in _WIDE_REF.findall(window):
                max_column = max(max_column, _column_number(letters))
            if max_column > MAX_COLUMNS:
                raise _too_big(f"{name} có ô ở cột thứ {max_column} (tối đa {MAX_COLUMNS})",
                               f"{name} has a cell in column {max_column} (at most {MAX_COLUMNS})")
            for number in _ROW_NUMBER.findall(window) + _CELL_ROW.findall(window):
                max_row = max(max_row, int(number))
            if max_row > MAX_ROWS:
                raise _too_big(f"{name} có dòng số {max_row} (Excel tối đa {MAX_ROWS})",
                               f"{name} has row {max_row} (Excel allows {MAX_ROWS})")
            elements = chunk.count(b"<c ") + chunk.count(b"<c>") + chunk.count(b"<c/>")
            positioned = chunk.count(b'<c r="') + chunk.count(b"<c r='")
            cells += elements
            if positioned != elements and _CELL_WITHOUT_REF.search(window):
                raise _invalid(f"{name} có ô không ghi địa chỉ (thuộc tính r); hãy lưu lại bằng Excel",
                               f"{name} has cells without a reference (r attribute); re-save it with Excel")
            tail = chunk[-_OVERLAP:]
    if cells > MAX_CELLS or max_row * max_column > MAX_CELLS * 4:
        raise _too_big(f"{name} có {cells} ô, {max_row} dòng × {max_column} cột",
                       f"{name} has {cells} cells, {max_row} rows × {max_column} columns")


def _check_dimension(head: bytes, name: str) -> None:
    found = _DIMENSION.search(head[:65536])
    if found is None:
        return
    first_column, first_row = _column_number(found.group(1)), int(found.group(2))
    last_column = _column_number(found.group(3)) if found.group(3) else first_column
    last_row = int(found.group(4)) if found.group(4) else first_row
    columns, rows = last_column - first_column + 1, last_row - first_row + 1
    if columns > MAX_COLUMNS or rows > MAX_ROWS or columns * rows > MAX_CELLS * 4:
        raise _too_big(f"{name} khai báo kích thước {rows} dòng × {columns} cột (tối đa {MAX_COLUMNS} cột)",
                       f"{name} declares {rows} rows × {columns} columns (at most {MAX_COLUMNS} columns)")


def parse_xlsx(data: bytes, filename: str | None = None) -> list[Statement]:
    """The first visible worksheet of an .xlsx sao kê, read with python-calamine."""
    check_workbook_size(data)
    try:
        workbook = CalamineWorkbook.from_filelike(io.BytesIO(data))
        index = _first_visible_sheet(workbook)
        sheet = workbook.get_sheet_by_index(index)
        rows: list[list[Any]] = sheet.to_python(skip_empty_area=False)
    except StatementParseError:  # a ValueError too, and already said in full
        raise
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
