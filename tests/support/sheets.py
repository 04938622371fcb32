"""What a printed Excel sheet looks like on paper, read back from the saved file."""

from __future__ import annotations

import math
from typing import Any

from openpyxl.utils import get_column_letter

A4_LANDSCAPE_INCHES = 297 / 25.4


def print_setup(sheet: Any) -> dict[str, Any]:
    """A loaded sheet's print settings: paper, orientation, fit to the page's width, the rows repeated on each
    printed page and whether the cell grid prints."""
    properties = sheet.sheet_properties.pageSetUpPr
    return {"paper": int(sheet.page_setup.paperSize or 0), "orientation": sheet.page_setup.orientation,
            "fit_to_page": bool(properties is not None and properties.fitToPage),
            "fit_to_width": sheet.page_setup.fitToWidth, "fit_to_height": sheet.page_setup.fitToHeight,
            "title_rows": sheet.print_title_rows, "gridlines": bool(sheet.print_options.gridLines)}


def a4_landscape_fit_width(header_row: int, *, gridlines: bool = False) -> dict[str, Any]:
    """The settings of a sheet staff print: A4 landscape, every column on one page width, as many pages down as
    it takes, its header row on each page."""
    return {"paper": 9, "orientation": "landscape", "fit_to_page": True, "fit_to_width": 1, "fit_to_height": 0,
            "title_rows": f"${header_row}:${header_row}", "gridlines": gridlines}


def printed_scale(sheet: Any, columns: int) -> float:
    """About the zoom Excel prints a sheet fitted to one A4 landscape page width at: the page between its left
    and right margins over the width of the first ``columns`` columns (a width of w characters of the default
    font is w × 7 + 5 pixels, 96 to the inch); 1.0 when they fit at full size."""
    printable = (A4_LANDSCAPE_INCHES - sheet.page_margins.left - sheet.page_margins.right) * 96
    wide = sum(math.floor((sheet.column_dimensions[get_column_letter(index)].width or 8.43) * 7 + 5)
               for index in range(1, columns + 1))
    return min(1.0, printable / wide)
