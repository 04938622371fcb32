"""A cash recipient whose death is recorded: not on the follow-up list of people to visit (counted and listed
apart, with the money waiting for recovery), marked on the cash handover list without the handover form, and a
cash handover dated after the death is refused (409) through the API and the page; the living are unchanged."""

import io
import re

from openpyxl import load_workbook
from sqlalchemy import text

from app.database import session_scope
from tests.app.web.test_cash_handover_pages import AMOUNT, _cards, _cash_month, _handover_form, _name
from tests.support.pages import csrf_in, signed_in_page
from tests.support.world import count_rows

DIED_ON = "2026-03-20"


async def _one_dead(client, engine):
    """The cash world of three Hoàn Kiếm cash recipients, the oldest of whom died on 20 March 2026."""
    world = await _cash_month(client, engine)
    oldest = min(world.hanoi_cash, key=lambda p: p.date_of_birth)
    dead_id = world.ids[oldest.national_id]
    await world.office.be("lan.officer")
    recorded = await world.office.post(f"/api/beneficiaries/{dead_id}/events",
                                       json={"kind": "deceased", "effective_on": DIED_ON})
    assert recorded.status_code in (200, 201), recorded.text
    client.cookies.clear()
    world.office.current = ""
    return world, oldest, dead_id


async def test_the_follow_up_list_leaves_the_dead_out_and_counts_their_money_apart(client, engine):
    world, dead, dead_id = await _one_dead(client, engine)
    page, _ = await signed_in_page(client, "xa.hoankiem", "/follow-up?min_days=3")
    assert page.status_code == 200
    listed = (await client.get("/api/reports/follow-up", params={"min_days": 0})).json()
    assert dead_id not in {item["beneficiary_id"] for item in listed["items"]}
    assert len(listed["items"]) == listed["total"] == 2 and listed["total_amount"] == 2 * AMOUNT
    assert (listed["deceased_people"], listed["deceased_amount"]) == (1, AMOUNT)
    # The page: the two living people are the cards; the dead one is named apart, with the money, not to visit.
    living = re.findall(r'<li class="card person">\s*<h2><a href="/beneficiaries/([0-9a-f-]{36})"', page.text)
    assert len(living) == 2 and dead_id not in living
    assert "2 người đã chờ từ 3 ngày trở lên, tổng 1.300.000 đ" in page.text
    section = re.search(r'<section class="notice"[^>]*id="follow-deceased">(.*?)</section>', page.text, re.S).group(1)
    assert "Đã mất, còn tiền chưa rút: 1 người, tổng 650.000 đ" in section
    assert f'href="/beneficiaries/{dead_id}"' in section and "mất ngày 20/03/2026, còn 650.000 đ chưa rút" in section
    assert "Không đến nhắc rút tiền" in section
    english = await client.get("/follow-up?min_days=3&lang=en")
    assert "Deceased, with money not withdrawn: 1 person, 650.000 đ in all" in english.text
    # The printed list: the two living people, and a line above the table saying who is left out and why.
    sheet = load_workbook(io.BytesIO((await client.get(
        "/api/reports/follow-up", params={"format": "xlsx", "min_days": 0})).content)).active
    rows = [row for row in sheet.iter_rows(values_only=True)]
    names = [row[1] for row in rows if row and isinstance(row[0], int)]
    assert len(names) == 2 and dead.full_name not in names
    assert any(row[0] and "Không liệt kê 1 người đã mất còn 650.000 đ chưa rút" in row[0] for row in rows)
    # Nobody dead in Cao Bằng: no such section there.
    client.cookies.clear()
    other, _ = await signed_in_page(client, "xa.caobang", "/follow-up?min_days=3")
    assert 'id="follow-deceased"' not in other.text
    assert (await client.get("/api/reports/follow-up", params={"min_days": 0})).json()["deceased_people"] == 0


