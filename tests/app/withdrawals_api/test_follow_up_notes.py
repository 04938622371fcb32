"""A follow-up note's time: not in the future (beyond a few minutes of clock skew), nor before 01/01/2025, when
ansinh began paying (nothing to follow up before). A refused note is not stored; the follow-up list's "last
contact" is never a time still to come."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from uuid import UUID

from sqlalchemy import text

from app.database import session_scope
from reports.follow_up import follow_up_page
from tests.support.credit import credit_payouts
from tests.support.withdrawal_world import T0, iso
from tests.support.world import count_rows


async def test_a_note_in_the_future_or_before_2025_is_refused(world, engine, client):
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/follow-up-notes"
    future = await client.post(url, headers=csrf, json={"kind": "visit", "at": "2030-01-01T00:00:00Z"})
    assert future.status_code == 422, future.text
    body = future.json()
    assert body["detail"].startswith("Thời gian liên hệ ở tương lai: 01/01/2030 07:00 (bây giờ là ")
    assert "the contact's time is in the future: 01/01/2030 07:00 (it is now " in body["detail"]
    assert [(e["column"], e["message"], e["message_en"]) for e in body["errors"]] == [
        ("at", "Không được sau thời điểm hiện tại", "cannot be later than now")]
    # An hour ahead is not clock skew either.
    ahead = await client.post(url, headers=csrf, json={"kind": "call",
                                                       "at": iso(datetime.now(UTC) + timedelta(hours=1))})
    assert ahead.status_code == 422 and ahead.json()["errors"][0]["column"] == "at"
    old = await client.post(url, headers=csrf, json={"kind": "note", "at": "2024-12-31T16:59:00Z"})  # 23:59 ICT
    assert old.status_code == 422, old.text
    assert "Thời gian liên hệ trước 01/01/2025, khi ansinh bắt đầu chi trả: 31/12/2024 23:59" in old.json()["detail"]
    assert "before 01/01/2025, when ansinh began paying: 31/12/2024 23:59" in old.json()["detail"]
    assert old.json()["errors"][0]["message"] == "Không được trước 01/01/2025"
    for absurd in ("1900-01-01T00:00:00Z", "0001-01-01T00:00:00Z", "9999-12-31T23:59:00Z", "0001-01-01T00:00:00+08:00"):
        assert (await client.post(url, headers=csrf, json={"kind": "visit", "at": absurd})).status_code == 422
    assert await count_rows(engine, "SELECT count(*) FROM follow_up_note WHERE beneficiary_id = :b", b=world.ids["A"]) == 0
    # A bad kind is still named (and a bad time with it is not stored either).
    both = await client.post(url, headers=csrf, json={"kind": "party", "at": "2030-01-01T00:00:00Z"})
    assert both.status_code == 422 and {e["column"] for e in both.json()["errors"]} == {"kind", "at"}

    # What may be recorded: a phone clock a minute ahead, the first instant of 2025, any time in between,
    # and no time at all (now).
    for moment in (datetime.now(UTC) + timedelta(minutes=1), datetime(2024, 12, 31, 17, 0, tzinfo=UTC),
                   T0 + timedelta(days=3)):
        saved = await client.post(url, headers=csrf, json={"kind": "visit", "at": iso(moment)})
        assert saved.status_code == 201, saved.text
    assert (await client.post(url, headers=csrf, json={"kind": "call", "text": "gọi"})).status_code == 201
    assert await count_rows(engine, "SELECT count(*) FROM follow_up_note WHERE beneficiary_id = :b", b=world.ids["A"]) == 4


async def test_the_follow_up_lists_last_contact_is_never_still_to_come(world, engine, client):
    # A note dated in the future that got in before the check (kept: notes are append-only) does not stand
    # as the last contact; the real last contact does.
    await credit_payouts(engine, [world.payouts["A"]], T0)
    csrf = await world.as_commune_staff("hoa.commune")
    visit = await client.post(f"/api/beneficiaries/{world.ids['A']}/follow-up-notes", headers=csrf,
                              json={"kind": "visit", "at": iso(T0 + timedelta(days=2))})
    assert visit.status_code == 201, visit.text
    async with session_scope(engine) as session:
        await session.execute(text(
            """INSERT INTO follow_up_note (beneficiary_id, kind, at, recorded_by, text)
               VALUES (:b, 'call', TIMESTAMPTZ '2030-01-01 00:00:00+00', 'hoa.commune', 'nhầm năm')"""),
            {"b": world.ids["A"]})
    listed = await client.get("/api/reports/follow-up", params={"min_days": 0})
    assert listed.status_code == 200, listed.text
    (person,) = [p for p in listed.json()["items"] if p["beneficiary_id"] == world.ids["A"]]
    assert (datetime.fromisoformat(person["last_contact_at"]), person["last_contact_kind"]) == (
        T0 + timedelta(days=2), "visit")
    # A list as of an earlier time names the last contact up to that time: not a later help at the bank.
    helped = await client.post(f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals", headers=csrf,
                               json={"occurred_at": iso(T0 + timedelta(days=20)), "amount": 100_000})
    assert helped.status_code == 201, helped.text
    async with session_scope(engine) as session:
        now_list, earlier_list = [
            {p.beneficiary_id: p for p in (await follow_up_page(session, min_days=0, as_of=as_of)).people}
            for as_of in (None, T0 + timedelta(days=10))]
    a = UUID(world.ids["A"])
    assert (now_list[a].last_contact_at, now_list[a].last_contact_kind) == (T0 + timedelta(days=20), "assisted")
    assert (earlier_list[a].last_contact_at, earlier_list[a].last_contact_kind) == (T0 + timedelta(days=2), "visit")
    assert (now_list[a].amount_waiting, now_list[a].last_contact_by) == (550_000, "hoa.commune")
