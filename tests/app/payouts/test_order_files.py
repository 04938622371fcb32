from __future__ import annotations

import csv
import io
from dataclasses import replace
from datetime import UTC, datetime
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st
from openpyxl import load_workbook
from openpyxl.utils import get_column_letter
from python_calamine import CalamineWorkbook

from app.payouts import order_files
from app.payouts.order_files import (
    CASH_COLUMNS,
    ORDER_COLUMNS,
    months_label,
    remittance_text,
    staff_months_label,
    to_iso20022_latin,
    write_cash_handover_xlsx,
    write_orders_csv,
    write_orders_xlsx,
)
from app.spreadsheets import VND_NUMBER_FORMAT
from tests.app.payouts.factories import VIETNAM, batch_header, cash_payout, payment_order, sample_orders
from tests.support.sheets import a4_landscape_fit_width, print_setup, printed_scale

ORDER_HEADERS = [column.header for column in ORDER_COLUMNS]
LATIN = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")


def column_of(header_start: str) -> int:
    """1-based column of the order header that starts with ``header_start``."""
    return 1 + next(index for index, header in enumerate(ORDER_HEADERS) if header.startswith(header_start))


# --- xlsx ------------------------------------------------------------------------------------------

def test_orders_xlsx_holds_headers_values_and_formats():
    orders = sample_orders()
    workbook = load_workbook(io.BytesIO(write_orders_xlsx(batch_header(), orders)))
    assert workbook.sheetnames == ["Lệnh chi - Orders", "Thông tin lô - Batch"]
    sheet = workbook["Lệnh chi - Orders"]
    assert [cell.value for cell in sheet[1]] == ORDER_HEADERS
    assert ORDER_HEADERS[:3] == ["STT/No.", "Mã tham chiếu/Reference", "Họ và tên/Full name"]
    assert "Số tiền (đồng)/Amount (VND)" in ORDER_HEADERS and "Nội dung/Remittance" in ORDER_HEADERS
    assert all(cell.font.bold for cell in sheet[1])

    amount_column = column_of("Số tiền")
    for row_number, order in enumerate(orders, start=2):
        assert sheet.cell(row_number, 1).value == row_number - 1
        assert sheet.cell(row_number, column_of("Mã tham chiếu")).value == order.reference
        amount = sheet.cell(row_number, amount_column)
        assert amount.value == order.amount and isinstance(amount.value, int)
        assert amount.number_format == VND_NUMBER_FORMAT == "#,##0"
        # leading zeros survive: identifiers are text cells
        assert sheet.cell(row_number, column_of("Số tài khoản")).value == order.account_number
        assert sheet.cell(row_number, column_of("Số CCCD")).value == order.national_id
        assert sheet.cell(row_number, column_of("Mã xã")).value == order.commune_code
        assert sheet.cell(row_number, column_of("Nội dung")).value == remittance_text(order)

    first = sheet.cell(2, column_of("Họ và tên")).value
    assert first == "Nguyễn Thị Đào"
    assert sheet.cell(3, column_of("Chủ tài khoản")).value == "Trần Văn Ẩn"  # no holder name: the beneficiary
    assert sheet.cell(3, column_of("Các tháng")).value == "2025-11..2026-01"
    assert sheet.cell(5, column_of("Các tháng")).value == "2025-10,2026-01"
    assert sheet.freeze_panes == "A2"
    assert sheet.auto_filter.ref == "A1:N5"


def test_orders_xlsx_prints_on_a4_landscape_one_page_wide_with_the_header_on_each_page():
    batch = load_workbook(io.BytesIO(write_orders_xlsx(batch_header(), sample_orders())))
    assert print_setup(batch["Lệnh chi - Orders"]) == a4_landscape_fit_width(1)
    assert print_setup(batch["Thông tin lô - Batch"]) == a4_landscape_fit_width(1)
    # a run's list for staff to check: a title line above the header, and the batch column at the end
    listed = load_workbook(io.BytesIO(write_orders_xlsx(replace(batch_header(), message_id=None), sample_orders())))
    orders = listed["Lệnh chi - Orders"]
    assert orders.cell(2, 1).value == "STT/No." and orders.max_column == len(ORDER_COLUMNS) + 1
    assert print_setup(orders) == a4_landscape_fit_width(2)
    assert print_setup(listed["Thông tin lô - Batch"]) == a4_landscape_fit_width(1)


