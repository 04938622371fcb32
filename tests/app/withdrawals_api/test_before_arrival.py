"""A withdrawal commune staff record (assisted, or a cash handover) cannot be earlier than the arrival of the
money it takes: refused with 422 on ``occurred_at``, naming the day the money arrived; nothing is stored and the
payout's times stay as they were."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import text

from app.database import session_scope
from tests.support.credit import credit_payouts, payout_of
from tests.support.withdrawal_world import AMOUNT, T0, iso
from tests.support.world import VIETCOMBANK, count_rows


async def test_an_assisted_withdrawal_dated_before_the_credit_is_refused_naming_the_day(world, engine, client):
    await credit_payouts(engine, [world.payouts["A"]], T0)  # 10/03/2026 08:00 in Việt Nam
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals"
    early = await client.post(url, headers=csrf, json={"occurred_at": "2026-03-01T10:00:00+07:00", "amount": AMOUNT})
    assert early.status_code == 422, early.text
    body = early.json()
    assert body["detail"].startswith("Thời gian rút không thể trước khi tiền về: lúc 01/03/2026 10:00 người hưởng "
                                     "chỉ có 0 đ đã về mà chưa rút; số tiền 650.000 đ chỉ có đủ từ 08:00 ngày "
                                     "10/03/2026 (ngân hàng báo có vào tài khoản). Hãy kiểm tra lại thời gian rút / ")
    assert "a withdrawal cannot be earlier than the money it takes: at 01/03/2026 10:00 only 0 đồng" in body["detail"]
    assert "650,000 đồng were there only from 08:00 on 10/03/2026 (credited to the account)" in body["detail"]
    assert [(e["column"], e["message"], e["message_en"]) for e in body["errors"]] == [
        ("occurred_at", "Sớm nhất là 08:00 ngày 10/03/2026, khi tiền đã về",
         "no earlier than 08:00 on 10/03/2026, when the money had arrived")]
    assert (body["arrived_on"], body["available_at_that_time"]) == ("2026-03-10", 0)
    assert datetime.fromisoformat(body["arrived_at"]) == T0
    # One minute before the credit is still before it; a part of it is refused just the same.
    for moment, amount in ((iso(T0 - timedelta(minutes=1)), AMOUNT), (iso(T0 - timedelta(hours=1)), 1_000),
                           ("0001-01-01T00:00:00+08:00", 1_000)):  # the calendar's first day, east of Việt Nam
        refused = await client.post(url, headers=csrf, json={"occurred_at": moment, "amount": amount})
        assert refused.status_code == 422 and refused.json()["errors"][0]["column"] == "occurred_at", refused.text
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE beneficiary_id = :b", b=world.ids["A"]) == 0
    payout = await payout_of(engine, world.ids["A"], "2026-03")
    assert (payout["first_withdrawal_at"], payout["withdrawn_at"]) == (None, None)

    # From the instant the money arrived it may be recorded; after 300,000 at the credit, nothing earlier fits.
    at_credit = await client.post(url, headers=csrf, json={"occurred_at": iso(T0), "amount": 300_000})
    assert at_credit.status_code == 201, at_credit.text
    before = await client.post(url, headers=csrf,
                               json={"occurred_at": iso(T0 - timedelta(seconds=1)), "amount": 350_000})
    assert before.status_code == 422, before.text
    assert "lúc 10/03/2026 07:59 người hưởng chỉ có 0 đ đã về mà chưa rút" in before.json()["detail"]
    assert before.json()["errors"][0]["message"] == "Sớm nhất là 08:00 ngày 10/03/2026, khi tiền đã về"
    rest = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=2)), "amount": 350_000})
    assert rest.status_code == 201, rest.text
    payout = await payout_of(engine, world.ids["A"], "2026-03")
    assert (payout["first_withdrawal_at"], payout["withdrawn_at"]) == (T0, T0 + timedelta(days=2))
    detail = (await client.get(f"/api/beneficiaries/{world.ids['A']}")).json()
    assert detail["payouts"][0]["days_to_withdraw"] == 2.0


async def test_a_credit_within_a_minute_names_the_first_whole_minute_a_form_can_give(world, engine, client):
    # The bank's time has seconds, a phone's form has none: the minute the credit came in is too early.
    await credit_payouts(engine, [world.payouts["A"]], T0 + timedelta(seconds=30))
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals"
    same_minute = await client.post(url, headers=csrf, json={"occurred_at": "2026-03-10T08:00:00+07:00",
                                                             "amount": AMOUNT})
    assert same_minute.status_code == 422, same_minute.text
    assert same_minute.json()["errors"][0]["message"] == "Sớm nhất là 08:01 ngày 10/03/2026, khi tiền đã về"
    assert datetime.fromisoformat(same_minute.json()["arrived_at"]) == T0 + timedelta(seconds=30)
    next_minute = await client.post(url, headers=csrf, json={"occurred_at": "2026-03-10T08:01:00+07:00",
                                                             "amount": AMOUNT})
    assert next_minute.status_code == 201, next_minute.text


async def test_a_cash_handover_before_the_cash_reached_the_commune_is_refused(world, engine, client):
    async with session_scope(engine) as session:  # the cash left for the commune at T0
        await session.execute(text("UPDATE payout SET sent_at = :t0 WHERE id = :p"), {"t0": T0, "p": world.payouts["E"]})
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['E']}/assisted-withdrawals"
    early = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 - timedelta(days=2)), "amount": AMOUNT})
    assert early.status_code == 422, early.text
    assert "chỉ có đủ từ 08:00 ngày 10/03/2026 (tiền mặt chuyển về xã)" in early.json()["detail"]
    assert "(the cash reached the commune)" in early.json()["detail"]
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE beneficiary_id = :b", b=world.ids["E"]) == 0
    handed = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(hours=3)), "amount": AMOUNT})
    assert handed.status_code == 201 and handed.json()["channel"] == "cash_handover", handed.text


async def test_a_record_that_would_push_a_later_one_before_its_money_is_refused(world, office, engine, client):
    # March credited at T0, April at T0 + 30 days; 650,000 recorded on day 20 used March up.
    await credit_payouts(engine, [world.payouts["A"]], T0)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "NS-2026-04")).status_code in (200, 201)
    await office.run_cycle("2026-04")
    april = await payout_of(engine, world.ids["A"], "2026-04")
    await credit_payouts(engine, [april["id"]], T0 + timedelta(days=30))
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals"
    day20 = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=20)), "amount": AMOUNT})
    assert day20.status_code == 201, day20.text
    # On day 5 March's money was there, but recording 650,000 then would make the day-20 withdrawal take
    # April's money, which arrived on 09/04/2026.
    day5 = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=5)), "amount": AMOUNT})
    assert day5.status_code == 422, day5.text
    assert ("lúc 15/03/2026 08:00 người hưởng có 650.000 đ đã về mà chưa rút, nhưng các lần rút sau thời điểm đó "
            "lấy 650.000 đ trong số này (tiền về trước được rút trước), chỉ còn 0 đ; số tiền 650.000 đ chỉ có đủ "
            "từ 08:00 ngày 09/04/2026") in day5.json()["detail"]
    assert ("at 15/03/2026 08:00 650,000 đồng had arrived and were not withdrawn, but withdrawals made after that "
            "time take 650,000 đồng of them (first in, first out), leaving 0 đồng") in day5.json()["detail"]
    assert (day5.json()["arrived_on"], day5.json()["available_at_that_time"]) == ("2026-04-09", 0)
    # Part of it fits: what withdrawals after that time leave (none here), so even 1,000 is refused.
    part = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=5)), "amount": 1_000})
    assert part.status_code == 422 and part.json()["errors"][0]["column"] == "occurred_at"
    # Recorded out of order but consistent: April's money withdrawn after it arrived.
    day31 = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=31)), "amount": AMOUNT})
    assert day31.status_code == 201, day31.text
    months = {m: await payout_of(engine, world.ids["A"], m) for m in ("2026-03", "2026-04")}
    assert months["2026-03"]["withdrawn_at"] == T0 + timedelta(days=20)
    assert months["2026-04"]["withdrawn_at"] == T0 + timedelta(days=31)


async def test_a_banks_activity_before_the_credit_is_still_taken(world, engine):
    # Out of scope of the check: a bank's own feed may predate the credit; the allocation holds it.
    early = await world.bank_post([world.row("A", "A-EARLY", T0 - timedelta(days=2))])
    assert early.status_code == 200 and early.json()["accepted"] == 1, early.text
    await credit_payouts(engine, [world.payouts["A"]], T0)
    payout = await payout_of(engine, world.ids["A"], "2026-03")
    assert (payout["first_withdrawal_at"], payout["withdrawn_at"]) == (T0, T0)


async def test_the_current_minute_on_a_phone_a_little_ahead_is_not_the_future(world, engine, client):
    """A phone's clock a few minutes ahead gives the current minute as a time just after now: taken as given (the
    same allowance as a contact's time); beyond five minutes it is the future, refused naming the time it is."""
    await credit_payouts(engine, [world.payouts["A"]], T0)
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals"
    now = datetime.now(UTC).replace(microsecond=0)
    ahead = await client.post(url, headers=csrf, json={"occurred_at": iso(now + timedelta(minutes=4)), "amount": 1_000})
    assert ahead.status_code == 201, ahead.text
    assert datetime.fromisoformat(ahead.json()["occurred_at"]) == now + timedelta(minutes=4)
    future = await client.post(url, headers=csrf, json={"occurred_at": iso(now + timedelta(hours=2)), "amount": 1_000})
    assert future.status_code == 422, future.text
    body = future.json()
    assert body["detail"].startswith("Thời gian rút tiền ở tương lai: ")
    assert "(bây giờ là " in body["detail"] and "the withdrawal's time is in the future" in body["detail"]
    assert body["errors"][0]["column"] == "occurred_at"
    assert body["errors"][0]["message"].startswith("Thời gian ở tương lai: ")
    assert await count_rows(engine, "SELECT count(*) FROM withdrawal WHERE beneficiary_id = :b", b=world.ids["A"]) == 1
