import io
from datetime import date

from openpyxl import load_workbook

from app.registry.sheets import rows_csv, rows_xlsx


def test_rows_xlsx_keeps_types_and_neutralises_text():
    content = rows_xlsx([["Tên", "Ngày", "Số"], ["=cmd|' /C calc'!A0", date(2025, 1, 2), -5]], title="Dữ liệu")
    rows = list(load_workbook(io.BytesIO(content))["Dữ liệu"].iter_rows(values_only=True))
    assert rows[1][0] == "'=cmd|' /C calc'!A0" and rows[1][1].date() == date(2025, 1, 2) and rows[1][2] == -5


def test_rows_csv_has_bom_and_neutralised_cells():
    content = rows_csv([["a", "b"], ["=HYPERLINK(\"x\")", None]])
    assert content.startswith(b"\xef\xbb\xbf")
    assert content.decode("utf-8-sig") == 'a,b\r\n"\'=HYPERLINK(""x"")",\r\n'
