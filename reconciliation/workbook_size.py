"""The size check every uploaded .xlsx goes through before python-calamine reads it.

calamine allocates a dense grid from the first to the last used cell when a sheet is opened; a
hostile 5 KB sheet with one cell at XFD1048576 (or a dimension declaring a million columns) would
make the process build billions of cells before any Python exception could be raised. So the sheet
XML inside the zip is scanned first — declared dimension, far-away cell references, cells without a
position, decompressed size — and refused with a clear message when it is larger than any file of
its kind. Bank statements, withdrawal files and the registry import all read workbooks through
here, each with its own limits; ``check_sheet_extent`` is the second line, on a sheet calamine has
opened (.xls, .ods), before it is turned into Python lists.
"""

from __future__ import annotations

import io
import re
import zipfile
from dataclasses import dataclass
from typing import Protocol

EXCEL_MAX_ROWS = 1_048_576  # Excel's own limit
_CHUNK = 4 * 1024 * 1024
_OVERLAP = 64

_DIMENSION = re.compile(rb"<(?:\w+:)?dimension\s+ref=[\"']([A-Z]+)(\d+)(?::([A-Z]+)(\d+))?[\"']")
_WIDE_REF = re.compile(rb"""<(?:\w+:)?c\s[^>]*?\br=["']([A-Z]{2,})\d""")
_ROW_NUMBER = re.compile(rb"""<(?:\w+:)?row\s[^>]*?\br=["'](\d+)["']""")
_CELL_ROW = re.compile(rb"""<(?:\w+:)?c\s[^>]*?\br=["'][A-Z]+(\d{7,})["']""")
_CELL_WITHOUT_REF = re.compile(rb"<(?:\w+:)?c(?:\s+(?!r=)[\w:]+=(?:\"[^\"]*\"|'[^']*'))*\s*/?>")


@dataclass(frozen=True)
class SheetLimits:
    """How large a sheet of one kind of file may be."""

    max_columns: int
    max_rows: int = EXCEL_MAX_ROWS
    max_area: int = 200_000_000  # rows × columns of the grid calamine would allocate
    max_cells: int = 50_000_000  # <c> elements actually written
    max_uncompressed_bytes: int = 2 * 1024**3
    max_compression_ratio: int = 400


class WorkbookRefused(ValueError):
    """The workbook is too large (``damaged`` False) or not a readable zip (``damaged`` True)."""

    def __init__(self, vi: str, en: str, *, damaged: bool = False) -> None:
        super().__init__(en)
        self.vi, self.en, self.damaged = vi, en, damaged


class _OpenedSheet(Protocol):
    @property
    def total_height(self) -> int: ...

    @property
    def total_width(self) -> int: ...


def column_number(letters: bytes | str) -> int:
    """1 for A, 27 for AA, 16384 for XFD."""
    number = 0
    for letter in letters.decode("ascii") if isinstance(letters, bytes) else letters:
        number = number * 26 + (ord(letter) - 64)
    return number


def _too_big(vi: str, en: str) -> WorkbookRefused:
    return WorkbookRefused(f"Bảng tính quá lớn: {vi}", f"The sheet is too large: {en}")


def _invalid(vi: str, en: str) -> WorkbookRefused:
    return WorkbookRefused(f"Bảng tính không hợp lệ: {vi}", f"The sheet is invalid: {en}")


