"""The exceptions queue page: a pager that reaches every line (filters kept, oldest or newest first),
closing a return without reissue, reissuing it once a corrected account is registered (whose payout and the
bank's reason in words, what to do when no reissue is possible yet), and the banks' reports of a death
(record it, or dismiss it)."""

from __future__ import annotations

import html
import re
from datetime import date, timedelta

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import build_world, debit, other_line, returned, statement
from tests.support.actors import add_user
from tests.support.pages import csrf_in, signed_in_page
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office

LINES = 130
_PAGER = re.compile(r'<nav class="pager" aria-label="([^"]*)">(.*?)</nav>', re.S)
_LINK = re.compile(r'<a href="([^"]*)"(?: rel="(prev|next)")?>(.*?)</a>', re.S)


def _pager_links(page_html: str) -> dict[str, str]:
    """The first pager's links by their visible text (arrows dropped), hrefs unescaped."""
    match = _PAGER.search(page_html)
    assert match is not None, "no pager on the page"
    links = {}
    for href, _, label in _LINK.findall(match.group(2)):
        links[re.sub(r"<[^>]+>|[«‹›»]", "", label).strip()] = html.unescape(href)
    return links


def _amounts(page_html: str) -> list[int]:
    """The amounts of the line cards, in page order (in đồng)."""
    return [int(a.replace(".", "")) for a in re.findall(r'<h2 id="line-\d+">-?([\d.]+) đ', page_html)]


async def _queue_of_many_lines(client, engine) -> Office:
    """130 unmatched debits of 1.001 … 1.130 đ, booked one day after another from 1 March."""
    office = await Office(client, engine).setup()
    await build_world(office, vietcombank=1)
    lines = [other_line(VIETCOMBANK, -(1_000 + n), booking_date=date(2026, 3, 1) + timedelta(days=n % 60),
                        bank_reference=f"FT{n:08d}") for n in range(1, LINES + 1)]
    file = write_camt053(statement(VIETCOMBANK, lines, opening_date=date(2026, 2, 28), closing_date=date(2026, 4, 30)))
    response = await office.post("/api/bank/statements", params={"bank": VIETCOMBANK},
                                 files={"file": ("sk.xml", file, "application/xml")})
    assert response.status_code == 201 and response.json()["exceptions"] == LINES, response.text
    client.cookies.clear()
    return office


def _booked_order(numbers: range | list[int]) -> list[int]:
    """Amounts in booking order (date, then upload order), as the queue lists them oldest first."""
    return [1_000 + n for n in sorted(numbers, key=lambda n: (n % 60, n))]


async def test_every_line_is_reachable_through_the_pager_with_the_filters_kept(client, engine):
    await _queue_of_many_lines(client, engine)
    first, _ = await signed_in_page(client, "lan.officer", f"/reconciliation/exceptions?bank={VIETCOMBANK}")
    assert first.status_code == 200
    assert "130 dòng, đang xem dòng 1–100" in first.text and "Trang 1/2" in first.text
    oldest = _booked_order(range(1, LINES + 1))
    assert _amounts(first.text) == oldest[:100]
    assert first.text.count('<nav class="pager"') == 2  # above and below the list
    links = _pager_links(first.text)
    assert set(links) == {"Trang sau"}  # no previous on the first page
    assert re.search(r'<a href="[^"]*" rel="next">', first.text)
    next_url = links["Trang sau"]
    assert next_url.startswith("/reconciliation/exceptions?")
    assert f"bank={VIETCOMBANK}" in next_url and "status=open" in next_url and "page_number=2" in next_url

    second = await client.get(next_url)
    assert second.status_code == 200 and "đang xem dòng 101–130" in second.text and "Trang 2/2" in second.text
    assert _amounts(second.text) == oldest[100:]  # line 101 onwards, reached from the page itself
    assert set(_pager_links(second.text)) == {"Trang trước"}
    back = await client.get(_pager_links(second.text)["Trang trước"])
    assert _amounts(back.text) == oldest[:100]

    # newest first, chosen by the officer, is kept in the pager's links too
    newest = await client.get("/reconciliation/exceptions", params={"order": "newest", "bank": VIETCOMBANK})
    assert _amounts(newest.text) == oldest[::-1][:100]
    newest_next = _pager_links(newest.text)["Trang sau"]
    assert "order=newest" in newest_next and f"bank={VIETCOMBANK}" in newest_next
    assert _amounts((await client.get(newest_next)).text) == oldest[::-1][100:]
    # another bank's filter: nothing, and no pager
    empty = await client.get("/reconciliation/exceptions", params={"bank": "970418"})
    assert "0 dòng" in empty.text and '<nav class="pager"' not in empty.text
    # a page past the end shows the last page; English alongside
    past = await client.get("/reconciliation/exceptions", params={"page_number": "9", "lang": "en"})
    assert "130 lines, showing 101–130" in past.text and "Page 2 of 2" in past.text
    assert set(_pager_links(past.text)) == {"Previous"}


