"""The registry API through HTTP, as officers, commune staff and auditors call it."""

from datetime import UTC, date, datetime, timedelta, timezone

import msgspec
from sqlalchemy import text

from app.auth.models import Role
from app.registry.schemas import BeneficiaryIn
from app.registry.service import create_beneficiary
from app.vietnam_time import vietnam_today
from tests.app.registry.conftest import (
    AGRIBANK,
    CAO_BANG,
    HANOI_A,
    HANOI_B,
    VIETCOMBANK,
    create_person,
    person_json,
)


async def test_officer_creates_and_reads_a_beneficiary(client, callers, session):
    officer = await callers.officer()
    body = person_json(bank_account={"bank_bin": "Vietcombank", "account_number": "0011 0023 45678"},
                       enrolments=[{"programme": "TGXH", "category": "NCT_80", "start_month": "2025-01",
                                    "decision_number": "12/QĐ-UBND"}])
    response = await client.post("/api/beneficiaries", json=body, headers=officer)
    assert response.status_code == 201, response.text
    created = response.json()
    assert created["status"] == "active" and created["channel"] == "bank"
    assert created["bank_account"]["bank_bin"] == VIETCOMBANK
    assert created["bank_account"]["account_number"] == "0011002345678"
    assert created["bank_account"]["holder_name"] == "NGUYEN THI HOA"
    assert created["bank_account"]["verification_status"] == "unverified"
    assert created["enrolments"][0]["coefficient"] == "1.00" and created["payouts"] == []
    assert created["enrolments"][0]["monthly_amount"] in (500_000, 650_000)  # Hà Nội level from 2026-01
    detail = (await client.get(f"/api/beneficiaries/{created['id']}")).json()
    assert detail["national_id"] == body["national_id"] and detail["commune_name"] == "Phường Hoàn Kiếm"
    actions = (await session.execute(text("SELECT action FROM audit_log WHERE object_id = :id ORDER BY id"),
                                     {"id": created["id"]})).scalars().all()
    assert actions == ["beneficiary.create", "bank_account.replace", "enrolment.create"]


async def test_create_lists_every_bad_field(client, callers):
    officer = await callers.officer()
    body = person_json(national_id="003085012345", commune_code="99999", phone="12",
                       bank_account={"bank_bin": "NoSuchBank", "account_number": "12"})
    response = await client.post("/api/beneficiaries", json=body, headers=officer)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    columns = sorted(e["column"] for e in response.json()["errors"])
    # The citizen ID breaks three rules for a woman born in 1940: province, digit 4, digits 5-6.
    assert columns == ["bank_account.account_number", "bank_account.bank_bin", "commune_code", "national_id",
                       "national_id", "national_id", "phone"]
    assert all(e["message"] and e["message_en"] for e in response.json()["errors"])


async def test_duplicate_citizen_id_is_a_conflict(client, callers):
    officer = await callers.officer()
    await create_person(client, officer)
    response = await client.post("/api/beneficiaries", json=person_json(name="Lê Thị Lan"), headers=officer)
    assert response.status_code == 409


async def test_patch_corrects_details_but_not_status(client, callers, session):
    officer = await callers.officer()
    person = await create_person(client, officer, bank_account={"bank_bin": AGRIBANK, "account_number": "123456789"})
    response = await client.patch(f"/api/beneficiaries/{person['id']}", json={"full_name": "Nguyễn Thị Hòa Bình"},
                                  headers=officer)
    assert response.status_code == 200, response.text
    assert response.json()["full_name"] == "Nguyễn Thị Hòa Bình"
    assert response.json()["bank_account"]["verification_status"] == "name_mismatch"
    refused = await client.patch(f"/api/beneficiaries/{person['id']}", json={"status": "deceased"}, headers=officer)
    assert refused.status_code == 422 and "events" in refused.json()["errors"][0]["message_en"]
    before_after = (await session.execute(text(
        "SELECT before, after FROM audit_log WHERE action = 'beneficiary.update'"))).one()
    assert before_after[0] == {"full_name": "Nguyễn Thị Hoa"}
    assert before_after[1] == {"full_name": "Nguyễn Thị Hòa Bình"}


