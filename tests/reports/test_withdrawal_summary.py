"""The summary-based time-to-withdrawal report equals the figures computed from every payout, after
changes made through the real paths: statement credit and return, withdrawals held before the credit,
partial and late (back-dated) withdrawals re-allocated, cash handed over, a corrected birth date."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.reports_api.jobs import compact_withdrawal_summary
from reconciliation.writers import write_camt053
from reports.time_to_withdrawal import GROUP_BY, compact_summary, share_by_day, time_to_withdrawal
from tests.app.reconciliation_api.world import debit, returned, sent_payouts, statement, upload
from tests.support.direct_report import direct_report
from tests.support.withdrawal_world import AMOUNT, CUA_NAM_COMMUNE, T0, WithdrawalWorld, build_sent_month, iso
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office

PERIOD = date(2026, 3, 1)
FIGURES = ("payouts", "amount", "credited", "withdrawn", "within_1d", "within_3d", "within_7d", "within_30d",
           "within_1d_pending", "within_3d_pending", "within_7d_pending", "within_30d_pending",
           "never_withdrawn", "partly_withdrawn", "undrawn_amount")
SCOPES: list[dict[str, Any]] = [{}, {"communes": [HANOI_COMMUNE]}, {"communes": [CUA_NAM_COMMUNE]},
                                {"provinces": ["01"]}, {"provinces": ["79"]}]


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


def _same(summary: dict[str, Any], direct: dict[str, Any], where: str) -> None:
    assert {k: summary[k] for k in FIGURES} == {k: direct[k] for k in FIGURES}, where
    # The summary keeps whole hours rounded up: its percentiles are exactly those of the hours rounded
    # up, and within an hour of the exact ones.
    assert (summary["median_days"], summary["p90_days"]) == (direct["median_hours_up"], direct["p90_hours_up"]), where
    for name in ("median_days", "p90_days"):
        if direct[name] is None:
            assert summary[name] is None, where
        else:
            assert 0 <= summary[name] - direct[name] <= 1 / 24 + 0.01, where


async def assert_report_matches_payouts(engine: Any) -> int:
    """Every grouping and scope, totals and trend; returns how many groups were compared."""
    compared = 0
    async with session_scope(engine) as session:
        for group_by in GROUP_BY:
            for scope in SCOPES:
                report = await time_to_withdrawal(session, period=PERIOD, group_by=group_by, **scope)
                direct = await direct_report(session, period=PERIOD, group_by=group_by, **scope)
                where = f"{group_by} {scope}"
                assert {row["group"] for row in report["items"]} == set(direct["items"]), where
                for row in report["items"]:
                    _same(row, direct["items"][row["group"]], f"{where} {row['group']}")
                    compared += 1
                _same(report["totals"], direct["totals"], f"{where} totals")
                assert [m["month"] for m in report["trend"]] == list(direct["trend"]), where
                for month in report["trend"]:
                    _same(month, direct["trend"][month["month"]], f"{where} trend {month['month']}")
    return compared


async def _direct_share_by_day(engine: Any, communes: list[str] | None) -> list[float | None]:
    """From the payouts one by one: day N over the arrived payouts that arrived at least N days ago."""
    async with session_scope(engine) as session:
        rows = (await session.execute(text(
            """SELECT floor(extract(epoch FROM now() - coalesce(p.credited_at, p.sent_at)) / 86400)::int AS age,
                      CASE WHEN p.withdrawn_at IS NOT NULL
                           THEN ceil(extract(epoch FROM p.withdrawn_at - coalesce(p.credited_at, p.sent_at))
                                     / 86400.0)::int END AS day
                 FROM payout p JOIN payout_run r ON r.id = p.run_id
                WHERE r.period = :period AND (p.status = 'credited' OR (p.channel = 'cash' AND p.status = 'sent'))
                  AND (CAST(:communes AS text[]) IS NULL OR p.commune_code = ANY(CAST(:communes AS text[])))"""),
            {"period": PERIOD, "communes": communes})).all()
    if not rows:
        return [None] * 31
    shares: list[float | None] = []
    for day in range(31):
        over = [row for row in rows if row.age >= day]
        within = [row for row in over if row.day is not None and row.day <= day]
        shares.append(round(len(within) / len(over), 4) if over else None)
    return shares


async def _post(world: WithdrawalWorld, rows: list[dict[str, Any]]) -> None:
    response = await world.bank_post(rows)
    assert response.status_code == 200 and response.json()["accepted"] == len(rows), response.text


async def test_summary_report_equals_the_payouts_through_credit_return_late_activity_and_handover(office, engine):
    world = await build_sent_month(office)
    assert await assert_report_matches_payouts(engine) > 0  # sent, nothing arrived yet
    # Money withdrawn before the statement credits it (held), and a first part at an odd minute.
    await _post(world, [world.row("B", "B-EARLY", T0 - timedelta(days=3)),
                        world.row("A", "A-1", T0 + timedelta(days=1, hours=3, minutes=20), amount=300_000),
                        world.row("F", "F-1", T0 + timedelta(hours=5), amount=100_000)])
    # The bank's statement credits A, B, C, D and F (a real upload: matching, ledger, reallocation).
    payouts = {str(p.beneficiary_id): p for p in await sent_payouts(office)}
    lines = [debit(payouts[world.ids[name]]) for name in "ABCDF"]
    headers = world.bank_headers
    office.client.cookies.clear()
    uploaded = await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "sk1.xml")
    assert uploaded.status_code == 201, uploaded.text
    await assert_report_matches_payouts(engine)
    # More activity: A finishes, D withdraws late and then a back-dated withdrawal arrives.
    await _post(world, [world.row("A", "A-2", T0 + timedelta(days=2, minutes=7), amount=350_000),
                        world.row("D", "D-20", T0 + timedelta(days=20))])
    await _post(world, [world.row("D", "D-4", T0 + timedelta(days=4, hours=1, minutes=1))])
    # E's cash, sent to the commune when the run was sent (just now), is handed over by commune staff.
    csrf = await world.as_commune_staff()
    handover = await office.client.post(
        f"/api/beneficiaries/{world.ids['E']}/assisted-withdrawals", headers=csrf,
        json={"occurred_at": iso(datetime.now(UTC)), "amount": AMOUNT, "note": "Giao tại nhà"})
    assert handover.status_code == 201, handover.text
    office.client.cookies.clear()
    await assert_report_matches_payouts(engine)
    # F's money comes back after its credit (a second statement): out of the arrived payouts, its
    # partial withdrawal no longer counts.
    back = statement(VIETCOMBANK, [returned(payouts[world.ids["F"]])],
                     statement_id="SK202603/2", opening=100_000_000 - 5 * AMOUNT)
    uploaded = await upload(office, headers, write_camt053(back), "sk2.xml")
    assert uploaded.status_code == 201, uploaded.text
    async with session_scope(engine) as session:
        statuses = dict((await session.execute(text(
            "SELECT beneficiary_id::text, status FROM payout"))).all())
    assert statuses[world.ids["F"]] == "returned" and statuses[world.ids["C"]] == "credited"
    compared = await assert_report_matches_payouts(engine)
    assert compared >= 35  # every grouping in every scope holds groups (NCT_80: everyone in the 80+ age band)
    for communes in (None, [HANOI_COMMUNE], [CUA_NAM_COMMUNE]):
        async with session_scope(engine) as session:
            shares = await share_by_day(session, period=PERIOD, communes=communes)
        assert shares == await _direct_share_by_day(engine, communes)

    # A corrected birth date moves the person's payouts to another age band (and a partial one too).
    await _post(world, [world.row("C", "C-1", T0 + timedelta(days=3), amount=50_000)])
    async with session_scope(engine) as session:
        before_bands = await time_to_withdrawal(session, period=PERIOD, group_by="age_band")
        await session.execute(text(  # the citizen ID carries the birth year: corrected with it
            """UPDATE beneficiary SET date_of_birth = date_of_birth + interval '25 years',
                      national_id = overlay(national_id PLACING
                          lpad(((extract(year FROM date_of_birth)::int + 25) % 100)::text, 2, '0') FROM 5 FOR 2)
                WHERE id = :c"""), {"c": world.ids["C"]})
        bands = await time_to_withdrawal(session, period=PERIOD, group_by="age_band")
    counts = [{row["group"]: row["payouts"] for row in report["items"]} for report in (before_bands, bands)]
    assert counts[0] != counts[1] and sum(counts[0].values()) == sum(counts[1].values()) == 6
    await assert_report_matches_payouts(engine)

    # Folding the delta rows (the scheduled job) changes no figure and leaves one row per key; again,
    # it has nothing to fold.
    async with session_scope(engine) as session:
        before = await time_to_withdrawal(session, period=PERIOD, group_by="sex")
    assert await compact_withdrawal_summary(engine, {}, datetime.now(UTC)) != "rows=0"
    async with session_scope(engine) as session:
        assert await compact_summary(session) == 0
        assert await time_to_withdrawal(session, period=PERIOD, group_by="sex") == before
        repeated = await session.scalar(text(
            """SELECT count(*) FROM (SELECT 1 FROM withdrawal_summary GROUP BY period, commune_code, programme_code,
                      bank_key, channel, sex, age_band HAVING count(*) > 1) k"""))
        assert repeated == 0
        assert await session.scalar(text("SELECT count(*) FROM withdrawal_summary WHERE NOT compacted")) == 0
    await assert_report_matches_payouts(engine)


async def test_summary_counts_a_run_from_its_approval_and_refuses_truncate(office, engine):
    world = await build_sent_month(office)
    from app.payouts.service.compute import compute_run
    from app.payouts.service.ledger_steps import approve_run
    from app.payouts.service.runs import create_run

    async def april_report() -> tuple[int, int, int]:
        async with session_scope(engine) as session:
            report = await time_to_withdrawal(session, period=date(2026, 4, 1), group_by="commune")
            count, amount = (await session.execute(text(
                """SELECT count(*), coalesce(sum(p.amount), 0) FROM payout p JOIN payout_run r ON r.id = p.run_id
                    WHERE r.period = '2026-04-01'"""))).one()
        return report["totals"]["payouts"] or 0, int(count), int(amount)

    async with session_scope(engine) as session:
        # Another run of April is computed, recomputed (its payouts deleted and written again): not counted
        # while it is not approved (an officer may still recompute or cancel it).
        run = await create_run(session, programme="TGXH", period="2026-04", actor="lan.officer")
    await compute_run(engine, run.id, actor="lan.officer")
    await compute_run(engine, run.id, actor="lan.officer")
    counted, april, amount = await april_report()
    assert april > 0 and counted == 0
    await assert_report_matches_payouts(engine)
    # Approved: every payout of it counts, in the approval's transaction.
    await approve_run(engine, run.id, actor="minh.approver")
    async with session_scope(engine) as session:
        report = await time_to_withdrawal(session, period=date(2026, 4, 1), group_by="commune")
    assert (report["totals"]["payouts"], report["totals"]["amount"]) == (april, amount)
    await assert_report_matches_payouts(engine)
    assert world.ids
    async with session_scope(engine) as session:
        with pytest.raises(Exception, match="TRUNCATE payout"):
            await session.execute(text("TRUNCATE payout CASCADE"))
