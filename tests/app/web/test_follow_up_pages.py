"""Follow-up, dashboard and reports pages: commune staff work the list on a phone-sized page, the
dashboard changes when they record an assisted withdrawal; scope is enforced on every page."""

import html
import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.web import follow_up as follow_up_pages
from app.web.templating import vnd
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, debit, statement, upload
from tests.support.actors import add_user
from tests.support.pages import csrf_in, signed_in_page
from tests.support.world import CAO_BANG_COMMUNE, HANOI_COMMUNE, VIETCOMBANK, Office


async def _credited_month(client, engine):
    """Three people of Hoàn Kiếm whose March money was credited by the bank's statement."""
    office = await Office(client, engine).setup()
    _, payouts = await build_world(office, vietcombank=3)
    headers = await as_bank(office, VIETCOMBANK)
    uploaded = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [debit(p) for p in payouts])),
                            "sk.xml")
    assert uploaded.status_code == 201, uploaded.text
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,))
    await add_user(engine, "xa.caobang", Role.commune_staff, communes=(CAO_BANG_COMMUNE,))
    client.cookies.clear()
    return payouts


async def test_commune_staff_record_a_visit_and_an_assisted_withdrawal_and_the_dashboard_changes(client, engine):
    payouts = await _credited_month(client, engine)
    before, _ = await signed_in_page(client, "xa.hoankiem", "/dashboard?period=2026-03")
    assert before.status_code == 200 and 'id="within-3d">0,0 %' in before.text
    assert "0 chưa rút đồng nào" not in before.text and "3 chưa rút đồng nào" in before.text
    listed = await client.get("/follow-up?min_days=7")
    assert listed.status_code == 200 and listed.text.count('class="card person"') == 3
    assert 'href="tel:' in listed.text and "Tải Excel (in khổ A4)" in listed.text
    person_path = re.search(r'action="(/follow-up/[0-9a-f-]{36})/note"', listed.text).group(1)
    noted = await client.post(person_path + "/note", data={"_csrf": csrf_in(listed.text), "kind": "visit",
                                                         "text": "Bà nhờ cán bộ đưa ra ngân hàng",
                                                         "min_days": "7"})
    assert noted.status_code == 200 and "Đã lưu liên hệ." in noted.text and "Thăm nhà" in noted.text
    amount = re.search(person_path + r'/withdrawal".*?name="amount"[^>]*value="(\d+)"', noted.text, re.S).group(1)
    withdrawn = await client.post(person_path + "/withdrawal", data={
        "_csrf": csrf_in(noted.text), "amount": amount, "occurred_at": "2026-03-11T10:00", "helper_name": "Phạm Thị Hoa",
        "note": "rút tại quầy", "min_days": "7"})
    assert withdrawn.status_code == 200 and "Đã ghi nhận rút tiền." in withdrawn.text
    assert withdrawn.text.count('class="card person"') == 2
    after = await client.get("/dashboard?period=2026-03")
    assert "1 đã rút hết" in after.text and "2 chưa rút đồng nào" in after.text
    assert 'id="within-3d">33,3 %' in after.text  # credited 10/03 09:15, withdrawn 11/03 10:00
    # One of three withdrew: the median is not reached (the two who have not count as the slowest).
    assert re.search(r'id="median-days"><abbr title="Chưa đến một nửa[^"]*">chưa đạt</abbr>', after.text)
    assert len(payouts) == 3
    # Recorded by mistake: cancelled from the person's page with a reason; the person waits again.
    person = await client.get(person_path.replace("/follow-up/", "/beneficiaries/"))
    assert "Các lần rút tiền" in person.text and re.search(r"Ghi nhận bởi [^<·]*xa\.hoankiem[^<·]* · người hỗ trợ: Phạm Thị Hoa: rút tại quầy", person.text)
    # The person page's contacts are the follow-up list's: the visit (recorded today), then the assisted
    # withdrawal (dated 11/03).
    contacts = re.search(r'id="contacts-heading".*?</ul>', person.text, re.S).group(0)
    assert re.findall(r"<li>[^<]*? — \s*([^·<]+?)\s*·", contacts) == ["Thăm nhà", "Hỗ trợ rút tiền"]
    cancel_path = re.search(r'action="(/follow-up/[0-9a-f-]{36}/withdrawal/\d+/cancel)"', person.text).group(1)
    cancelled = await client.post(cancel_path, data={"_csrf": csrf_in(person.text), "reason": "Ghi nhầm người"})
    assert cancelled.status_code == 200 and "Đã huỷ giao dịch ghi nhầm" in cancelled.text
    assert "Đã huỷ bởi xa.hoankiem" in cancelled.text and "Ghi nhầm người" in cancelled.text
    assert 'action="' + cancel_path not in cancelled.text  # nothing left to cancel
    assert "3 chưa rút đồng nào" in (await client.get("/dashboard?period=2026-03")).text
    contacts = re.search(r'id="contacts-heading".*?</ul>', cancelled.text, re.S).group(0)
    assert re.findall(r"<li>[^<]*? — \s*([^·<]+?)\s*·", contacts) == ["Thăm nhà"]  # a cancelled one is no contact
    # A refused form comes back with what was typed and the reason next to the field, and leads back to the
    # page it came from.
    page_path = person_path.replace("/follow-up/", "/beneficiaries/")
    future = await client.post(person_path + "/withdrawal", headers={"referer": f"http://testserver.local{page_path}"},
                               data={"_csrf": csrf_in(cancelled.text), "amount": "1000",
                                     "occurred_at": "2099-01-01T09:00", "back": "person"})
    assert future.status_code == 422
    assert re.search(r'<p class="field-error" id="occurred_at-error">\s*Thời gian ở tương lai', future.text)
    assert 'value="2099-01-01T09:00"' in future.text and 'name="amount" value="1000"' in future.text
    assert '<input type="hidden" name="back" value="person">' in future.text
    assert f'href="{page_path}"' in future.text and f'action="{person_path}/withdrawal"' in future.text