async def test_status_history_through_events(client, callers):
    officer = await callers.officer()
    person = await create_person(client, officer)
    url = f"/api/beneficiaries/{person['id']}/events"
    assert (await client.post(url, json={"kind": "suspended", "effective_on": "2025-03-01"},
                              headers=officer)).status_code == 201
    assert (await client.post(url, json={"kind": "resumed", "effective_on": "2025-02-01"},
                              headers=officer)).status_code == 422  # before the last event
    assert (await client.post(url, json={"kind": "resumed", "effective_on": "2025-05-01"},
                              headers=officer)).status_code == 201
    moved = await client.post(url, json={"kind": "moved", "to_commune": HANOI_B}, headers=officer)
    assert moved.status_code == 201 and moved.json()["from_commune"] == HANOI_A
    assert (await client.post(url, json={"kind": "deceased"}, headers=officer)).status_code == 422  # needs date
    died = await client.post(url, json={"kind": "deceased", "effective_on": vietnam_today().isoformat()},
                             headers=officer)
    assert died.status_code == 201 and died.json()["status_after"] == "deceased"
    assert (await client.post(url, json={"kind": "resumed"}, headers=officer)).status_code == 409
    history = (await client.get(url)).json()
    assert [e["kind"] for e in history] == ["registered", "suspended", "resumed", "moved", "deceased"]
    detail = (await client.get(f"/api/beneficiaries/{person['id']}")).json()
    assert detail["status"] == "deceased" and detail["commune_code"] == HANOI_B


async def test_new_account_replaces_the_old_one_which_stays_as_history(client, callers):
    officer = await callers.officer()
    person = await create_person(client, officer, bank_account={"bank_bin": VIETCOMBANK,
                                                                "account_number": "0011002345678"})
    url = f"/api/beneficiaries/{person['id']}/bank-accounts"
    response = await client.post(url, json={"bank_bin": AGRIBANK, "account_number": "1500205123456",
                                            "holder_name": "NGUYEN VAN KHAC"}, headers=officer)
    assert response.status_code == 201, response.text
    assert response.json()["verification_status"] == "name_mismatch"
    accounts = (await client.get(url)).json()
    assert [(a["bank_bin"], a["effective_to"] is None) for a in accounts] == [(AGRIBANK, True), (VIETCOMBANK, False)]
    other = await create_person(client, officer, name="Trần Văn Nam", sex="male", serial=2)
    taken = await client.post(f"/api/beneficiaries/{other['id']}/bank-accounts",
                              json={"bank_bin": AGRIBANK, "account_number": "1500205123456"}, headers=officer)
    assert taken.status_code == 409


async def test_commune_staff_request_and_officer_confirms(client, callers):
    officer = await callers.officer()
    person = await create_person(client, officer)
    staff = await callers.as_user("staff_a", Role.commune_staff, communes=(HANOI_A,))
    url = f"/api/beneficiaries/{person['id']}/bank-accounts"
    filed = await client.post(url, json={"bank_bin": "970418", "account_number": "12010000123456",
                                         "note": "Bà mở tài khoản mới"}, headers=staff)
    assert filed.status_code == 202, filed.text
    request_id = filed.json()["id"]
    assert filed.json()["status"] == "pending"
    again = await client.post(url, json={"bank_bin": "970418", "account_number": "12010000999999"}, headers=staff)
    assert again.status_code == 409
    assert (await client.get(f"/api/beneficiaries/{person['id']}")).json()["bank_account"] is None
    officer = await callers.officer()
    assert [r["id"] for r in (await client.get("/api/bank-account-requests")).json()] == [request_id]
    confirmed = await client.post(f"/api/bank-account-requests/{request_id}/confirm", json={}, headers=officer)
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    detail = (await client.get(f"/api/beneficiaries/{person['id']}")).json()
    assert detail["bank_account"]["account_number"] == "12010000123456" and detail["channel"] == "bank"
    twice = await client.post(f"/api/bank-account-requests/{request_id}/reject", json={}, headers=officer)
    assert twice.status_code == 409


async def test_refusing_a_request_needs_the_reason_commune_staff_will_read(client, callers):
    officer = await callers.officer()
    person = await create_person(client, officer)
    staff = await callers.as_user("staff_a", Role.commune_staff, communes=(HANOI_A,))
    filed = await client.post(f"/api/beneficiaries/{person['id']}/bank-accounts", headers=staff,
                              json={"bank_bin": "970418", "account_number": "12010000123456"})
    request_id = filed.json()["id"]
    officer = await callers.officer()
    for body in ({}, {"note": "   "}):
        no_reason = await client.post(f"/api/bank-account-requests/{request_id}/reject", json=body, headers=officer)
        assert no_reason.status_code == 422, no_reason.text
        assert [e["column"] for e in no_reason.json()["errors"]] == ["note"]
        assert no_reason.json()["errors"][0]["message"].startswith("Cần ghi lý do từ chối")
    rejected = await client.post(f"/api/bank-account-requests/{request_id}/reject", json={"note": "Sai chi nhánh"},
                                 headers=officer)
    assert rejected.status_code == 200 and rejected.json()["status"] == "rejected"
    assert rejected.json()["decision_note"] == "Sai chi nhánh"
    listed = (await client.get("/api/bank-account-requests?status=rejected")).json()
    assert [(r["id"], r["decision_note"]) for r in listed] == [(request_id, "Sai chi nhánh")]


