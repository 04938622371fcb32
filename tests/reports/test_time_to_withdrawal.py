"""Exact time-to-withdrawal figures on the hand-built month of ``tests.support.withdrawal_world``."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.registry.fake import BeneficiaryFaker
from app.vietnam_time import vietnam_today
from ledger import verify_ledger
from ledger.accounts import AccountConflict, ensure_accounts
from ledger.schemas import AccountSpec, AccountType
from reconciliation.withdrawals import reallocate
from reports.time_to_withdrawal import time_to_withdrawal
from tests.support.credit import credit_payouts, payout_of
from tests.support.ledger import totals
from tests.support.withdrawal_world import AMOUNT, T0, build_month, build_sent_month
from tests.support.world import VIETCOMBANK, Office, person, register_by_sql


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def test_allocation_holds_early_money_fills_partials_and_follows_late_activity(office, engine):
    world = await build_sent_month(office)
    early = await world.bank_post([world.row("B", "B-EARLY", T0 - timedelta(days=3)),
                                   world.row("A", "A-1", T0 + timedelta(days=1), amount=300_000)])
    assert early.json()["accepted"] == 2
    b = await payout_of(engine, world.ids["B"], "2026-03")
    assert b["first_withdrawal_at"] is None  # nothing credited yet: the withdrawal is held

    from tests.support.credit import credit_payouts

    await credit_payouts(engine, [world.payouts[n] for n in "ABCD"], T0)
    b = await payout_of(engine, world.ids["B"], "2026-03")
    assert b["first_withdrawal_at"] == T0 and b["withdrawn_at"] == T0  # held money counts at the credit
    a = await payout_of(engine, world.ids["A"], "2026-03")
    assert a["first_withdrawal_at"] == T0 + timedelta(days=1) and a["withdrawn_at"] is None  # partial
    await world.bank_post([world.row("A", "A-2", T0 + timedelta(days=2), amount=350_000),
                           world.row("D", "D-20", T0 + timedelta(days=20))])
    a = await payout_of(engine, world.ids["A"], "2026-03")
    assert a["withdrawn_at"] == T0 + timedelta(days=2)
    assert (await payout_of(engine, world.ids["D"], "2026-03"))["withdrawn_at"] == T0 + timedelta(days=20)
    await world.bank_post([world.row("D", "D-4", T0 + timedelta(days=4))])  # arrives late, happened earlier
    d = await payout_of(engine, world.ids["D"], "2026-03")
    assert d["first_withdrawal_at"] == d["withdrawn_at"] == T0 + timedelta(days=4)

    async with session_scope(engine) as session:
        assert await totals(session, f"undrawn:{world.ids['C']}") == (AMOUNT, 0, 0, 0)
        assert await totals(session, f"undrawn:{world.ids['A']}") == (AMOUNT, AMOUNT, 0, 0)
        assert await totals(session, f"undrawn:{world.ids['D']}") == (AMOUNT, AMOUNT, 0, 0)
        # E's cash reached the commune at send, which reallocated E: it waits undrawn. A recompute of
        # everyone changes nothing and posts nothing, and neither does a second one.
        assert await totals(session, f"undrawn:{world.ids['E']}") == (AMOUNT, 0, 0, 0)
        first = await reallocate(session, None)
        assert (first.payouts_changed, first.ledger_entries) == (0, 0)
        again = await reallocate(session, None)
        assert again.payouts_changed == 0 and again.ledger_entries == 0
        # The incremental allocation (continued from each person's frontier) is the from-scratch one.
        snapshot = """SELECT (SELECT array_agg(a ORDER BY a.payout_id, a.withdrawal_id) FROM withdrawal_allocation a)::text,
                             (SELECT array_agg((id, first_withdrawal_at, withdrawn_at) ORDER BY id) FROM payout)::text"""
        incremental = (await session.execute(text(snapshot))).one()
        await session.execute(text("DELETE FROM allocation_frontier"))
        scratch = await reallocate(session, None)
        assert scratch.payouts_changed == 0 and scratch.ledger_entries == 0
        assert (await session.execute(text(snapshot))).one() == incremental
        report = await verify_ledger(session)
        assert report.ok, report.problems


async def test_report_by_commune_gives_exact_medians_p90_and_shares(office, engine):
    await build_month(office)
    async with session_scope(engine) as session:
        report = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="commune")
        assert (await verify_ledger(session)).ok
    rows = {row["group"]: row for row in report["items"]}
    hoan_kiem = rows["00070"]
    assert {k: hoan_kiem[k] for k in ("payouts", "credited", "withdrawn", "median_days", "p90_days", "within_1d",
                                      "within_3d", "within_7d", "within_30d", "never_withdrawn", "undrawn_amount")} == {
        # 0, 1.5, 2, 4 days and C never: C counts after everyone, so p90 (rank 3.6 of 0..4) is not reached.
        "payouts": 5, "credited": 5, "withdrawn": 4, "median_days": 2.0, "p90_days": None, "within_1d": 0.2,
        "within_3d": 0.6, "within_7d": 0.8, "within_30d": 0.8, "never_withdrawn": 1, "undrawn_amount": AMOUNT}
    assert hoan_kiem["label"] == "Phường Hoàn Kiếm"
    assert rows["00073"]["median_days"] == 10.0 and rows["00073"]["within_7d"] == 0.0
    totals_row = report["totals"]
    assert (totals_row["payouts"], totals_row["median_days"], totals_row["p90_days"]) == (6, 3.0, None)
    assert (totals_row["within_1d"], totals_row["within_3d"], totals_row["within_7d"], totals_row["within_30d"]) == (
        0.1667, 0.5, 0.6667, 0.8333)
    assert totals_row["accounts_opened"] == 0  # the five bank accounts were registered today, not in March
    async with session_scope(engine) as session:
        this_month = vietnam_today().replace(day=1)
        now = await time_to_withdrawal(session, period=this_month, group_by="commune")
    assert now["items"] == [] and now["totals"]["accounts_opened"] == 5
    assert [m["month"] for m in report["trend"]] == ["2026-03"]


async def test_report_by_channel_and_scope(office, engine):
    await build_month(office)
    async with session_scope(engine) as session:
        by_channel = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="channel")
        scoped = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="province",
                                          communes=["00073"])
        by_age = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="age_band")
    channels = {row["group"]: row for row in by_channel["items"]}
    assert (channels["bank"]["median_days"], channels["bank"]["p90_days"], channels["bank"]["never_withdrawn"]) == (
        4.0, None, 1)  # 0, 2, 4, 10 days and C never
    assert (channels["cash"]["median_days"], channels["cash"]["within_1d"], channels["cash"]["within_3d"]) == (
        1.5, 0.0, 1.0)
    assert [(r["group"], r["payouts"]) for r in scoped["items"]] == [("01", 1)]
    assert sum(r["payouts"] for r in by_age["items"]) == 6
    assert {r["group"] for r in by_age["items"]} <= {"under_60", "60-69", "70-79", "80+"}


async def test_a_memo_account_code_taken_by_another_kind_of_account_is_refused(office, engine):
    # Registration opens everyone's undrawn:<person>; a code an asset account already held is left to it.
    squatter = "6c1d2e3f-4a5b-4c6d-8e7f-8091a2b3c4d5"
    async with session_scope(engine) as session:
        await ensure_accounts(session, [AccountSpec(code=f"undrawn:{squatter}", type=AccountType.asset)])
        await register_by_sql(session, [person(BeneficiaryFaker(seed=61))], [squatter])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "NS-2026-03")).status_code in (200, 201)
    await office.run_cycle("2026-03")
    async with session_scope(engine) as session:
        payout_id = str(await session.scalar(text("SELECT id FROM payout WHERE beneficiary_id = :b"), {"b": squatter}))
    with pytest.raises(AccountConflict, match=squatter):
        await credit_payouts(engine, [payout_id], T0)
    assert (await payout_of(engine, squatter, "2026-03"))["status"] == "sent"  # nothing half-applied


async def _month_with_recent_arrivals(office):
    """March 2026 of ``withdrawal_world`` with two late arrivals: A, B, D and F credited at T0 (withdrawn after
    1, 2 and 10 days, F after 10), C credited 2 days before ``now`` and not withdrawn, E's cash sent to the
    commune 10 days before ``now`` and handed over 2 days later. Returns ``now``."""
    now = datetime.now(UTC).replace(microsecond=0)
    world = await build_sent_month(office)
    await credit_payouts(office.engine, [world.payouts[n] for n in "ABDF"], T0)
    await credit_payouts(office.engine, [world.payouts["C"]], now - timedelta(days=2))
    async with session_scope(office.engine) as session:
        await session.execute(text("UPDATE payout SET sent_at = :at WHERE id = :p"),
                              {"at": now - timedelta(days=10), "p": world.payouts["E"]})
        # The send is moved back in time: so is the run's latest arrival (kept by a trigger that only moves it
        # forward, as real arrivals do), for what the report reads when arrivals are too many to read one by one.
        await session.execute(text(
            """UPDATE payout_run_arrival a SET latest = (SELECT max(coalesce(p.credited_at, p.sent_at)) FROM payout p
                                                          WHERE p.run_id = a.run_id AND (p.status = 'credited'
                                                                OR (p.channel = 'cash' AND p.status = 'sent')))"""))
        await reallocate(session, [world.ids["E"]])
    posted = await world.bank_post([world.row("A", "A-1", T0 + timedelta(days=1)),
                                    world.row("B", "B-1", T0 + timedelta(days=2)),
                                    world.row("D", "D-1", T0 + timedelta(days=10)),
                                    world.row("F", "F-1", T0 + timedelta(days=10))])
    assert posted.json()["accepted"] == 4, posted.text
    csrf = await world.as_commune_staff()
    handover = await office.client.post(
        f"/api/beneficiaries/{world.ids['E']}/assisted-withdrawals", headers=csrf,
        json={"occurred_at": (now - timedelta(days=8)).isoformat(), "amount": AMOUNT, "note": "Giao tại nhà"})
    assert handover.status_code == 201, handover.text
    return now


def _shares(row):
    return {n: (row[f"within_{n}d"], row[f"within_{n}d_pending"]) for n in (1, 3, 7, 30)}


async def test_a_share_within_n_days_counts_only_payouts_whose_n_days_are_over(office, engine):
    now = await _month_with_recent_arrivals(office)
    async with session_scope(engine) as session:
        by_commune = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="commune", now=now)
        by_channel = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="channel", now=now)
    rows = {row["group"]: row for row in by_commune["items"]}
    # Hoàn Kiếm: A 1 day, B 2, D 10, E 2 (arrived 10 days ago), C arrived 2 days ago, nothing withdrawn. C is
    # in no denominator but the 1-day one (its day is over), E not in the 30-day one: 4/5 before the fix.
    assert rows["00070"]["credited"] == 5
    assert _shares(rows["00070"]) == {1: (0.2, 0), 3: (0.75, 1), 7: (0.75, 1), 30: (1.0, 2)}
    assert _shares(rows["00073"]) == {1: (0.0, 0), 3: (0.0, 0), 7: (0.0, 0), 30: (1.0, 0)}
    assert _shares(by_commune["totals"]) == {1: (0.1667, 0), 3: (0.6, 1), 7: (0.6, 1), 30: (1.0, 2)}
    assert [(m["month"], _shares(m)) for m in by_commune["trend"]] == [("2026-03", _shares(by_commune["totals"]))]
    # The cash channel is E alone, 10 days after its arrival: its 30 days are not over, no share yet.
    cash = {row["group"]: row for row in by_channel["items"]}["cash"]
    assert (cash["credited"], _shares(cash)) == (1, {1: (0.0, 0), 3: (1.0, 0), 7: (1.0, 0), 30: (None, 1)})
    # The medians still count every arrived payout (C last, not withdrawn).
    assert (rows["00070"]["median_days"], rows["00070"]["never_withdrawn"]) == (2.0, 1)
    # Twenty days on, C's 3 and 7 days are over (it counts as not withdrawn within them) and E's 30 days just
    # are (it arrived 30 days before): only C waits for its 30.
    async with session_scope(engine) as session:
        later = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="commune",
                                         now=now + timedelta(days=20))
    assert _shares(later["totals"]) == {1: (0.1667, 0), 3: (0.5, 0), 7: (0.5, 0), 30: (1.0, 1)}


async def test_too_many_recent_arrivals_leave_the_open_shares_empty_instead_of_counting_them(office, engine):
    now = await _month_with_recent_arrivals(office)
    async with session_scope(engine) as session:
        report = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="commune", now=now,
                                          exact_window_limit=1)  # two arrived in the last 30 days
    rows = {row["group"]: row for row in report["items"]}
    # March's latest arrival (C) is 2 days old: no share within 3, 7 or 30 days for any commune; the 1-day
    # share is exact (every payout's day is over).
    assert _shares(rows["00070"]) == {1: (0.2, 0), 3: (None, None), 7: (None, None), 30: (None, None)}
    assert _shares(rows["00073"]) == {1: (0.0, 0), 3: (None, None), 7: (None, None), 30: (None, None)}
    assert _shares(report["totals"])[30] == (None, None) and _shares(report["trend"][0])[3] == (None, None)
    async with session_scope(engine) as session:
        exact = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="commune", now=now,
                                         exact_window_limit=2)
    assert _shares(exact["totals"]) == {1: (0.1667, 0), 3: (0.6, 1), 7: (0.6, 1), 30: (1.0, 2)}


async def test_age_bands_are_listed_youngest_first_not_alphabetically(office, engine):
    world = await build_month(office)
    born = {"A": date(1990, 1, 1), "B": date(1960, 1, 1), "D": date(1950, 1, 1)}  # under 60, 60–69, 70–79 in 2026
    async with session_scope(engine) as session:
        for name, birth in born.items():  # the citizen ID carries the birth year: corrected with it
            await session.execute(text(
                """UPDATE beneficiary SET date_of_birth = :born,
                          national_id = overlay(national_id PLACING lpad((:year % 100)::text, 2, '0') FROM 5 FOR 2)
                    WHERE id = :id"""), {"born": birth, "year": birth.year, "id": world.ids[name]})
        report = await time_to_withdrawal(session, period=date(2026, 3, 1), group_by="age_band")
    assert [(row["group"], row["label"], row["payouts"]) for row in report["items"]] == [
        ("under_60", "Dưới 60 tuổi / under 60", 1), ("60-69", "60–69 tuổi / 60-69", 1),
        ("70-79", "70–79 tuổi / 70-79", 1), ("80+", "Từ 80 tuổi / 80+", 3)]
    assert report["totals"]["payouts"] == 6