async def test_resolving_a_line_comes_back_to_the_same_page_and_filters(client, engine):
    await _queue_of_many_lines(client, engine)
    page, _ = await signed_in_page(client, "lan.officer",
                                   f"/reconciliation/exceptions?bank={VIETCOMBANK}&order=newest&page_number=2")
    line_id = re.search(r'action="/reconciliation/exceptions/(\d+)/resolve"', page.text).group(1)
    form = {"_csrf": csrf_in(page.text), "action": "ignore", "note": "giao dịch nội bộ",
            "view_status": "open", "view_bank": VIETCOMBANK, "view_order": "newest", "view_page": "2"}
    resolved = await client.post(f"/reconciliation/exceptions/{line_id}/resolve", data=form, follow_redirects=False)
    assert resolved.status_code == 303
    location = resolved.headers["location"]
    assert "page_number=2" in location and "order=newest" in location and f"bank={VIETCOMBANK}" in location
    after = await client.get(location)
    assert "Đã xử lý dòng sao kê." in after.text and "129 dòng, đang xem dòng 101–129" in after.text
    # a refusal keeps the view as well
    other_id = re.search(r'action="/reconciliation/exceptions/(\d+)/resolve"', after.text).group(1)
    refused = await client.post(f"/reconciliation/exceptions/{other_id}/resolve",
                                data={**form, "_csrf": csrf_in(after.text), "note": ""})
    assert refused.status_code == 422 and "Cần ghi lý do bỏ qua" in refused.text and "Trang 2/2" in refused.text


async def _returns_world(client, engine, reasons: tuple[str, str] = ("AC04", "MD07")):
    """Two payouts: the first credited then returned, the second returned, with these reasons."""
    office = await Office(client, engine).setup()
    _, p = await build_world(office, vietcombank=2)
    lines = [debit(p[0]), returned(p[0], reasons[0]), returned(p[1], reasons[1])]
    response = await office.post("/api/bank/statements", params={"bank": VIETCOMBANK},
                                 files={"file": ("sk.xml", write_camt053(statement(VIETCOMBANK, lines)), "x")})
    assert response.status_code == 201 and response.json()["returned"] == 2, response.text
    client.cookies.clear()
    return p


async def test_a_return_is_closed_without_reissue_on_the_page(client, engine):
    p = await _returns_world(client, engine)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE staff_user SET full_name = 'Trần Thị Lan' WHERE username = 'lan.officer'"))
    page, token = await signed_in_page(client, "lan.officer", "/reconciliation/exceptions")
    cards = {m.group(2): m.group(1) for m in re.finditer(
        r'<article class="card exception" aria-labelledby="line-(\d+)">(.*?)</article>', page.text, re.S)}
    md07 = next(body for body in cards if "MD07" in body)
    # a return offers only what fits a return; with no corrected account yet, closing is the one choice
    options = re.findall(r'<option value="([a-z_]+)">', md07)
    assert options == ["close_without_reissue"] and "Đóng, không chi lại (ghi lý do)" in md07
    # the bank reports the holder dead: the page says to check that first (a reissue to the same account
    # becomes possible only once the report is dismissed)
    assert "manual_match" not in md07 and "Ngân hàng báo người hưởng đã mất: xác minh trước" in md07
    assert re.search(r'<a href="#flag-\d+">Xem báo cáo người mất</a>', md07)
    line_id = cards[md07]
    view = {"view_status": "open", "view_bank": "", "view_order": "oldest", "view_page": "1"}
    refused = await client.post(f"/reconciliation/exceptions/{line_id}/resolve",
                                data={"_csrf": token, "action": "close_without_reissue", **view})
    assert refused.status_code == 422 and "Cần ghi lý do đóng khoản hoàn trả" in refused.text
    closed = await client.post(f"/reconciliation/exceptions/{line_id}/resolve",
                               data={"_csrf": token, "action": "close_without_reissue", **view,
                                     "note": "Người hưởng đã mất, xã xác nhận"})
    assert closed.status_code == 200 and "Đã xử lý dòng sao kê." in closed.text
    assert f'id="line-{line_id}"' not in closed.text
    resolved = await client.get("/reconciliation/exceptions", params={"status": "resolved"})
    assert "Đã đóng, không chi lại" in resolved.text and "Người hưởng đã mất, xã xác nhận" in resolved.text
    assert "Đã đóng, không chi lại · Trần Thị Lan (lan.officer) ·" in resolved.text  # who, by name
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT returned_payout_id FROM payout_return_closure")) == p[1].id

    # with a corrected account, an MD07 return offers closing first and reissue second
    await client.post("/api/auth/logout", headers={"X-CSRF-Token": token})
    office = Office(client, engine)
    await office.be("lan.officer")
    added = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts",
                              json={"bank_bin": VIETCOMBANK, "account_number": "9704361234567"})
    assert added.status_code == 201, added.text
    page = await client.get("/reconciliation/exceptions")
    (ac04,) = [m.group(1) for m in re.finditer(r'<article class="card exception"[^>]*>(.*?)</article>',
                                                  page.text, re.S)]
    assert re.findall(r'<option value="([a-z_]+)">', ac04) == ["reissue", "close_without_reissue"]


