"""Overpaid, to recover: money already paid for months the registry, as it stands now, says were not due.

Seven people in Hà Nội (TGXH NCT_80, coefficient 1.0, 650,000 a month) enrolled from March 2026 are paid for March
and April by two runs sent to the bank; a May run is computed and approved, not sent. Then the registry learns, late:
a death on 15 March, an enrolment ended with March, a suspension from 1 April, the coefficient lowered to 0.8 from
April, a move to Cao Bằng (another province) from April; one person's April payout came back from the bank (AC04)
and then their death on 15 March was recorded; one person changes nothing. The moved person's April, paid by Hà Nội,
is not overpaid: it stays paid (Cao Bằng never pays it) and was due to them — it is listed apart, nothing to
recover from them."""

from __future__ import annotations

import io
from typing import Any

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import SentPayout, as_bank, returned, statement, upload
from tests.support.actors import add_user
from tests.support.world import CAO_BANG_COMMUNE, VIETCOMBANK, Office, person

NAMES = ("dead", "ended", "suspended", "lowered", "moved", "returned", "fine")


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _payout(office: Office, beneficiary_id: str, period: str) -> SentPayout:
    async with session_scope(office.engine) as session:
        row = (await session.execute(text(
            """SELECT p.id, p.reference, p.amount, p.bank_bin, p.account_number, p.beneficiary_id, p.bank_account_id,
                      p.run_id
                 FROM payout p JOIN payout_run r ON r.id = p.run_id
                WHERE p.beneficiary_id = :b AND to_char(r.period, 'YYYY-MM') = :period AND p.status <> 'cancelled'"""),
            {"b": beneficiary_id, "period": period})).one()
    return SentPayout(*row)


async def _event(office: Office, beneficiary_id: str, **body: Any) -> None:
    await office.be("lan.officer")
    response = await office.post(f"/api/beneficiaries/{beneficiary_id}/events", json=body)
    assert response.status_code in (200, 201), response.text


async def _enrolment_id(office: Office, beneficiary_id: str) -> int:
    async with session_scope(office.engine) as session:
        return int(await session.scalar(text("SELECT id FROM enrolment WHERE beneficiary_id = :b"),
                                        {"b": beneficiary_id}))


async def _world(office: Office) -> dict[str, str]:
    """Name → beneficiary id, after the late news has been recorded."""
    faker = BeneficiaryFaker(seed=41)
    people = {name: person(faker, start="2026-03") for name in NAMES}
    await office.import_people(list(people.values()))
    ids = {name: await office.beneficiary_id(p.national_id) for name, p in people.items()}
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 100_000_000, "FT-OVERPAID-1")).status_code == 201
    march, april = await office.run_cycle("2026-03"), await office.run_cycle("2026-04")
    assert march["by_status"] == {"sent": 7} and april["by_status"] == {"sent": 7}
    await office.approved_run("2026-05")  # computed and approved: May is not paid yet
    # The bank sends the returned person's April payout back (account closed).
    headers = await as_bank(office, VIETCOMBANK)
    back = await _payout(office, ids["returned"], "2026-04")
    response = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [returned(back, "AC04")],
                                                                     statement_id="SK-OVERPAID/1")), "s.xml")
    assert response.status_code == 201 and response.json()["returned"] == 1, response.text
    # The late news.
    await _event(office, ids["dead"], kind="deceased", effective_on="2026-03-15")
    await _event(office, ids["returned"], kind="deceased", effective_on="2026-03-15")
    await _event(office, ids["suspended"], kind="suspended", effective_on="2026-04-01", reason="Kiểm tra lại hồ sơ")
    await _event(office, ids["moved"], kind="moved", effective_on="2026-04-01", to_commune=CAO_BANG_COMMUNE)
    ended = await office.client.patch(
        f"/api/beneficiaries/{ids['ended']}/enrolments/{await _enrolment_id(office, ids['ended'])}",
        headers=office.csrf, json={"end_month": "03/2026", "reason": "Không còn đủ điều kiện từ tháng 4"})
    assert ended.status_code == 200, ended.text
    lowered = ids["lowered"]
    closed = await office.client.patch(
        f"/api/beneficiaries/{lowered}/enrolments/{await _enrolment_id(office, lowered)}",
        headers=office.csrf, json={"end_month": "03/2026", "reason": "Điều chỉnh hệ số"})
    assert closed.status_code == 200, closed.text
    added = await office.post(f"/api/beneficiaries/{lowered}/enrolments",
                              json={"programme": "TGXH", "category": "NCT_80", "start_month": "04/2026",
                                    "coefficient": "0.8", "decision_number": "QĐ-GIAM-7"})
    assert added.status_code == 201, added.text
    return ids