def check_xlsx_size(data: bytes, limits: SheetLimits) -> None:
    """Refuse zip bombs and worksheets whose declared or actual extent is beyond ``limits``.

    Only the zip directory and the worksheet XML are read (streamed in chunks); nothing is allocated
    in proportion to the sheet's extent. Non-xlsx zips (.ods) get the zip-bomb checks only.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            infos = archive.infolist()
            total = sum(info.file_size for info in infos)
            if total > limits.max_uncompressed_bytes:
                raise _too_big(f"giải nén ra {total} byte", f"it unpacks to {total} bytes")
            for info in infos:
                if info.file_size > 10 * 1024**2 and info.file_size > limits.max_compression_ratio * max(
                        info.compress_size, 1):
                    raise _too_big(f"{info.filename} nén bất thường (tệp zip bomb?)",
                                   f"{info.filename} is abnormally compressed (a zip bomb?)")
            for info in infos:
                if info.filename.startswith("xl/worksheets/") and info.filename.endswith(".xml"):
                    _check_sheet(archive, info, limits)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, RuntimeError) as exc:
        if isinstance(exc, WorkbookRefused):
            raise
        raise WorkbookRefused(f"Tệp xlsx bị hỏng: {exc}", f"Damaged xlsx file: {exc}", damaged=True) from None


def check_sheet_extent(sheet: _OpenedSheet, name: str, limits: SheetLimits) -> None:
    """Refuse a sheet calamine has opened (e.g. .xls, .ods) before it is turned into Python lists."""
    rows, columns = sheet.total_height, sheet.total_width
    if columns > limits.max_columns or rows > limits.max_rows or rows * columns > limits.max_area:
        raise _too_big(f"trang '{name}' có {rows} dòng × {columns} cột (tối đa {limits.max_rows} dòng, "
                       f"{limits.max_columns} cột)",
                       f"sheet '{name}' has {rows} rows × {columns} columns (at most {limits.max_rows} rows, "
                       f"{limits.max_columns} columns)")


def _check_sheet(archive: zipfile.ZipFile, info: zipfile.ZipInfo, limits: SheetLimits) -> None:
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
                _check_dimension(window, name, limits)
            for letters in _WIDE_REF.findall(window):
                max_column = max(max_column, column_number(letters))
            if max_column > limits.max_columns:
                raise _too_big(f"{name} có ô ở cột thứ {max_column} (tối đa {limits.max_columns})",
                               f"{name} has a cell in column {max_column} (at most {limits.max_columns})")
            for number in _ROW_NUMBER.findall(window) + _CELL_ROW.findall(window):
                max_row = max(max_row, int(number))
            if max_row > limits.max_rows:
                raise _too_big(f"{name} có dòng số {max_row} (tối đa {limits.max_rows})",
                               f"{name} has row {max_row} (at most {limits.max_rows})")
            elements = chunk.count(b"<c ") + chunk.count(b"<c>") + chunk.count(b"<c/>")
            positioned = chunk.count(b'<c r="') + chunk.count(b"<c r='")
            cells += elements
            if positioned != elements and _CELL_WITHOUT_REF.search(window):
                raise _invalid(f"{name} có ô không ghi địa chỉ (thuộc tính r); hãy lưu lại bằng Excel",
                               f"{name} has cells without a reference (r attribute); re-save it with Excel")
            tail = chunk[-_OVERLAP:]
    if cells > limits.max_cells or max_row * min(max_column, limits.max_columns) > limits.max_area:
        raise _too_big(f"{name} có {cells} ô, {max_row} dòng × {max_column} cột",
                       f"{name} has {cells} cells, {max_row} rows × {max_column} columns")


def _check_dimension(head: bytes, name: str, limits: SheetLimits) -> None:
    found = _DIMENSION.search(head[:65536])
    if found is None:
        return
    first_column, first_row = column_number(found.group(1)), int(found.group(2))
    last_column = column_number(found.group(3)) if found.group(3) else first_column
    last_row = int(found.group(4)) if found.group(4) else first_row
    columns, rows = last_column - first_column + 1, last_row - first_row + 1
    if columns > limits.max_columns or rows > limits.max_rows or columns * rows > limits.max_area:
        raise _too_big(f"{name} khai báo kích thước {rows} dòng × {columns} cột (tối đa {limits.max_rows} dòng, "
                       f"{limits.max_columns} cột)",
                       f"{name} declares {rows} rows × {columns} columns (at most {limits.max_rows} rows, "
                       f"{limits.max_columns} columns)")
