"""The cash handover page: commune staff on a phone see who still waits for the cash of a run in their
communes, the oldest first, find a person by name or citizen ID and record the handover from the card, through
the same service (and the same rules) as the follow-up list and the API; scope and roles are enforced."""

import html
import re
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker, FakePerson
from app.web import follow_up as follow_up_pages
from app.web.forms import fold
from reconciliation.withdrawals import reallocate
from tests.support.actors import add_user, sign_in
from tests.support.ledger import totals
from tests.support.pages import csrf_in, signed_in_page
from tests.support.vietnamese import person_sort_key
from tests.support.world import CAO_BANG_COMMUNE, HANOI_COMMUNE, VIETCOMBANK, Office, count_rows, person

T0 = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)  # the cash reached the communes at 08:00 in Việt Nam
AMOUNT = 650_000  # NCT_80 in Hà Nội
CARD = re.compile(r'<li class="card person" id="p-(\d+)">(.*?)</li>', re.S)


@dataclass
class CashWorld:
    office: Office
    run_id: str
    hanoi_cash: list[FakePerson]
    ids: dict[str, str]  # national id → beneficiary id


async def _cash_month(client, engine) -> CashWorld:
    """March 2026 sent: three people of Hoàn Kiếm and one of Cao Bằng paid in cash, one of Hoàn Kiếm by bank."""
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=41)
    hanoi_cash = [person(faker, bank=None, start="2026-03") for _ in range(3)]
    bank_person = person(faker, start="2026-03")
    cao_bang = person(faker, commune=CAO_BANG_COMMUNE, bank=None, start="2026-03")
    await office.import_people([*hanoi_cash, bank_person, cao_bang])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "NS-2026-03")).status_code in (200, 201)
    run_id = str((await office.run_cycle("2026-03"))["id"])
    async with session_scope(engine) as session:
        ids = {r.national_id: str(r.id) for r in await session.execute(text("SELECT id, national_id FROM beneficiary"))}
        await session.execute(text("UPDATE payout SET sent_at = :t0 WHERE channel = 'cash'"), {"t0": T0})
        await reallocate(session, list(ids.values()))
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,), full_name="Phạm Thị Hoa")
    await add_user(engine, "xa.caobang", Role.commune_staff, communes=(CAO_BANG_COMMUNE,))
    client.cookies.clear()
    office.current = ""
    return CashWorld(office=office, run_id=run_id, hanoi_cash=hanoi_cash, ids=ids)


def _cards(page_text: str) -> list[tuple[int, str]]:
    return [(int(position), card) for position, card in CARD.findall(page_text)]


def _name(card: str) -> str:
    return html.unescape(re.search(r'<h2><a href="/beneficiaries/[0-9a-f-]{36}">([^<]+)</a>', card).group(1))


def _handover_form(card: str) -> tuple[str, dict[str, str]]:
    """The card's handover form: its action and every field as the browser would send it."""
    form = re.search(r'<form method="post" action="(/follow-up/[0-9a-f-]{36}/withdrawal)".*?</form>', card, re.S)
    fields = dict(re.findall(r'<input type="[a-z-]+" (?:id="[^"]*" )?name="([a-z_]+)"[^>]*?value="([^"]*)"',
                             form.group(0)))
    return form.group(1), {key: html.unescape(value) for key, value in fields.items()}