async def test_each_late_change_lists_the_months_paid_and_not_due_with_amounts_and_reasons(office, engine):
    ids = await _world(office)
    listed = (await office.client.get("/api/reports/overpaid")).json()
    by_id = {item["beneficiary_id"]: item for item in listed["items"]}
    assert set(by_id) == {ids[name] for name in ("dead", "ended", "suspended", "lowered")}
    expected = {"dead": (650_000, 0, "deceased", "qua đời"), "ended": (650_000, 0, "enrolment_ended", "kết thúc"),
                "suspended": (650_000, 0, "suspended", "tạm dừng"), "lowered": (650_000, 520_000, "reduced", "giảm")}
    for name, (paid, due, reason, words) in expected.items():
        item = by_id[ids[name]]
        april = await _payout(office, ids[name], "2026-04")
        # March was due (the death on 15 March, the end with March); April is not; May is not paid yet.
        assert item["months"] == ["2026-04"] and item["months_text"] == "04/2026", name
        assert (item["paid"], item["due_now"], item["overpaid"]) == (paid, due, paid - due), name
        assert item["reasons"] == [reason] and words in item["reason_vi"], name
        assert item["references"] == [april.reference], name
        (detail,) = item["details"]
        assert (detail["month"], detail["reason"], detail["reference"]) == ("2026-04", reason, april.reference)
    assert by_id[ids["dead"]]["reason_en"] == "the beneficiary died before this month"
    # Sent, never reported credited: nothing is known to be in an account to recall.
    assert listed["totals"] == {"people": 4, "months": 4, "paid": 2_600_000, "due_now": 520_000,
                                "overpaid": 2_080_000, "recallable": 0}
    assert listed["total"] == 4 and listed["page"] == 1
    # The moved person: April paid by Hà Nội for Cao Bằng, nothing to recover from them.
    moved = listed["moved_away"]
    assert "không thu hồi của người hưởng" in moved["title"] and "not to be recovered" in moved["title"]
    assert moved["totals"] == {"people": 1, "months": 1, "paid": 650_000}
    (away,) = moved["items"]
    april = await _payout(office, ids["moved"], "2026-04")
    assert away["beneficiary_id"] == ids["moved"] and away["months"] == ["2026-04"]
    assert (away["paid"], away["due_now"], away["overpaid"], away["recallable"]) == (650_000, 650_000, 0, 0)
    assert away["reasons"] == ["moved"] and "không thu hồi của người hưởng" in away["reason_vi"]
    assert away["references"] == [april.reference]
    assert "chưa ghi nhận khoản thu hồi" in listed["notice"]
    # A list only: the payouts and the ledger are as they were.
    async with session_scope(engine) as session:
        states = dict((await session.execute(text(
            """SELECT p.status, count(*) FROM payout p JOIN payout_run r ON r.id = p.run_id
                WHERE r.period = DATE '2026-04-01' GROUP BY 1"""))).all())
    assert states == {"sent": 6, "returned": 1}


