"""Helpers shared by every Excel and CSV export: formula-injection guard, money format, styled
header rows and column widths for openpyxl's write-only mode, and CSV that Excel opens in UTF-8."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Callable, Iterable, Sequence
from copy import copy
from dataclasses import dataclass
from typing import Any, TypeVar, overload

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Alignment, Border, Font, PatternFill, Side
from openpyxl.utils import get_column_letter
from openpyxl.worksheet._write_only import WriteOnlyWorksheet
from openpyxl.worksheet.page import PageMargins
from openpyxl.worksheet.worksheet import Worksheet

VND_NUMBER_FORMAT = "#,##0"
"""Whole đồng with thousands separators; Excel shows the separator of the reader's locale."""

# A spreadsheet runs a cell that starts with one of these as a formula (OWASP "CSV injection").
FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n")

HEADER_FONT = Font(bold=True)
HEADER_FILL = PatternFill(fill_type="solid", start_color="FFDDEBF7", end_color="FFDDEBF7")
HEADER_ALIGNMENT = Alignment(wrap_text=True, vertical="center", horizontal="center")
THIN_BORDER = Border(*(Side(style="thin", color="FF808080"),) * 4)
TOTAL_FONT = Font(bold=True)
WRAPPED = Alignment(wrap_text=True, vertical="top")
NARROW_MARGINS = {"left": 0.25, "right": 0.25, "top": 0.75, "bottom": 0.75, "header": 0.3, "footer": 0.3}  # inches  # a long text in a narrow column, on as many lines as it needs

_SHEET_TITLE_FORBIDDEN = str.maketrans({character: " " for character in "[]:*?/\\"})
MAX_SHEET_TITLE = 31
LINE_HEIGHT = 15  # points per line of 11-point text

_Value = TypeVar("_Value")


@overload
def neutralise(value: str) -> str: ...
@overload
def neutralise(value: _Value) -> _Value: ...
def neutralise(value: object) -> object:
    """Text a spreadsheet would run as a formula gets a leading apostrophe; other values pass unchanged."""
    if not isinstance(value, str) or not value:
        return value
    if value[0] in FORMULA_TRIGGERS or value.lstrip(" \u00a0\t\r\n")[:1] in FORMULA_TRIGGERS:
        return "'" + value
    return value


@dataclass(frozen=True)
class Column:
    """One column of an exported table: its bilingual header, width in characters and kind."""

    header: str
    width: float
    money: bool = False
    wrap: bool = False  # its text on as many lines as it needs in the width (names, words), not cut at the edge


def set_column_widths(worksheet: WriteOnlyWorksheet, widths: Sequence[float]) -> None:
    """Set column widths (characters); in write-only mode call this before the first row."""
    for index, width in enumerate(widths, start=1):
        worksheet.column_dimensions[get_column_letter(index)].width = width


def header_row(worksheet: WriteOnlyWorksheet, headers: Sequence[str]) -> list[WriteOnlyCell]:
    """Bold, filled, wrapped, bordered header cells, ready for ``worksheet.append``."""
    cells = []
    for header in headers:
        cell = WriteOnlyCell(worksheet, value=neutralise(header))
        cell.font = HEADER_FONT
        cell.fill = HEADER_FILL
        cell.alignment = HEADER_ALIGNMENT
        cell.border = THIN_BORDER
        cells.append(cell)
    return cells


def start_table(worksheet: WriteOnlyWorksheet, columns: Sequence[Column],
                title_lines: Sequence[str] = ()) -> int:
    """Write column widths, optional bold title lines, the styled header row and a frozen pane below
    it; in write-only mode this must be the first thing written. Returns the header's row number."""
    set_column_widths(worksheet, [column.width for column in columns])
    header_row_number = len(title_lines) + 1
    # Write-only sheets cannot auto-fit: give the wrapped bilingual headers the lines they need.
    lines = max(math.ceil(len(column.header) / max(column.width - 2, 1)) for column in columns)
    worksheet.row_dimensions[header_row_number].height = LINE_HEIGHT * max(lines, 1)
    worksheet.freeze_panes = f"A{header_row_number + 1}"
    worksheet.print_title_rows = f"{header_row_number}:{header_row_number}"
    for line in title_lines:
        worksheet.append([text_cell(worksheet, line, bold=True)])
    worksheet.append(header_row(worksheet, [column.header for column in columns]))
    return header_row_number


def add_autofilter(worksheet: WriteOnlyWorksheet, column_count: int, header_row_number: int,
                   last_row_number: int) -> None:
    """Put filter buttons on the header row, covering the data rows up to ``last_row_number``."""
    last_column = get_column_letter(column_count)
    worksheet.auto_filter.ref = f"A{header_row_number}:{last_column}{max(last_row_number, header_row_number)}"


