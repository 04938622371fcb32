"""The import template an officer downloads: the list sheet with its header row, then what to write in each
column with an example, the programmes' categories (codes, names, coefficients, ages) and the banks' codes.

Only the first sheet is a list: the others have no header row the import reads (their headers are bilingual
"Vietnamese / English" titles that name no import column), so a filled-in template imports as it is.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from openpyxl import Workbook

from app.registry.category_ages import category_age_bands
from app.registry.importer.columns import COLUMNS
from app.spreadsheets import Column, start_table, text_cell, workbook_bytes

# What to write in each column (Vietnamese, English) and an example, by field; the order is COLUMNS'.
GUIDE: dict[str, tuple[str, str, str]] = {
    "full_name": ("Họ tên đầy đủ, có dấu", "Full name, with accents", "Nguyễn Thị Hoa"),
    "date_of_birth": ("Ngày/tháng/năm", "Day/month/year", "17/05/1940"),
    "sex": ("Nam hoặc Nữ", "Nam (male) or Nữ (female)", "Nữ"),
    "national_id": ("12 chữ số, giữ số 0 ở đầu (định dạng ô là Văn bản)",
                    "12 digits, keep the leading 0 (format the cell as Text)", "001140123456"),
    "commune_code": ("Mã xã/phường 5 chữ số sau sắp xếp 2025", "5-digit commune code after the 2025 reform", "00070"),
    "address": ("Số nhà, thôn/tổ", "House number, hamlet or group", "Số 1, tổ 2"),
    "phone": ("Số di động 10 chữ số, để trống nếu không có", "10-digit mobile number, blank if none", "0912345678"),
    "programme": ("Mã chương trình (xem trang Đối tượng)", "Programme code (see the Categories sheet)", "TGXH"),
    "category": ("Mã đối tượng của chương trình; tuổi phải hợp với đối tượng trong tháng bắt đầu",
                 "The programme's category code; the age must fit it in the start month", "NCT_80"),
    "coefficient": ("Để trống: hệ số của đối tượng", "Blank: the category's coefficient", ""),
    "start_month": ("Tháng/năm bắt đầu hưởng", "Month/year the allowance starts", "01/2026"),
    "decision_number": ("Số quyết định hưởng", "Number of the decision", "12/QĐ-UBND"),
    "decision_date": ("Ngày/tháng/năm, không bắt buộc", "Day/month/year, optional", "20/12/2025"),
    "bank": ("Tên viết tắt hoặc mã BIN (xem trang Ngân hàng); để trống nếu nhận tiền mặt",
             "Short name or BIN (see the Banks sheet); blank for cash", "Vietcombank"),
    "account_number": ("Chỉ chữ số, giữ số 0 ở đầu (định dạng ô là Văn bản)",
                       "Digits only, keep leading zeros (format the cell as Text)", "0011002345678"),
    "holder_name": ("Để trống: họ tên không dấu, chữ hoa", "Blank: the name without accents, in capitals",
                    "NGUYEN THI HOA"),
    "account_opened": ("Ngày ngân hàng mở tài khoản, không bắt buộc", "The day the bank opened it, optional",
                       "05/03/2025"),
    "channel": ("Ngân hàng hoặc Tiền mặt; để trống: ngân hàng khi có số tài khoản",
                "Bank or cash; blank: bank when an account is given", ""),
}


def _sheet(workbook: Workbook, title: str, columns: Sequence[Column], rows: Sequence[Sequence[str]]) -> None:
    sheet = workbook.create_sheet(title=title)
    start_table(sheet, columns)
    for row in rows:
        sheet.append([text_cell(sheet, value) for value in row])


def import_template_xlsx(categories: Sequence[Any], banks: Sequence[Any]) -> bytes:
    """The template: ``categories`` (programme_code, code, name_vi, name_en, coefficient) and ``banks``
    (bin, short_name, name) as the database holds them."""
    workbook = Workbook(write_only=True)
    _sheet(workbook, "Danh sách", [Column(c.vi, max(12, len(c.vi) + 4)) for c in COLUMNS], [])
    required = {True: "Bắt buộc / Required", False: "Không bắt buộc / Optional"}
    _sheet(workbook, "Hướng dẫn - Guide",
           [Column("Cột / Column", 28), Column("Bắt buộc / Required", 16), Column("Cách ghi", 48),
            Column("How to fill", 48), Column("Ví dụ / Example", 20)],
           [(f"{c.vi} / {c.en}", required[c.required], *GUIDE[c.field]) for c in COLUMNS])
    bands = category_age_bands()
    _sheet(workbook, "Đối tượng - Categories",
           [Column("Chương trình / Programme", 14), Column("Mã đối tượng / Code", 20), Column("Tên", 60),
            Column("Name", 50), Column("Hệ số / Coefficient", 12), Column("Điều kiện tuổi", 40),
            Column("Age", 34)],
           [(c.programme_code, c.code, c.name_vi, c.name_en, f"{c.coefficient:.2f}".replace(".", ","),
             " hoặc ".join(b.condition_vi for b in bands.get((c.programme_code, c.code), ())),
             " or ".join(b.condition_en for b in bands.get((c.programme_code, c.code), ())))
            for c in categories])
    _sheet(workbook, "Ngân hàng - Banks",
           [Column("Mã BIN / BIN", 12), Column("Tên viết tắt / Short name", 22), Column("Tên / Name", 60)],
           [(b.bin, b.short_name, b.name) for b in banks])
    return workbook_bytes(workbook)
