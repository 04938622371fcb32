"""Money withdrawn is counted once: an assisted withdrawal the bank's feed also reports (either order), a form
sent twice, and cash "handed over" to a person the commune holds no cash for."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import text

from app.database import session_scope
from ledger import verify_ledger
from tests.support.credit import credit_payouts, payout_of
from tests.support.withdrawal_world import AMOUNT, T0, iso

LIVE_SUM = """SELECT coalesce(sum(amount), 0) FROM withdrawal w WHERE w.beneficiary_id = :b
                 AND NOT EXISTS (SELECT 1 FROM withdrawal_cancellation c WHERE c.withdrawal_id = w.id)"""


async def _live_withdrawn(engine, beneficiary_id: str) -> int:
    async with session_scope(engine) as session:
        return int(await session.scalar(text(LIVE_SUM), {"b": beneficiary_id}))


async def _assisted(world, client, csrf, who: str, at, amount: int, **extra):
    return await client.post(f"/api/beneficiaries/{world.ids[who]}/assisted-withdrawals", headers=csrf,
                             json={"occurred_at": iso(at), "amount": amount, **extra})


async def test_an_assisted_withdrawal_the_bank_reports_afterwards_counts_once(world, engine, client):
    await credit_payouts(engine, [world.payouts["A"], world.payouts["C"]], T0)
    csrf = await world.as_commune_staff()
    helped_at = T0 + timedelta(days=1)
    typed = await _assisted(world, client, csrf, "A", helped_at, AMOUNT, note="Đưa bà ra ATM")
    assert typed.status_code == 201, typed.text
    # C withdrew 300,000 with help the same day; the bank reports 650,000 for C: not the same money.
    assert (await _assisted(world, client, csrf, "C", helped_at, 300_000)).status_code == 201
    # The bank's feed reports A's ATM withdrawal five minutes later (the bank's clock), and C's of another amount.
    bank_at = helped_at + timedelta(minutes=5)
    fed = await world.bank_post([world.row("A", "ATM-A-1", bank_at), world.row("C", "ATM-C-1", bank_at)])
    assert fed.status_code == 200, fed.text
    assert (fed.json()["accepted"], fed.json()["assisted_confirmed"]) == (2, 1)
    # A: 650,000 withdrawn once, at the bank's time; the commune's record stays, cancelled, naming the bank's.
    assert await _live_withdrawn(engine, world.ids["A"]) == AMOUNT
    assert (await payout_of(engine, world.ids["A"], "2026-03"))["withdrawn_at"] == bank_at
    async with session_scope(engine) as session:
        cancelled = (await session.execute(text(
            """SELECT c.withdrawal_id, c.reason, b.bank_reference FROM withdrawal_cancellation c
                 JOIN withdrawal b ON b.id = c.superseded_by"""))).all()
        assert [(row.withdrawal_id, row.bank_reference) for row in cancelled] == [(typed.json()["id"], "ATM-A-1")]
        assert "Ngân hàng đã báo chính lần rút này" in cancelled[0].reason and "ATM-A-1" in cancelled[0].reason
        balance = await session.scalar(text(
            "SELECT debits_posted - credits_posted FROM ledger_account WHERE code = :c"),
            {"c": f"undrawn:{world.ids['A']}"})
        assert balance == 0  # not −650,000: nothing held against the next month
        assert (await verify_ledger(session)).ok
    # C: both counted (different amounts), 650,000 of 650,000 — the records are the person's own.
    assert await _live_withdrawn(engine, world.ids["C"]) == 300_000 + AMOUNT
    # The same feed again changes nothing.
    again = await world.bank_post([world.row("A", "ATM-A-1", bank_at)])
    assert (again.json()["duplicates"], again.json()["assisted_confirmed"]) == (1, 0)
    assert await _live_withdrawn(engine, world.ids["A"]) == AMOUNT


async def test_an_assisted_withdrawal_the_bank_has_already_reported_is_refused(world, engine, client):
    await credit_payouts(engine, [world.payouts["A"]], T0)
    bank_at = T0 + timedelta(days=1)
    assert (await world.bank_post([world.row("A", "ATM-A-2", bank_at, amount=300_000)])).status_code == 200
    csrf = await world.as_commune_staff()
    typed = await _assisted(world, client, csrf, "A", bank_at + timedelta(hours=2), 300_000)
    assert typed.status_code == 409, typed.text
    body = typed.json()
    assert "Ngân hàng đã báo lần rút 300.000 đ" in body["detail"] and "ATM-A-2" in body["detail"]
    assert "the bank has reported a withdrawal of 300,000" in body["detail"]
    assert await _live_withdrawn(engine, world.ids["A"]) == 300_000
    # The rest of the money, withdrawn with help the next day, is recorded.
    rest = await _assisted(world, client, csrf, "A", bank_at + timedelta(days=1, hours=3), AMOUNT - 300_000)
    assert rest.status_code == 201, rest.text
    assert await _live_withdrawn(engine, world.ids["A"]) == AMOUNT


async def test_the_same_record_sent_twice_is_refused(world, engine, client):
    await credit_payouts(engine, [world.payouts["A"]], T0)
    csrf = await world.as_commune_staff()
    at = T0 + timedelta(days=2)
    first = await _assisted(world, client, csrf, "A", at, 200_000)
    assert first.status_code == 201, first.text
    second = await _assisted(world, client, csrf, "A", at, 200_000)
    assert second.status_code == 409, second.text
    assert "Đã ghi nhận lần này rồi" in second.json()["detail"] and "already recorded" in second.json()["detail"]
    assert second.json()["withdrawal_id"] == first.json()["id"]
    assert await _live_withdrawn(engine, world.ids["A"]) == 200_000
    # Another withdrawal of the same amount an hour later is its own record.
    assert (await _assisted(world, client, csrf, "A", at + timedelta(hours=1), 200_000)).status_code == 201
    assert await _live_withdrawn(engine, world.ids["A"]) == 400_000


async def test_cash_is_handed_over_only_to_people_the_commune_holds_cash_for(world, engine, client):
    await credit_payouts(engine, [world.payouts["A"]], T0)
    csrf = await world.as_commune_staff()
    refused = await _assisted(world, client, csrf, "A", T0 + timedelta(days=1), AMOUNT, channel="cash_handover")
    assert refused.status_code == 409, refused.text
    assert "nhận tiền qua tài khoản ngân hàng" in refused.json()["detail"]
    assert [e["column"] for e in refused.json()["errors"]] == ["channel"]
    assert await _live_withdrawn(engine, world.ids["A"]) == 0
    # E is paid in cash: the March cash reached the commune, so it can be handed over.
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout SET sent_at = :t0 WHERE id = :p"), {"t0": T0, "p": world.payouts["E"]})
    handed = await _assisted(world, client, csrf, "E", T0 + timedelta(days=1), AMOUNT)
    assert handed.status_code == 201, handed.text
    assert handed.json()["channel"] == "cash_handover"