async def test_the_cash_list_marks_the_dead_without_a_form_and_their_handover_is_refused(client, engine):
    world, dead, dead_id = await _one_dead(client, engine)
    page, _ = await signed_in_page(client, "xa.hoankiem", f"/follow-up/cash?run={world.run_id}")
    cards = {_name(card): card for _, card in _cards(page.text)}
    assert len(cards) == 3  # still waiting: the cash is at the commune until it is returned
    marked = cards[dead.full_name]
    assert "Đã mất (ngày 20/03/2026) — không giao tiền, báo cán bộ để thu hồi" in marked
    assert "/withdrawal" not in marked and "Ghi nhận đã giao tiền mặt" not in marked
    alive = [card for name, card in cards.items() if name != dead.full_name]
    assert all("Đã mất" not in card and "Ghi nhận đã giao tiền mặt" in card for card in alive)
    # The header counts the living people to hand cash to; the dead one is counted apart, with the cash.
    assert "TGXH tháng 03/2026: 2 người còn chờ nhận tiền mặt, tổng 1.300.000 đ" in page.text
    assert "3 người còn chờ" not in page.text
    counted_apart = re.search(r'<p class="notice deceased" role="status" id="cash-deceased">(.*?)</p>',
                              page.text, re.S).group(1)
    assert counted_apart.startswith("Đã mất: 1 người, tổng 650.000 đ (không tính ở trên")
    assert "báo cán bộ để thu hồi" in counted_apart
    english = await client.get(f"/follow-up/cash?run={world.run_id}&lang=en")
    assert "Deceased on 20/03/2026 — do not hand over; tell the officer" in english.text
    assert "TGXH 03/2026: 2 people still waiting for their cash, 1.300.000 đ in all" in english.text
    assert "Deceased: 1 person, 650.000 đ in all (not counted above" in english.text
    # A search that finds only the dead person: the list's figures stay the whole list's.
    found = await client.get("/follow-up/cash", params={"run": world.run_id, "q": dead.national_id})
    assert len(_cards(found.text)) == 1 and "2 people still waiting for their cash" in found.text

    # The printed handover list: the same mark in the notes column, on the dead person's row only.
    workbook = load_workbook(io.BytesIO((await client.get(f"/api/payout-runs/{world.run_id}/cash-handover")).content))
    rows = [row for row in workbook.worksheets[1].iter_rows(values_only=True) if row and isinstance(row[0], int)]
    notes = {row[2]: row[8] for row in rows}
    assert len(notes) == 3
    assert notes.pop(dead.full_name) == ("Đã mất (ngày 20/03/2026) — không giao tiền, báo cán bộ để thu hồi / "
                                         "Deceased on 20/03/2026 — do not hand over; tell the officer")
    assert set(notes.values()) == {None}
    # Below the totals of all the listed cash, the dead person's apart and what is left to hand over.
    sheet = [list(row) for row in workbook.worksheets[1].iter_rows(values_only=True)]
    labelled = {row[1]: (row[2], row[6]) for row in sheet if row and len(row) > 6 and isinstance(row[1], str)}
    assert labelled["Tổng kiểm tra/Control total"] == (None, 3 * AMOUNT)
    assert labelled["Trong đó đã mất, không giao (cán bộ thu hồi)/Of which deceased, not to hand over (recovered)"
                    ] == ("1 người/people", AMOUNT)
    assert labelled["Giao tiền mặt (không kể người đã mất)/To hand over in cash (the deceased excluded)"
                    ] == ("2 người/people", 2 * AMOUNT)
    summary = {row[1]: (row[3], row[4]) for row in workbook.worksheets[0].iter_rows(values_only=True)
               if row and len(row) > 4 and isinstance(row[1], str)}
    assert summary["Tổng kiểm tra/Control total"] == (3, 3 * AMOUNT)
    assert summary["Trong đó đã mất, không giao (cán bộ thu hồi)/Of which deceased, not to hand over (recovered)"
                   ] == (1, AMOUNT)
    assert summary["Giao tiền mặt (không kể người đã mất)/To hand over in cash (the deceased excluded)"
                   ] == (2, 2 * AMOUNT)

    token = {"X-CSRF-Token": csrf_in(page.text)}
    refused = await client.post(f"/api/beneficiaries/{dead_id}/assisted-withdrawals", headers=token,
                                json={"occurred_at": "2026-03-25T03:00:00Z", "amount": AMOUNT})
    assert refused.status_code == 409, refused.text
    body = refused.json()
    assert "đã mất ngày 20/03/2026" in body["detail"] and "hoàn trả tiền mặt" in body["detail"]
    assert "return the cash to the officer" in body["detail"] and body["deceased_on"] == DIED_ON
    # The page's form, posted anyway (a page opened before the death was recorded): refused the same way.
    action, fields = _handover_form(next(iter(alive)))
    stale = await client.post(f"/follow-up/{dead_id}/withdrawal",
                              data={**fields, "_csrf": csrf_in(page.text), "occurred_at": "2026-03-25T10:00"})
    assert stale.status_code == 409  # in English: the page was last opened so
    assert "the beneficiary died on 20/03/2026" in stale.text and "cash return" in stale.text
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal") == 0
    async with session_scope(engine) as session:
        status = await session.scalar(text("SELECT status FROM payout WHERE beneficiary_id = :b"), {"b": dead_id})
    assert status == "sent"  # the cash stays the person's, undrawn, until the officer records its return

    # Handed over before the death and recorded late: accepted, as the fact it is.
    before = await client.post(f"/api/beneficiaries/{dead_id}/assisted-withdrawals", headers=token,
                               json={"occurred_at": "2026-03-15T03:00:00Z", "amount": AMOUNT})
    assert before.status_code == 201, before.text
    # A living person's handover after that day is recorded as ever.
    living = await client.post(action, data={**fields, "_csrf": csrf_in(page.text),
                                             "occurred_at": "2026-03-25T10:00"}, follow_redirects=False)
    assert living.status_code == 303
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE channel = 'cash_handover'") == 2
