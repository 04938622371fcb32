"""The forms of a person's page: an officer registers a bank account, corrects details and records status
events; commune staff ask for an account and an officer confirms or refuses it (on the person's page or the
list of requests). Refusals of the service show on the form with what was typed; roles and scope hold."""

from __future__ import annotations

import html
import re
from datetime import date

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker
from tests.app.registry.conftest import person_json
from tests.support.actors import add_user
from tests.support.pages import csrf_in, sign_in_on_page, signed_in_page
from tests.support.world import BIDV, CAO_BANG_COMMUNE, HANOI_COMMUNE, VIETCOMBANK, Office, person


async def _people(client, engine):
    """A person of Hoàn Kiếm with a Vietcombank account, one of Cao Bằng paid in cash; commune staff of each."""
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=5)
    hanoi = person(faker, commune=HANOI_COMMUNE)
    rural = person(faker, commune=CAO_BANG_COMMUNE, bank=None)
    await office.import_people([hanoi, rural])
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,))
    await add_user(engine, "xa.caobang", Role.commune_staff, communes=(CAO_BANG_COMMUNE,))
    hanoi_id = await office.beneficiary_id(hanoi.national_id)
    rural_id = await office.beneficiary_id(rural.national_id)
    client.cookies.clear()
    return office, hanoi, hanoi_id, rural_id


def _form(page_html: str, form_id: str) -> str:
    """One form of a page, by its id (unescaped)."""
    match = re.search(rf'<form [^>]*id="{form_id}".*?</form>', page_html, re.S)
    assert match is not None, f"no form {form_id} on the page"
    return html.unescape(match.group(0))


def _request_item(page_html: str, request_id: str) -> str:
    """One request of a list (its facts and decision forms), unescaped."""
    match = re.search(rf'<li id="request-{request_id}">.*?</li>', page_html, re.S)
    assert match is not None, f"no request {request_id} on the page"
    return html.unescape(match.group(0))


def _value(form_html: str, name: str) -> str | None:
    match = re.search(rf'<input [^>]*name="{name}" value="([^"]*)"', form_html)
    return match.group(1) if match else None


async def _accounts(engine, beneficiary_id: str) -> list[tuple[str, str, bool]]:
    async with session_scope(engine) as session:
        rows = await session.execute(text(
            """SELECT bank_bin, account_number, effective_to IS NULL FROM bank_account WHERE beneficiary_id = :id
                ORDER BY id"""), {"id": beneficiary_id})
        return [tuple(row) for row in rows]


async def _switch(client, username: str, path: str):
    client.cookies.clear()
    return await signed_in_page(client, username, path)


async def test_an_officer_registers_a_corrected_account_and_refusals_keep_what_was_typed(client, engine):
    _, hanoi, hanoi_id, rural_id = await _people(client, engine)
    path = f"/beneficiaries/{hanoi_id}"
    page, token = await signed_in_page(client, "lan.officer", path)
    form = _form(page.text, "account-form")
    assert f'action="{path}/bank-accounts"' in form and "Đăng ký tài khoản" in form
    assert '<option value="970418">BIDV — 970418</option>' in form
    assert "Gửi đề nghị" not in page.text  # officers register directly, no request

    # a bad number and an unknown bank: both messages, at their inputs, and the typed values are kept
    bad = await client.post(f"{path}/bank-accounts", data={"_csrf": token, "bank_bin": "999999",
                                                           "account_number": "12-AB", "holder_name": "Trần Thị B"})
    assert bad.status_code == 422
    form = _form(bad.text, "account-form")
    assert "Số tài khoản '12-AB' phải gồm 6 đến 19 chữ số" in form
    assert "Ngân hàng '999999' không có trong danh sách" in form
    assert _value(form, "account_number") == "12-AB" and _value(form, "holder_name") == "Trần Thị B"
    assert 'id="account_number-error"' in form and 'aria-invalid="true"' in form
    assert '<details id="new-account" open>' in bad.text  # the refused form is open
    assert 'class="error-summary"' in bad.text
    english = await client.post(f"{path}/bank-accounts?lang=en", data={
        "_csrf": token, "bank_bin": BIDV, "account_number": "12", "holder_name": ""})
    assert english.status_code == 422
    assert "The account number '12' must have 6 to 19 digits" in _form(english.text, "account-form")
    assert '<option value="970418" selected>' in english.text  # the bank chosen stays chosen
    assert await _accounts(engine, hanoi_id) == [(VIETCOMBANK, hanoi.account_number, True)]

    # a refusal without field errors (409): the service's reason at the top of the form, the input kept
    async with session_scope(engine) as session:
        await session.execute(text(
            """INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, created_by,
                                         effective_from)
               SELECT id, :bin, '1200000000777', 'NGUOI KHAC', 'test', DATE '2026-01-01' FROM beneficiary
                WHERE id = :id"""), {"bin": BIDV, "id": rural_id})
    taken = await client.post(f"{path}/bank-accounts?lang=vi", data={"_csrf": token, "bank_bin": BIDV,
                                                             "account_number": "1200000000777"})
    assert taken.status_code == 409
    form = _form(taken.text, "account-form")
    assert "Số tài khoản này đang là tài khoản của một người hưởng khác" in form
    assert _value(form, "account_number") == "1200000000777"

    done = await client.post(f"{path}/bank-accounts", data={"_csrf": token, "bank_bin": BIDV,
                                                           "account_number": "1200 0000 0888", "holder_name": ""},
                             follow_redirects=False)
    assert done.status_code == 303 and done.headers["location"] == f"{path}?done=account_registered#accounts-heading"
    after = await client.get(done.headers["location"])
    assert "Đã đăng ký tài khoản mới; tài khoản cũ được giữ trong lịch sử." in after.text
    assert await _accounts(engine, hanoi_id) == [(VIETCOMBANK, hanoi.account_number, False),
                                                 (BIDV, "120000000888", True)]
    assert "120000000888" in after.text and hanoi.account_number in after.text  # the old one is history


