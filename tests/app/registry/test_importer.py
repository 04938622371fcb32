"""Beneficiary import: every row checked, all-or-nothing, idempotent, with an annotated error copy."""

import io
import os
import time
import zipfile
from datetime import date

from openpyxl import load_workbook
from sqlalchemy import text

from app.auth.models import Role
from app.registry.fake import IMPORT_HEADERS, BeneficiaryFaker, import_file_bytes, import_rows
from app.registry.importer import ImportOutcome, rejection_problem
from app.registry.sheets import rows_csv, rows_xlsx
from app.vietnam_time import vietnam_today
from tests.app.registry.conftest import CAO_BANG, HANOI_A, HANOI_B

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


async def upload(client, headers, content, filename="danh-sach.xlsx"):
    return await client.post("/api/beneficiaries/import", files={"file": (filename, content, XLSX)},
                             headers=headers)


async def counts(session):
    row = (await session.execute(text(
        "SELECT (SELECT count(*) FROM beneficiary), (SELECT count(*) FROM beneficiary_event),"
        " (SELECT count(*) FROM enrolment), (SELECT count(*) FROM bank_account)"))).one()
    return tuple(row)


def people(count, seed=1, **options):
    return BeneficiaryFaker(seed=seed, communes=[HANOI_A, HANOI_B], **options).people(count)


def row_of(person, **changes):
    values = dict(zip(IMPORT_HEADERS, person.import_row(), strict=True))
    values.update(changes)
    return [values[h] for h in IMPORT_HEADERS]


async def test_import_stores_everyone_and_reimport_changes_nothing(client, callers, session):
    officer = await callers.officer()
    group = people(20)
    content = import_file_bytes(group)
    response = await upload(client, officer, content)
    assert response.status_code == 200, response.text
    result = response.json()
    assert (result["rows"], result["created"], result["updated"], result["unchanged"]) == (20, 20, 0, 0)
    with_bank = sum(1 for p in group if p.account_number)
    assert await counts(session) == (20, 20, 20, with_bank)
    summary = (await session.execute(text("SELECT object_id, after FROM audit_log WHERE action = 'beneficiary.import'"))
               ).one()
    assert summary[1]["created"] == 20 and summary[1]["rows"] == 20
    reasons = (await session.execute(text("SELECT DISTINCT reason FROM beneficiary_event"))).scalars().all()
    assert reasons == [f"import {summary[0]}"]
    stored = (await session.execute(text(
        "SELECT national_id, full_name, date_of_birth, sex, commune_code, phone FROM beneficiary"
        " WHERE national_id = :n"), {"n": group[0].national_id})).one()
    assert tuple(stored) == (group[0].national_id, group[0].full_name, group[0].date_of_birth, group[0].sex,
                             group[0].commune_code, group[0].phone)
    coefficient = await session.scalar(text("SELECT coefficient FROM enrolment e JOIN beneficiary b"
                                            " ON b.id = e.beneficiary_id WHERE b.national_id = :n"),
                                       {"n": group[0].national_id})
    expected = await session.scalar(text("SELECT coefficient FROM programme_category WHERE code = :c"),
                                    {"c": group[0].category})
    assert coefficient == expected  # empty coefficient column: the category's applies

    again = await upload(client, officer, content)
    assert again.status_code == 200
    assert (again.json()["created"], again.json()["updated"], again.json()["unchanged"]) == (0, 0, 20)
    assert await counts(session) == (20, 20, 20, with_bank)
    uploads = (await session.execute(text("SELECT outcome, row_count FROM beneficiary_import"))).all()
    assert [tuple(u) for u in uploads] == [("applied", 20), ("applied", 20)]


