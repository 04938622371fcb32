"""The printable follow-up sheet on its own: hostile cells stay text, money stays integer đồng."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, date, datetime

import openpyxl

from reports.follow_up import WaitingPerson, follow_up_workbook


def test_hostile_cells_are_neutralised_and_amounts_are_integers():
    person = WaitingPerson(
        beneficiary_id=uuid.uuid4(), full_name="=HYPERLINK(\"http://x\")", date_of_birth=date(1940, 1, 1), age=86,
        sex="female", commune_code="00070", commune_name="Phường Hoàn Kiếm", phone="+84912345678",
        address="@SUM(1)", channel="bank", payouts_waiting=2, amount_waiting=1_300_000,
        waiting_since=datetime(2026, 3, 10, 1, tzinfo=UTC), days_waiting=30, last_contact_at=None,
        last_contact_kind=None, last_contact_by=None)
    book = openpyxl.load_workbook(io.BytesIO(follow_up_workbook([person], title="-1+1", min_days=7)))
    rows = list(book.active.iter_rows(values_only=True))
    assert rows[0][0] == "'-1+1"
    assert rows[3][1].startswith("'=") and rows[3][3] == "'+84912345678" and rows[3][4] == "'@SUM(1)"
    assert rows[3][5] == 1_300_000 and book.active["F4"].number_format == "#,##0"
    assert rows[3][6] == datetime(2026, 3, 10) and rows[3][7] == 30  # a real date cell, the day in Việt Nam
    assert book.active["G4"].number_format == "dd/mm/yyyy"
    assert rows[3][8] is None and rows[3][9] is None  # no contact yet


def test_waiting_since_and_last_contact_are_date_cells_in_vietnam_time():
    person = WaitingPerson(
        beneficiary_id=uuid.uuid4(), full_name="Hà Văn Tám", date_of_birth=date(1944, 2, 2), age=82,
        sex="male", commune_code="00070", commune_name="Phường Hoàn Kiếm", phone=None, address="Ngõ 5",
        channel="bank", payouts_waiting=1, amount_waiting=650_000,
        waiting_since=datetime(2026, 3, 9, 18, tzinfo=UTC),  # 01:00 on the 10th in Việt Nam
        days_waiting=9, last_contact_at=datetime(2026, 3, 15, 23, 30, tzinfo=UTC), last_contact_kind="call",
        last_contact_by="hoa.commune")
    sheet = openpyxl.load_workbook(io.BytesIO(follow_up_workbook([person], title="x", min_days=7))).active
    assert sheet["G3"].value == "Chờ từ ngày / Waiting since" and sheet["I3"].value == "Liên hệ gần nhất / Last contact"
    assert (sheet["G4"].value, sheet["G4"].number_format) == (datetime(2026, 3, 10), "dd/mm/yyyy")
    assert sheet["G4"].is_date and sheet["I4"].is_date
    assert (sheet["I4"].value, sheet["I4"].number_format) == (datetime(2026, 3, 16), "dd/mm/yyyy")
    assert sheet["J4"].value == "Gọi điện / call"


def test_a_list_over_several_communes_says_which_commune_each_person_lives_in():
    def person(commune_code: str, commune_name: str) -> WaitingPerson:
        return WaitingPerson(
            beneficiary_id=uuid.uuid4(), full_name="Lò Thị Mai", date_of_birth=date(1938, 5, 1), age=88,
            sex="female", commune_code=commune_code, commune_name=commune_name, phone=None, address="Bản Na Sang",
            channel="cash", payouts_waiting=1, amount_waiting=650_000,
            waiting_since=datetime(2026, 3, 8, 2, tzinfo=UTC), days_waiting=22, last_contact_at=None,
            last_contact_kind=None, last_contact_by=None)

    two = [person("03352", "Xã Mường Phăng"), person("03355", "Xã Nà Tấu")]
    rows = list(openpyxl.load_workbook(io.BytesIO(follow_up_workbook(two, title="x", min_days=7))).active
                .iter_rows(values_only=True))
    assert [r[4] for r in rows[3:5]] == ["Bản Na Sang, Xã Mường Phăng", "Bản Na Sang, Xã Nà Tấu"]
    one = list(openpyxl.load_workbook(io.BytesIO(follow_up_workbook(two[:1], title="x", min_days=7))).active
               .iter_rows(values_only=True))
    assert one[3][4] == "Bản Na Sang"


def test_a_file_holding_only_the_beginning_of_the_list_says_how_long_the_list_is():
    person = WaitingPerson(
        beneficiary_id=uuid.uuid4(), full_name="Lò Thị Mai", date_of_birth=date(1938, 5, 5), age=88,
        sex="female", commune_code="03205", commune_name="Xã Mường Phăng", phone=None, address="Bản Phăng",
        channel="cash", payouts_waiting=1, amount_waiting=650_000,
        waiting_since=datetime(2026, 3, 9, 3, tzinfo=UTC), days_waiting=40, last_contact_at=None,
        last_contact_kind=None, last_contact_by=None)
    cut = openpyxl.load_workbook(io.BytesIO(follow_up_workbook([person], title="x", min_days=7, total=5_001))).active
    assert cut["A3"].value == ("Danh sách có 5.001 người; tệp này chỉ liệt kê 1 người đầu tiên — lọc theo xã/phường "
                               "để có đủ / The list has 5,001 people; this file lists the first 1 only — filter by "
                               "commune for all")
    assert cut["A4"].value == "STT / No."  # the table starts below the extra line
    whole = openpyxl.load_workbook(io.BytesIO(follow_up_workbook([person], title="x", min_days=7, total=1))).active
    assert whole["A3"].value == "STT / No."