def text_cell(worksheet: WriteOnlyWorksheet, value: str | None, *, bold: bool = False,
              wrap: bool = False) -> WriteOnlyCell:
    """A text cell, neutralised so that it can never become a formula; ``wrap``: on several lines in its width."""
    cell = WriteOnlyCell(worksheet, value=neutralise(value) if value is not None else None)
    if bold:
        cell.font = TOTAL_FONT
    if wrap:
        cell.alignment = WRAPPED
    return cell


def _copies_of(worksheet: WriteOnlyWorksheet, template: WriteOnlyCell,
               value_of: Callable[[Any], Any] = lambda value: value) -> Callable[[Any], WriteOnlyCell]:
    """Makes cells styled as ``template`` for many rows at a time: its style is looked up once and copied to each
    cell (set on each cell, a style's parts are looked up in the workbook's styles every time)."""
    style = template._style

    def copied(value: Any) -> WriteOnlyCell:
        cell = WriteOnlyCell(worksheet, value=value_of(value))
        cell._style = copy(style)
        return cell

    return copied


def wrapped_text_cells(worksheet: WriteOnlyWorksheet) -> Callable[[str], WriteOnlyCell]:
    """Makes ``text_cell(worksheet, value, wrap=True)`` for many rows at a time (a 50,000-order sheet with the
    alignment set on each cell took 60 % longer)."""
    return _copies_of(worksheet, text_cell(worksheet, None, wrap=True), neutralise)


def formatted_cells(worksheet: WriteOnlyWorksheet, number_format: str) -> Callable[[object], WriteOnlyCell]:
    """Makes cells of ``number_format`` for many rows at a time."""
    template = WriteOnlyCell(worksheet, value=None)
    template.number_format = number_format
    return _copies_of(worksheet, template)


def money_cell(worksheet: WriteOnlyWorksheet, amount: int, *, bold: bool = False) -> WriteOnlyCell:
    """An integer đồng amount shown with the VND number format."""
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise TypeError(f"money must be integer đồng, got {amount!r}")
    cell = WriteOnlyCell(worksheet, value=amount)
    cell.number_format = VND_NUMBER_FORMAT
    if bold:
        cell.font = TOTAL_FONT
    return cell


def sum_cell(worksheet: WriteOnlyWorksheet, column_index: int, first_row: int, last_row: int,
             *, bold: bool = True) -> WriteOnlyCell:
    """A ``=SUM(...)`` formula over rows ``first_row..last_row`` of one column, VND formatted."""
    letter = get_column_letter(column_index)
    cell = WriteOnlyCell(worksheet, value=f"=SUM({letter}{first_row}:{letter}{last_row})")
    cell.number_format = VND_NUMBER_FORMAT
    if bold:
        cell.font = TOTAL_FONT
    return cell


def sheet_title(wanted: str, taken: Iterable[str] = ()) -> str:
    """A valid worksheet title (≤ 31 characters, no []:*?/\\) close to ``wanted`` and not in ``taken``."""
    base = " ".join(wanted.translate(_SHEET_TITLE_FORBIDDEN).split()).strip("'") or "Sheet"
    taken_folded = {title.casefold() for title in taken}
    title = base[:MAX_SHEET_TITLE]
    counter = 2
    while title.casefold() in taken_folded:
        suffix = f" ({counter})"
        title = base[:MAX_SHEET_TITLE - len(suffix)] + suffix
        counter += 1
    return title


def print_landscape_fit_width(worksheet: WriteOnlyWorksheet, *, gridlines: bool = False,
                              narrow_margins: bool = False) -> None:
    """Print on A4 landscape, all columns on one page width (as many pages down as needed), optionally with the
    cell grid (forms to sign) and Excel's narrow margins (a wide sheet printed larger); ``start_table`` repeats
    the header row on each printed page. In write-only mode
    call this before the first row: the sheet's properties, where "fit to page" is kept, are written with it,
    and set later the fit is lost without a word (the sheet prints at 100 %, its columns over several pages)."""
    if getattr(worksheet, "_writer", None) is not None:  # openpyxl starts a sheet's writer at its first row
        raise ValueError(f"print setup of sheet {worksheet.title!r} must come before its first row")
    worksheet.print_options.gridLines = gridlines
    worksheet.page_setup.orientation = "landscape"
    worksheet.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    worksheet.page_setup.fitToWidth = 1
    worksheet.page_setup.fitToHeight = 0
    worksheet.sheet_properties.pageSetUpPr.fitToPage = True
    if narrow_margins:
        worksheet.page_margins = PageMargins(**NARROW_MARGINS)


def workbook_bytes(workbook: Workbook) -> bytes:
    """The saved .xlsx file as bytes."""
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def csv_bytes(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> bytes:
    """CSV as UTF-8 with a byte-order mark (so Excel reads Vietnamese), CRLF line ends, every text
    cell neutralised; integers are written plainly, None as an empty cell."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([neutralise(header) for header in headers])
    for row in rows:
        writer.writerow(["" if value is None else neutralise(value) for value in row])
    return buffer.getvalue().encode("utf-8-sig")