async def test_changed_rows_update_people_with_audit(client, callers, session):
    officer = await callers.officer()
    group = people(3, bank_share=1.0)
    await upload(client, officer, import_file_bytes(group))
    rows = import_rows(group)
    rows[1] = row_of(group[0], **{"Địa chỉ": "Số 99, tổ 9", "Mã xã": HANOI_B if group[0].commune_code == HANOI_A
                                  else HANOI_A})
    rows[2] = row_of(group[1], **{"Số tài khoản": "9999888877776", "Ngân hàng": "Agribank"})
    response = await upload(client, officer, rows_xlsx(rows))
    assert response.status_code == 200, response.text
    assert (response.json()["created"], response.json()["updated"], response.json()["unchanged"]) == (0, 2, 1)
    audit = (await session.execute(text(
        "SELECT object_id, before, after FROM audit_log WHERE action = 'beneficiary.import_update' ORDER BY id"))).all()
    assert len(audit) == 2
    assert audit[0][1]["address"] == group[0].address and audit[0][2]["address"] == "Số 99, tổ 9"
    assert audit[0][1]["commune_code"] == group[0].commune_code
    assert audit[1][2]["bank_account"]["account_number"] == "9999888877776"
    moved = (await session.execute(text("SELECT kind, from_commune FROM beneficiary_event WHERE kind = 'moved'"))).all()
    assert [tuple(m) for m in moved] == [("moved", group[0].commune_code)]
    accounts = (await session.execute(text(
        "SELECT a.bank_bin, a.account_number, a.effective_to IS NULL FROM bank_account a JOIN beneficiary b"
        " ON b.id = a.beneficiary_id WHERE b.national_id = :n ORDER BY a.id"), {"n": group[1].national_id})).all()
    assert [tuple(a) for a in accounts] == [(group[1].bank_bin, group[1].account_number, False),
                                            ("970405", "9999888877776", True)]


async def test_csv_with_english_headers_any_order_and_bank_by_name(client, callers, session):
    officer = await callers.officer()
    person = people(1, bank_share=1.0)[0]
    header = ["Citizen ID", "Full name", "Sex", "Date of birth", "Commune code", "Programme", "Category",
              "Coefficient", "Start month", "Decision number", "Bank", "Account number", "Account holder"]
    row = [person.national_id, person.full_name, "female" if person.sex == "female" else "male",
           person.date_of_birth.strftime("%d/%m/%Y"), person.commune_code, "TGXH", "NKT_DBN", "2,5",
           "2025-03", "5/QĐ-UBND", "Vietcombank", "0011002345678", ""]
    # Excel in a Vietnamese locale saves CSV with semicolons.
    content = ("\ufeff" + "\r\n".join(";".join(cells) for cells in (header, row)) + "\r\n").encode("utf-8")
    response = await client.post("/api/beneficiaries/import", files={"file": ("list.csv", content, "text/csv")},
                                 headers=officer)
    assert response.status_code == 200, response.text
    stored = (await session.execute(text(
        "SELECT e.coefficient, e.start_month, a.bank_bin, a.holder_name, b.channel FROM beneficiary b"
        " JOIN enrolment e ON e.beneficiary_id = b.id JOIN bank_account a ON a.beneficiary_id = b.id"))).one()
    assert tuple(stored) == (2.5, date(2025, 3, 1), "970436", person.holder_name, "bank")


async def test_excel_date_cells_and_number_cells(client, callers, session):
    officer = await callers.officer()
    person = people(1, bank_share=0.0)[0]
    row = row_of(person, **{"Ngày sinh": person.date_of_birth, "Tháng bắt đầu": date(2024, 7, 1),
                            "Số CCCD": float(person.national_id), "Mã xã": float(person.commune_code),
                            "Điện thoại": ""})
    response = await upload(client, officer, rows_xlsx([list(IMPORT_HEADERS), row]))
    assert response.status_code == 200, response.text
    stored = (await session.execute(text("SELECT b.national_id, b.date_of_birth, e.start_month, b.channel"
                                         " FROM beneficiary b JOIN enrolment e ON e.beneficiary_id = b.id"))).one()
    assert tuple(stored) == (person.national_id, person.date_of_birth, date(2024, 7, 1), "cash")


async def test_citizen_ids_born_in_ha_noi_survive_number_cells(client, callers, session):
    """Excel drops both leading zeros of a Hà Nội-born person's ID (001...) typed into a number cell; the import
    gives them back (one zero for provinces 010-096, as before)."""
    officer = await callers.officer()
    ha_noi, other = people(2, seed=7, bank_share=0.0)
    ha_noi_id = "001" + ha_noi.national_id[3:]
    rows = [row_of(ha_noi, **{"Số CCCD": int(ha_noi_id)}), row_of(other, **{"Số CCCD": float(other.national_id)})]
    assert str(int(ha_noi_id)) == ha_noi_id[2:]  # what the cell holds: ten digits
    response = await upload(client, officer, rows_xlsx([list(IMPORT_HEADERS), *rows]))
    assert response.status_code == 200, response.text
    stored = set((await session.scalars(text("SELECT national_id FROM beneficiary"))).all())
    assert stored == {ha_noi_id, other.national_id}