async def test_the_list_shows_who_waits_for_the_runs_cash_in_the_callers_communes_oldest_first(client, engine):
    world = await _cash_month(client, engine)
    page, _ = await signed_in_page(client, "xa.hoankiem", "/follow-up/cash")
    assert page.status_code == 200
    cards = _cards(page.text)
    # Exactly the three of Hoàn Kiếm paid in cash (not the bank's, not Cao Bằng's), the oldest first.
    oldest_first = sorted(world.hanoi_cash, key=lambda p: (p.date_of_birth, person_sort_key(p.full_name)))
    assert [_name(card) for _, card in cards] == [p.full_name for p in oldest_first]
    assert [position for position, _ in cards] == [1, 2, 3]
    assert "TGXH tháng 03/2026: 3 người còn chờ nhận tiền mặt, tổng 1.950.000 đ" in page.text
    assert "Đã giao đủ: 0 người" in page.text
    first, oldest = cards[0][1], oldest_first[0]
    assert "650.000 đ</strong> · tháng 03/2026" in first
    assert html.escape(oldest.address) in first and "Phường Hoàn Kiếm" in first
    assert f'href="tel:{oldest.phone}"' in first
    assert f"CCCD ********{oldest.national_id[-4:]}" in first and oldest.national_id not in first  # masked
    age = re.search(r'<span class="age">(\d+) tuổi</span>', first).group(1)
    assert int(age) >= 80
    action, fields = _handover_form(first)
    assert action == f"/follow-up/{world.ids[oldest.national_id]}/withdrawal"
    assert fields["amount"] == str(AMOUNT) and fields["back"] == "cash" and fields["run"] == world.run_id
    assert fields["position"] == "1" and fields["page_number"] == "1" and fields["helper_name"] == "Phạm Thị Hoa"
    assert "Ghi nhận đã giao tiền mặt" in first
    # The Excel is still there, and the follow-up page leads to both.
    assert f'href="/api/payout-runs/{world.run_id}/cash-handover"' in page.text
    follow_up = await client.get("/follow-up")
    assert f'href="/follow-up/cash?run={world.run_id}"' in follow_up.text
    assert f'href="/api/payout-runs/{world.run_id}/cash-handover"' in follow_up.text
    assert "TGXH tháng 03/2026: 3 người nhận tiền mặt" in follow_up.text
    english = await client.get(f"/follow-up/cash?run={world.run_id}&lang=en")
    assert "TGXH 03/2026: 3 people still waiting for their cash" in english.text
    assert "Handed over in full: 0 people" in english.text
    # Cao Bằng's staff see their one person only.
    client.cookies.clear()
    other, _ = await signed_in_page(client, "xa.caobang", f"/follow-up/cash?run={world.run_id}")
    assert len(_cards(other.text)) == 1 and "1 người còn chờ nhận tiền mặt, tổng 500.000 đ" in other.text


async def test_a_handover_recorded_on_the_page_is_the_same_as_one_recorded_elsewhere(client, engine):
    world = await _cash_month(client, engine)
    page, _ = await signed_in_page(client, "xa.hoankiem", f"/follow-up/cash?run={world.run_id}")
    cards = _cards(page.text)
    action, fields = _handover_form(cards[0][1])
    on_page_id = action.split("/")[2]
    recorded = await client.post(action, data={**fields, "_csrf": csrf_in(page.text),
                                               "occurred_at": "2026-03-11T10:00", "note": "Giao tại nhà"},
                                 follow_redirects=False)
    assert recorded.status_code == 303
    assert recorded.headers["location"] == (
        f"/follow-up/cash?run={world.run_id}&page_number=1&done=handover&position=1#p-1")
    after = await client.get(recorded.headers["location"].split("#")[0])
    assert "Đã giao đủ: 1 người" in after.text
    left = _cards(after.text)
    # The saved notice is in the card the page opens at (the next person's, now p-1), not out of view at the top.
    assert after.text.count("Đã ghi nhận giao tiền mặt.") == 1
    assert '<p class="notice" role="status" id="cash-saved">Đã ghi nhận giao tiền mặt.</p>' in left[0][1]
    assert [_name(card) for _, card in left] == [_name(card) for _, card in cards[1:]]  # the next one is now p-1
    assert [position for position, _ in left] == [1, 2]
    assert "2 người còn chờ nhận tiền mặt, tổng 1.300.000 đ" in after.text
    # The second person's handover through the API, as the follow-up list or a script would record it.
    elsewhere_id = _handover_form(left[0][1])[0].split("/")[2]
    api = await client.post(f"/api/beneficiaries/{elsewhere_id}/assisted-withdrawals",
                            headers={"X-CSRF-Token": csrf_in(after.text)},
                            json={"occurred_at": "2026-03-11T03:00:00Z", "amount": AMOUNT, "note": "Giao tại nhà",
                                  "helper_name": "Phạm Thị Hoa"})
    assert api.status_code == 201, api.text

    async def recorded_as(beneficiary_id: str) -> tuple:
        async with session_scope(engine) as session:
            withdrawal = (await session.execute(text(
                """SELECT channel, source, amount, occurred_at, helper_name, note, recorded_by FROM withdrawal
                    WHERE beneficiary_id = :b"""), {"b": beneficiary_id})).one()
            payout = (await session.execute(text(
                """SELECT status, first_withdrawal_at, withdrawn_at,
                          (SELECT sum(a.amount) FROM withdrawal_allocation a WHERE a.payout_id = p.id) AS allocated
                     FROM payout p WHERE beneficiary_id = :b"""), {"b": beneficiary_id})).one()
            undrawn = await totals(session, f"undrawn:{beneficiary_id}")
            audited = await session.scalar(text(
                "SELECT count(*) FROM audit_log WHERE action = 'withdrawal.assisted' AND object_id = :b"),
                {"b": beneficiary_id})
        return tuple(withdrawal), tuple(payout), undrawn, audited

    on_page, via_api = await recorded_as(on_page_id), await recorded_as(elsewhere_id)
    assert on_page == via_api
    assert on_page[0] == ("cash_handover", "commune", AMOUNT, datetime(2026, 3, 11, 3, 0, tzinfo=UTC), "Phạm Thị Hoa",
                          "Giao tại nhà", "xa.hoankiem")
    assert on_page[1] == ("sent", datetime(2026, 3, 11, 3, 0, tzinfo=UTC), datetime(2026, 3, 11, 3, 0, tzinfo=UTC),
                          AMOUNT)
    assert on_page[2] == (AMOUNT, AMOUNT, 0, 0) and on_page[3] == 1
    # A part of the cash: the person stays, with what is left and what was given.
    last = _cards((await client.get(f"/follow-up/cash?run={world.run_id}")).text)
    assert len(last) == 1
    action, fields = _handover_form(last[0][1])
    partly = await client.post(action, data={**fields, "_csrf": csrf_in(after.text), "amount": "300.000",
                                             "occurred_at": "2026-03-12T09:00"})
    assert partly.status_code == 200 and "Đã ghi nhận giao tiền mặt." in partly.text
    (position, card), = _cards(partly.text)
    assert position == 1 and "350.000 đ</strong>" in card and "Đã giao 300.000 đ trong 650.000 đ của đợt này" in card
    assert _handover_form(card)[1]["amount"] == "350000"
    assert "Đã giao đủ: 2 người" in partly.text