async def test_commune_staff_ask_for_an_account_and_an_officer_refuses_then_confirms(client, engine):
    _, hanoi, hanoi_id, _ = await _people(client, engine)
    path = f"/beneficiaries/{hanoi_id}"
    page, token = await signed_in_page(client, "xa.hoankiem", path)
    form = _form(page.text, "account-form")
    assert "Gửi đề nghị" in form and 'name="account_note"' in form
    assert 'id="edit-form"' not in page.text and 'id="event-form"' not in page.text  # commune staff only read
    refused = await client.post(f"{path}/bank-accounts", data={"_csrf": token, "bank_bin": BIDV,
                                                              "account_number": "", "account_note": "bà mở TK mới"})
    assert refused.status_code == 422 and "Thiếu số tài khoản" in refused.text
    assert _value(_form(refused.text, "account-form"), "account_note") == "bà mở TK mới"
    filed = await client.post(f"{path}/bank-accounts", data={"_csrf": token, "bank_bin": BIDV,
                                                            "account_number": "12010000123456",
                                                            "account_note": "bà mở TK mới"}, follow_redirects=False)
    assert filed.status_code == 303 and "done=account_requested" in filed.headers["location"]
    waiting = await client.get(filed.headers["location"])
    assert "Đã gửi đề nghị; cán bộ cấp tỉnh sẽ xác nhận." in waiting.text
    assert "Đề nghị đổi tài khoản đang chờ duyệt" in waiting.text and "bà mở TK mới" in waiting.text
    assert 'id="account-form"' not in waiting.text  # one pending request per person
    assert "/confirm" not in waiting.text  # commune staff do not decide
    assert await _accounts(engine, hanoi_id) == [(VIETCOMBANK, hanoi.account_number, True)]  # not yet
    mine = await client.get("/bank-account-requests")
    assert mine.status_code == 200 and hanoi.full_name in mine.text and "/confirm" not in mine.text
    assert (await client.post("/bank-account-requests/1/confirm", data={"_csrf": token})).status_code == 403

    # the officer sees it in the list of all pending requests; refusing needs a reason, the note is kept
    listed, token = await _switch(client, "lan.officer", "/bank-account-requests")
    assert listed.status_code == 200 and "1 đề nghị" in listed.text and hanoi.full_name in listed.text
    request_id = re.search(r'action="/bank-account-requests/(\d+)/confirm"', listed.text).group(1)
    no_reason = await client.post(f"/bank-account-requests/{request_id}/reject",
                                  data={"_csrf": token, "back": "list", "decision_note": "  "})
    assert no_reason.status_code == 422
    decision = _request_item(no_reason.text, request_id)
    assert "Cần ghi lý do từ chối để cán bộ xã biết phải sửa gì" in decision
    assert '<details open>' in decision and f'id="decision-{request_id}-note"' in decision
    rejected = await client.post(f"/bank-account-requests/{request_id}/reject", follow_redirects=False,
                                 data={"_csrf": token, "back": "list", "decision_note": "Sai số tài khoản"})
    assert rejected.status_code == 303 and rejected.headers["location"] == "/bank-account-requests?done=request_rejected"
    assert "Không có đề nghị nào." in (await client.get(rejected.headers["location"])).text
    again = await client.post(f"/bank-account-requests/{request_id}/confirm",
                              data={"_csrf": token, "back": "list", "decision_note": ""})
    assert again.status_code == 409 and "Yêu cầu đã được xử lý (rejected)" in again.text
    refused_list = await client.get("/bank-account-requests?status=rejected")
    assert "Sai số tài khoản" in refused_list.text and "Đã từ chối" in refused_list.text

    # commune staff read why, and ask again; the officer confirms on the person's page
    page, token = await _switch(client, "xa.hoankiem", path)
    assert "Các đề nghị đã xử lý (1)" in page.text and "Sai số tài khoản" in page.text
    filed = await client.post(f"{path}/bank-accounts", data={"_csrf": token, "bank_bin": BIDV,
                                                            "account_number": "12010000654321"})
    assert filed.status_code == 200  # followed to the page
    page, token = await _switch(client, "lan.officer", path)
    assert "Đề nghị đổi tài khoản đang chờ duyệt" in page.text and "12010000654321" in page.text
    request_id = re.search(r'action="/bank-account-requests/(\d+)/confirm"', page.text).group(1)
    confirmed = await client.post(f"/bank-account-requests/{request_id}/confirm", follow_redirects=False,
                                  data={"_csrf": token, "back": "person", "decision_note": ""})
    assert confirmed.status_code == 303
    assert confirmed.headers["location"] == f"{path}?done=request_confirmed#accounts-heading"
    after = await client.get(confirmed.headers["location"])
    assert "Đã xác nhận: tài khoản mới đang được dùng." in after.text
    assert await _accounts(engine, hanoi_id) == [(VIETCOMBANK, hanoi.account_number, False),
                                                 (BIDV, "12010000654321", True)]
    page, _ = await _switch(client, "xa.hoankiem", path)
    assert "Các đề nghị đã xử lý (2)" in page.text and "Đã xác nhận" in page.text


