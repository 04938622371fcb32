"""Plain row-by-row spreadsheets (the import's error copy, generated import files), written with the
shared helpers in :mod:`app.spreadsheets` so every text cell is neutralised."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

from app.spreadsheets import csv_bytes, neutralise, sheet_title, workbook_bytes


def rows_xlsx(rows: Sequence[Sequence[Any]], *, title: str = "Sheet1") -> bytes:
    """An .xlsx of one sheet holding ``rows`` as given (dates and numbers keep their types)."""
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=sheet_title(title))
    for row in rows:
        sheet.append([neutralise(value) for value in row])
    return workbook_bytes(workbook)


def rows_csv(rows: Sequence[Sequence[Any]]) -> bytes:
    """UTF-8 CSV (with BOM) of ``rows``; the first row is the header."""
    if not rows:
        return csv_bytes([], [])
    return csv_bytes([str(value) for value in rows[0]], rows[1:])