async def test_enrolments_and_ending_them(client, callers):
    officer = await callers.officer()
    person = await create_person(client, officer, commune=CAO_BANG)
    url = f"/api/beneficiaries/{person['id']}/enrolments"
    added = await client.post(url, json={"programme": "TGXH", "category": "NKT_N_TE_NCT", "coefficient": 2.5,
                                         "start_month": "01/2025", "decision_number": "7/QĐ-UBND",
                                         "decision_date": "2024-12-20"}, headers=officer)
    assert added.status_code == 201, added.text
    assert added.json()["coefficient"] == "2.50" and added.json()["monthly_amount"] == 1_250_000
    duplicate = await client.post(url, json={"programme": "TGXH", "category": "NKT_N_TE_NCT",
                                             "start_month": "2025-01", "decision_number": "8"}, headers=officer)
    assert duplicate.status_code == 409
    wrong = await client.post(url, json={"programme": "HTXH", "category": "NKT_N", "start_month": "2025-13",
                                         "decision_number": ""}, headers=officer)
    assert wrong.status_code == 422
    assert sorted(e["column"] for e in wrong.json()["errors"]) == ["category", "decision_number", "start_month"]
    # Ending one says why (kept in the audit entry): without a reason, 422 and nothing changes.
    unexplained = await client.patch(f"{url}/{added.json()['id']}", json={"end_month": "2025-06"}, headers=officer)
    assert unexplained.status_code == 422 and [e["column"] for e in unexplained.json()["errors"]] == ["reason"]
    assert "Cần ghi lý do kết thúc hưởng" in unexplained.json()["errors"][0]["message"]
    ended = await client.patch(f"{url}/{added.json()['id']}", json={"end_month": "06/2025",
                                                                   "reason": "hết thời hạn hưởng"}, headers=officer)
    assert ended.status_code == 200 and ended.json()["end_month"] == "2025-06"
    assert ended.json()["monthly_amount"] is None
    early = await client.patch(f"{url}/{added.json()['id']}", json={"end_month": "2024-12", "reason": "nhầm"},
                               headers=officer)
    assert early.status_code == 422
    assert early.json()["errors"][0]["message_en"] == "The end month 12/2024 is before the start month 01/2025"
    reopened = await client.patch(f"{url}/{added.json()['id']}", json={"end_month": None}, headers=officer)
    assert reopened.status_code == 200 and reopened.json()["end_month"] is None


async def test_search_by_name_without_accents_id_and_phone(client, callers):
    officer = await callers.officer()
    hoa = await create_person(client, officer, name="Nguyễn Thị Hoa", serial=1, phone="0912000001")
    await create_person(client, officer, name="Nguyễn Thị Hoàng Anh", serial=2, phone="0912000002")
    await create_person(client, officer, name="Trần Văn Nam", sex="male", serial=3, phone="0912000003")

    async def names(q, **params):
        response = await client.get("/api/beneficiaries", params={"q": q, **params})
        assert response.status_code == 200, response.text
        return [item["full_name"] for item in response.json()["items"]]

    assert (await names("nguyen thi hoa"))[0] == "Nguyễn Thị Hoa"
    assert set(await names("nguyen thi hoa")) == {"Nguyễn Thị Hoa", "Nguyễn Thị Hoàng Anh"}
    assert await names("NGUYỄN THỊ HOÀNG") == ["Nguyễn Thị Hoàng Anh"]
    assert await names("tran nam") == ["Trần Văn Nam"]
    assert await names(hoa["national_id"]) == ["Nguyễn Thị Hoa"]
    assert await names("+84 912 000 003") == ["Trần Văn Nam"]
    assert await names("xyz") == []
    page = (await client.get("/api/beneficiaries", params={"page_size": 2, "page": 2})).json()
    assert page["total"] == 3 and page["page"] == 2 and len(page["items"]) == 1
    assert await names("nguyen", status="suspended") == []