def test_orders_sheet_is_readable_on_a4_landscape():
    """The sheet once printed at about 45 % (its columns summed to 264 characters): the codes keep their full
    width, names and words wrap, narrow margins; every column the bank reads is still there, in its order."""
    assert [column.header for column in ORDER_COLUMNS] == [
        "STT/No.", "Mã tham chiếu/Reference", "Họ và tên/Full name", "Số CCCD/National ID", "Mã xã/Commune code",
        "Xã, phường/Commune", "Mã ngân hàng (BIN)/Bank BIN", "Ngân hàng/Bank", "Số tài khoản/Account number",
        "Chủ tài khoản/Account holder", "Số tiền (đồng)/Amount (VND)", "Các tháng/Months", "Chương trình/Programme",
        "Nội dung/Remittance"]
    assert sum(column.width for column in ORDER_COLUMNS) <= 180
    batch = load_workbook(io.BytesIO(write_orders_xlsx(batch_header(), sample_orders())))["Lệnh chi - Orders"]
    assert (batch.page_margins.left, batch.page_margins.right) == (0.25, 0.25)
    assert printed_scale(batch, len(ORDER_COLUMNS)) >= 0.8
    listed = load_workbook(io.BytesIO(write_orders_xlsx(replace(batch_header(), message_id=None),
                                                        sample_orders())))["Lệnh chi - Orders"]
    assert printed_scale(listed, len(ORDER_COLUMNS) + 1) >= 0.72  # with the batch (MsgId) column
    # A code is read in one piece: its column holds it whole; a name, an account number, the months and the
    # remittance wrap in theirs rather than being cut at the next column.
    orders = sample_orders()
    for column_start, longest in (("Mã tham chiếu", max(len(order.reference) for order in orders)),
                                  ("Số CCCD", 12), ("Mã ngân hàng", 6), ("Mã xã", 5)):
        assert batch.column_dimensions[get_column_letter(column_of(column_start))].width >= longest + 1
        assert not batch.cell(2, column_of(column_start)).alignment.wrap_text
    for column_start in ("Họ và tên", "Xã, phường", "Ngân hàng/", "Số tài khoản", "Chủ tài khoản", "Các tháng",
                         "Nội dung"):
        assert batch.cell(2, column_of(column_start)).alignment.wrap_text, column_start
    assert batch.cell(2, column_of("Số tài khoản")).value == orders[0].account_number  # text, zeros kept
    assert listed.cell(3, len(ORDER_COLUMNS) + 1).alignment.wrap_text


def test_orders_xlsx_totals_row_has_sum_formula_and_computed_total():
    orders = sample_orders()
    content = write_orders_xlsx(batch_header(), orders)
    sheet = load_workbook(io.BytesIO(content))["Lệnh chi - Orders"]
    amount_column = column_of("Số tiền")
    total = sum(order.amount for order in orders)
    assert total == 750_000 + 1_125_000 + 540_000 + 2_000_000
    assert sheet.cell(6, 2).value == "Tổng cộng/Total"
    assert sheet.cell(6, 3).value == "4 lệnh/orders"
    formula = sheet.cell(6, amount_column)
    assert formula.data_type == "f" and formula.value == "=SUM(K2:K5)"
    assert formula.number_format == VND_NUMBER_FORMAT
    assert sheet.cell(7, 2).value == "Tổng kiểm tra/Control total"
    assert sheet.cell(7, amount_column).value == total
    assert sheet.max_row == 7

    # A reader that does not evaluate formulas still finds the total.
    rows = CalamineWorkbook.from_filelike(io.BytesIO(content)).get_sheet_by_name("Lệnh chi - Orders").to_python()
    assert rows[6][amount_column - 1] == total