async def test_scope_commune_staff_and_province_limited_officers(office, engine):
    await _world(office)
    await add_user(engine, "hoa.commune", Role.commune_staff, communes=("00070",))
    await add_user(engine, "nam.other", Role.commune_staff, communes=("00073",))
    await add_user(engine, "tuan.hanoi", Role.officer, provinces=("01",))
    await add_user(engine, "kim.caobang", Role.officer, provinces=("04",))
    client = office.client

    await office.be("hoa.commune")
    assert (await client.get("/api/reports/overpaid")).json()["totals"]["overpaid"] == 2_080_000
    assert (await client.get("/api/reports/overpaid", params={"commune": "00070"})).json()["total"] == 4
    await office.be("nam.other")
    other = (await client.get("/api/reports/overpaid")).json()
    assert other["items"] == [] and other["totals"]["overpaid"] == 0 and other["moved_away"]["items"] == []
    assert (await client.get("/api/reports/overpaid", params={"commune": "00070"})).status_code == 403
    assert (await client.get("/reports/overpaid", params={"commune": "00070"})).status_code == 403
    assert (await client.get("/api/reports/overpaid", params={"commune": "99999"})).status_code == 404

    await office.be("tuan.hanoi")
    hanoi = (await client.get("/api/reports/overpaid", params={"province": "01"})).json()
    assert hanoi["total"] == 4 and hanoi["moved_away"]["totals"]["people"] == 1
    await office.be("kim.caobang")
    # The moved person lives in Cao Bằng now, but Hà Nội paid April: Hà Nội's list shows it, not Cao Bằng's.
    caobang = (await client.get("/api/reports/overpaid")).json()
    assert caobang["total"] == 0 and caobang["moved_away"]["items"] == []
    assert (await client.get("/api/reports/overpaid", params={"province": "01"})).status_code == 403


async def test_the_workbook_opens_and_holds_the_numbers_and_totals(office):
    await _world(office)
    response = await office.client.get("/api/reports/overpaid", params={"format": "xlsx", "commune": "00070"})
    assert response.status_code == 200
    assert response.headers["content-disposition"] == 'attachment; filename="chi-sai-thu-hoi-00070.xlsx"'
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [[cell.value for cell in row] for row in sheet.iter_rows()]
    header = next(index for index, row in enumerate(rows, start=1) if row[0] == "STT / No.")
    assert rows[header - 1][8] == "Chi sai cần thu hồi (đ) / Overpaid (VND)"
    assert "hệ thống chưa ghi nhận khoản thu hồi" in rows[1][0]
    data = rows[header:header + 4]
    assert sorted(row[8] for row in data) == [130_000, 650_000, 650_000, 650_000]
    assert sum(row[6] for row in data) == 2_600_000 and sum(row[7] for row in data) == 520_000
    assert all(row[4] == "04/2026" for row in data)
    assert rows[header + 4][1] == "Tổng cộng / Total"
    assert rows[header + 4][8] == f"=SUM(I{header + 1}:I{header + 4})"
    assert rows[header + 4][9] == f"=SUM(J{header + 1}:J{header + 4})"
    assert sheet.freeze_panes == f"A{header + 1}" and sheet.auto_filter.ref == f"A{header}:L{header + 4}"
    assert sheet.page_setup.orientation == "landscape" and sheet.sheet_properties.pageSetUpPr.fitToPage
    assert sheet.cell(header + 1, 7).number_format == "#,##0"
    # The moved person's April on a sheet of its own: paid 650,000, nothing to recover from them.
    away = load_workbook(io.BytesIO(response.content))["Chi thay tỉnh - Moved away"]
    away_rows = [[cell.value for cell in row] for row in away.iter_rows()]
    assert any(row[0] and "không thu hồi của người hưởng" in str(row[0]) for row in away_rows)
    (moved,) = [row for row in away_rows if isinstance(row[0], int)]
    assert (moved[4], moved[6], moved[7]) == ("04/2026", 650_000, 0)