async def test_every_bad_row_is_listed_and_nothing_is_stored(client, callers, session):
    officer = await callers.officer()
    group = people(9, bank_share=1.0)
    good = group[0]
    wrong_province = "003" + good.national_id[3:]
    wrong_digit4 = good.national_id[:3] + str(int(good.national_id[3]) ^ 1) + good.national_id[4:]
    wrong_year = good.national_id[:4] + f"{(int(good.national_id[4:6]) + 1) % 100:02d}" + good.national_id[6:]
    rows = [list(IMPORT_HEADERS),
            row_of(good),
            row_of(group[1], **{"Số CCCD": wrong_province}),
            row_of(group[2], **{"Số CCCD": wrong_digit4.replace(good.national_id[6:], group[2].national_id[6:]),
                                "Ngày sinh": good.date_of_birth.strftime("%d/%m/%Y"),
                                "Giới tính": "Nữ" if good.sex == "female" else "Nam"}),
            row_of(group[3], **{"Số CCCD": wrong_year, "Ngày sinh": good.date_of_birth.strftime("%d/%m/%Y"),
                                "Giới tính": "Nữ" if good.sex == "female" else "Nam"}),
            row_of(group[4], **{"Số CCCD": good.national_id, "Ngày sinh": good.date_of_birth.strftime("%d/%m/%Y"),
                                "Giới tính": "Nữ" if good.sex == "female" else "Nam"}),
            row_of(group[5], **{"Mã xã": "99999"}),
            row_of(group[6], **{"Ngân hàng": "Ngân hàng Mặt Trăng"}),
            row_of(group[7], **{"Ngày sinh": "31/02/1950"}),
            row_of(group[8], **{"Tháng bắt đầu": "2025/07", "Số CCCD": "12345"})]
    response = await upload(client, officer, rows_xlsx(rows))
    assert response.status_code == 422, response.text
    body = response.json()
    by_row = {}
    for error in body["errors"]:
        by_row.setdefault(error["row"], []).append((error["column"], error["message_en"]))
        assert error["message"] and error["message_en"]
    assert sorted(by_row) == [3, 4, 5, 6, 7, 8, 9, 10]
    assert "'003'" in by_row[3][0][1]
    assert "Digit 4" in by_row[4][0][1]
    assert "Digits 5-6" in by_row[5][0][1]
    assert by_row[6] == [("Số CCCD", f"Citizen ID {good.national_id} is also on row 2")]
    assert by_row[7][0][0] == "Mã xã" and "99999" in by_row[7][0][1]
    assert by_row[8][0][0] == "Ngân hàng"
    assert by_row[9][0][0] == "Ngày sinh" and "does not exist" in by_row[9][0][1]
    assert {c for c, _ in by_row[10]} == {"Tháng bắt đầu", "Số CCCD"}
    assert body["bad_rows"] == 8 and "Có 8 dòng lỗi" in body["detail"] and " / 8 rows have errors" in body["detail"]
    assert await counts(session) == (0, 0, 0, 0)
    stored = (await session.execute(text("SELECT id, outcome, jsonb_array_length(errors) FROM beneficiary_import"))
              ).one()
    assert stored[1] == "rejected" and stored[2] == len(body["errors"])
    assert body["error_file"] == f"/api/beneficiaries/imports/{stored[0]}/errors"

    copy = await client.get(body["error_file"])
    assert copy.status_code == 200 and "attachment" in copy.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(copy.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert values[0][-1] == "Lỗi / Errors"
    assert values[1][-1] is None and "Mã xã" in values[6][-1] and "99999" in values[6][-1]
    assert len(values) == len(rows)


async def test_duplicate_against_the_database_and_accounts_of_others(client, callers, session):
    officer = await callers.officer()
    first, second = people(2, bank_share=1.0)
    assert (await upload(client, officer, import_file_bytes([first]))).status_code == 200
    other_day = date(first.date_of_birth.year, 1 if first.date_of_birth.month != 1 else 2, 1)
    rows = [list(IMPORT_HEADERS),
            row_of(first, **{"Ngày sinh": other_day.strftime("%d/%m/%Y"), "Họ và tên": "Người Khác",
                             "Ngân hàng": "", "Số tài khoản": "", "Tên chủ tài khoản": ""}),
            row_of(second, **{"Ngân hàng": first.bank_bin, "Số tài khoản": first.account_number})]
    response = await upload(client, officer, rows_xlsx(rows))
    assert response.status_code == 422
    errors = {e["row"]: e for e in response.json()["errors"]}
    assert errors[2]["column"] == "Số CCCD" and "Duplicate citizen ID" in errors[2]["message_en"]
    assert errors[3]["column"] == "Số tài khoản" and "another beneficiary" in errors[3]["message_en"]
    assert await counts(session) == (1, 1, 1, 1)


async def test_province_officer_imports_only_into_their_province(client, callers, session):
    person = BeneficiaryFaker(seed=3, communes=[CAO_BANG]).person()
    officer = await callers.as_user("hn_officer", Role.officer, provinces=("01",))
    response = await upload(client, officer, import_file_bytes([person]))
    assert response.status_code == 422
    assert "outside your scope" in response.json()["errors"][0]["message_en"]


async def test_unreadable_and_empty_files_are_rejected_clearly(client, callers, session):
    officer = await callers.officer()
    garbage = os.urandom(10 * 1024 * 1024)
    cases = {
        "garbage.xlsx": (garbage, "not a valid workbook"),
        "empty.xlsx": (b"", "empty"),
        "empty.csv": (b"\xef\xbb\xbf  \r\n", "empty"),
        "header-only.xlsx": (rows_xlsx([list(IMPORT_HEADERS)]), "no data rows"),
        "binary.csv": (b"\x00\x01\x02abc" * 100, "not a CSV text file"),
    }
    fake_zip = io.BytesIO()
    with zipfile.ZipFile(fake_zip, "w") as archive:
        archive.writestr("hello.txt", "not a workbook")
    cases["zip.xlsx"] = (fake_zip.getvalue(), "cannot be read")
    for filename, (content, english) in cases.items():
        response = await upload(client, officer, content, filename)
        assert response.status_code == 422, (filename, response.text)
        body = response.json()
        assert english in body["errors"][0]["message_en"] and english in body["detail"], filename
        assert "error_file" not in body
    assert await counts(session) == (0, 0, 0, 0)
    assert await session.scalar(text("SELECT count(*) FROM beneficiary_import WHERE outcome = 'rejected'")) == 6


async def test_wrong_sheet_and_missing_columns(client, callers, session):
    officer = await callers.officer()
    unrelated = rows_xlsx([["STT", "Mặt hàng", "Số lượng"], [1, "Gạo", 10]], title="Kho")
    response = await upload(client, officer, unrelated)
    assert response.status_code == 422
    assert "No sheet has a header row" in response.json()["errors"][0]["message_en"]
    header = [h for h in IMPORT_HEADERS if h not in ("Số quyết định", "Tháng bắt đầu")]
    response = await upload(client, officer, rows_xlsx([header, ["x"] * len(header)]))
    assert response.status_code == 422
    missing = sorted(e["message_en"] for e in response.json()["errors"])
    assert missing == ["The required column 'Decision number' is missing (sheet 'Sheet1')",
                       "The required column 'Start month' is missing (sheet 'Sheet1')"]


async def test_data_on_a_later_sheet_below_title_rows_is_found(client, callers, session):
    from openpyxl import Workbook

    officer = await callers.officer()
    person = people(1)[0]
    workbook = Workbook()
    workbook.active.title = "Hướng dẫn"
    workbook.active.append(["Điền danh sách ở trang sau"])
    sheet = workbook.create_sheet("Danh sách")
    sheet.append(["DANH SÁCH NGƯỜI HƯỞNG TRỢ CẤP"])
    sheet.append([])
    sheet.append(list(IMPORT_HEADERS))
    sheet.append(person.import_row())
    buffer = io.BytesIO()
    workbook.save(buffer)
    response = await upload(client, officer, buffer.getvalue())
    assert response.status_code == 200, response.text
    assert response.json()["created"] == 1


async def test_commune_staff_cannot_import(client, callers):
    staff = await callers.as_user("staff", Role.commune_staff, communes=(HANOI_A,))
    response = await upload(client, staff, import_file_bytes(people(1)))
    assert response.status_code == 403


async def test_error_copy_is_only_for_the_uploader(client, callers, session):
    officer = await callers.officer()
    rows = [list(IMPORT_HEADERS), row_of(people(1)[0], **{"Mã xã": "=HYPERLINK(\"x\")"})]
    body = (await upload(client, officer, rows_csv(rows), "list.csv")).json()
    copy = await client.get(body["error_file"])
    assert copy.status_code == 200 and copy.headers["content-type"] == "text/csv; charset=utf-8"
    text_copy = copy.content.decode("utf-8-sig")
    assert "'=HYPERLINK" in text_copy and "Lỗi / Errors" in text_copy
    await callers.as_user("other_officer", Role.officer)
    assert (await client.get(body["error_file"])).status_code == 404


async def test_a_file_without_bank_columns_keeps_known_accounts(client, callers, session):
    officer = await callers.officer()
    group = people(2, bank_share=1.0)
    assert (await upload(client, officer, import_file_bytes(group))).status_code == 200
    without_bank = [list(IMPORT_HEADERS[:12]), *(p.import_row()[:12] for p in group)]
    response = await upload(client, officer, rows_xlsx(without_bank))
    assert response.status_code == 200 and response.json()["unchanged"] == 2
    channels = (await session.execute(text("SELECT DISTINCT channel FROM beneficiary"))).scalars().all()
    assert channels == ["bank"]


async def test_account_opening_date_is_the_first_accounts_start(client, callers, session):
    officer = await callers.officer()
    banked = people(3, bank_share=1.0, seed=7)
    cash = people(1, bank_share=0.0, seed=8)[0]
    tomorrow = vietnam_today().toordinal() + 1
    rows = [list(IMPORT_HEADERS),
            row_of(banked[0], **{"Ngày mở tài khoản": "02/06/2025"}),
            row_of(banked[1]),
            row_of(banked[2], **{"Ngày mở tài khoản": date.fromordinal(tomorrow).strftime("%d/%m/%Y")}),
            row_of(cash, **{"Ngày mở tài khoản": "01/01/2025"})]
    refused = await upload(client, officer, rows_xlsx(rows))
    assert refused.status_code == 422, refused.text
    errors = [(e["row"], e["column"], e["message"]) for e in refused.json()["errors"]]
    assert [(row, column) for row, column, _ in errors] == [(4, "Ngày mở tài khoản"), (5, "Ngày mở tài khoản")]
    assert "ở tương lai" in errors[0][2] and "cần có số tài khoản" in errors[1][2]
    assert await counts(session) == (0, 0, 0, 0)
    rows[3] = row_of(banked[2])
    rows[4] = row_of(cash)
    assert (await upload(client, officer, rows_xlsx(rows))).status_code == 200
    opened = dict((await session.execute(text(
        "SELECT b.national_id, a.effective_from FROM bank_account a JOIN beneficiary b ON b.id = a.beneficiary_id"
    ))).all())
    assert opened == {banked[0].national_id: date(2025, 6, 2), banked[1].national_id: vietnam_today(),
                      banked[2].national_id: vietnam_today()}


async def test_a_workbook_with_a_far_away_cell_is_refused_before_it_is_read(client, callers, session):
    """One cell at XFD1048576 in a 3 KB file must not make calamine build 17 billion cells."""
    from tests.support.hostile_xlsx import far_cell_xlsx

    officer = await callers.officer()
    started = time.perf_counter()
    for content in (far_cell_xlsx(tuple(IMPORT_HEADERS[:5])),
                    far_cell_xlsx(tuple(IMPORT_HEADERS[:5]), far="E2", dimension="A1:XFD1048576")):
        response = await upload(client, officer, content, "danh-sach.xlsx")
        assert response.status_code == 422, response.text
        body = response.json()
        assert body["errors"][0]["message"].startswith("Bảng tính quá lớn")
        assert "16384" in body["errors"][0]["message_en"] and "128" in body["detail"]
    assert time.perf_counter() - started < 10
    assert await counts(session) == (0, 0, 0, 0)


async def test_an_import_dates_its_events_on_the_vietnam_day_whatever_the_servers_time_zone(session):
    """The file import's dates (registration, move, account change) are the Việt Nam day, as the web's and the
    API's are: with the server's clock in Pago Pago (UTC-11) they differ from it 18 hours a day."""
    from app.auth.service import Principal
    from app.registry.importer import import_beneficiaries
    from app.vietnam_time import vietnam_today

    await session.execute(text("SET TimeZone = 'Pacific/Pago_Pago'"))
    officer = Principal(kind="staff", name="lan.officer", role=Role.officer)
    outcome = await import_beneficiaries(session, content=import_file_bytes(people(3, seed=9), kind="csv"),
                                         filename="x.csv", principal=officer)
    assert outcome.created == 3
    dates = set((await session.scalars(text("SELECT effective_on FROM beneficiary_event"))).all())
    assert dates == {vietnam_today()}


def test_one_bad_row_is_said_in_the_singular():
    def detail(rows: list[int]) -> str:
        errors = [{"row": row, "column": "Số CCCD", "message": "sai", "message_en": "wrong"} for row in rows]
        return str(rejection_problem(ImportOutcome(errors=errors)).detail)

    assert detail([3, 3]) == ("Có 1 dòng lỗi; chưa lưu dòng nào. Tải bản có cột lỗi, sửa và gửi lại / 1 row has "
                              "errors; nothing was stored. Download the copy with an error column, fix and upload again")
    assert " / 2 rows have errors;" in detail([3, 4]) and " / 1,234 rows have errors;" in detail(list(range(1234)))