async def test_the_pages_handover_keeps_the_rules_and_a_refusal_leads_back_to_the_card(client, engine):
    world = await _cash_month(client, engine)
    page, _ = await signed_in_page(client, "xa.hoankiem", f"/follow-up/cash?run={world.run_id}")
    position, card = _cards(page.text)[1]
    action, fields = _handover_form(card)
    too_much = await client.post(action, data={**fields, "_csrf": csrf_in(page.text), "amount": "700000",
                                               "occurred_at": "2026-03-11T10:00"})
    assert too_much.status_code == 422 and "Tối đa 650.000 đ" in too_much.text
    back = f'href="/follow-up/cash?run={world.run_id}&amp;page_number=1#p-{position}"'
    assert back in too_much.text
    assert '<input type="hidden" name="back" value="cash">' in too_much.text
    assert f'<input type="hidden" name="position" value="{position}">' in too_much.text
    early = await client.post(action, data={**fields, "_csrf": csrf_in(page.text), "occurred_at": "2026-03-09T10:00"})
    assert early.status_code == 422
    assert re.search(r'id="occurred_at-error">\s*Sớm nhất là 08:00 ngày 10/03/2026, khi tiền đã về', early.text)
    assert "(tiền mặt chuyển về xã)" in early.text
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
    # Corrected on the refused form: saved, back at the card's place in the list.
    again = dict(re.findall(r'<input type="hidden" name="([a-z_]+)" value="([^"]*)"', early.text))
    saved = await client.post(action, data={**again, "_csrf": csrf_in(early.text), "amount": "650000",
                                            "occurred_at": "2026-03-11T10:00"}, follow_redirects=False)
    assert saved.status_code == 303
    assert saved.headers["location"].endswith(f"&done=handover&position={position}#p-{position}")
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE channel = 'cash_handover'") == 1


async def test_the_saved_notice_is_where_the_page_opens(client, engine):
    world = await _cash_month(client, engine)
    page, _ = await signed_in_page(client, "xa.hoankiem", f"/follow-up/cash?run={world.run_id}")
    (position, card), = [(position, card) for position, card in _cards(page.text) if position == 3]
    action, fields = _handover_form(card)
    saved = await client.post(action, data={**fields, "_csrf": csrf_in(page.text), "occurred_at": "2026-03-11T10:00"},
                              follow_redirects=False)
    location = saved.headers["location"]
    assert location.endswith("&done=handover&position=3#p-3")
    # The last person handed over in full: the list is one shorter, and the notice takes their place (#p-3).
    after = await client.get(location.split("#")[0])
    assert [p for p, _ in _cards(after.text)] == [1, 2] and after.text.count("Đã ghi nhận giao tiền mặt.") == 1
    assert re.search(r'</ol>\s*<p class="notice" role="status" id="p-3">Đã ghi nhận giao tiền mặt.</p>', after.text)
    # A link without the place, or one past it (the list changed since), shows the notice at the top.
    for query in ("&done=handover", "&done=handover&position=9", "&done=handover&position=x"):
        top = await client.get(f"/follow-up/cash?run={world.run_id}{query}")
        assert top.status_code == 200 and top.text.count("Đã ghi nhận giao tiền mặt.") == 1
        assert re.search(r'</h1>\s*<p class="notice" role="status">Đã ghi nhận giao tiền mặt.</p>', top.text)
    english = await client.get(location.split("#")[0] + "&lang=en")
    assert '<p class="notice" role="status" id="p-3">The cash handover is recorded.</p>' in english.text