async def test_search_results_and_the_listing_come_by_given_name_in_vietnamese_order(client, callers):
    officer = await callers.officer()
    names = ["Nguyễn Văn Tư", "Đặng Văn An", "Dương Thị Bình", "Lê Thị Ân", "Trần Văn Đức", "Bùi Văn An"]
    for serial, name in enumerate(names, start=1):
        await create_person(client, officer, name=name, serial=serial, phone=f"09120000{serial:02d}")
    listing = (await client.get("/api/beneficiaries", params={"page_size": 4})).json()
    rest = (await client.get("/api/beneficiaries", params={"page_size": 4, "page": 2})).json()
    # By given name (tên) as Vietnamese lists go, then the whole name; a ă â … d đ … z, not the database's "C"
    # order (Â, Đ after Z); searching "an": the same order.
    assert [i["full_name"] for i in listing["items"] + rest["items"]] == [
        "Bùi Văn An", "Đặng Văn An", "Lê Thị Ân", "Dương Thị Bình", "Trần Văn Đức", "Nguyễn Văn Tư"]
    found = (await client.get("/api/beneficiaries", params={"q": "an"})).json()
    assert [i["full_name"] for i in found["items"]] == ["Bùi Văn An", "Đặng Văn An", "Lê Thị Ân"]


async def test_commune_staff_cannot_read_or_search_another_commune(client, callers):
    officer = await callers.officer()
    in_a = await create_person(client, officer, name="Lê Thị Mai", serial=1, commune=HANOI_A,
                               bank_account={"bank_bin": VIETCOMBANK, "account_number": "0011002345678"})
    in_b = await create_person(client, officer, name="Lê Thị Lan", serial=2, commune=HANOI_B)
    await callers.as_user("staff_a", Role.commune_staff, communes=(HANOI_A,))
    assert (await client.get(f"/api/beneficiaries/{in_b['id']}")).status_code == 404
    assert (await client.get(f"/api/beneficiaries/{in_b['id']}/events")).status_code == 404
    listing = (await client.get("/api/beneficiaries", params={"q": "le thi"})).json()
    assert [i["full_name"] for i in listing["items"]] == ["Lê Thị Mai"] and listing["total"] == 1
    assert (await client.get("/api/beneficiaries", params={"q": in_b["national_id"]})).json()["total"] == 0
    own = (await client.get(f"/api/beneficiaries/{in_a['id']}")).json()
    assert own["national_id"] == "********" + in_a["national_id"][-4:]
    assert own["bank_account"]["account_number"] == "*********5678"
    staff = await callers.as_user("staff_a", Role.commune_staff)
    assert (await client.post(f"/api/beneficiaries/{in_b['id']}/bank-accounts",
                              json={"bank_bin": VIETCOMBANK, "account_number": "0011009999999"},
                              headers=staff)).status_code == 404
    assert (await client.post(f"/api/beneficiaries/{in_a['id']}/events", json={"kind": "suspended"},
                              headers=staff)).status_code == 403


async def test_province_officer_sees_only_their_province(client, callers):
    officer = await callers.officer()
    hanoi = await create_person(client, officer, serial=1, commune=HANOI_A)
    cao_bang = await create_person(client, officer, name="Hoàng Văn Sơn", sex="male", serial=2, commune=CAO_BANG)
    await callers.as_user("cb_officer", Role.officer, provinces=("04",))
    assert (await client.get(f"/api/beneficiaries/{hanoi['id']}")).status_code == 404
    assert (await client.get(f"/api/beneficiaries/{cao_bang['id']}")).status_code == 200
    assert [i["id"] for i in (await client.get("/api/beneficiaries")).json()["items"]] == [cao_bang["id"]]
    auditor = await callers.as_user("auditor", Role.auditor)
    assert (await client.get("/api/beneficiaries")).json()["total"] == 2
    assert (await client.post("/api/beneficiaries", json=person_json(serial=9), headers=auditor)).status_code == 403