async def test_an_officer_corrects_details_and_records_status_events(client, engine):
    _, hanoi, hanoi_id, _ = await _people(client, engine)
    path = f"/beneficiaries/{hanoi_id}"
    page, token = await signed_in_page(client, "lan.officer", path)
    form = _form(page.text, "edit-form")
    assert _value(form, "full_name") == hanoi.full_name and _value(form, "national_id") == hanoi.national_id
    current = {name: _value(form, name) or "" for name in ("full_name", "national_id", "date_of_birth", "address",
                                                             "phone")}
    fields = {**current, "sex": hanoi.sex, "channel": "bank", "_csrf": token}

    unchanged = await client.post(f"{path}/edit", data=fields, follow_redirects=False)
    assert unchanged.headers["location"] == f"{path}?done=unchanged"
    bad = await client.post(f"{path}/edit", data={**fields, "phone": "12ab", "address": "Số 5 ngõ 10",
                                                  "date_of_birth": hanoi.date_of_birth.isoformat()})
    assert bad.status_code == 422
    form = _form(bad.text, "edit-form")
    assert "Số điện thoại '12ab' không hợp lệ" in form
    assert _value(form, "phone") == "12ab" and _value(form, "address") == "Số 5 ngõ 10"
    assert '<details id="edit-box" open>' in bad.text
    wrong_date = await client.post(f"{path}/edit", data={**fields, "date_of_birth": "31/02/1950"})
    assert wrong_date.status_code == 422 and "Ngày không hợp lệ" in wrong_date.text
    assert _value(_form(wrong_date.text, "edit-form"), "date_of_birth") == "31/02/1950"
    saved = await client.post(f"{path}/edit", data={**fields, "phone": "0912 345 678", "address": "Số 5 ngõ 10"},
                              follow_redirects=False)
    assert saved.headers["location"] == f"{path}?done=edited"
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT phone, address, full_name FROM beneficiary WHERE id = :id"),
                                     {"id": hanoi_id})).one()
        audited = await session.scalar(text(
            "SELECT after FROM audit_log WHERE action = 'beneficiary.update' AND object_id = :id"), {"id": hanoi_id})
    assert tuple(row) == ("0912345678", "Số 5 ngõ 10", hanoi.full_name)
    assert audited == {"phone": "0912345678", "address": "Số 5 ngõ 10"}  # only what changed

    # events: a death needs its date; a move needs a known commune; a suspension works
    page = await client.get(path)
    event_form = _form(page.text, "event-form")
    assert re.findall(r'<option value="(\w+)"', event_form) == ["suspended", "moved", "deceased"]
    no_date = await client.post(f"{path}/events", data={"_csrf": token, "event_kind": "deceased",
                                                        "effective_on": "", "event_reason": "giấy báo tử 12"})
    assert no_date.status_code == 422 and "Cần ngày mất" in _form(no_date.text, "event-form")
    assert _value(_form(no_date.text, "event-form"), "event_reason") == "giấy báo tử 12"
    nowhere = await client.post(f"{path}/events", data={"_csrf": token, "event_kind": "moved", "to_commune": "99999"})
    assert nowhere.status_code == 422 and "Mã xã '99999' không tồn tại" in _form(nowhere.text, "event-form")
    suspended = await client.post(f"{path}/events", follow_redirects=False, data={
        "_csrf": token, "event_kind": "suspended", "effective_on": "2026-02-01", "event_reason": "đi viện dài ngày"})
    assert suspended.headers["location"] == f"{path}?done=event#events-heading"
    page = await client.get(suspended.headers["location"])
    assert "Đã ghi nhận thay đổi trạng thái." in page.text and "01/02/2026 — Tạm dừng: đi viện dài ngày" in page.text
    assert re.findall(r'<option value="(\w+)"', _form(page.text, "event-form")) == ["resumed", "moved", "deceased"]
    twice = await client.post(f"{path}/events", data={"_csrf": token, "event_kind": "suspended"})
    assert twice.status_code == 409 and "Chỉ tạm dừng được người đang hưởng" in _form(twice.text, "event-form")

    # a province officer who moves a person out of their province lands on the list, told so
    await add_user(engine, "ha.hanoi", Role.officer, provinces=("01",))
    page, token = await _switch(client, "ha.hanoi", path)
    moved = await client.post(f"{path}/events", follow_redirects=False, data={
        "_csrf": token, "event_kind": "moved", "to_commune": CAO_BANG_COMMUNE, "effective_on": "2026-02-02"})
    assert moved.headers["location"] == "/beneficiaries?done=moved_away"
    assert (await client.get(path)).status_code == 404