async def test_search_by_name_or_citizen_id_and_paging(client, engine, monkeypatch):
    world = await _cash_month(client, engine)
    page, _ = await signed_in_page(client, "xa.hoankiem", f"/follow-up/cash?run={world.run_id}")
    names = [_name(card) for _, card in _cards(page.text)]
    wanted = next(p for p in world.hanoi_cash if p.full_name == names[2])
    unaccented = fold(wanted.full_name)  # typed without accents, in lower case
    by_name = await client.get("/follow-up/cash", params={"run": world.run_id, "q": unaccented.lower()})
    assert [_name(card) for _, card in _cards(by_name.text)] == [wanted.full_name]
    assert "Tìm thấy 1 người chờ nhận tiền" in by_name.text
    assert "3 người còn chờ nhận tiền mặt" in by_name.text  # the whole list's figure stays
    _, fields = _handover_form(_cards(by_name.text)[0][1])
    assert fields["q"] == unaccented.lower()  # back to the search after recording
    by_id = await client.get("/follow-up/cash", params={"run": world.run_id, "q": wanted.national_id})
    assert [_name(card) for _, card in _cards(by_id.text)] == [wanted.full_name]
    prefix = await client.get("/follow-up/cash", params={"run": world.run_id, "q": wanted.national_id[:8]})
    assert _cards(prefix.text) == [] and "Không có ai chờ nhận tiền khớp với tìm kiếm." in prefix.text
    # The last 4 digits, as staff ask for them (or as the masked ID reads), find whoever's ID ends with them.
    ending = wanted.national_id[-4:]
    same_ending = {p.full_name for p in world.hanoi_cash if p.national_id.endswith(ending)}
    for typed in (ending, f"********{ending}", f" {ending[:2]} {ending[2:]} "):
        by_ending = await client.get("/follow-up/cash", params={"run": world.run_id, "q": typed})
        assert {_name(card) for _, card in _cards(by_ending.text)} == same_ending, typed
        assert wanted.national_id not in by_ending.text  # still masked
    # Any other part of the ID finds nobody: the hidden digits cannot be probed.
    for typed in (wanted.national_id[-5:], wanted.national_id[-6:], ending[1:]):
        assert _cards((await client.get("/follow-up/cash", params={"run": world.run_id, "q": typed})).text) == []
    assert "Tìm theo tên, CCCD (hoặc 4 số cuối) hoặc số điện thoại" in page.text
    # Cao Bằng's person is not found from Hoàn Kiếm.
    cao_bang = next(nid for nid in world.ids if nid not in {p.national_id for p in world.hanoi_cash}
                    and nid != wanted.national_id)
    assert _cards((await client.get("/follow-up/cash", params={"run": world.run_id, "q": cao_bang})).text) == []
    monkeypatch.setattr(follow_up_pages, "PAGE_SIZE", 2)
    first = await client.get(f"/follow-up/cash?run={world.run_id}&commune={HANOI_COMMUNE}")
    assert [position for position, _ in _cards(first.text)] == [1, 2] and "Trang 1/2" in first.text
    assert "Đang hiện 2 / 3 người (số 1–2)" in first.text
    next_link = f"/follow-up/cash?run={world.run_id}&amp;commune={HANOI_COMMUNE}&amp;page_number=2"
    assert f'href="{next_link}" rel="next"' in first.text
    second = await client.get(next_link.replace("&amp;", "&"))
    assert [position for position, _ in _cards(second.text)] == [3] and '<ol class="people" start="3">' in second.text
    assert [_name(card) for _, card in _cards(first.text) + _cards(second.text)] == names
    assert _handover_form(_cards(second.text)[0][1])[1]["page_number"] == "2"
    past = await client.get(f"/follow-up/cash?run={world.run_id}&page_number=9")
    assert [position for position, _ in _cards(past.text)] == [3]  # the last page


