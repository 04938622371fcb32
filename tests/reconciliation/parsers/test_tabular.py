"""Vietnamese bank "sao kê" exports as CSV and xlsx, in the shapes banks really send."""

from __future__ import annotations

import csv
import io
from datetime import date, datetime, timedelta, timezone

import pytest
from openpyxl import Workbook

from reconciliation.parsers import StatementParseError, parse_statement_file

ICT = timezone(timedelta(hours=7))

INFO_ROWS = [
    ["NGÂN HÀNG TMCP NGOẠI THƯƠNG VIỆT NAM"],
    ["SAO KÊ TÀI KHOẢN"],
    ["Số tài khoản:", "0011001234567"],
    ["Tên tài khoản:", "SỞ LAO ĐỘNG - THƯƠNG BINH VÀ XÃ HỘI HÀ NỘI"],
    ["Loại tiền:", "VND"],
    ["Từ ngày 01/01/2024 đến ngày 31/01/2024"],
    [],
]
VIETNAMESE_HEADER = ["Ngày giao dịch", "Số tham chiếu", "Số tiền ghi nợ", "Số tiền ghi có", "Số dư", "Nội dung / Mô tả"]


def csv_bytes(rows: list[list[object]], delimiter: str = ",", encoding: str = "utf-8-sig") -> bytes:
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n").writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows: list[list[object]]) -> bytes:
    workbook = Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def dotted_statement() -> list[list[object]]:
    return INFO_ROWS + [
        VIETNAMESE_HEADER,
        ["", "Số dư đầu kỳ", "", "", "1.000.000.000", ""],
        ["15/01/2024", "FT24015001", "1.500.000", "", "998.500.000", "AS2401000001 Tro cap thang 01/2024"],
        ["15/01/2024", "FT24015002", "2.250.000", "", "996.250.000", "AS2401000002 Tro cap thang 01/2024"],
        ["20/01/2024", "FT24020003", "", "1.500.000", "997.750.000", "Hoan tra AS2401000001 TK da dong"],
        ["", "Số dư cuối kỳ", "", "", "997.750.000", ""],
        ["Tổng", "", "3.750.000", "1.500.000", "", ""],
        [],
        ["Người lập biểu", "", "Kế toán trưởng", "", "Giám đốc", ""],
    ]


def test_vietnamese_csv_with_dot_thousands() -> None:
    (statement,) = parse_statement_file(csv_bytes(dotted_statement()), "saoke.csv")
    assert statement.source_format == "csv"
    assert (statement.account, statement.currency) == ("0011001234567", "VND")
    assert (statement.opening_balance, statement.closing_balance) == (1_000_000_000, 997_750_000)
    assert (statement.opening_date, statement.closing_date) == (date(2024, 1, 1), date(2024, 1, 31))
    assert statement.adds_up is True
    assert [line.amount for line in statement.lines] == [-1_500_000, -2_250_000, 1_500_000]
    first = statement.lines[0]
    assert first.booking_date == date(2024, 1, 15) and first.value_date is None and first.booked_at is None
    assert first.bank_reference == "FT24015001"
    assert first.description == "AS2401000001 Tro cap thang 01/2024"
    assert [line.line_no for line in statement.lines] == [1, 2, 3]
    assert all(line.account == "0011001234567" for line in statement.lines)


def test_vietnamese_csv_with_comma_thousands_and_semicolons() -> None:
    rows = [[cell.replace(".", ",") if isinstance(cell, str) and cell[:1].isdigit() and "/" not in cell else cell
             for cell in row] for row in dotted_statement()]
    (statement,) = parse_statement_file(csv_bytes(rows, delimiter=";"))
    assert [line.amount for line in statement.lines] == [-1_500_000, -2_250_000, 1_500_000]
    assert statement.closing_balance == 997_750_000