async def test_a_name_a_spreadsheet_would_run_is_written_as_text(office, engine):
    await _world(office)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE beneficiary SET full_name = '=HYPERLINK(\"x\")' WHERE full_name <> ''"
                                   " AND id IN (SELECT beneficiary_id FROM enrolment WHERE end_month IS NOT NULL"
                                   " AND coefficient = 1.0)"))
    response = await office.client.get("/api/reports/overpaid", params={"format": "xlsx"})
    sheet = load_workbook(io.BytesIO(response.content)).active
    names = [row[1].value for row in sheet.iter_rows() if isinstance(row[1].value, str)]
    assert "'=HYPERLINK(\"x\")" in names and '=HYPERLINK("x")' not in names


async def test_the_page_lists_the_totals_and_the_person_page_says_what_to_recover(office):
    ids = await _world(office)
    listing = await office.client.get("/reports/overpaid")
    assert listing.status_code == 200
    body = listing.text
    assert "Chi sai, cần thu hồi" in body
    assert "Danh sách để đối chiếu và thu hồi; hệ thống chưa ghi nhận khoản thu hồi" in body
    assert "2.080.000" in body and "2.600.000" in body and "520.000" in body
    moved = body.split('id="overpaid-moved-away"')[1]
    assert "Chi thay tỉnh khác (đã chuyển đi), không thu hồi của người hưởng" in moved
    assert f'href="/beneficiaries/{ids["moved"]}"' in moved and "thu hồi của người hưởng: 0 đ" in moved
    assert f'href="/beneficiaries/{ids["moved"]}"' not in body.split('id="overpaid-moved-away"')[0]
    assert "/api/reports/overpaid?format=xlsx" in body
    assert (await office.client.get("/reports")).text.count('href="/reports/overpaid"') == 1
    english = await office.client.get("/reports/overpaid", params={"lang": "en"})
    assert "Overpaid, to recover" in english.text and "the beneficiary died before this month" in english.text

    dead = await office.client.get(f"/beneficiaries/{ids['dead']}", params={"lang": "vi"})
    assert 'id="overpaid-notice"' in dead.text
    assert "Chi sai, cần thu hồi 650.000" in dead.text and "Người hưởng đã qua đời trước tháng này" in dead.text
    assert "04/2026" in dead.text
    fine = await office.client.get(f"/beneficiaries/{ids['fine']}")
    assert 'id="overpaid-notice"' not in fine.text
    returned_person = await office.client.get(f"/beneficiaries/{ids['returned']}")
    assert 'id="overpaid-notice"' not in returned_person.text
    moved_person = await office.client.get(f"/beneficiaries/{ids['moved']}")
    assert 'id="overpaid-notice"' not in moved_person.text


async def test_before_any_late_news_nothing_is_listed(office):
    faker = BeneficiaryFaker(seed=43)
    await office.import_people([person(faker, start="2026-03")])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-OVERPAID-2")).status_code == 201
    await office.run_cycle("2026-03")
    listed = (await office.client.get("/api/reports/overpaid")).json()
    assert listed["items"] == [] and listed["totals"]["overpaid"] == 0
    assert (await office.client.get("/api/reports/overpaid", params={"format": "csv"})).status_code == 400


async def test_a_lower_rate_added_later_for_months_paid_lists_the_difference(office):
    """A base amount lowered afterwards with an effective date in the past (Hà Nội from April) makes April paid
    at the old rate overpaid by the difference, for a person whose own records did not change."""
    faker = BeneficiaryFaker(seed=43)
    fine = person(faker, start="2026-03")
    await office.import_people([fine])
    beneficiary_id = await office.beneficiary_id(fine.national_id)
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-OVERPAID-RATE")).status_code == 201
    await office.run_cycle("2026-03")
    await office.run_cycle("2026-04")
    assert (await office.client.get("/api/reports/overpaid")).json()["total"] == 0
    await office.be("lan.officer")
    rate = await office.post("/api/programmes/TGXH/rates", json={
        "effective_from": "2026-04-01", "base_amount": 400_000, "province_code": "01",
        "legal_basis": "Điều chỉnh mức chuẩn trợ giúp xã hội của thành phố"})
    assert rate.status_code == 201, rate.text
    listed = (await office.client.get("/api/reports/overpaid")).json()
    (item,) = listed["items"]
    april = await _payout(office, beneficiary_id, "2026-04")
    assert item["beneficiary_id"] == beneficiary_id and item["months"] == ["2026-04"]
    assert item["reasons"] == ["reduced"] and item["references"] == [april.reference]
    assert item["paid"] == april.amount and item["overpaid"] == item["paid"] - item["due_now"] > 0