async def test_a_follow_up_page_shorter_than_the_list_shows_the_whole_lists_totals_and_says_so(client, engine,
                                                                                                 monkeypatch):
    payouts = await _credited_month(client, engine)
    everything = vnd(sum(p.amount for p in payouts))
    whole, _ = await signed_in_page(client, "xa.hoankiem", "/follow-up?min_days=7")
    assert whole.text.count('class="card person"') == 3
    assert f"3 người đã chờ từ 7 ngày trở lên, tổng {everything}" in whole.text
    assert 'id="follow-partial"' not in whole.text and 'class="pager"' not in whole.text
    names = re.findall(r'<h2><a href="/beneficiaries/[0-9a-f-]{36}">([^<]+)</a>', whole.text)
    monkeypatch.setattr(follow_up_pages, "PAGE_SIZE", 2)
    first = await client.get(f"/follow-up?commune={HANOI_COMMUNE}&min_days=7")
    assert first.text.count('class="card person"') == 2
    assert f"3 người đã chờ từ 7 ngày trở lên, tổng {everything}" in first.text  # not the two shown
    assert ("Đang hiện 2 / 3 người (số 1–2) — xem các trang khác bên dưới, hoặc tải Excel để có đủ danh sách"
            in first.text)
    next_page = f"/follow-up?commune={HANOI_COMMUNE}&amp;min_days=7&amp;page_number=2"
    assert f'href="{next_page}" rel="next"' in first.text and "Trang 1/2" in first.text
    second = await client.get(next_page.replace("&amp;", "&"))
    assert second.text.count('class="card person"') == 1 and '<ol class="people" start="3">' in second.text
    assert "Đang hiện 1 / 3 người (số 3–3)" in second.text and f"tổng {everything}" in second.text
    shown = re.findall(r'<h2><a href="/beneficiaries/[0-9a-f-]{36}">([^<]+)</a>', first.text + second.text)
    assert shown == names  # the two pages together are the whole list, in its order
    assert 'name="page_number" value="2"' in second.text  # a record made on page 2 comes back to page 2
    past = await client.get(f"/follow-up?commune={HANOI_COMMUNE}&min_days=7&page_number=9")
    assert past.status_code == 200 and "Đang hiện 1 / 3 người (số 3–3)" in past.text  # the last page
    english = await client.get("/follow-up?min_days=7&lang=en")
    assert "Showing 2 of 3 people (no. 1–2) — see the other pages below, or download Excel for the whole list" in (
        english.text)
    assert f"3 people waiting 7 days or more, {everything} in all" in english.text
    client.cookies.clear()
    other, _ = await signed_in_page(client, "xa.caobang", "/follow-up?min_days=7")
    assert "0 người đã chờ từ 7 ngày trở lên, tổng 0 đ" in other.text and 'id="follow-partial"' not in other.text
    assert (await client.get(f"/follow-up?commune={HANOI_COMMUNE}&page_number=2")).status_code == 403