def test_bilingual_headers_tab_separated_utf16() -> None:
    rows = [
        ["Số tài khoản/Account number:", "12010000123456"], ["Loại tiền/Currency:", "VND"],
        ["STT/No.", "Ngày hiệu lực/Effective date", "Số tiền ghi nợ/Debit", "Số tiền ghi có/Credit",
         "Số dư/Balance", "Nội dung chi tiết/Transactions in detail"],
        ["", "", "", "", "500,000,000", "Số dư đầu kỳ/Opening balance"],
        ["1", "02/02/2024", "700,000", "", "499,300,000", "TRO CAP AS2402000007"],
        ["2", "02/02/2024", "", "1,000,000", "500,300,000", "NOP TIEN"],
        ["", "", "", "", "500,300,000", "Số dư cuối kỳ/Closing balance"],
        ["Tổng/Total", "", "700,000", "1,000,000", "", ""],
    ]
    (statement,) = parse_statement_file(csv_bytes(rows, delimiter="\t", encoding="utf-16"))
    assert statement.account == "12010000123456"
    assert [(line.booking_date, line.value_date, line.amount) for line in statement.lines] == [
        (date(2024, 2, 2), date(2024, 2, 2), -700_000), (date(2024, 2, 2), date(2024, 2, 2), 1_000_000)]
    assert statement.adds_up is True


def test_headers_without_diacritics_and_times_in_dates() -> None:
    rows = [["So tai khoan: 0071000888999"],
            ["Ngay giao dich", "So tien ghi no", "So tien ghi co", "Noi dung"],
            ["05/03/2024 09:30:15", "1500000", "", "AS2403000001"],
            ["05/03/2024 14:02:00", "", "200000", "Hoan tra"]]
    (statement,) = parse_statement_file(csv_bytes(rows))
    assert statement.account == "0071000888999"
    assert statement.currency == "VND"  # Vietnamese exports without a currency row are đồng
    assert statement.lines[0].booked_at == datetime(2024, 3, 5, 9, 30, 15, tzinfo=ICT)
    assert [line.amount for line in statement.lines] == [-1_500_000, 200_000]
    assert statement.opening_balance is None and statement.adds_up is None


def test_xlsx_numeric_cells_and_excel_dates() -> None:
    rows: list[list[object]] = [
        ["NGÂN HÀNG TMCP ĐẦU TƯ VÀ PHÁT TRIỂN VIỆT NAM"],
        ["Số tài khoản", "21510000777888", None, "Loại tiền", "VND"],
        [],
        ["STT", "Ngày giao dịch", "Số tiền ghi nợ", "Số tiền ghi có", "Số dư", "Mô tả"],
        [None, "Số dư đầu kỳ", None, None, 20_000_000, None],
        [1, date(2024, 4, 10), 1_500_000, None, 18_500_000, "AS2404000001"],
        [2, datetime(2024, 4, 10, 10, 15), 750_000.0, None, 17_750_000, "AS2404000002"],
        [3, 45393, None, 1_500_000, 19_250_000, "Hoàn trả AS2404000001"],  # 45393 = 11/04/2024
        [None, "Số dư cuối kỳ", None, None, 19_250_000, None],
        ["Tổng", None, 2_250_000, 1_500_000, None, None],
    ]
    (statement,) = parse_statement_file(xlsx_bytes(rows), "saoke.xlsx")
    assert statement.source_format == "xlsx"
    assert statement.account == "21510000777888"
    assert [(line.booking_date, line.amount) for line in statement.lines] == [
        (date(2024, 4, 10), -1_500_000), (date(2024, 4, 10), -750_000), (date(2024, 4, 11), 1_500_000)]
    assert statement.lines[1].booked_at == datetime(2024, 4, 10, 10, 15, tzinfo=ICT)
    assert statement.adds_up is True


def test_xlsx_text_amounts_with_both_separators() -> None:
    rows: list[list[object]] = [
        ["Số tài khoản:", "1903456789012"],
        ["Ngày giao dịch", "Số tiền ghi nợ", "Số tiền ghi có", "Nội dung"],
        ["01/06/2024", "1.234.000", None, "dot"],
        ["01/06/2024", "1,234,000", None, "comma"],
        ["01/06/2024", None, "2 468 000 VND", "spaces and unit"],
    ]
    (statement,) = parse_statement_file(xlsx_bytes(rows))
    assert [line.amount for line in statement.lines] == [-1_234_000, -1_234_000, 2_468_000]


