"""Cancelling a run before approval: its payouts and paid months go, the period can be run again; once
approved or sent the money is in the ledger and the run cannot be cancelled."""

from __future__ import annotations

from uuid import UUID

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.database import session_scope
from app.payouts.service.runs import staging_tables
from app.registry.fake import BeneficiaryFaker
from ledger import verify_ledger
from tests.support.world import CAO_BANG_COMMUNE, VIETCOMBANK, Office, person

REASON = "Nhầm danh sách đối tượng tháng 3"


@pytest.fixture
async def office(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=31)
    await office.import_people([person(faker), person(faker),
                                person(faker, commune=CAO_BANG_COMMUNE, bank=None, category="NKT_DBN")])
    await office.register_disbursement(VIETCOMBANK)
    return office


async def _computed_run(office: Office, period: str = "2026-03") -> str:
    await office.be("lan.officer")
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": period})).json()["id"]
    computed = await office.post(f"/api/payout-runs/{run_id}/compute")
    assert computed.status_code == 200 and computed.json()["count"] == 3, computed.text
    return run_id


async def _counts(engine, run_id: str) -> dict[str, int]:
    async with session_scope(engine) as session:
        row = (await session.execute(text(
            """SELECT (SELECT count(*) FROM payout WHERE run_id = :id) AS payouts,
                      (SELECT count(*) FROM payout_month pm JOIN payout p ON p.id = pm.payout_id
                        WHERE p.run_id = :id) AS months,
                      (SELECT count(*) FROM payout_run_skip WHERE run_id = :id) AS skipped,
                      (SELECT count(*) FROM payout_month) AS all_months"""), {"id": run_id})).one()
    return dict(row._mapping)


async def test_cancelling_a_computed_run_frees_its_months_and_its_period(office, engine):
    run_id = await _computed_run(office)
    async with session_scope(engine) as session:  # one person skipped: their account was reported closed
        await session.execute(text(
            """INSERT INTO payout_run_skip (run_id, beneficiary_id, reason, amount)
               SELECT :id, beneficiary_id, 'bank_account_closed', amount FROM payout WHERE run_id = :id LIMIT 1"""),
            {"id": run_id})
    assert await _counts(engine, run_id) == {"payouts": 3, "months": 3, "skipped": 1, "all_months": 3}

    cancelled = await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": f"  {REASON} "})
    assert cancelled.status_code == 200, cancelled.text
    body = cancelled.json()
    assert (body["status"], body["cancelled_by"], body["cancel_reason"], body["count"], body["total_amount"]) == \
        ("cancelled", "lan.officer", REASON, 0, 0)
    assert body["cancelled_at"] is not None and body["by_bank"] == []
    assert await _counts(engine, run_id) == {"payouts": 0, "months": 0, "skipped": 0, "all_months": 0}
    async with session_scope(engine) as session:
        audit = (await session.execute(text(
            "SELECT actor, before, after FROM audit_log WHERE action = 'payout_run.cancel' AND object_id = :id"),
            {"id": run_id})).one()
        report = await verify_ledger(session)
    assert audit.actor == "lan.officer" and audit.before["status"] == "computed" and audit.before["payouts"] == 3
    assert audit.after == {"status": "cancelled", "reason": REASON, "payouts_removed": 3}
    assert report.ok and report.transfers == 0  # nothing of a run before approval is in the ledger

    again = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})
    assert again.status_code == 201, again.text
    new_id = again.json()["id"]
    recomputed = (await office.post(f"/api/payout-runs/{new_id}/compute")).json()
    assert recomputed["count"] == 3 and recomputed["total_amount"] == 650_000 * 2 + 1_000_000
    listed = (await office.client.get(f"/api/payout-runs/{new_id}/payouts")).json()["items"]
    assert sorted(month for item in listed for month in item["months"]) == ["2026-03"] * 3
    runs = (await office.client.get("/api/payout-runs", params={"period": "2026-03"})).json()["items"]
    assert sorted(r["status"] for r in runs) == ["cancelled", "computed"]
    # a second live regular run of the period is still refused
    assert (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).status_code == 409


async def test_cancelling_a_run_whose_compute_was_killed_drops_its_staging_tables(office, engine):
    await office.be("lan.officer")
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    tables = staging_tables(UUID(run_id))
    async with session_scope(engine) as session:  # what a compute killed half-way leaves behind
        for table in tables:
            await session.execute(text(f"CREATE UNLOGGED TABLE {table} (beneficiary_id uuid)"))
    cancelled = await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})
    assert cancelled.status_code == 200, cancelled.text
    async with session_scope(engine) as session:
        left = await session.scalar(text("SELECT count(*) FROM pg_class WHERE relname = ANY(:names)"),
                                    {"names": list(tables)})
    assert left == 0


async def test_a_draft_run_can_be_cancelled_and_does_not_count_as_the_go_live(office, engine):
    await office.be("lan.officer")
    draft = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-02"})).json()
    cancelled = await office.post(f"/api/payout-runs/{draft['id']}/cancel", json={"reason": "Lập nhầm kỳ"})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"
    # the programme's first run in ansinh is March's: February was paid outside it, no arrears for it
    march = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()
    assert march["arrears_from"] == "2026-03"
    supplementary = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-02",
                                                                "kind": "supplementary"})
    assert supplementary.status_code == 409 and "no regular run for this period" in supplementary.json()["detail"]