async def test_scope_is_enforced_on_follow_up_and_dashboard(client, engine):
    await _credited_month(client, engine)
    page, token = await signed_in_page(client, "xa.caobang", "/follow-up")
    assert page.status_code == 200 and 'class="card person"' not in page.text
    outside = await client.get(f"/follow-up?commune={HANOI_COMMUNE}")
    assert outside.status_code == 403 and "phạm vi xã/phường" in outside.text
    assert "Xã/phường này không thuộc phạm vi của bạn" in outside.text  # the reason, not only "your role"
    assert (await client.get(f"/dashboard?commune={HANOI_COMMUNE}")).status_code == 403
    client.cookies.clear()
    page, _ = await signed_in_page(client, "xa.hoankiem", "/follow-up")
    path = re.search(r'action="(/follow-up/[0-9a-f-]{36})/note"', page.text).group(1)
    client.cookies.clear()
    _, token = await signed_in_page(client, "xa.caobang", "/follow-up")
    denied = await client.post(path + "/note", data={"_csrf": token, "kind": "visit", "text": "x"})
    assert denied.status_code == 404  # a person of another commune: not found, as in the registry
    client.cookies.clear()
    _, token = await signed_in_page(client, "thu.auditor", "/follow-up")
    assert (await client.post(path + "/note", data={"_csrf": token, "kind": "visit"})).status_code == 403


async def test_officer_dashboard_and_reports_page_downloads(client, engine):
    await _credited_month(client, engine)
    page, _ = await signed_in_page(client, "lan.officer", "/dashboard")
    assert page.status_code == 200 and "2026-03" in page.text and "<svg" in page.text
    assert "Phường Hoàn Kiếm" in page.text
    reports = await client.get("/reports")
    assert reports.status_code == 200 and 'action="/api/reports/monthly"' in reports.text
    workbook = await client.get("/api/reports/monthly", params={"period": "2026-03", "format": "xlsx"})
    assert workbook.status_code == 200 and workbook.content[:2] == b"PK"
    listing = await client.get("/api/reports/follow-up", params={"commune": HANOI_COMMUNE, "format": "xlsx"})
    assert listing.status_code == 200 and listing.content[:2] == b"PK"


async def test_every_page_with_its_css_and_script_weighs_under_200_kb(client, engine):
    await _credited_month(client, engine)
    _, _ = await signed_in_page(client, "lan.officer", "/")
    assets = 0
    for asset in ("/static/ansinh.css", "/static/ansinh.js"):
        response = await client.get(asset)
        assert response.status_code == 200
        assets += len(response.content)
    for path in ("/", "/dashboard", "/follow-up", "/beneficiaries", "/payout-runs", "/statements",
                 "/reconciliation/exceptions", "/reports"):
        response = await client.get(path)
        assert response.status_code == 200, path
        assert len(response.content) + assets < 200_000, path


async def test_a_visit_recorded_on_the_persons_page_is_listed_there(client, engine):
    await _credited_month(client, engine)
    listed, _ = await signed_in_page(client, "xa.hoankiem", "/follow-up")
    person_path = re.search(r'href="(/beneficiaries/[0-9a-f-]{36})"', listed.text).group(1)
    detail = await client.get(person_path)
    assert "Chưa liên hệ" in detail.text and "Ghi lại cuộc gọi hoặc lần thăm" in detail.text
    action = re.search(r'action="(/follow-up/[0-9a-f-]{36}/note)"', detail.text).group(1)
    saved = await client.post(action, data={"_csrf": csrf_in(detail.text), "kind": "call", "back": "person",
                                            "text": "Con gái sẽ đưa bà đi rút"})
    assert saved.status_code == 200 and str(saved.url).endswith("?done=note")
    assert "Đã lưu liên hệ." in saved.text and "Gọi điện" in saved.text and "Con gái sẽ đưa bà đi rút" in saved.text
    client.cookies.clear()
    auditor, _ = await signed_in_page(client, "thu.auditor", person_path)
    assert "Con gái sẽ đưa bà đi rút" in auditor.text and 'action="/follow-up/' not in auditor.text