def test_orders_xlsx_neutralises_every_text_cell_that_could_be_a_formula():
    sheet = load_workbook(io.BytesIO(write_orders_xlsx(batch_header(), sample_orders())))["Lệnh chi - Orders"]
    hostile_row = 4
    assert sheet.cell(hostile_row, column_of("Họ và tên")).value == "'=HYPERLINK(\"http://evil.example\",\"Bấm\")"
    assert sheet.cell(hostile_row, column_of("Chủ tài khoản")).value == "'@SUM(1+1)"
    assert sheet.cell(hostile_row, column_of("Xã, phường")).value == "'-2+3"
    assert sheet.cell(5, column_of("Chủ tài khoản")).value == "'+84 LE THI ON"
    formulas = [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    assert formulas == ["K6"]


def test_orders_xlsx_created_at_is_vietnam_local_time():
    # Stamped in UTC by the service: 23:15 UTC on 4 January is 06:15 on 5 January in Việt Nam.
    header = replace(batch_header(), created_at=datetime(2026, 1, 4, 23, 15, tzinfo=UTC))
    sheet = load_workbook(io.BytesIO(write_orders_xlsx(header, sample_orders())))["Thông tin lô - Batch"]
    created = next(row[1] for row in sheet.iter_rows(min_row=2) if row[0].value == "Thời điểm lập/Created at")
    assert created.value == datetime(2026, 1, 5, 6, 15) and created.number_format == "dd/mm/yyyy hh:mm"


def test_cash_handover_is_dated_in_vietnam():
    content = write_cash_handover_xlsx(cash_payouts(), issuer_name="Sở",
                                       created_at=datetime(2026, 1, 5, 20, 0, tzinfo=UTC))  # 03:00 on the 6th
    titles = [row[0] for row in load_workbook(io.BytesIO(content)).worksheets[0].iter_rows(max_row=3, values_only=True)]
    assert any(isinstance(t, str) and "Created on: 06/01/2026" in t for t in titles)


def test_orders_xlsx_batch_sheet_describes_the_file():
    header = batch_header()
    orders = sample_orders()
    sheet = load_workbook(io.BytesIO(write_orders_xlsx(header, orders)))["Thông tin lô - Batch"]
    values = {row[0]: row[1] for row in sheet.iter_rows(min_row=2, values_only=True)}
    assert values["Mã lô lệnh/Message ID"] == "TGXH-2601-970436-001"
    assert values["Thời điểm lập/Created at"] == datetime(2026, 1, 5, 8, 30)  # a real date-time cell
    created = next(row[1] for row in sheet.iter_rows(min_row=2) if row[0].value == "Thời điểm lập/Created at")
    assert created.is_date and created.number_format == "dd/mm/yyyy hh:mm"
    assert values["Ngày thực hiện/Requested execution date"] == datetime(2026, 1, 10)
    assert values["Đơn vị chi trả/Debtor"] == header.debtor_name
    assert values["Tài khoản chi/Disbursement account"] == "0011004455667"
    assert values["Ngân hàng/Bank"] == "970436 Vietcombank"
    assert values["Kỳ chi trả/Period"] == "2026-01"
    assert values["Số lệnh/Number of orders"] == 4
    assert values["Tổng số tiền (đồng)/Total amount (VND)"] == sum(order.amount for order in orders)


def test_large_orders_xlsx_keeps_every_row_and_the_total():
    orders = [payment_order(serial, amount=100_000 + serial) for serial in range(2_000)]
    sheet = load_workbook(io.BytesIO(write_orders_xlsx(batch_header(), orders)), read_only=True)["Lệnh chi - Orders"]
    rows = list(sheet.iter_rows(values_only=True))
    assert len(rows) == 1 + 2_000 + 2
    assert rows[-2][column_of("Số tiền") - 1] == "=SUM(K2:K2001)"
    assert rows[-1][column_of("Số tiền") - 1] == sum(order.amount for order in orders)


def test_orders_xlsx_refuses_more_orders_than_a_sheet_holds(monkeypatch):
    monkeypatch.setattr(order_files, "MAX_XLSX_ROWS", 6)  # 1 header + 3 orders + 2 totals rows fit
    assert load_workbook(io.BytesIO(write_orders_xlsx(batch_header(), sample_orders()[:3])))
    with pytest.raises(ValueError, match="do not fit in one Excel sheet"):
        write_orders_xlsx(batch_header(), sample_orders())


# --- CSV -------------------------------------------------------------------------------------------

def test_orders_csv_parses_back_with_bom_and_neutralised_cells():
    orders = sample_orders()
    content = write_orders_csv(batch_header(), orders)
    assert content.startswith(b"\xef\xbb\xbf")
    assert b"\r\n" in content
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows[0] == ORDER_HEADERS
    assert len(rows) == 1 + len(orders)
    by_header = [dict(zip(ORDER_HEADERS, row, strict=True)) for row in rows[1:]]
    assert [row["Mã tham chiếu/Reference"] for row in by_header] == [order.reference for order in orders]
    assert [int(row["Số tiền (đồng)/Amount (VND)"]) for row in by_header] == [order.amount for order in orders]
    assert by_header[0]["Họ và tên/Full name"] == "Nguyễn Thị Đào"
    assert by_header[0]["Số tài khoản/Account number"] == orders[0].account_number
    assert by_header[0]["Số tài khoản/Account number"].startswith("0")
    assert by_header[2]["Họ và tên/Full name"].startswith("'=HYPERLINK")
    assert by_header[2]["Chủ tài khoản/Account holder"] == "'@SUM(1+1)"
    assert by_header[2]["Xã, phường/Commune"] == "'-2+3"
    assert by_header[3]["Chủ tài khoản/Account holder"] == "'+84 LE THI ON"
    for row in rows:
        for value in row:
            assert not value or value[0] not in "=+-@\t\r"


# --- validation ------------------------------------------------------------------------------------

@pytest.mark.parametrize("writer", [write_orders_xlsx, write_orders_csv])
def test_writers_refuse_an_empty_batch_and_repeated_references(writer):
    with pytest.raises(ValueError, match="no payouts"):
        writer(batch_header(), [])
    with pytest.raises(ValueError, match="repeated"):
        writer(batch_header(), [payment_order(1), payment_order(1, payout_id=UUID(int=99))])


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"amount": 750_000.0}, "integer number of đồng"),
        ({"amount": 0}, "positive integer"),
        ({"amount": True}, "integer number of đồng"),
        ({"reference": "as2601-000001"}, "A-Z and 0-9"),
        ({"reference": "A" * 36}, "1-35"),
        ({"months": []}, "months"),
        ({"months": ["2026-1"]}, "months"),
        ({"period": "01/2026"}, "period"),
        ({"bank_bin": "97043"}, "6-digit BIN"),
        ({"account_number": "0011 0044"}, "account_number"),
        ({"holder_name": "", "beneficiary_name": " "}, "both empty"),
    ],
)
def test_payment_order_refuses_bad_fields(changes, message):
    with pytest.raises(ValueError, match=message):
        payment_order(1, **changes)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"message_id": "TGXH 2601"}, "message_id"),
        ({"message_id": "X" * 36}, "message_id"),
        ({"created_at": datetime(2026, 1, 5, 8, 30)}, "timezone-aware"),
        ({"debtor_account_number": ""}, "debtor_account_number"),
        ({"debtor_bank_bin": "VCB"}, "debtor_bank_bin"),
        ({"debtor_name": "  "}, "debtor_name"),
    ],
)
def test_batch_header_refuses_bad_fields(changes, message):
    with pytest.raises(ValueError, match=message):
        replace(batch_header(), **changes)