async def test_what_is_not_withdrawn_yet_is_the_part_a_bank_can_recall(office):
    """Two people paid for March and April (both credited), then their death on 15 March is recorded: April is
    overpaid for both. One withdrew March only, so April is still in the account (the bank can recall it); the
    other withdrew both months, so all of April is asked back from the family."""
    from datetime import date, datetime
    from zoneinfo import ZoneInfo

    from tests.app.reconciliation_api.world import debit

    ict = ZoneInfo("Asia/Ho_Chi_Minh")
    faker = BeneficiaryFaker(seed=47)
    people = {name: person(faker, start="2026-03") for name in ("kept", "drawn")}
    await office.import_people(list(people.values()))
    ids = {name: await office.beneficiary_id(p.national_id) for name, p in people.items()}
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-OVERPAID-RECALL")).status_code == 201
    await office.run_cycle("2026-03")
    await office.run_cycle("2026-04")
    lines = []
    for name in ids:
        for period, day in (("2026-03", 10), ("2026-04", 10)):
            paid = await _payout(office, ids[name], period)
            booked = date(int(period[:4]), int(period[5:]), day)
            lines.append(debit(paid, booking_date=booked, value_date=booked,
                               booked_at=datetime(booked.year, booked.month, day, 9, 0, tzinfo=ict)))
    headers = await as_bank(office, VIETCOMBANK)
    response = await upload(office, headers, write_camt053(statement(
        VIETCOMBANK, lines, statement_id="SK-RECALL/1", closing_date=date(2026, 4, 12))), "recall.xml")
    assert response.status_code == 201, response.text
    march = {name: await _payout(office, ids[name], "2026-03") for name in ids}
    withdrawals = [
        {"account_number": march["kept"].account_number, "occurred_at": "2026-03-11T09:00:00+07:00",
         "amount": march["kept"].amount, "channel": "atm", "bank_ref": "RECALL-1"},
        {"account_number": march["drawn"].account_number, "occurred_at": "2026-04-11T09:00:00+07:00",
         "amount": 2 * march["drawn"].amount, "channel": "counter", "bank_ref": "RECALL-2"},
    ]
    sent = await office.client.post("/api/bank/withdrawals", headers=headers, json=withdrawals)
    assert sent.status_code == 200 and sent.json()["accepted"] == 2, sent.text
    for name in ids:
        await _event(office, ids[name], kind="deceased", effective_on="2026-03-15")
    listed = (await office.client.get("/api/reports/overpaid")).json()
    by_id = {item["beneficiary_id"]: item for item in listed["items"]}
    kept, drawn = by_id[ids["kept"]], by_id[ids["drawn"]]
    assert (kept["overpaid"], kept["undrawn"], kept["recallable"]) == (650_000, 650_000, 650_000)
    assert (drawn["overpaid"], drawn["undrawn"], drawn["recallable"]) == (650_000, 0, 0)
    assert listed["totals"]["recallable"] == 650_000 and listed["totals"]["overpaid"] == 1_300_000
    workbook = load_workbook(io.BytesIO((await office.client.get("/api/reports/overpaid?format=xlsx")).content))
    sheet = workbook.active
    header = next(row for row in sheet.iter_rows(values_only=True) if row and row[0] == "STT / No.")
    column = header.index("Trong đó còn chưa rút (đ) / Of which not withdrawn (VND)")
    recallable = [row[column] for row in sheet.iter_rows(values_only=True)
                  if row and isinstance(row[0], int)]
    assert sorted(recallable) == [0, 650_000]
    # The page's advice on recovering what is not withdrawn, next to it: the bank's for money in an account, and
    # none where everything was withdrawn (asked back from the family).
    advice_column = header.index("Cách thu hồi phần chưa rút / How to recover what is not withdrawn")
    assert advice_column == column + 1
    advice = {row[1]: (row[column], row[advice_column]) for row in sheet.iter_rows(values_only=True)
              if row and isinstance(row[0], int)}
    assert advice == {
        people["kept"].full_name: (650_000, "còn trong tài khoản: có thể đề nghị ngân hàng thu hồi / "
                                            "still in the account: the bank can be asked to recall it"),
        people["drawn"].full_name: (0, None)}
    assert header[-1] == "Lý do / Reason"
    page = await office.client.get(f"/beneficiaries/{ids['kept']}")
    assert "Trong đó 650.000 đ còn chưa rút (còn trong tài khoản: có thể đề nghị ngân hàng thu hồi)" in page.text
    assert kept["channels"] == ["bank"] and "hoàn trả tiền mặt" not in kept["recall_advice_vi"]