async def test_banks_reports_of_a_death_are_recorded_or_dismissed_and_shown_resolved(client, engine):
    p = await _returns_world(client, engine, reasons=("MD07", "MD07"))
    page, token = await signed_in_page(client, "lan.officer", "/reconciliation/exceptions")
    assert "Ngân hàng báo người hưởng đã mất (2)" in page.text
    assert page.text.count("ngân hàng báo ngày 12/03/2026") == 2  # the return's booking date
    flag_ids = re.findall(r'action="/reconciliation/flags/(\d+)/dismiss"', page.text)
    assert len(flag_ids) == 2  # oldest first: p[0]'s return is the statement's earlier line
    assert page.text.index(p[0].reference) < page.text.index(p[1].reference)
    view = {"view_status": "open", "view_bank": "", "view_order": "oldest", "view_page": "1"}
    died = await client.post(f"/reconciliation/flags/{flag_ids[0]}/deceased",
                             data={"_csrf": token, **view, "effective_on": "2026-03-08", "reason": "giấy báo tử"},
                             follow_redirects=False)
    assert died.status_code == 303 and "done=death_recorded" in died.headers["location"]
    no_reason = await client.post(f"/reconciliation/flags/{flag_ids[1]}/dismiss",
                                  data={"_csrf": token, **view, "reason": ""})
    assert no_reason.status_code == 422 and "Cần ghi lý do bác bỏ" in no_reason.text
    future = await client.post(f"/reconciliation/flags/{flag_ids[1]}/deceased",
                               data={"_csrf": token, **view, "effective_on": "2099-01-01"})
    assert future.status_code == 422 and "Ngày hiệu lực ở tương lai" in future.text
    dismissed = await client.post(f"/reconciliation/flags/{flag_ids[1]}/dismiss",
                                  data={"_csrf": token, **view, "reason": "gặp trực tiếp, còn sống"})
    assert dismissed.status_code == 200 and "Đã bác bỏ báo cáo người mất của ngân hàng." in dismissed.text
    assert "Ngân hàng báo người hưởng đã mất" not in dismissed.text  # nothing open any more
    assert "Xem 2 báo cáo người mất đã xử lý" in dismissed.text
    # the bank was wrong: the money may go back to the same account, and reissue is now the likely action
    alive = next(card for card in _cards(dismissed.text).values() if p[1].reference in card)
    assert re.findall(r'<option value="([a-z_]+)">', alive) == ["reissue", "close_without_reissue"]
    assert p[1].account_number in alive and "reissue-help" not in alive

    resolved = await client.get("/reconciliation/exceptions", params={"status": "resolved"})
    assert resolved.text.count("badge badge-resolved") == 2
    assert "Đã ghi nhận người hưởng mất" in resolved.text and "mất ngày 08/03/2026" in resolved.text
    assert "Đã bác bỏ: ngân hàng báo nhầm" in resolved.text and "gặp trực tiếp, còn sống" in resolved.text
    assert resolved.text.count("· lan.officer ·") == 2  # an officer without a full name: the username
    people = {r.id: r.status for r in await _people(engine)}
    assert people[p[0].beneficiary_id] == "deceased" and people[p[1].beneficiary_id] == "active"
    english = await client.get("/reconciliation/exceptions", params={"status": "all", "lang": "en"})
    assert "Death recorded" in english.text and "Dismissed: the bank was wrong" in english.text


async def _people(engine):
    async with session_scope(engine) as session:
        return list(await session.execute(text("SELECT id, status FROM beneficiary")))