def test_months_are_kept_as_a_tuple():
    order = payment_order(1, months=["2025-12", "2026-01"])
    assert order.months == ("2025-12", "2026-01")
    assert hash(order)


# --- text helpers ----------------------------------------------------------------------------------

@pytest.mark.parametrize(
    ("text", "latin"),
    [
        ("Nguyễn Thị Đào", "Nguyen Thi Dao"),
        ("Phường Hoàn Kiếm", "Phuong Hoan Kiem"),
        ("ăắằẳẵặâấầẩẫậêếềểễệôốồổỗộơớờởỡợưứừửữựđ", "aaaaaaaaaaaaeeeeeeoooooooooooouuuuuud"),
        ("ĂÂÊÔƠƯĐỲÝỶỸỴ", "AAEOOUDYYYYY"),
        ("Sở LĐ-TB&XH  tỉnh <Hà Tĩnh>", "So LD-TB XH tinh Ha Tinh"),
        ("a_b@c#d;e", "a b c d e"),
        ("  ", ""),
    ],
)
def test_to_iso20022_latin(text, latin):
    assert to_iso20022_latin(text) == latin


@given(st.text(max_size=200))
def test_to_iso20022_latin_stays_in_the_allowed_set(text):
    latin = to_iso20022_latin(text)
    assert set(latin) <= LATIN
    assert "  " not in latin and latin == latin.strip()
    assert to_iso20022_latin(latin) == latin