async def test_cancel_needs_a_reason(office, engine):
    run_id = await _computed_run(office)
    for body in ({"reason": "   "}, {}):
        refused = await office.post(f"/api/payout-runs/{run_id}/cancel", json=body)
        assert refused.status_code == 422, refused.text
        assert refused.json()["detail"] == "Cần ghi lý do hủy đợt chi / a reason is required to cancel a run"
    assert (await office.client.get(f"/api/payout-runs/{run_id}")).json()["status"] == "computed"
    assert (await _counts(engine, run_id))["payouts"] == 3


async def test_approved_and_sent_runs_cannot_be_cancelled(office, engine):
    run_id = await _computed_run(office)
    await office.be("minh.approver")
    assert (await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})).status_code == 403
    assert (await office.post(f"/api/payout-runs/{run_id}/approve")).status_code == 200
    await office.be("lan.officer")
    approved = await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})
    assert approved.status_code == 409
    assert approved.json()["detail"] == (
        "Đợt chi đã được duyệt: tiền đã được ghi sổ kế toán nên không hủy được / "
        "the run is approved: its money has already moved through the ledger, so it cannot be cancelled")
    assert (await office.fund(VIETCOMBANK, 1_300_000, "FT-CANCEL-1")).status_code == 201
    await office.fund_cash(run_id)
    assert (await office.post(f"/api/payout-runs/{run_id}/send")).status_code == 200
    sent = await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})
    assert sent.status_code == 409 and "the run is sent: its money has already moved" in sent.json()["detail"]
    assert (await _counts(engine, run_id))["payouts"] == 3
    await office.be("thu.auditor")
    assert (await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})).status_code == 403


async def test_a_cancelled_run_takes_no_further_step(office, engine):
    run_id = await _computed_run(office)
    assert (await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})).status_code == 200
    for step in ("compute", "send"):
        refused = await office.post(f"/api/payout-runs/{run_id}/{step}")
        assert refused.status_code == 409 and refused.json()["detail"] == "Đợt chi đã bị hủy / the run is cancelled"
    twice = await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})
    assert twice.status_code == 409 and "already cancelled" in twice.json()["detail"]
    await office.be("minh.approver")
    assert (await office.post(f"/api/payout-runs/{run_id}/approve")).status_code == 409


async def test_the_database_keeps_the_cancel_rules(office, engine):
    run_id = await _computed_run(office)
    with pytest.raises(DBAPIError, match="still has payouts"):
        async with session_scope(engine) as session:
            await session.execute(text(
                """UPDATE payout_run SET status = 'cancelled', cancelled_at = now(), cancelled_by = 'x',
                          cancel_reason = 'x' WHERE id = :id"""), {"id": run_id})
    with pytest.raises(IntegrityError, match="ck_payout_run_cancelled"):  # who, when and why are required
        async with session_scope(engine) as session:
            await session.execute(text("DELETE FROM payout_month"))
            await session.execute(text("DELETE FROM payout"))
            await session.execute(text("UPDATE payout_run SET status = 'cancelled' WHERE id = :id"), {"id": run_id})
    assert (await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": REASON})).status_code == 200
    with pytest.raises(DBAPIError, match="stays so"):
        async with session_scope(engine) as session:
            await session.execute(text("UPDATE payout_run SET status = 'draft' WHERE id = :id"), {"id": run_id})

    other = await _computed_run(office, "2026-04")
    await office.be("minh.approver")
    assert (await office.post(f"/api/payout-runs/{other}/approve")).status_code == 200
    with pytest.raises(DBAPIError, match="its money is in the ledger"):
        async with session_scope(engine) as session:
            await session.execute(text(
                """UPDATE payout_run SET status = 'cancelled', cancelled_at = now(), cancelled_by = 'x',
                          cancel_reason = 'x', approved_by = NULL WHERE id = :id"""), {"id": other})


async def test_a_regular_run_is_cancelled_only_after_its_supplementary_runs(office, engine):
    regular = await _computed_run(office)
    # ansinh no longer creates a supplementary run beside an unfinished one (test_supplementary_runs.py);
    # one made before that rule, still a draft, is stored directly.
    async with session_scope(engine) as session:
        supplementary = str(await session.scalar(text(
            """INSERT INTO payout_run (programme_code, period, kind, status, arrears_from, created_by)
               VALUES ('TGXH', DATE '2026-03-01', 'supplementary', 'draft', DATE '2026-03-01', 'lan.officer')
               RETURNING id""")))
    refused = await office.post(f"/api/payout-runs/{regular}/cancel", json={"reason": "Lập nhầm"})
    assert refused.status_code == 409 and "hãy hủy các đợt bổ sung trước" in refused.json()["detail"]
    assert (await _counts(engine, regular))["payouts"] == 3  # nothing removed
    assert (await office.post(f"/api/payout-runs/{supplementary}/cancel",
                              json={"reason": "Không cần"})).status_code == 200
    assert (await office.post(f"/api/payout-runs/{regular}/cancel", json={"reason": "Lập nhầm"})).status_code == 200