async def test_the_advice_for_what_is_not_withdrawn_follows_the_channel_that_paid_it(office):
    """Cash paid for March and April and not handed over, then a death on 15 March: April's cash is still at the
    commune, so the advice is to return it (a cash return), not to ask a bank to recall it (the bank's advice is
    for money in an account: see the test above)."""
    faker = BeneficiaryFaker(seed=53)
    cash_person = person(faker, bank=None, start="2026-03")
    await office.import_people([cash_person])
    beneficiary_id = await office.beneficiary_id(cash_person.national_id)
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-OVERPAID-CASH")).status_code == 201
    await office.run_cycle("2026-03")
    await office.run_cycle("2026-04")
    await _event(office, beneficiary_id, kind="deceased", effective_on="2026-03-15")
    (cash,) = (await office.client.get("/api/reports/overpaid")).json()["items"]
    assert (cash["overpaid"], cash["undrawn"], cash["recallable"]) == (650_000, 1_300_000, 650_000)
    assert cash["channels"] == ["cash"] and cash["details"][0]["channel"] == "cash"
    assert cash["recall_advice_vi"] == "còn ở xã/phường, chưa giao: nộp lại (hoàn trả tiền mặt)"
    assert cash["recall_advice_en"] == "still held by the commune, not handed over: return it (cash return)"
    page = await office.client.get(f"/beneficiaries/{beneficiary_id}", params={"lang": "vi"})
    notice = page.text.split('id="overpaid-notice"')[1].split("</section>")[0]
    assert "Trong đó 650.000 đ còn chưa rút (còn ở xã/phường, chưa giao: nộp lại (hoàn trả tiền mặt))" in notice
    assert "ngân hàng" not in notice
    english = await office.client.get(f"/beneficiaries/{beneficiary_id}", params={"lang": "en"})
    assert "still held by the commune, not handed over: return it (cash return)" in english.text
    listing = await office.client.get("/reports/overpaid", params={"lang": "vi"})
    row = listing.text.split('id="overpaid-list"')[1].split("</table>")[0]
    assert "còn ở xã/phường, chưa giao: nộp lại (hoàn trả tiền mặt)" in row and "đề nghị ngân hàng" not in row
    # The Excel says the same, in its column next to the amount not withdrawn.
    sheet = load_workbook(io.BytesIO((await office.client.get("/api/reports/overpaid?format=xlsx")).content)).active
    rows = list(sheet.iter_rows(values_only=True))
    header = next(row for row in rows if row and row[0] == "STT / No.")
    (data,) = [row for row in rows if row and isinstance(row[0], int)]
    assert data[header.index("Trong đó còn chưa rút (đ) / Of which not withdrawn (VND)")] == 650_000
    assert data[header.index("Cách thu hồi phần chưa rút / How to recover what is not withdrawn")] == (
        "còn ở xã/phường, chưa giao: nộp lại (hoàn trả tiền mặt) / "
        "still held by the commune, not handed over: return it (cash return)")