@pytest.mark.parametrize(
    ("months", "label"),
    [
        (["2026-01"], "2026-01"),
        (["2026-01", "2025-12", "2025-11"], "2025-11..2026-01"),
        (["2025-12", "2026-01"], "2025-12..2026-01"),
        (["2025-09", "2026-01"], "2025-09,2026-01"),
    ],
)
def test_months_label(months, label):
    assert months_label(months) == label


@pytest.mark.parametrize(
    ("months", "label"),
    [
        (["2026-01"], "01/2026"),
        (["2026-12", "2026-01", "2026-02", "2026-03", "2026-04", "2026-05", "2026-06", "2026-07", "2026-08",
          "2026-09", "2026-10", "2026-11"], "01/2026 – 12/2026"),
        (["2025-09", "2026-01"], "09/2025, 01/2026"),
    ],
)
def test_staff_months_label_writes_months_as_staff_do(months, label):
    assert staff_months_label(months) == label


def test_remittance_puts_the_reference_first_and_stays_within_140():
    order = payment_order(7)
    assert remittance_text(order) == f"{order.reference} TGXH 2026-01"
    assert len(remittance_text(order)) <= 35
    scattered = [f"{year}-{month:02d}" for year in range(2000, 2026) for month in (1, 3)]
    long_one = payment_order(8, months=scattered)
    text = remittance_text(long_one)
    assert text == f"{long_one.reference} TGXH 2000-01..2025-03"
    assert len(text) <= 140


# --- cash handover ---------------------------------------------------------------------------------

def cash_payouts():
    return [
        cash_payout(10, "00073", "Phường Cửa Nam", beneficiary_name="Đỗ Thị Mai", amount=750_000),
        cash_payout(11, "00070", "Phường Hoàn Kiếm", beneficiary_name="Hoàng Văn Tư"),
        cash_payout(12, "00073", "Phường Cửa Nam", beneficiary_name="=1+1", amount=1_000_000,
                    months=["2025-12", "2026-01"]),
        cash_payout(13, "00070", "Phường Hoàn Kiếm", beneficiary_name="Vũ Thị Năm", address="-Tổ 3"),
        cash_payout(14, "00070", "Phường Hoàn Kiếm", beneficiary_name="Bùi Văn Sáu", amount=360_000),
    ]