async def test_roles_and_scope_on_the_person_forms(client, engine):
    _, _, hanoi_id, rural_id = await _people(client, engine)
    path = f"/beneficiaries/{hanoi_id}"
    account = {"bank_bin": BIDV, "account_number": "12010000123456"}

    # commune staff: no direct registration path beyond a request, no corrections, no events, no decisions
    page, token = await signed_in_page(client, "xa.hoankiem", path)
    for post_path, data in ((f"{path}/edit", {"phone": "0912345678"}), (f"{path}/events", {"event_kind": "suspended"}),
                            ("/bank-account-requests/1/reject", {"decision_note": "x"})):
        denied = await client.post(post_path, data={"_csrf": token, **data})
        assert denied.status_code == 403, post_path
    # commune staff of another commune: the person does not exist for them, page or form
    page, token = await _switch(client, "xa.caobang", path)
    assert page.status_code == 404
    outside = await client.post(f"{path}/bank-accounts", data={"_csrf": token, **account})
    assert outside.status_code == 404
    assert (await client.get(f"/beneficiaries/{rural_id}")).status_code == 200

    # auditors read: no forms, and every post is refused
    page, token = await _switch(client, "thu.auditor", path)
    assert page.status_code == 200
    for form_id in ("account-form", "edit-form", "event-form"):
        assert f'id="{form_id}"' not in page.text
    for post_path in (f"{path}/bank-accounts", f"{path}/edit", f"{path}/events"):
        assert (await client.post(post_path, data={"_csrf": token, **account})).status_code == 403, post_path
    listed = await client.get("/bank-account-requests")
    assert listed.status_code == 200 and "/confirm" not in listed.text
    assert len(await _accounts(engine, hanoi_id)) == 1  # nothing of the refused posts was stored

    # a form without the session's token is refused
    client.cookies.clear()
    await sign_in_on_page(client, "lan.officer")
    assert (await client.post(f"{path}/bank-accounts", data=account)).status_code == 403
    assert csrf_in((await client.get(path)).text)


