"""Registry changes recorded after a run was computed or approved: approval and sending look again.

A death or a suspension recorded after compute makes approval withhold that person's payout (cancelled,
with the reason; months released, so a supplementary run pays the months still owed, once). Recorded
after approval, sending holds the payout back and posts the release that undoes its approval."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from typing import Any
from uuid import UUID

import pytest
from sqlalchemy import event, text

from app.database import make_sessionmaker, session_scope
from app.payouts.service import orders as order_service
from app.payouts.service import recheck
from app.payouts.service.ledger_steps import approve_run, payout_transfer_id
from app.payouts.service.recheck import REGISTRY_MARGIN, changed_payouts
from app.registry.fake import BeneficiaryFaker
from app.registry.schemas import EventIn
from app.registry.service.beneficiaries import record_event
from app.vietnam_time import vietnam_today
from ledger import verify_ledger
from tests.support.ledger import totals
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office, person

# The victim is enrolled from March and paid first by the April run: March (arrears) and April, 650,000 each.
# A death on 20 March leaves March owed (alive on some of its days); a suspension from 1 April does too.
CHANGES = {
    "deceased": {"kind": "deceased", "effective_on": "2026-03-20"},
    "suspended": {"kind": "suspended", "effective_on": "2026-04-01", "reason": "Kiểm tra lại hồ sơ"},
}
HANOI_B = "00073"  # Phường Cửa Nam, Hà Nội: same province (and rate) as HANOI_COMMUNE
REASON_WORDS = {"deceased": ("qua đời", "died"), "suspended": ("tạm dừng", "suspended")}


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _world(office: Office) -> dict[str, Any]:
    """March paid to one person; a second person enrolled from March, not paid yet; funds for April."""
    faker = BeneficiaryFaker(seed=11)
    alive = person(faker, category="NCT_80")
    await office.import_people([alive])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 20_000_000, "FT-RECHECK-1")).status_code == 201
    march = await office.run_cycle("2026-03")
    assert march["by_status"] == {"sent": 1}
    victim = person(faker, category="NCT_80", start="2026-03")
    await office.import_people([victim])
    return {"alive": alive, "victim": victim, "victim_id": await office.beneficiary_id(victim.national_id)}


async def _computed(office: Office, period: str = "2026-04", kind: str = "regular") -> dict[str, Any]:
    await office.be("lan.officer")
    created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": period, "kind": kind})
    assert created.status_code == 201, created.text
    computed = await office.post(f"/api/payout-runs/{created.json()['id']}/compute")
    assert computed.status_code == 200, computed.text
    return computed.json()


async def _payouts(office: Office, run_id: str) -> dict[str, dict[str, Any]]:
    listed = (await office.client.get(f"/api/payout-runs/{run_id}/payouts")).json()["items"]
    return {item["full_name"]: item for item in listed}


async def _record(office: Office, beneficiary_id: str, change: str) -> None:
    await office.be("lan.officer")
    response = await office.post(f"/api/beneficiaries/{beneficiary_id}/events", json=CHANGES[change])
    assert response.status_code in (200, 201), response.text


async def _step(office: Office, run_id: str, step: str) -> dict[str, Any]:
    await office.be("minh.approver" if step == "approve" else "lan.officer")
    response = await office.post(f"/api/payout-runs/{run_id}/{step}")
    assert response.status_code == 200, response.text
    return response.json()


async def _approve_seeing_statements(engine, run_id: str) -> list[str]:  # noqa: ANN001
    """Approve the run; the SQL statements approval sent."""
    statements: list[str] = []

    def remember(conn, cursor, statement, parameters, context, executemany):  # noqa: ANN001, ARG001
        statements.append(statement)

    event.listen(engine.sync_engine, "before_cursor_execute", remember)
    try:
        await approve_run(engine, UUID(run_id), actor="minh.approver")
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", remember)
    return statements


async def _order_references(engine, run_id: str) -> set[str]:
    async with session_scope(engine) as session:
        _, orders = await order_service.run_orders(session, UUID(run_id), VIETCOMBANK)
    return {o.reference for o in orders}


def _assert_withheld(body: dict[str, Any], victim_payout: dict[str, Any], change: str) -> None:
    assert body["withheld_count"] == 1
    (item,) = body["withheld"]
    vi, en = REASON_WORDS[change]
    assert (item["reference"], item["full_name"], item["amount"], item["reason"]) == (
        victim_payout["reference"], victim_payout["full_name"], 1_300_000, change)
    assert vi in item["reason_vi"] and en in item["reason_en"]


@pytest.mark.parametrize("change", ["deceased", "suspended"])
async def test_change_after_compute_withholds_at_approval_and_months_still_owed_are_paid_once(office, engine, change):
    world = await _world(office)
    april = await _computed(office)
    before = await _payouts(office, april["id"])
    victim_payout, alive_payout = before[world["victim"].full_name], before[world["alive"].full_name]
    assert victim_payout["months"] == ["2026-03", "2026-04"] and victim_payout["amount"] == 1_300_000
    await _record(office, world["victim_id"], change)

    approved = await _step(office, april["id"], "approve")
    assert approved["status"] == "approved" and approved["by_status"] == {"scheduled": 1, "cancelled": 1}
    _assert_withheld(approved, victim_payout, change)
    # What each bank and commune needs leaves the withheld payout out (by status still counts it).
    assert [(r["bank_bin"], r["count"], r["amount"]) for r in approved["by_bank"]] == [
        (VIETCOMBANK, 1, alive_payout["amount"])]
    assert [(r["count"], r["amount"]) for r in approved["by_commune"]] == [(1, alive_payout["amount"])]
    # The run's count and total are what it pays, as its tables say (the computed ones counted the withheld).
    assert (april["count"], april["total_amount"]) == (2, victim_payout["amount"] + alive_payout["amount"])
    assert (approved["count"], approved["total_amount"]) == (1, alive_payout["amount"])
    detail = (await office.client.get(f"/api/payout-runs/{april['id']}")).json()
    assert detail["withheld"] == approved["withheld"]
    page = await office.client.get(f"/payout-runs/{april['id']}")
    assert page.status_code == 200 and "Giữ lại, không chi (1 khoản)" in page.text
    assert victim_payout["reference"] in page.text and REASON_WORDS[change][0] in page.text

    sent = await _step(office, april["id"], "send")
    assert sent["status"] == "sent" and sent["by_status"] == {"sent": 1, "cancelled": 1}
    assert await _order_references(engine, april["id"]) == {alive_payout["reference"]}
    after = await _payouts(office, april["id"])
    assert after[world["victim"].full_name]["status"] == "cancelled"
    async with session_scope(engine) as session:
        # Only the entitlements approved: March and April of the one person alive and active.
        assert await totals(session, "expense:TGXH") == (2 * 650_000, 0, 0, 0)
        assert await totals(session, f"payable:beneficiary:{world['victim_id']}") == (0, 0, 0, 0)
        released = await session.scalar(text(
            "SELECT count(*) FROM payout_month WHERE payout_id = :p AND released_at IS NOT NULL"),
            {"p": victim_payout["id"]})
        assert released == 2
        audit = (await session.execute(text(
            """SELECT actor, after FROM audit_log WHERE action = 'payout_run.withhold' AND object_id = :run"""),
            {"run": april["id"]})).one()
        assert audit.actor == "minh.approver" and audit.after["step"] == "approve"
        assert [w["reference"] for w in audit.after["withheld"]] == [victim_payout["reference"]]
        assert audit.after["withheld"][0]["months_not_owed"] == ["2026-04"]
        report = await verify_ledger(session)
    assert report.ok, report.problems

    # March, still owed, is paid by a supplementary run; a second one finds nothing left for the person.
    supplementary = await _computed(office, kind="supplementary")
    paid = await _payouts(office, supplementary["id"])
    assert list(paid) == [world["victim"].full_name]
    assert (paid[world["victim"].full_name]["months"], paid[world["victim"].full_name]["amount"]) == (
        ["2026-03"], 650_000)
    assert (await _step(office, supplementary["id"], "approve"))["withheld_count"] == 0
    assert (await _step(office, supplementary["id"], "send"))["by_status"] == {"sent": 1}
    again = await _computed(office, kind="supplementary")
    assert again["count"] == 0 and await _payouts(office, again["id"]) == {}
    async with session_scope(engine) as session:
        march_paid = await session.scalar(text(
            """SELECT count(*) FROM payout_month WHERE beneficiary_id = :b AND month = DATE '2026-03-01'
                  AND released_at IS NULL"""), {"b": world["victim_id"]})
        assert march_paid == 1
        report = await verify_ledger(session)
    assert report.ok, report.problems


@pytest.mark.parametrize("change", ["deceased", "suspended"])
async def test_change_after_approval_holds_the_payout_at_send_and_reverses_its_approval(office, engine, change):
    world = await _world(office)
    april = await _computed(office)
    payouts = await _payouts(office, april["id"])
    victim_payout, alive_payout = payouts[world["victim"].full_name], payouts[world["alive"].full_name]
    approved = await _step(office, april["id"], "approve")
    assert approved["withheld_count"] == 0 and approved["by_status"] == {"scheduled": 2}
    payable = f"payable:beneficiary:{world['victim_id']}"
    async with session_scope(engine) as session:
        assert await totals(session, payable) == (0, 1_300_000, 0, 0)
    await _record(office, world["victim_id"], change)

    sent = await _step(office, april["id"], "send")
    assert sent["status"] == "sent" and sent["by_status"] == {"sent": 1, "cancelled": 1}
    _assert_withheld(sent, victim_payout, change)
    assert [(r["count"], r["amount"]) for r in sent["by_bank"]] == [(1, alive_payout["amount"])]
    assert [(r["count"], r["amount"]) for r in sent["by_commune"]] == [(1, alive_payout["amount"])]
    assert await _order_references(engine, april["id"]) == {alive_payout["reference"]}
    async with session_scope(engine) as session:
        # The approval stands as posted; the release takes it back: the person is owed nothing by this run.
        assert await totals(session, payable) == (1_300_000, 1_300_000, 0, 0)
        assert await totals(session, "expense:TGXH") == (4 * 650_000, 1_300_000, 0, 0)
        release = (await session.execute(text(
            """SELECT t.amount, t.code, d.code AS debit, c.code AS credit FROM ledger_transfer t
                 JOIN ledger_account d ON d.id = t.debit_account_id JOIN ledger_account c ON c.id = t.credit_account_id
                WHERE t.id = :id"""), {"id": payout_transfer_id(UUID(victim_payout["id"]), "release")})).one()
        assert (release.amount, release.code, release.debit, release.credit) == (
            1_300_000, "payout.release", payable, "expense:TGXH")
        sent_transfer = await session.scalar(text("SELECT count(*) FROM ledger_transfer WHERE id = :id"),
                                             {"id": payout_transfer_id(UUID(victim_payout["id"]), "send")})
        assert sent_transfer == 0
        audit = (await session.execute(text(
            "SELECT actor, after FROM audit_log WHERE action = 'payout_run.withhold' AND object_id = :run"),
            {"run": april["id"]})).one()
        assert audit.actor == "lan.officer" and audit.after["step"] == "send" and audit.after["count"] == 1
        report = await verify_ledger(session)
    assert report.ok, report.problems

    supplementary = await _computed(office, kind="supplementary")
    paid = await _payouts(office, supplementary["id"])
    assert [(p["months"], p["amount"]) for p in paid.values()] == [(["2026-03"], 650_000)]


async def test_run_where_nobody_changed_is_approved_and_sent_as_before_with_one_query_for_the_check(office, engine):
    world = await _world(office)
    # The registry was written well before the run (an import minutes before compute is re-checked: changes
    # are looked for from recheck.REGISTRY_MARGIN before the reading, for transactions still open then).
    async with session_scope(engine) as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))  # events are append-only
        await session.execute(text("UPDATE enrolment SET created_at = created_at - interval '1 hour', "
                                   "updated_at = updated_at - interval '1 hour'"))
        await session.execute(text("UPDATE beneficiary_event SET recorded_at = recorded_at - interval '1 hour'"))
    april = await _computed(office)
    payouts = await _payouts(office, april["id"])
    # A change to someone outside the run's people, recorded after compute, changes nothing either.
    statements = await _approve_seeing_statements(engine, april["id"])
    # The re-check is the one statement that reads the registry's changes; no entitlement is re-evaluated.
    assert sum("beneficiary_event" in s for s in statements) == 1
    assert not any("entitlements_for_month" in s for s in statements)

    detail = (await office.client.get(f"/api/payout-runs/{april['id']}")).json()
    assert detail["status"] == "approved" and detail["withheld_count"] == 0 and detail["withheld"] == []
    assert detail["by_status"] == {"scheduled": 2}
    sent = await _step(office, april["id"], "send")
    assert sent["status"] == "sent" and sent["by_status"] == {"sent": 2} and sent["withheld_count"] == 0
    assert await _order_references(engine, april["id"]) == {p["reference"] for p in payouts.values()}
    async with session_scope(engine) as session:
        assert await totals(session, "expense:TGXH") == (650_000 + 650_000 + 1_300_000, 0, 0, 0)
        assert await session.scalar(text(
            "SELECT count(*) FROM audit_log WHERE action = 'payout_run.withhold'")) == 0
        report = await verify_ledger(session)
    assert report.ok, report.problems
    assert world["victim"].full_name in payouts


async def test_a_death_recorded_while_compute_is_writing_is_withheld_at_approval(office):
    """Compute reads the registry before it writes the payouts: a death recorded after that reading, while the
    chunks are still being written, is not in the run, and approval must find it (computed_at is the reading)."""
    from app.payouts.service.compute import compute_run

    world = await _world(office)
    await office.be("lan.officer")
    created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-04"})
    assert created.status_code == 201, created.text
    run_id = created.json()["id"]
    recorded: list[int] = []

    async def after_chunk(done: int) -> None:
        if not recorded:
            recorded.append(done)
            await _record(office, world["victim_id"], "deceased")

    await compute_run(office.engine, UUID(run_id), actor="lan.officer", chunk_size=1, writers=1,
                      after_chunk=after_chunk)
    assert recorded == [1]
    async with session_scope(office.engine) as session:
        computed_at, recorded_at = (await session.execute(text(
            """SELECT r.computed_at, e.recorded_at FROM payout_run r, beneficiary_event e
                WHERE r.id = :run AND e.beneficiary_id = :b AND e.kind = 'deceased'"""),
            {"run": run_id, "b": world["victim_id"]})).one()
    assert computed_at < recorded_at  # the reading came first, however long the writing took
    approved = await _step(office, run_id, "approve")
    assert approved["withheld_count"] == 1
    assert [w["beneficiary_id"] for w in approved["withheld"]] == [world["victim_id"]]
    payouts = await _payouts(office, run_id)
    assert payouts[world["victim"].full_name]["status"] == "cancelled"
    assert payouts[world["alive"].full_name]["status"] == "scheduled"


async def test_people_enrolled_minutes_before_compute_are_not_re_checked_at_approval(office, engine):
    """An import committed just before compute is in the run: within the time window, but its transaction had
    finished when compute read the registry (``computed_xmin``), so approval re-evaluates nobody."""
    await _world(office)  # the victim was enrolled seconds ago
    april = await _computed(office)
    async with session_scope(engine) as session:
        run = (await session.execute(text(
            "SELECT computed_at, computed_xmin FROM payout_run WHERE id = :run"), {"run": april["id"]})).one()
        assert run.computed_xmin is not None
        since = run.computed_at - REGISTRY_MARGIN
        # The time window alone takes both people (enrolled and recorded within it); the transaction ids none.
        assert len(await changed_payouts(session, UUID(april["id"]), "TGXH", since)) == 2
        assert await changed_payouts(session, UUID(april["id"]), "TGXH", since, run.computed_xmin) == {}
    statements = await _approve_seeing_statements(engine, april["id"])
    assert not any("entitlements_for_month" in s for s in statements)
    async with session_scope(engine) as session:
        approved_xmin = await session.scalar(text("SELECT approved_xmin FROM payout_run WHERE id = :run"),
                                             {"run": april["id"]})
    assert approved_xmin is not None and approved_xmin >= run.computed_xmin


async def test_a_death_written_by_a_transaction_begun_before_compute_and_committed_after_it_is_withheld(
        office, engine, monkeypatch):
    """The case the time window is for: the death's recorded_at is its transaction's start, before compute,
    but it committed after compute read the registry. Its transaction id is above compute's xmin; and the
    transaction was open longer than the margin (here 1 s), so the window opens at its start."""
    monkeypatch.setattr(recheck, "REGISTRY_MARGIN", timedelta(seconds=1))
    world = await _world(office)
    async with make_sessionmaker(engine)() as slow:
        began = await slow.scalar(text("SELECT pg_current_xact_id()::text::bigint"))  # an import, still running
        await asyncio.sleep(2)
        april = await _computed(office)
        await record_event(slow, UUID(world["victim_id"]), EventIn(kind="deceased", effective_on=date(2026, 3, 20)), None)
        await slow.commit()
    async with session_scope(engine) as session:
        computed_at, computed_xmin, recorded_at = (await session.execute(text(
            """SELECT r.computed_at, r.computed_xmin, e.recorded_at FROM payout_run r, beneficiary_event e
                WHERE r.id = :run AND e.beneficiary_id = :b AND e.kind = 'deceased'"""),
            {"run": april["id"], "b": world["victim_id"]})).one()
    assert recorded_at < computed_at - timedelta(seconds=1.5) and computed_xmin <= began
    approved = await _step(office, april["id"], "approve")
    assert approved["withheld_count"] == 1
    assert [w["beneficiary_id"] for w in approved["withheld"]] == [world["victim_id"]]
    payouts = await _payouts(office, april["id"])
    assert payouts[world["victim"].full_name]["status"] == "cancelled"
    assert payouts[world["alive"].full_name]["status"] == "scheduled"


async def test_a_cash_payout_of_someone_moved_within_the_province_is_withheld_and_paid_through_the_new_commune(
        office, engine):
    # A move after compute to another commune of Hà Nội keeps the rate: every month is still owed, but the
    # cash payout would be handed over by the old commune. This month's run (moves take effect today).
    period = vietnam_today().strftime("%Y-%m")
    faker = BeneficiaryFaker(seed=12)
    mover, stayer = (person(faker, category="NCT_80", start=period, bank=None) for _ in range(2))
    await office.import_people([mover, stayer])
    mover_id = await office.beneficiary_id(mover.national_id)
    run = await _computed(office, period)
    before = await _payouts(office, run["id"])
    assert {p["channel"] for p in before.values()} == {"cash"}
    await office.be("lan.officer")
    moved = await office.post(f"/api/beneficiaries/{mover_id}/events",
                              json={"kind": "moved", "to_commune": HANOI_B, "effective_on": vietnam_today().isoformat()})
    assert moved.status_code == 201, moved.text

    approved = await _step(office, run["id"], "approve")
    assert approved["by_status"] == {"scheduled": 1, "cancelled": 1}
    (item,) = approved["withheld"]
    assert (item["beneficiary_id"], item["reason"], item["reference"]) == (
        mover_id, "moved", before[mover.full_name]["reference"])
    assert "chuyển nơi cư trú" in item["reason_vi"] and "moved" in item["reason_en"]
    async with session_scope(engine) as session:
        communes = dict((await session.execute(text(
            "SELECT beneficiary_id, commune_code FROM payout WHERE run_id = :run AND status = 'scheduled'"),
            {"run": run["id"]})).all())
        assert communes == {UUID(await office.beneficiary_id(stayer.national_id)): HANOI_COMMUNE}

    await office.fund_cash(run["id"])
    assert (await _step(office, run["id"], "send"))["by_status"] == {"sent": 1, "cancelled": 1}
    # The next run pays the month, once, through the new commune.
    supplementary = await _computed(office, period, kind="supplementary")
    async with session_scope(engine) as session:
        paid = (await session.execute(text(
            """SELECT p.beneficiary_id, p.commune_code, p.amount, array_agg(pm.month) AS months
                 FROM payout p JOIN payout_month pm ON pm.payout_id = p.id
                WHERE p.run_id = :run GROUP BY 1, 2, 3"""), {"run": supplementary["id"]})).all()
    assert [(str(r.beneficiary_id), r.commune_code, int(r.amount), r.months) for r in paid] == [
        (mover_id, HANOI_B, 650_000, [vietnam_today().replace(day=1)])]
    assert (await _step(office, supplementary["id"], "approve"))["withheld_count"] == 0


async def test_xid_full_widens_old_rows_and_the_transactions_own_rows_above_its_snapshot(engine):
    """A row's 32-bit xmin becomes the 64-bit id nearest the snapshot: an older row's is below the snapshot's
    xmax, and a row this transaction wrote after its snapshot was taken (REPEATABLE READ) above it."""
    async with engine.connect() as conn:
        await conn.execute(text("CREATE TEMP TABLE xid_probe (n int)"))
        await conn.execute(text("INSERT INTO xid_probe VALUES (1)"))
        await conn.commit()
        await conn.execute(text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
        xmax = await conn.scalar(text("SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint"))
        await conn.execute(text("INSERT INTO xid_probe VALUES (2)"))
        own = await conn.scalar(text("SELECT pg_current_xact_id()::text::bigint"))
        rows = dict((await conn.execute(text("SELECT n, xid_full(xmin) FROM xid_probe"))).all())
        await conn.rollback()
    assert own >= xmax and rows[2] == own
    assert 0 < rows[1] < xmax
