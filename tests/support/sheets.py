"""What a printed Excel sheet looks like on paper, read back from the saved file."""

from __future__ import annotations

from typing import Any


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