async def test_requests_name_who_asked_and_who_decided(client, engine):
    _, _, hanoi_id, _ = await _people(client, engine)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE staff_user SET full_name = 'Phạm Thị Hoa' WHERE username = 'xa.hoankiem'"))
        await session.execute(text("UPDATE staff_user SET full_name = 'Trần Thị Lan' WHERE username = 'lan.officer'"))
    path = f"/beneficiaries/{hanoi_id}"
    page, token = await signed_in_page(client, "xa.hoankiem", path)
    filed = await client.post(f"{path}/bank-accounts", data={"_csrf": token, "bank_bin": BIDV,
                                                            "account_number": "12010000123456"})
    assert filed.status_code == 200 and "bởi Phạm Thị Hoa (xa.hoankiem) lúc" in filed.text
    listed, token = await _switch(client, "lan.officer", "/bank-account-requests")
    request_id = re.search(r'action="/bank-account-requests/(\d+)/confirm"', listed.text).group(1)
    assert "bởi Phạm Thị Hoa (xa.hoankiem) lúc" in _request_item(listed.text, request_id)
    await client.post(f"/bank-account-requests/{request_id}/reject",
                      data={"_csrf": token, "back": "list", "decision_note": "Sai số tài khoản"})
    refused = _request_item((await client.get("/bank-account-requests?status=rejected")).text, request_id)
    assert "Đã từ chối</span> Trần Thị Lan (lan.officer) ·" in refused
    person_page, _ = await _switch(client, "xa.hoankiem", path)
    decided = html.unescape(re.search(r"Các đề nghị đã xử lý.*?</details>", person_page.text, re.S).group(0))
    assert "Trần Thị Lan (lan.officer) ·" in decided and "Phạm Thị Hoa (xa.hoankiem)" in decided
    # The API keeps the usernames.
    requests = (await client.get("/api/bank-account-requests?status=rejected")).json()
    assert [(r["requested_by"], r["decided_by"]) for r in requests] == [("xa.hoankiem", "lan.officer")]


async def test_a_corrected_birth_date_that_no_longer_fits_the_category_is_saved_and_noticed(client, engine):
    office, _, _, _ = await _people(client, engine)
    office.current = ""  # _people signed the shared client out
    await office.be("lan.officer")
    # 80 on 15/01/2026, enrolled as 80+ from January 2026
    created = await office.post("/api/beneficiaries", json=person_json(
        "Đỗ Thị Tám", born=date(1946, 1, 15), serial=135790, enrolments=[
            {"programme": "TGXH", "category": "NCT_NGHEO_80", "start_month": "2026-01",
             "decision_number": "9/QĐ-UBND"}]))
    assert created.status_code == 201, created.text
    person_id = created.json()["id"]
    path = f"/beneficiaries/{person_id}"
    client.cookies.clear()
    office.current = ""
    page, token = await signed_in_page(client, "lan.officer", path)
    assert 'id="age-warnings"' not in page.text
    form = _form(page.text, "edit-form")
    fields = {**{name: _value(form, name) or "" for name in ("full_name", "national_id", "address", "phone")},
              "sex": "female", "channel": created.json()["channel"], "_csrf": token}

    fits = await client.post(f"{path}/edit", data={**fields, "date_of_birth": "1946-01-02"}, follow_redirects=False)
    assert fits.headers["location"] == f"{path}?done=edited"
    assert 'id="age-warnings"' not in (await client.get(fits.headers["location"])).text

    # Born in February after all: 79 in January. Saved, and the page says what no longer fits and what to do.
    breaks = await client.post(f"{path}/edit", data={**fields, "date_of_birth": "1946-02-20"},
                               follow_redirects=False)
    assert breaks.status_code == 303
    assert breaks.headers["location"] == f"{path}?done=edited_age_warning#age-warnings"
    answer = await client.get(breaks.headers["location"])
    assert "Đã lưu thông tin đã sửa. Lưu ý: với ngày sinh mới" in answer.text
    notice = html.unescape(re.search(r'<section class="age-warnings".*?</section>', answer.text, re.S).group(0))
    assert "Đối tượng hưởng không hợp với tuổi" in notice
    assert "Quyết định số 9/QĐ-UBND (TGXH, hưởng từ tháng 01/2026) không còn hợp với ngày sinh" in notice
    assert "người sinh ngày 20/02/1946 được 79 tuổi vào tháng bắt đầu hưởng 01/2026" in notice
    assert '<a class="warn" href="#age-warnings">không hợp tuổi</a>' in answer.text  # on the enrolment's row
    assert "20/02/1946" in re.search(r'id="identity-heading".*?</dl>', answer.text, re.S).group(0)
    async with session_scope(engine) as session:
        after = await session.scalar(text(
            """SELECT after FROM audit_log WHERE action = 'beneficiary.update' AND object_id = :id
                ORDER BY id DESC LIMIT 1"""), {"id": person_id})
    assert after["date_of_birth"] == "1946-02-20" and after["warnings"][0]["category"] == "NCT_NGHEO_80"

    # A lasting notice: on any later visit, in either language, and for commune staff reading the person too.
    later = await client.get(path)
    assert 'id="age-warnings"' in later.text and "Lưu ý: với ngày sinh mới" not in later.text
    english = await client.get(path + "?lang=en")
    assert "Category does not fit the age" in english.text
    assert "someone born on 20/02/1946 is 79 in the start month 01/2026" in html.unescape(english.text)
    assert "Decision 9/QĐ-UBND (TGXH, from 01/2026) no longer fits" in html.unescape(english.text)
    page, _ = await _switch(client, "xa.hoankiem", path + "?lang=vi")
    assert 'id="age-warnings"' in page.text and 'id="edit-form"' not in page.text

    # Corrected to a date that fits again: the notice is gone.
    page, token = await _switch(client, "lan.officer", path)
    fixed = await client.post(f"{path}/edit", data={**fields, "_csrf": token, "date_of_birth": "1946-01-15"})
    assert fixed.status_code == 200 and "Đã lưu thông tin đã sửa." in fixed.text
    assert 'id="age-warnings"' not in fixed.text and "không hợp tuổi" not in fixed.text