def test_total_row_is_not_a_line_but_must_match() -> None:
    rows = dotted_statement()
    rows[-3] = ["Tổng", "", "3.750.001", "1.500.000", "", ""]
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(csv_bytes(rows))
    (error,) = caught.value.errors
    assert error["row"] == 14 and error["column"] == "Số tiền ghi nợ"
    assert error["message"] == "dòng Tổng ghi nợ 3.750.001 đ khác tổng các dòng 3.750.000 đ"
    assert error["message_en"] == ("the total row's debit 3,750,001 đồng differs from the sum of the lines "
                                   "3,750,000 đồng")


def test_every_bad_row_is_listed_with_row_and_column() -> None:
    rows = dotted_statement()
    rows[9][0] = "32/01/2024"  # row 10: no such day
    rows[10][2] = "2.25O.000"  # row 11: a letter O
    rows[11][2] = "100"  # row 12: debit and credit
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(csv_bytes(rows))
    error = caught.value
    assert error.total_errors == 3
    assert [(e["row"], e["column"]) for e in error.errors] == [
        (10, "Ngày giao dịch"), (11, "Số tiền ghi nợ"), (12, "Số tiền ghi nợ")]
    assert "32/01/2024" in error.errors[0]["message"] and "dd/mm/yyyy" in error.errors[0]["message_en"]
    assert "both a debit and a credit" in error.errors[2]["message_en"]
    assert error.message.startswith("Sao kê có dòng không hợp lệ: 3 dòng lỗi")
    assert "/ The statement has invalid rows: 3 bad rows" in error.message


def test_single_signed_amount_column_and_debit_credit_indicator() -> None:
    rows = [["Số tài khoản: 0011009998887", "", "Loại tiền: VND"],
            ["Ngày", "Số tiền", "Nợ/Có", "Diễn giải"],
            ["07/07/2024", "1.000.000", "D", "chi tra"],
            ["07/07/2024", "300.000", "C", "hoan tra"],
            ["08/07/2024", "-50.000", "", "phi"],
            ["08/07/2024", "(20.000)", "", "phi"]]
    (statement,) = parse_statement_file(csv_bytes(rows))
    assert [line.amount for line in statement.lines] == [-1_000_000, 300_000, -50_000, -20_000]


def test_repeated_header_and_page_text_are_skipped() -> None:
    rows = dotted_statement()
    rows.insert(11, ["Trang 2/2"])
    rows.insert(12, VIETNAMESE_HEADER)
    (statement,) = parse_statement_file(csv_bytes(rows))
    assert len(statement.lines) == 3 and statement.adds_up is True


def test_foreign_currency_statement_keeps_cents() -> None:
    rows = [["Account number: 0123456789", "Currency: USD"],
            ["Transaction date", "Debit", "Credit", "Description"],
            ["01/02/2024", "1,500.50", "", "fee"],
            ["01/02/2024", "", "12.5", "refund"]]
    (statement,) = parse_statement_file(csv_bytes(rows))
    assert statement.currency == "USD"
    assert [line.amount for line in statement.lines] == [-150_050, 1_250]


def test_vnd_amount_with_decimals_is_refused() -> None:
    rows = [["Số tài khoản: 0011001234567"], VIETNAMESE_HEADER, ["15/01/2024", "X1", "1500000.5", "", "", "x"]]
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(csv_bytes(rows))
    (error,) = caught.value.errors
    assert error["row"] == 3 and "more than 0 decimals for VND" in error["message_en"]


def test_missing_account_number_is_refused() -> None:
    rows = [VIETNAMESE_HEADER, ["15/01/2024", "X1", "1.500.000", "", "", "x"]]
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(csv_bytes(rows))
    assert "no account number" in caught.value.errors[0]["message_en"]


def test_csv_without_header_row_is_refused() -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(csv_bytes([["a", "b"], ["1", "2"]]))
    assert "No statement header row" in caught.value.message_en