async def test_a_withdrawal_before_the_money_arrived_comes_back_with_the_typed_input_and_the_day(client, engine):
    await _credited_month(client, engine)  # credited 10/03/2026 09:15 (Việt Nam)
    listed, _ = await signed_in_page(client, "xa.hoankiem", "/follow-up?min_days=7")
    person_path = re.search(r'action="(/follow-up/[0-9a-f-]{36})/withdrawal"', listed.text).group(1)
    typed = {"amount": "650.000", "occurred_at": "2026-03-01T10:00", "helper_name": "Phạm Thị Hoa",
             "note": "rút tại quầy", "commune": "", "min_days": "7", "page_number": "1"}
    early = await client.post(person_path + "/withdrawal", data={"_csrf": csrf_in(listed.text), **typed})
    assert early.status_code == 422
    text = early.text
    # Everything typed is still there, with the reason next to the time and the whole story at the top.
    for name in ("amount", "occurred_at", "helper_name", "note"):
        assert f'name="{name}" value="{typed[name]}"' in text, name
    assert '<input type="hidden" name="min_days" value="7">' in text
    assert re.search(r'<div class="field has-error">\s*<label for="occurred_at">', text)
    assert re.search(r'id="occurred_at-error">\s*Sớm nhất là 09:15 ngày 10/03/2026, khi tiền đã về', text)
    assert "lúc 01/03/2026 10:00 người hưởng chỉ có 0 đ đã về mà chưa rút" in text
    assert "Chưa lưu — hãy sửa rồi lưu lại" in text and 'role="alert"' in text
    assert 'href="/follow-up?commune=&amp;min_days=7&amp;page_number=1"' in text
    assert text.count('class="card person"') == 0  # not the list: the one form, short on a phone
    # In English when the page is.
    english = await client.post(person_path + "/withdrawal?lang=en", data={"_csrf": csrf_in(text), **typed})
    assert english.status_code == 422 and "no earlier than 09:15 on 10/03/2026, when the money had arrived" in english.text
    # A bad amount keeps the time that was typed (back in Vietnamese: the language choice is remembered).
    bad = await client.post(person_path + "/withdrawal?lang=vi", data={"_csrf": csrf_in(text), **typed, "amount": "sáu trăm"})
    assert bad.status_code == 422 and "Số tiền phải là số đồng nguyên dương" in bad.text
    assert 'name="occurred_at" value="2026-03-01T10:00"' in bad.text
    # A time at the very start of the calendar is no time to record (and no server error).
    edge = await client.post(person_path + "/withdrawal", data={"_csrf": csrf_in(bad.text), **typed,
                                                               "occurred_at": "0001-01-01T00:00"})
    assert edge.status_code == 422 and "Hãy nhập ngày và giờ" in edge.text
    # Corrected from the same page: saved, back to the list.
    saved = await client.post(person_path + "/withdrawal",
                              data={"_csrf": csrf_in(edge.text), **typed, "occurred_at": "2026-03-11T10:00"})
    assert saved.status_code == 200 and "Đã ghi nhận rút tiền." in saved.text
    assert saved.text.count('class="card person"') == 2


