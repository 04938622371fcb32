from __future__ import annotations

import csv
import io

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import Workbook, load_workbook

from app.spreadsheets import (
    VND_NUMBER_FORMAT,
    Column,
    add_autofilter,
    csv_bytes,
    money_cell,
    neutralise,
    print_landscape_fit_width,
    sheet_title,
    start_table,
    sum_cell,
    text_cell,
    workbook_bytes,
)
from tests.support.sheets import a4_landscape_fit_width, print_setup


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("=1+1", "'=1+1"),
        ("+84912345678", "'+84912345678"),
        ("-5", "'-5"),
        ("@SUM(A1)", "'@SUM(A1)"),
        ("\t=cmd", "'\t=cmd"),
        ("\r=cmd", "'\r=cmd"),
        ("  =HYPERLINK(\"x\")", "'  =HYPERLINK(\"x\")"),
        ("Nguyễn Văn A", "Nguyễn Văn A"),
        ("a=b", "a=b"),
        ("", ""),
        (750_000, 750_000),
        (None, None),
    ],
)
def test_neutralise(value, safe):
    assert neutralise(value) == safe


@given(st.text())
def test_neutralised_text_never_starts_a_formula(text):
    safe = neutralise(text)
    assert safe[:1] not in ("=", "+", "-", "@", "\t", "\r", "\n")
    assert safe in (text, "'" + text)


def test_write_only_table_helpers_produce_a_readable_sheet():
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Bảng")
    columns = (Column("Tên/Name", 30), Column("Số tiền (đồng)/Amount (VND)", 18, money=True))
    header_row = start_table(sheet, columns, title_lines=("DANH SÁCH / LIST",))
    assert header_row == 2
    sheet.append([text_cell(sheet, "=evil()"), money_cell(sheet, 1_500_000)])
    sheet.append([text_cell(sheet, "Bình"), money_cell(sheet, 250_000)])
    add_autofilter(sheet, len(columns), header_row, 4)
    sheet.append([text_cell(sheet, "Tổng cộng/Total", bold=True), sum_cell(sheet, 2, 3, 4)])

    loaded = load_workbook(io.BytesIO(workbook_bytes(workbook)))["Bảng"]
    assert loaded["A1"].value == "DANH SÁCH / LIST" and loaded["A1"].font.bold
    assert [loaded["A2"].value, loaded["B2"].value] == ["Tên/Name", "Số tiền (đồng)/Amount (VND)"]
    assert loaded["A2"].font.bold and loaded["A2"].alignment.wrap_text
    assert loaded["A3"].value == "'=evil()" and loaded["A3"].data_type == "s"
    assert loaded["B3"].value == 1_500_000 and loaded["B3"].number_format == VND_NUMBER_FORMAT
    assert loaded["B5"].value == "=SUM(B3:B4)" and loaded["B5"].font.bold
    assert loaded.freeze_panes == "A3"
    assert loaded.auto_filter.ref == "A2:B4"
    assert loaded.column_dimensions["A"].width == 30
    assert loaded.column_dimensions["B"].width == 18
    assert loaded.print_title_rows == "$2:$2"
    assert loaded.row_dimensions[2].height == 30  # "Số tiền (đồng)/Amount (VND)" wraps onto two lines


def test_a_printed_sheet_fits_a4_landscape_and_repeats_its_header():
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("In")
    print_landscape_fit_width(sheet, gridlines=True)
    start_table(sheet, [Column(f"Cột {n}/Column {n}", 20) for n in range(12)], title_lines=("DANH SÁCH",))
    sheet.append(["x"] * 12)
    assert print_setup(load_workbook(io.BytesIO(workbook_bytes(workbook)))["In"]) == \
        a4_landscape_fit_width(2, gridlines=True)


def test_print_setup_after_the_first_row_is_refused_rather_than_lost():
    # In write-only mode the "fit to page" flag goes out with the first row: set later, it would silently not be
    # in the file, and the sheet would print at 100 % over several pages.
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Muộn")
    start_table(sheet, [Column("Tên/Name", 30)])
    sheet.append(["x"])
    with pytest.raises(ValueError, match="'Muộn' must come before its first row"):
        print_landscape_fit_width(sheet)
    assert print_setup(load_workbook(io.BytesIO(workbook_bytes(workbook)))["Muộn"])["fit_to_page"] is False


@pytest.mark.parametrize("amount", [1.5, "750000", True])
def test_money_cell_takes_integer_dong_only(amount):
    sheet = Workbook(write_only=True).create_sheet("x")
    with pytest.raises(TypeError, match="integer đồng"):
        money_cell(sheet, amount)


def test_sheet_title_is_valid_and_unique():
    assert sheet_title("Xã [A]: B/C?*") == "Xã A B C"
    long = "00070 Phường Hoàn Kiếm thành phố Hà Nội"
    assert sheet_title(long) == long[:31]
    taken = [long[:31]]
    second = sheet_title(long, taken)
    assert second.endswith(" (2)") and len(second) <= 31 and second not in taken
    assert sheet_title("x", ["X", "x (2)"]) == "x (3)"
    assert sheet_title("'''") == "Sheet"


def test_csv_bytes_opens_in_excel_and_parses_back():
    content = csv_bytes(["Họ và tên/Full name", "Số tiền/Amount"],
                        [["Trần Thị Ánh", 500_000], ["=cmd|' /C calc'!A0", None], ["Dấu, phẩy \"ngoặc\"", 1]])
    assert content.startswith("\ufeff".encode())
    assert content.count(b"\r\n") == 4
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows == [
        ["Họ và tên/Full name", "Số tiền/Amount"],
        ["Trần Thị Ánh", "500000"],
        ["'=cmd|' /C calc'!A0", ""],
        ["Dấu, phẩy \"ngoặc\"", "1"],
    ]