async def test_scope_and_roles(client, engine):
    world = await _cash_month(client, engine)
    office = world.office
    hanoi_page, _ = await signed_in_page(client, "xa.hoankiem", f"/follow-up/cash?run={world.run_id}")
    action, fields = _handover_form(_cards(hanoi_page.text)[0][1])
    client.cookies.clear()
    # Commune staff of another commune: the commune filter is refused, the person is not found.
    page, token = await signed_in_page(client, "xa.caobang", f"/follow-up/cash?run={world.run_id}")
    outside = await client.get(f"/follow-up/cash?run={world.run_id}&commune={HANOI_COMMUNE}")
    assert outside.status_code == 403 and "Xã/phường này không thuộc phạm vi của bạn" in outside.text
    denied = await client.post(action, data={**fields, "_csrf": token, "occurred_at": "2026-03-11T10:00"})
    assert denied.status_code == 404
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
    # Auditors read every commune's list, without forms, and may not record.
    client.cookies.clear()
    audit, token = await signed_in_page(client, "thu.auditor", f"/follow-up/cash?run={world.run_id}")
    assert audit.status_code == 200 and len(_cards(audit.text)) == 4 and '/withdrawal"' not in audit.text
    assert "CCCD ********" not in audit.text  # not masked for them
    refused = await client.post(action, data={**fields, "_csrf": token, "occurred_at": "2026-03-11T10:00"})
    assert refused.status_code == 403
    # Officers record too (as on the follow-up list); approvers have no follow-up pages.
    client.cookies.clear()
    officer, _ = await signed_in_page(client, "lan.officer", f"/follow-up/cash?run={world.run_id}&commune={CAO_BANG_COMMUNE}")
    assert len(_cards(officer.text)) == 1 and '/withdrawal"' in officer.text
    client.cookies.clear()
    await sign_in(client, "minh.approver")
    assert (await client.get(f"/follow-up/cash?run={world.run_id}")).status_code == 403
    # A run nobody has, and one not sent yet.
    client.cookies.clear()
    await signed_in_page(client, "xa.hoankiem", "/follow-up/cash")
    unknown = await client.get("/follow-up/cash?run=00000000-0000-0000-0000-000000000000")
    assert unknown.status_code == 404
    office.current = ""
    april = (await office.compute("2026-04"))["id"]
    await office.be("xa.hoankiem")
    # Not sent yet: the refusal says the run's own state, not "not approved and sent" of an approved run.
    not_sent = await client.get(f"/follow-up/cash?run={april}")
    assert not_sent.status_code == 409
    assert "Đợt chi đã tính, đang chờ duyệt: chưa có tiền mặt để giao" in not_sent.text
    await office.approve(april)
    await office.be("xa.hoankiem")
    approved = await client.get(f"/follow-up/cash?run={april}")
    assert approved.status_code == 409
    assert "Đợt chi đã được duyệt, đang chờ gửi đi: tiền mặt chưa về xã/phường để giao" in approved.text
    assert "chưa được duyệt" not in approved.text
    in_english = await client.get(f"/follow-up/cash?run={april}&lang=en")
    assert "the run is approved and waiting to be sent: its cash has not reached the communes" in in_english.text
    await client.get("/follow-up?lang=vi")
    await office.be("lan.officer")
    may = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-05"})
    assert may.status_code == 201, may.text
    await office.be("xa.hoankiem")
    draft = await client.get(f"/follow-up/cash?run={may.json()['id']}")
    assert draft.status_code == 409
    assert "Đợt chi còn là nháp, chưa được tính và duyệt: chưa có tiền mặt để giao" in draft.text


async def test_cash_of_an_earlier_run_is_handed_over_first(client, engine):
    world = await _cash_month(client, engine)
    office = world.office
    office.current = ""
    april = await office.approved_run("2026-04")
    await office.fund_cash(april)
    await office.be("lan.officer")
    assert (await office.post(f"/api/payout-runs/{april}/send")).status_code == 200
    client.cookies.clear()
    page, _ = await signed_in_page(client, "xa.hoankiem", f"/follow-up/cash?run={april}")
    assert f'<option value="{april}" selected>TGXH tháng 04/2026</option>' in page.text
    assert f'<option value="{world.run_id}">TGXH tháng 03/2026</option>' in page.text
    cards = _cards(page.text)
    assert len(cards) == 3
    for _, card in cards:  # March's cash was not handed over either: it goes first, and the form offers both
        assert "650.000 đ</strong> · tháng 04/2026" in card
        assert "Còn 650.000 đ tiền mặt của đợt trước chưa giao (giao trước)" in card
        assert _handover_form(card)[1]["amount"] == str(2 * AMOUNT)