async def _enrolments(engine, beneficiary_id: str) -> list[tuple[str, date, date | None, str]]:
    async with session_scope(engine) as session:
        rows = await session.execute(text(
            """SELECT category_code, start_month, end_month, decision_number FROM enrolment
                WHERE beneficiary_id = :id ORDER BY id"""), {"id": beneficiary_id})
        return [tuple(row) for row in rows]


async def _audited(engine, beneficiary_id: str, action: str) -> list[tuple[str, dict, dict]]:
    async with session_scope(engine) as session:
        rows = await session.execute(text(
            "SELECT actor, before, after FROM audit_log WHERE action = :action AND object_id = :id ORDER BY id"),
            {"action": action, "id": beneficiary_id})
        return [tuple(row) for row in rows]


async def _person_warned_of_age(client, engine):
    """A person enrolled as 80+ from 01/2026 whose date of birth an officer corrected to one that makes her 79
    then: the page warns of the enrolment. The officer is signed in; answers (path, person id, enrolment id,
    csrf token)."""
    office, _, _, _ = await _people(client, engine)
    office.current = ""
    await office.be("lan.officer")
    created = await office.post("/api/beneficiaries", json=person_json(
        "Đỗ Thị Tám", born=date(1946, 1, 15), serial=135791, enrolments=[
            {"programme": "TGXH", "category": "NCT_NGHEO_80", "start_month": "2026-01",
             "decision_number": "9/QĐ-UBND"}]))
    assert created.status_code == 201, created.text
    person_id, enrolment_id = created.json()["id"], created.json()["enrolments"][0]["id"]
    patched = await client.patch(f"/api/beneficiaries/{person_id}", json={"date_of_birth": "1946-02-20"},
                                 headers=office.csrf)
    assert patched.status_code == 200 and patched.json()["warnings"][0]["enrolment_id"] == enrolment_id
    client.cookies.clear()
    office.current = ""
    path = f"/beneficiaries/{person_id}"
    page, token = await signed_in_page(client, "lan.officer", path)
    assert 'id="age-warnings"' in page.text
    return path, person_id, enrolment_id, token