async def test_programmes_and_rates(client, callers):
    officer = await callers.officer()
    programmes = {p["code"]: p for p in (await client.get("/api/programmes")).json()}
    assert set(programmes) == {"TGXH", "HTXH", "NCC"}
    tgxh = programmes["TGXH"]
    assert [(r["province_code"], r["effective_from"], r["base_amount"]) for r in tgxh["rates"]] == [
        (None, "2021-07-01", 360_000), (None, "2024-07-01", 500_000), ("01", "2026-01-01", 650_000)]
    assert {c["code"]: c["coefficient"] for c in tgxh["categories"]}["NCT_CSTT"] == "3.00"
    assert tgxh["pay_day"] == 10 and tgxh["benefit_group"] == programmes["HTXH"]["benefit_group"]
    added = await client.post("/api/programmes/TGXH/rates", json={"effective_from": "2027-01-01",
                                                                  "base_amount": 600_000}, headers=officer)
    assert added.status_code == 201, added.text
    again = await client.post("/api/programmes/TGXH/rates", json={"effective_from": "2027-01-01",
                                                                  "base_amount": 610_000}, headers=officer)
    assert again.status_code == 409
    mid_month = await client.post("/api/programmes/TGXH/rates", json={"effective_from": "2027-02-15",
                                                                      "base_amount": 0}, headers=officer)
    assert mid_month.status_code == 422 and len(mid_month.json()["errors"]) == 2
    assert (await client.post("/api/programmes/XYZ/rates", json={"effective_from": "2027-01-01",
                                                                 "base_amount": 1}, headers=officer)).status_code == 404
    hanoi_officer = await callers.as_user("hn_officer", Role.officer, provinces=("01",))
    national = await client.post("/api/programmes/TGXH/rates", json={"effective_from": "2028-01-01",
                                                                     "base_amount": 700_000}, headers=hanoi_officer)
    assert national.status_code == 422


async def test_banks_and_disbursement_accounts(client, callers, session):
    from app.registry.service import active_disbursement_account, is_disbursement_account

    officer = await callers.officer()
    banks = {b["bin"]: b for b in (await client.get("/api/banks")).json()}
    assert banks[VIETCOMBANK]["short_name"] == "Vietcombank" and banks[VIETCOMBANK]["disbursement_account"] is None
    url = f"/api/banks/{VIETCOMBANK}/disbursement-accounts"
    first = await client.post(url, json={"account_number": "0011000000001"}, headers=officer)
    assert first.status_code == 201, first.text
    same = await client.post(url, json={"account_number": "0011000000001"}, headers=officer)
    assert same.status_code == 200
    second = await client.post(url, json={"account_number": "0011000000002"}, headers=officer)
    assert second.status_code == 201
    assert [a["closed_at"] is None for a in (await client.get(url)).json()] == [True, False]
    assert (await client.get("/api/banks")).json()[0]["bin"]
    assert (await client.post("/api/banks/000000/disbursement-accounts", json={"account_number": "123456"},
                              headers=officer)).status_code == 404
    assert await active_disbursement_account(session, VIETCOMBANK) == "0011000000002"
    assert await is_disbursement_account(session, VIETCOMBANK, "0011-000000001")
    assert not await is_disbursement_account(session, AGRIBANK, "0011000000002")


async def test_registry_routes_are_in_the_openapi_document_and_guarded(client):
    from app.auth.guards import declared_roles
    from app.registry.routes import ROUTES

    document = (await client.get("/schema/openapi.json")).json()
    for path in ("/api/beneficiaries", "/api/beneficiaries/import", "/api/beneficiaries/{beneficiary_id}/events",
                 "/api/programmes/{code}/rates", "/api/banks/{bank_bin}/disbursement-accounts",
                 "/api/bank-account-requests/{request_id}/confirm"):
        assert path in document["paths"], path
    for controller in ROUTES:
        for handler in controller(owner=client.app).get_route_handlers():
            assert declared_roles(handler), handler
    assert (await client.get("/api/beneficiaries")).status_code == 401


async def test_registration_dates_are_the_vietnam_date_not_the_utc_one(session):
    # 06:57 on 01/12 in Việt Nam is still 30/11 in UTC (a server clock in UTC).
    before_seven = datetime(2026, 11, 30, 23, 57, tzinfo=UTC)
    body = msgspec.convert(person_json(bank_account={"bank_bin": VIETCOMBANK, "account_number": "0011002345678"}),
                           BeneficiaryIn)
    person_id = await create_beneficiary(session, body, None, now=before_seven)
    registered = await session.scalar(text(
        "SELECT effective_on FROM beneficiary_event WHERE beneficiary_id = :id AND kind = 'registered'"),
        {"id": person_id})
    account_from = await session.scalar(text(
        "SELECT effective_from FROM bank_account WHERE beneficiary_id = :id"), {"id": person_id})
    assert registered == date(2026, 12, 1)
    assert account_from == date(2026, 12, 1)


def test_vietnam_today_turns_at_midnight_in_vietnam():
    assert vietnam_today(datetime(2026, 11, 30, 16, 59, tzinfo=UTC)) == date(2026, 11, 30)
    assert vietnam_today(datetime(2026, 11, 30, 17, 0, tzinfo=UTC)) == date(2026, 12, 1)
    assert vietnam_today(datetime(2026, 12, 1, 6, 57, tzinfo=timezone(timedelta(hours=7)))) == date(2026, 12, 1)