def _cards(page_html: str) -> dict[str, str]:
    """The open line cards of the queue by line id (unescaped)."""
    return {m.group(1): html.unescape(m.group(2)) for m in re.finditer(
        r'<article class="card exception" aria-labelledby="line-(\d+)">(.*?)</article>', page_html, re.S)}


async def test_a_return_says_whose_it_is_and_is_reissued_once_a_corrected_account_is_registered(client, engine):
    p = await _returns_world(client, engine, reasons=("AC04", "AC01"))
    async with session_scope(engine) as session:
        names = dict((await session.execute(text("SELECT id, full_name FROM beneficiary"))).all())
    page, token = await signed_in_page(client, "lan.officer", "/reconciliation/exceptions")
    cards = _cards(page.text)
    (ac04_id, ac04), (ac01_id, ac01) = sorted(cards.items(), key=lambda item: "AC04" not in item[1])
    # whose payout, with a link to the person's page, and the bank's reason in words
    assert f'<a href="/beneficiaries/{p[0].beneficiary_id}">{names[p[0].beneficiary_id]}</a>' in ac04
    assert p[0].reference in ac04 and "AC04: Tài khoản đã đóng" in ac04
    assert "AC01: Số tài khoản không đúng" in ac01 and names[p[1].beneficiary_id] in ac01
    # the money came back from the account the person still uses: no reissue, and what to do instead
    assert re.findall(r'<option value="([a-z_]+)">', ac04) == ["close_without_reissue"]
    assert "tiền bị trả về từ chính tài khoản đang dùng của người này" in ac04
    assert f'href="/beneficiaries/{p[0].beneficiary_id}#new-account">Mở trang người hưởng</a>' in ac04
    english = _cards((await client.get("/reconciliation/exceptions?lang=en")).text)[ac04_id]
    assert "AC04: account closed" in english and "Register a corrected account on the person's page" in english

    # commune staff ask for a corrected account for the second person: the queue says it waits for an officer
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,))
    client.cookies.clear()
    _, staff_token = await signed_in_page(client, "xa.hoankiem", f"/beneficiaries/{p[1].beneficiary_id}?lang=vi")
    asked = await client.post(f"/beneficiaries/{p[1].beneficiary_id}/bank-accounts", follow_redirects=False,
                              data={"_csrf": staff_token, "bank_bin": VIETCOMBANK, "account_number": "9704360000222"})
    assert asked.status_code == 303, asked.text

    # the officer registers the first person's corrected account from the person's page: reissue is offered
    client.cookies.clear()
    person_page, token = await signed_in_page(client, "lan.officer", f"/beneficiaries/{p[0].beneficiary_id}")
    assert "Có 1 khoản chi bị trả lại của người này đang chờ xử lý" in person_page.text
    assert '<details id="new-account" open>' in person_page.text  # the account is blocked: the form is open
    registered = await client.post(f"/beneficiaries/{p[0].beneficiary_id}/bank-accounts", follow_redirects=False,
                                   data={"_csrf": token, "bank_bin": VIETCOMBANK, "account_number": "9704361234567"})
    assert registered.status_code == 303, registered.text
    cards = _cards((await client.get("/reconciliation/exceptions")).text)
    assert re.findall(r'<option value="([a-z_]+)">', cards[ac04_id]) == ["reissue", "close_without_reissue"]
    assert "Chi lại vào tài khoản đang dùng" in cards[ac04_id] and "9704361234567" in cards[ac04_id]
    assert "xã đã đề nghị tài khoản mới cho người này, đang chờ cán bộ duyệt" in cards[ac01_id]
    assert f'href="/beneficiaries/{p[1].beneficiary_id}#requests-heading"' in cards[ac01_id]
    account_id = re.search(r'name="bank_account_id" value="(\d+)"', cards[ac04_id]).group(1)
    view = {"view_status": "open", "view_bank": "", "view_order": "oldest", "view_page": "1"}
    reissued = await client.post(f"/reconciliation/exceptions/{ac04_id}/resolve", follow_redirects=False,
                                 data={"_csrf": token, **view, "action": "reissue", "bank_account_id": account_id,
                                       "note": "xã xác nhận số mới"})
    assert reissued.status_code == 303 and "done=resolved" in reissued.headers["location"]
    async with session_scope(engine) as session:
        reissue = (await session.execute(text(
            """SELECT r.returned_payout_id, a.account_number FROM payout_reissue r
                 JOIN bank_account a ON a.id = r.bank_account_id"""))).one()
    assert tuple(reissue) == (p[0].id, "9704361234567")
    after = _cards((await client.get("/reconciliation/exceptions")).text)
    assert set(after) == {ac01_id}