async def test_an_officer_ends_the_enrolment_the_age_notice_names_from_the_page(client, engine):
    path, person_id, enrolment_id, token = await _person_warned_of_age(client, engine)
    page = await client.get(path)
    notice = re.search(r'<section class="age-warnings".*?</section>', page.text, re.S).group(0)
    link = f"{path}?end={enrolment_id}#end-box-{enrolment_id}"
    assert f'<a href="{link}">Kết thúc quyết định này</a>' in notice
    assert f'<details id="end-box-{enrolment_id}">' in page.text  # closed until asked for
    opened = await client.get(link.partition("#")[0])
    assert f'<details id="end-box-{enrolment_id}" open>' in opened.text
    form = _form(opened.text, f"end-{enrolment_id}-form")
    assert f'action="{path}/enrolments/{enrolment_id}/end"' in form
    assert 'data-confirm="Kết thúc quyết định số 9/QĐ-UBND? Các tháng sau tháng kết thúc sẽ không được chi trả."' \
        in form
    assert "Kết thúc quyết định số 9/QĐ-UBND</button>" in form
    end_url = f"{path}/enrolments/{enrolment_id}/end"
    reason = "Không còn hợp tuổi theo ngày sinh đã sửa"

    # Refusals: the form comes back open with what was typed and why, in the page's language; nothing changes.
    before_start = await client.post(end_url, data={"_csrf": token, "end_month": "12/2025", "end_reason": reason})
    assert before_start.status_code == 422
    form = _form(before_start.text, f"end-{enrolment_id}-form")
    assert "Tháng kết thúc 12/2025 trước tháng bắt đầu hưởng 01/2026" in form
    assert f'id="end_month-{enrolment_id}-error"' in form
    assert _value(form, "end_month") == "12/2025" and _value(form, "end_reason") == reason
    assert f'<details id="end-box-{enrolment_id}" open>' in before_start.text
    no_reason = await client.post(end_url, data={"_csrf": token, "end_month": "01/2026", "end_reason": " "})
    assert no_reason.status_code == 422
    assert "Cần ghi lý do kết thúc hưởng" in _form(no_reason.text, f"end-{enrolment_id}-form")
    english = await client.post(end_url + "?lang=en", data={"_csrf": token, "end_month": "01/2026"})
    assert english.status_code == 422
    assert "Give the reason for ending the enrolment" in _form(english.text, f"end-{enrolment_id}-form")
    bad_month = await client.post(end_url + "?lang=vi", data={"_csrf": token, "end_month": "13/2026",
                                                              "end_reason": reason})
    assert bad_month.status_code == 422
    assert "Tháng '13/2026' không đúng dạng MM/YYYY hoặc YYYY-MM" in _form(bad_month.text, f"end-{enrolment_id}-form")
    blank = await client.post(end_url, data={"_csrf": token, "end_month": "", "end_reason": reason})
    assert blank.status_code == 422  # not a reopening: a blank month on the end form is refused
    assert "Cần tháng kết thúc (MM/YYYY, ví dụ 11/2026)." in _form(blank.text, f"end-{enrolment_id}-form")
    assert await _enrolments(engine, person_id) == [("NCT_NGHEO_80", date(2026, 1, 1), None, "9/QĐ-UBND")]
    assert await _audited(engine, person_id, "enrolment.end") == []
    elsewhere = await client.post(f"{path}/enrolments/999999/end", data={"_csrf": token, "end_month": "01/2026",
                                                                       "end_reason": reason})
    assert elsewhere.status_code == 404

    ended = await client.post(end_url, data={"_csrf": token, "end_month": "01/2026", "end_reason": reason},
                              follow_redirects=False)
    assert ended.status_code == 303
    assert ended.headers["location"] == f"{path}?done=enrolment_ended#enrolments-heading"
    assert await _enrolments(engine, person_id) == [("NCT_NGHEO_80", date(2026, 1, 1), date(2026, 1, 1),
                                                     "9/QĐ-UBND")]
    assert await _audited(engine, person_id, "enrolment.end") == [
        ("lan.officer", {"enrolment_id": enrolment_id, "end_month": None},
         {"enrolment_id": enrolment_id, "end_month": "2026-01-01", "reason": reason})]
    after = await client.get(ended.headers["location"])
    assert "Đã kết thúc quyết định hưởng; tháng kết thúc là tháng cuối cùng được chi trả." in after.text
    assert 'id="age-warnings"' not in after.text and "không hợp tuổi" not in after.text  # the warning is gone
    assert "01/2026 → 01/2026" in after.text
    assert f'id="end-{enrolment_id}-form"' not in after.text  # ended before this month: nothing more to end
    assert (await client.get(f"/api/beneficiaries/{person_id}")).json()["warnings"] == []