def test_cash_handover_has_a_summary_and_a_sheet_per_commune():
    payouts = cash_payouts()
    content = write_cash_handover_xlsx(payouts, issuer_name="Phòng Văn hóa - Xã hội",
                                       created_at=datetime(2026, 1, 6, 9, 0, tzinfo=VIETNAM))
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.sheetnames == ["Tổng hợp - Summary", "00070 Phường Hoàn Kiếm", "00073 Phường Cửa Nam"]

    summary = workbook["Tổng hợp - Summary"]
    assert summary.cell(1, 1).value.startswith("TỔNG HỢP CHI TRẢ TIỀN MẶT")
    assert [cell.value for cell in summary[4]] == ["STT/No.", "Mã xã/Commune code", "Xã, phường/Commune",
                                                   "Số người/Beneficiaries", "Số tiền (đồng)/Amount (VND)"]
    assert [cell.value for cell in summary[5]] == [1, "00070", "Phường Hoàn Kiếm", 3, 500_000 + 500_000 + 360_000]
    assert [cell.value for cell in summary[6]] == [2, "00073", "Phường Cửa Nam", 2, 1_750_000]
    assert summary.cell(7, 5).value == "=SUM(E5:E6)"
    assert summary.cell(8, 4).value == 5
    assert summary.cell(8, 5).value == sum(payout.amount for payout in payouts) == 3_110_000
    assert summary.freeze_panes == "A5"
    assert print_setup(summary) == a4_landscape_fit_width(4)

    hoan_kiem = workbook["00070 Phường Hoàn Kiếm"]
    assert hoan_kiem.cell(1, 1).value == "DANH SÁCH CHI TRẢ TIỀN MẶT / CASH HANDOVER LIST"
    assert hoan_kiem.cell(2, 1).value == "Xã, phường/Commune: Phường Hoàn Kiếm (00070)"
    assert "06/01/2026" in hoan_kiem.cell(4, 1).value
    header = [cell.value for cell in hoan_kiem[5]]
    assert header == [column.header for column in CASH_COLUMNS]
    assert "Ký nhận/Signature" in header
    signature_column = header.index("Ký nhận/Signature") + 1
    amount_column = header.index("Số tiền (đồng)/Amount (VND)") + 1
    data = [[cell.value for cell in hoan_kiem[row]] for row in range(6, 9)]
    assert [row[2] for row in data] == ["Hoàng Văn Tư", "Vũ Thị Năm", "Bùi Văn Sáu"]  # order given kept
    assert [row[1] for row in data] == [payouts[1].reference, payouts[3].reference, payouts[4].reference]
    assert data[1][4] == "'-Tổ 3"
    assert all(row[signature_column - 1] is None for row in data)
    assert all(hoan_kiem.cell(row, amount_column).number_format == VND_NUMBER_FORMAT for row in range(6, 9))
    assert all(hoan_kiem.row_dimensions[row].height >= 30 for row in range(6, 9))
    assert hoan_kiem.cell(9, amount_column).value == "=SUM(G6:G8)"
    assert hoan_kiem.cell(9, 3).value == "3 người/people"
    assert hoan_kiem.cell(10, amount_column).value == 1_360_000
    assert hoan_kiem.freeze_panes == "A6"
    assert hoan_kiem.auto_filter.ref == "A5:I8"
    assert print_setup(hoan_kiem) == a4_landscape_fit_width(5, gridlines=True)  # a form to sign: the grid prints
    signature_labels = [cell.value for cell in hoan_kiem[12] if cell.value]
    assert signature_labels == ["Người lập biểu/Prepared by", "Người chi tiền/Paying officer",
                                "Chủ tịch UBND xã/Commune chairperson"]

    # Months as staff write them on the list they sign (the API and payment messages keep YYYY-MM).
    assert hoan_kiem.cell(3, 1).value == "Chương trình, kỳ/Programme, period: Trợ cấp xã hội hằng tháng (TGXH), 01/2026"
    assert summary.cell(2, 1).value == "Chương trình, kỳ/Programme, period: Trợ cấp xã hội hằng tháng (TGXH), 01/2026"
    assert [row[5] for row in data] == ["01/2026"] * 3
    cua_nam = workbook["00073 Phường Cửa Nam"]
    assert cua_nam.cell(7, 3).value == "'=1+1"
    assert cua_nam.cell(7, 6).value == "12/2025 – 01/2026"
    assert cua_nam.cell(9, amount_column).value == 1_750_000


def test_cash_handover_sheet_titles_are_valid_and_unique():
    payouts = [
        cash_payout(20, "00001", "Xã Một Tên Rất Dài Hơn Ba Mươi Mốt Ký Tự [A/B]"),
        cash_payout(21, "00002", "Xã Hai"),
    ]
    workbook = load_workbook(io.BytesIO(write_cash_handover_xlsx(
        payouts, issuer_name="Sở", created_at=datetime(2026, 1, 6, tzinfo=VIETNAM))))
    assert workbook.sheetnames[1] == "00001 Xã Một Tên Rất Dài Hơn Ba"
    assert all(len(title) <= 31 for title in workbook.sheetnames)


def test_cash_handover_refuses_an_empty_list_and_bad_amounts():
    with pytest.raises(ValueError, match="no payouts"):
        write_cash_handover_xlsx([], issuer_name="Sở", created_at=datetime(2026, 1, 6, tzinfo=VIETNAM))
    with pytest.raises(ValueError, match="integer number of đồng"):
        cash_payout(1, "00070", "Phường Hoàn Kiếm", amount=500_000.5)