async def test_a_contact_recorded_afterwards_keeps_its_time_and_a_wrong_time_comes_back_with_the_text(client, engine):
    await _credited_month(client, engine)
    listed, token = await signed_in_page(client, "xa.hoankiem", "/follow-up?min_days=7")
    assert 'name="at"' in listed.text and "Để trống nếu là bây giờ" in listed.text
    person_path = re.search(r'action="(/follow-up/[0-9a-f-]{36})/note"', listed.text).group(1)
    person_id = person_path.rsplit("/", 1)[1]
    yesterday = (datetime.now(UTC) + timedelta(hours=7) - timedelta(days=1)).replace(hour=9, minute=30, second=0,
                                                                                  microsecond=0)
    saved = await client.post(person_path + "/note", data={
        "_csrf": token, "kind": "visit", "text": "Thăm hôm qua", "at": yesterday.strftime("%Y-%m-%dT%H:%M"),
        "min_days": "7"})
    assert saved.status_code == 200 and "Đã lưu liên hệ." in saved.text
    async with session_scope(engine) as session:
        at = await session.scalar(text("SELECT at FROM follow_up_note WHERE beneficiary_id = :b"), {"b": person_id})
    assert at == yesterday.replace(tzinfo=UTC) - timedelta(hours=7)  # 09:30 in Việt Nam
    # A time in the future, before 2025 or not a time: the form again, with the text typed and why, nothing saved.
    tomorrow = (datetime.now(UTC) + timedelta(hours=7, days=1)).strftime("%Y-%m-%dT%H:%M")
    for when, reason in ((tomorrow, "Không được sau thời điểm hiện tại"), ("2024-12-31T10:00", "Không được trước 01/01/2025"),
                         ("ngày mai", "Hãy nhập ngày và giờ")):
        refused = await client.post(person_path + "/note", data={
            "_csrf": csrf_in(saved.text), "kind": "call", "text": "Gọi điện cho con gái", "at": when, "min_days": "7"})
        assert refused.status_code == 422, when
        page_text = html.unescape(refused.text)
        assert reason in page_text and "Gọi điện cho con gái</textarea>" in page_text
        assert '<option value="call" selected>' in refused.text and f'value="{when}"' in page_text
        assert 'href="/follow-up?' in refused.text  # the way back to the list
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM follow_up_note")) == 1
    english = await client.post(person_path + "/note?lang=en", data={
        "_csrf": csrf_in(saved.text), "kind": "call", "text": "x", "at": tomorrow, "min_days": "7"})
    assert english.status_code == 422 and "cannot be later than now" in english.text


async def test_the_last_contact_and_the_persons_contacts_name_who_recorded_them(client, engine):
    await _credited_month(client, engine)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE staff_user SET full_name = 'Phạm Thị Hoa' WHERE username = 'xa.hoankiem'"))
    listed, token = await signed_in_page(client, "xa.hoankiem", "/follow-up?min_days=7")
    person_path = re.search(r'action="(/follow-up/[0-9a-f-]{36})/note"', listed.text).group(1)
    noted = await client.post(person_path + "/note", data={"_csrf": token, "kind": "call", "text": "Hẹn thứ Hai",
                                                         "min_days": "7"})
    assert noted.status_code == 200 and "Đã lưu liên hệ." in noted.text
    assert re.search(r"Liên hệ gần nhất: Gọi điện · [0-9/: ]+ · Phạm Thị Hoa \(xa\.hoankiem\)", noted.text)
    withdrawn = await client.post(person_path + "/withdrawal", data={
        "_csrf": csrf_in(noted.text), "amount": "1000", "occurred_at": "2026-03-11T10:00", "helper_name": "",
        "back": "person"})
    assert withdrawn.status_code == 200 and "Đã ghi nhận rút tiền." in withdrawn.text
    # the person's page: both contacts by the staff member's name (with the username)
    contacts = re.search(r'id="contacts-heading".*?</ul>', withdrawn.text, re.S).group(0)
    assert contacts.count("· Phạm Thị Hoa (xa.hoankiem)") == 2 and "· xa.hoankiem" not in contacts
    cancel_path = re.search(r'action="(/follow-up/[0-9a-f-]{36}/withdrawal/\d+/cancel)"', withdrawn.text).group(1)
    cancelled = await client.post(cancel_path, data={"_csrf": csrf_in(withdrawn.text), "reason": "Ghi nhầm"})
    assert "Đã huỷ bởi Phạm Thị Hoa (xa.hoankiem) ngày" in cancelled.text
    # The API keeps the username.
    notes = (await client.get(person_path.replace("/follow-up/", "/api/beneficiaries/") + "/follow-up-notes")).json()
    assert [note["recorded_by"] for note in notes] == ["xa.hoankiem"]