async def test_an_officer_adds_an_enrolment_from_the_page(client, engine):
    path, person_id, enrolment_id, token = await _person_warned_of_age(client, engine)
    page = await client.get(path)
    form = _form(page.text, "enrol-form")
    assert f'action="{path}/enrolments"' in form
    assert '<option value="TGXH/NCT_NGHEO_80">' in form and '<option value="NCC/MVNAH">' in form
    assert "Tháng bắt đầu hưởng" in form and 'placeholder="MM/YYYY"' in form
    fields = {"_csrf": token, "enrol_category": "TGXH/NCT_NGHEO_80", "enrol_start_month": "02/2026",
              "enrol_coefficient": "", "enrol_decision_number": "15/QĐ-UBND", "enrol_decision_date": "2026-02-10"}

    # Refusals: every field's message at its input, what was typed kept, nothing stored.
    bad = await client.post(f"{path}/enrolments", data={**fields, "enrol_start_month": "2026/02",
                                                        "enrol_decision_number": ""})
    assert bad.status_code == 422
    form = _form(bad.text, "enrol-form")
    assert "Tháng '2026/02' không đúng dạng MM/YYYY hoặc YYYY-MM" in form and "Thiếu số quyết định" in form
    assert _value(form, "enrol_start_month") == "2026/02"
    assert '<option value="TGXH/NCT_NGHEO_80" selected>' in form
    assert '<details id="enrol-box" open>' in bad.text
    too_young = await client.post(f"{path}/enrolments", data={**fields, "enrol_start_month": "01/2026"})
    assert too_young.status_code == 422
    assert "người sinh ngày 20/02/1946 được 79 tuổi vào tháng bắt đầu hưởng 01/2026" in html.unescape(
        _form(too_young.text, "enrol-form"))
    coefficient = await client.post(f"{path}/enrolments?lang=en", data={**fields, "enrol_coefficient": "abc"})
    assert coefficient.status_code == 422
    assert "The coefficient 'abc' is not a number" in _form(coefficient.text, "enrol-form")
    assert await _enrolments(engine, person_id) == [("NCT_NGHEO_80", date(2026, 1, 1), None, "9/QĐ-UBND")]
    registered = await _audited(engine, person_id, "enrolment.create")  # the registration's enrolment
    assert [after["decision_number"] for _, _, after in registered] == ["9/QĐ-UBND"]

    # 80 from February: enrolled in the category that fits from 02/2026, the category's coefficient.
    added = await client.post(f"{path}/enrolments?lang=vi", data=fields, follow_redirects=False)
    assert added.status_code == 303 and added.headers["location"] == f"{path}?done=enrolled#enrolments-heading"
    assert await _enrolments(engine, person_id) == [("NCT_NGHEO_80", date(2026, 1, 1), None, "9/QĐ-UBND"),
                                                    ("NCT_NGHEO_80", date(2026, 2, 1), None, "15/QĐ-UBND")]
    [(actor, _, after)] = (await _audited(engine, person_id, "enrolment.create"))[len(registered):]
    assert actor == "lan.officer"
    assert (after["category"], after["start_month"], after["decision_number"], after["decision_date"]) == (
        "NCT_NGHEO_80", "2026-02-01", "15/QĐ-UBND", "2026-02-10")
    page = await client.get(added.headers["location"].replace("?", "?lang=vi&"))
    assert "Đã lưu quyết định hưởng mới." in page.text and "02/2026 → …" in page.text
    # The same decision again: the service's 409 at the top of the form.
    again = await client.post(f"{path}/enrolments", data=fields)
    assert again.status_code == 409
    assert "Người này đã được hưởng NCT_NGHEO_80 từ tháng 02/2026" in _form(again.text, "enrol-form")
    # The old enrolment still does not fit until it is ended: the notice stays, its link to the end form too.
    assert f"?end={enrolment_id}#end-box-{enrolment_id}" in page.text


async def test_commune_staff_and_auditors_neither_see_nor_post_the_enrolment_forms(client, engine):
    path, person_id, enrolment_id, _ = await _person_warned_of_age(client, engine)
    end = {"end_month": "01/2026", "end_reason": "không còn hợp tuổi"}
    enrol = {"enrol_category": "TGXH/NCT_NGHEO_80", "enrol_start_month": "02/2026",
             "enrol_decision_number": "15/QĐ-UBND"}
    async with session_scope(engine) as session:
        commune = await session.scalar(text("SELECT commune_code FROM beneficiary WHERE id = :id"), {"id": person_id})
    await add_user(engine, "xa.tam", Role.commune_staff, communes=(commune,))
    for username in ("xa.tam", "thu.auditor"):
        page, token = await _switch(client, username, path)
        assert page.status_code == 200 and 'id="age-warnings"' in page.text  # they read the notice
        assert 'id="enrol-form"' not in page.text and f'id="end-{enrolment_id}-form"' not in page.text
        assert "?end=" not in page.text
        denied = await client.post(f"{path}/enrolments/{enrolment_id}/end", data={"_csrf": token, **end})
        assert denied.status_code == 403, username
        denied = await client.post(f"{path}/enrolments", data={"_csrf": token, **enrol})
        assert denied.status_code == 403, username
    assert await _enrolments(engine, person_id) == [("NCT_NGHEO_80", date(2026, 1, 1), None, "9/QĐ-UBND")]
    assert await _audited(engine, person_id, "enrolment.end") == []
    assert len(await _audited(engine, person_id, "enrolment.create")) == 1  # the registration's only
