import io
from datetime import date

from openpyxl import load_workbook

from app.spreadsheets import csv_bytes, neutralise_cell, xlsx_bytes


def test_formula_triggers_are_neutralised():
    assert [neutralise_cell(v) for v in ("=1+1", "+84912", "-5", "@SUM(A1)", "\tx", "Nguyễn", 5, None)] == [
        "'=1+1", "'+84912", "'-5", "'@SUM(A1)", "'\tx", "Nguyễn", 5, None]


def test_xlsx_keeps_types_and_neutralises_text():
    content = xlsx_bytes([["Tên", "Ngày", "Số"], ["=cmd|' /C calc'!A0", date(2025, 1, 2), -5]], sheet_title="Dữ liệu")
    sheet = load_workbook(io.BytesIO(content))["Dữ liệu"]
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][1].date() == date(2025, 1, 2) and rows[1][2] == -5


def test_csv_has_bom_and_neutralised_cells():
    content = csv_bytes([["a", "b"], ["=HYPERLINK(\"x\")", None]])
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig") == 'a,b\r\n"\'=HYPERLINK(""x"")",\r\n'
