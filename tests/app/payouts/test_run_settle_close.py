"""A sent run is settled when none of its payouts is in flight (bank statements, cash handovers and returns), and
closed by an officer once nothing of it is left open; the database keeps the two states consistent, and a
bank's late return or a withdrawal still applies to a settled or closed run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from app.auth.models import Role
from app.database import make_sessionmaker, session_scope
from app.registry.fake import BeneficiaryFaker
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import (
    as_bank,
    build_world,
    debit,
    ledger_clean,
    payout_states,
    returned,
    sent_payouts,
    statement,
    upload,
)
from tests.support.actors import add_user, bank_key
from tests.support.world import BIDV, HANOI_COMMUNE, VIETCOMBANK, Office, person

TGXH_HANOI = 650_000


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _run(office: Office, run_id: Any) -> dict[str, Any]:
    await office.be("lan.officer")
    response = await office.client.get(f"/api/payout-runs/{run_id}")
    assert response.status_code == 200, response.text
    return response.json()


async def _import(office: Office, bank_bin: str, lines: list, statement_id: str) -> dict[str, Any]:
    headers = await as_bank(office, bank_bin)
    response = await upload(office, headers, write_camt053(statement(bank_bin, lines, statement_id=statement_id)),
                            f"{statement_id}.xml")
    assert response.status_code == 201, response.text
    return response.json()


async def _audit(office: Office, action: str) -> list[Any]:
    async with session_scope(office.engine) as session:
        return list(await session.execute(text(
            "SELECT actor, object_id, after FROM audit_log WHERE action = :action ORDER BY id"), {"action": action}))


async def _close(office: Office, run_id: Any, as_user: str = "lan.officer") -> Any:
    await office.be(as_user)
    return await office.post(f"/api/payout-runs/{run_id}/close")


async def test_a_run_is_settled_by_the_statement_that_credits_its_last_bank_payout(office, engine):
    _, payouts = await build_world(office, vietcombank=2, bidv=2)
    vcb = [p for p in payouts if p.bank_bin == VIETCOMBANK]
    bidv = [p for p in payouts if p.bank_bin == BIDV]
    run_id = payouts[0].run_id

    await _import(office, VIETCOMBANK, [debit(p) for p in vcb], "VCB-1")
    after_vcb = await _run(office, run_id)
    assert (after_vcb["status"], after_vcb["settled_at"]) == ("sent", None)  # BIDV's two are still in flight
    assert after_vcb["open_items"] is None
    await _import(office, BIDV, [debit(bidv[0])], "BIDV-1")
    assert (await _run(office, run_id))["status"] == "sent"  # one is still sent
    assert (await payout_states(office))[bidv[1].reference] == ("sent", None)

    await _import(office, BIDV, [debit(bidv[1])], "BIDV-2")
    settled = await _run(office, run_id)
    assert settled["status"] == "settled" and settled["settled_at"] is not None
    assert (settled["closed_at"], settled["closed_by"]) == (None, None)
    assert settled["open_items"] == {"bank_in_flight": 0, "cash_in_flight": 0, "in_flight": [], "returns": [],
                                     "exceptions": [], "flags": []}
    (audit,) = await _audit(office, "payout_run.settle")
    assert audit.object_id == str(run_id) and audit.after["cause"] == "statement_import"
    assert audit.actor == f"bank:{BIDV}"  # the key that uploaded the last statement
    listed = await office.client.get("/api/payout-runs", params={"status": "settled"})
    assert [item["id"] for item in listed.json()["items"]] == [str(run_id)]
    await ledger_clean(office)


async def test_cash_payouts_keep_the_run_in_flight_until_handed_over_in_full_or_given_back(office, engine):
    faker = BeneficiaryFaker(seed=21)
    banked = person(faker, start="2026-03")
    partly, returned_cash, last = (person(faker, start="2026-03", bank=None) for _ in range(3))
    await office.import_people([banked, partly, returned_cash, last])
    await office.register_disbursement(VIETCOMBANK, "0011004455667")
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-2603")).status_code == 201
    run_id = (await office.run_cycle("2026-03"))["id"]
    (bank_payout,) = await sent_payouts(office)
    await _import(office, VIETCOMBANK, [debit(bank_payout)], "VCB-1")
    assert (await _run(office, run_id))["status"] == "sent"  # the bank's payout is credited; the cash is not

    await add_user(engine, "hoa.commune", Role.commune_staff, communes=(HANOI_COMMUNE,))
    now = datetime.now(UTC)

    async def hand_over(who: Any, amount: int) -> int:
        await office.be("hoa.commune")
        beneficiary = await office.beneficiary_id(who.national_id)
        response = await office.post(f"/api/beneficiaries/{beneficiary}/assisted-withdrawals",
                                     json={"occurred_at": now.isoformat(), "amount": amount, "note": "Giao tại nhà"})
        assert response.status_code == 201, response.text
        assert response.json()["channel"] == "cash_handover"
        return int(response.json()["id"])

    await hand_over(partly, 300_000)  # part of it: the commune still holds 350,000
    assert (await _run(office, run_id))["status"] == "sent"
    await hand_over(partly, TGXH_HANOI - 300_000)
    assert (await _run(office, run_id))["status"] == "sent"

    await office.be("lan.officer")
    cash_payouts = await _cash_payouts(office, run_id)
    given_back = await office.post(f"/api/payout-runs/{run_id}/payouts/{cash_payouts[returned_cash.national_id]}"
                                   "/cash-return", json={"reason": "Người hưởng chuyển đi"})
    assert given_back.status_code == 200, given_back.text
    assert given_back.json()["run_settled"] is False  # the last one is still at the commune
    assert (await _run(office, run_id))["status"] == "sent"

    handover = await hand_over(last, TGXH_HANOI)
    settled = await _run(office, run_id)
    assert settled["status"] == "settled" and settled["settled_at"] is not None
    assert settled["open_items"]["cash_in_flight"] == 0
    (audit,) = await _audit(office, "payout_run.settle")
    assert (audit.actor, audit.after["cause"]) == ("hoa.commune", "withdrawal:cash_handover")

    # The handover was recorded by mistake: cancelled, the cash is at the commune again. The run stays settled,
    # and that payout keeps it from being closed until the commune hands the cash over (or gives it back).
    await office.be("hoa.commune")
    beneficiary = await office.beneficiary_id(last.national_id)
    cancelled = await office.post(f"/api/beneficiaries/{beneficiary}/assisted-withdrawals/{handover}/cancel",
                                  json={"reason": "Ghi nhầm người"})
    assert cancelled.status_code == 200, cancelled.text
    reopened = await _run(office, run_id)
    assert reopened["status"] == "settled" and reopened["open_items"]["cash_in_flight"] == 1
    assert [p["reference"] for p in reopened["open_items"]["in_flight"]] == [
        (await _references(office, run_id))[last.national_id]]
    refused = await _close(office, run_id)
    assert refused.status_code == 409
    assert "1 khoản tiền mặt xã chưa giao đủ cho người hưởng và chưa trả lại" in refused.json()["detail"]
    await hand_over(last, TGXH_HANOI)
    assert (await _close(office, run_id)).status_code == 200
    await ledger_clean(office)


async def _references(office: Office, run_id: Any) -> dict[str, str]:
    async with session_scope(office.engine) as session:
        rows = await session.execute(text(
            """SELECT b.national_id, p.reference FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id
                WHERE p.run_id = :run"""), {"run": run_id})
        return {r.national_id: r.reference for r in rows}


async def _cash_payouts(office: Office, run_id: Any) -> dict[str, str]:
    async with session_scope(office.engine) as session:
        rows = await session.execute(text(
            """SELECT b.national_id, p.id FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id
                WHERE p.run_id = :run AND p.channel = 'cash'"""), {"run": run_id})
        return {r.national_id: str(r.id) for r in rows}


async def test_a_cash_return_that_leaves_nothing_in_flight_settles_the_run(office, engine):
    faker = BeneficiaryFaker(seed=22)
    only = person(faker, start="2026-03", bank=None)
    await office.import_people([only])
    run_id = (await office.run_cycle("2026-03"))["id"]
    assert (await _run(office, run_id))["status"] == "sent"
    payout_id = (await _cash_payouts(office, run_id))[only.national_id]
    given_back = await office.post(f"/api/payout-runs/{run_id}/payouts/{payout_id}/cash-return",
                                   json={"reason": "Không tìm thấy người hưởng"})
    assert given_back.status_code == 200 and given_back.json()["run_settled"] is True
    assert (await _run(office, run_id))["status"] == "settled"
    (audit,) = await _audit(office, "payout_run.settle")
    assert (audit.actor, audit.after["cause"]) == ("lan.officer", "cash_return")


async def test_close_is_refused_while_anything_is_open_then_allowed_and_audited(office, engine):
    _, p = await build_world(office, vietcombank=3)
    run_id = p[0].run_id
    await _import(office, VIETCOMBANK, [debit(p[0]), debit(p[1]), debit(p[2]),
                                        debit(p[1], bank_reference="FT-TRUNG-01"),  # the bank paid p1 twice
                                        returned(p[2], "AC04")], "VCB-1")
    settled = await _run(office, run_id)
    assert settled["status"] == "settled"  # credited, credited, returned: nothing in flight
    assert [r["reference"] for r in settled["open_items"]["returns"]] == [p[2].reference]
    assert [e["reference"] for e in settled["open_items"]["exceptions"]] == [p[1].reference]
    assert settled["open_items"]["exceptions"][0]["exception_reason"] == "duplicate"

    # Only officers close a run.
    await add_user(engine, "hoa.commune", Role.commune_staff, communes=(HANOI_COMMUNE,))
    for user in ("hoa.commune", "minh.approver", "thu.auditor"):
        denied = await _close(office, run_id, user)
        assert denied.status_code == 403, (user, denied.text)
    office.client.cookies.clear()
    office.current = ""
    as_bank_key = await office.client.post(f"/api/payout-runs/{run_id}/close",
                                           headers=await bank_key(engine, VIETCOMBANK))
    assert as_bank_key.status_code == 403

    refused = await _close(office, run_id)
    assert refused.status_code == 409, refused.text
    detail = refused.json()["detail"]
    line_id = settled["open_items"]["exceptions"][0]["line_id"]
    assert "Chưa đóng được đợt chi" in detail and "the run cannot be closed yet" in detail
    assert f"1 khoản bị hoàn trả chưa chi lại hoặc đóng: {p[2].reference}" in detail
    assert f"1 dòng sao kê ngoại lệ chưa xử lý, mã dòng {line_id} ({p[1].reference})" in detail
    assert f"1 open reconciliation exception, line {line_id} ({p[1].reference})" in detail
    assert [r["reference"] for r in refused.json()["open_items"]["returns"]] == [p[2].reference]
    assert (await _run(office, run_id))["status"] == "settled"

    # The officer works the queue: the return is closed (the holder's account is gone), the duplicate ignored.
    queue = (await office.client.get("/api/reconciliation/exceptions")).json()["items"]
    by_status = {item["status"]: item["id"] for item in queue}
    closed_return = await office.post(f"/api/reconciliation/exceptions/{by_status['returned']}/resolve",
                                      json={"action": "close_without_reissue", "reason": "Tài khoản đã đóng, UBND xã xác nhận"})
    assert closed_return.status_code == 200, closed_return.text
    still = await _close(office, run_id)
    assert still.status_code == 409 and "khoản bị hoàn trả" not in still.json()["detail"]
    assert still.json()["open_items"]["exceptions"][0]["line_id"] == line_id
    ignored = await office.post(f"/api/reconciliation/exceptions/{line_id}/resolve",
                                json={"action": "ignore", "reason": "Ngân hàng ghi trùng, đã tự điều chỉnh"})
    assert ignored.status_code == 200, ignored.text

    closed = await _close(office, run_id)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["closed_by"]) == ("closed", "lan.officer")
    assert body["closed_at"] is not None and body["settled_at"] is not None
    (audit,) = await _audit(office, "payout_run.close")
    assert (audit.actor, audit.object_id, audit.after["status"]) == ("lan.officer", str(run_id), "closed")
    again = await _close(office, run_id)
    assert again.status_code == 409 and "đã được đóng" in again.json()["detail"]
    await ledger_clean(office)


async def test_close_of_a_run_not_settled_says_what_is_in_flight(office, engine):
    _, p = await build_world(office, vietcombank=2)
    await _import(office, VIETCOMBANK, [debit(p[0])], "VCB-1")
    refused = await _close(office, p[0].run_id)
    assert refused.status_code == 409
    detail = refused.json()["detail"]
    assert "Đợt chi chưa đối soát xong" in detail and "1 khoản chi qua ngân hàng chưa có kết quả" in detail
    assert p[1].reference in detail and "1 bank payout with no outcome yet" in detail
    assert refused.json()["open_items"]["bank_in_flight"] == 1
    # The bank returns the last one, reporting the holder deceased: settled, but the report waits for an officer.
    await _import(office, VIETCOMBANK, [returned(p[1], "MD07")], "VCB-2")
    run = await _run(office, p[0].run_id)
    assert run["status"] == "settled"
    assert [f["reference"] for f in run["open_items"]["flags"]] == [p[1].reference]
    refused_again = await _close(office, p[0].run_id)
    assert refused_again.status_code == 409
    assert "ngân hàng báo đã mất chưa được xác minh" in refused_again.json()["detail"]


async def test_the_database_keeps_settled_and_closed_consistent(office, engine):
    _, p = await build_world(office, vietcombank=2)
    run_id = p[0].run_id

    async def refused(statement_sql: str) -> str:
        async with make_sessionmaker(engine)() as session:
            with pytest.raises(IntegrityError) as error:
                await session.execute(text(statement_sql), {"run": run_id})
            await session.rollback()
        return str(error.value)

    # Sent, with both payouts in flight: it cannot be settled, nor closed.
    assert "in flight" in await refused(
        "UPDATE payout_run SET status = 'settled', settled_at = now() WHERE id = :run")
    assert "only a settled run can be closed" in await refused(
        "UPDATE payout_run SET status = 'closed', settled_at = now(), closed_at = now(), closed_by = 'x' WHERE id = :run")
    assert "ck_payout_run_settled" in await refused("UPDATE payout_run SET settled_at = now() WHERE id = :run")

    await _import(office, VIETCOMBANK, [debit(p[0]), debit(p[1])], "VCB-1")
    assert (await _run(office, run_id))["status"] == "settled"
    assert "ck_payout_run_settled" in await refused("UPDATE payout_run SET settled_at = NULL WHERE id = :run")
    assert "ck_payout_run_closed" in await refused("UPDATE payout_run SET status = 'closed' WHERE id = :run")
    assert "ck_payout_run_closed" in await refused(
        "UPDATE payout_run SET status = 'closed', closed_at = now() WHERE id = :run")  # who closed it?
    assert "ck_payout_run_closed" in await refused(
        "UPDATE payout_run SET status = 'closed', closed_at = now(), closed_by = ' ' WHERE id = :run")
    assert "it can only be closed" in await refused(
        "UPDATE payout_run SET status = 'sent', settled_at = NULL WHERE id = :run")
    assert "ck_payout_run_closed" in await refused("UPDATE payout_run SET closed_by = 'lan' WHERE id = :run")

    assert (await _close(office, run_id)).status_code == 200
    assert "closed and stays closed" in await refused(
        "UPDATE payout_run SET status = 'settled', closed_at = NULL, closed_by = NULL WHERE id = :run")
    assert "ck_payout_run_closed" in await refused("UPDATE payout_run SET closed_at = NULL WHERE id = :run")


async def test_late_returns_and_withdrawals_still_apply_to_settled_and_closed_runs(office, engine):
    _, p = await build_world(office, vietcombank=3)
    run_id = p[0].run_id
    await _import(office, VIETCOMBANK, [debit(x) for x in p], "VCB-1")
    assert (await _run(office, run_id))["status"] == "settled"

    # A late return of a settled run's payout: applied; a returned payout is final, so the run stays settled.
    late = await _import(office, VIETCOMBANK, [returned(p[0], "AC04")], "VCB-2")
    assert late["returned"] == 1
    assert (await payout_states(office))[p[0].reference] == ("returned", "AC04")
    run = await _run(office, run_id)
    assert run["status"] == "settled"
    assert [r["reference"] for r in run["open_items"]["returns"]] == [p[0].reference]
    queue = (await office.client.get("/api/reconciliation/exceptions")).json()["items"]
    resolved = await office.post(f"/api/reconciliation/exceptions/{queue[0]['id']}/resolve",
                                 json={"action": "close_without_reissue", "reason": "Tài khoản đã đóng"})
    assert resolved.status_code == 200, resolved.text
    assert (await _close(office, run_id)).status_code == 200

    # After closing: a bank's return is applied all the same and shows on the closed run (MD07 flags the person).
    after_close = await _import(office, VIETCOMBANK, [returned(p[1], "MD07")], "VCB-3")
    assert after_close["returned"] == 1
    assert (await payout_states(office))[p[1].reference] == ("returned", "MD07")
    closed = await _run(office, run_id)
    assert closed["status"] == "closed" and closed["closed_by"] == "lan.officer"
    assert [r["reference"] for r in closed["open_items"]["returns"]] == [p[1].reference]
    assert [f["reference"] for f in closed["open_items"]["flags"]] == [p[1].reference]

    # Withdrawals still reach the closed run's payouts: time to withdrawal is measured after payment.
    headers = await bank_key(engine, VIETCOMBANK)
    office.client.cookies.clear()
    office.current = ""
    withdrawn_at = datetime.now(UTC) - timedelta(minutes=5)
    feed = await office.client.post("/api/bank/withdrawals", headers=headers, json=[
        {"account_number": p[2].account_number, "occurred_at": withdrawn_at.isoformat(), "amount": p[2].amount,
         "channel": "atm", "bank_ref": "ATM-LATE-1"}])
    assert feed.status_code == 200 and feed.json()["accepted"] == 1, feed.text
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT status, withdrawn_at FROM payout WHERE id = :id"),
                                     {"id": p[2].id})).one()
    assert row.status == "credited" and row.withdrawn_at is not None
    assert (await _run(office, run_id))["status"] == "closed"
    await ledger_clean(office)


async def test_cli_closes_a_settled_run_or_says_what_is_open(office, engine, database_url):
    from tests.support.processes import base_env, run_cli

    _, p = await build_world(office, vietcombank=2)
    run_id = str(p[0].run_id)
    await _import(office, VIETCOMBANK, [debit(p[0]), returned(p[1], "AC04")], "VCB-1")
    env = base_env(DATABASE_URL=database_url)

    async def cli(*args: str) -> Any:
        return await asyncio.to_thread(run_cli, "payouts", "close", *args, env=env)

    approver = await cli(run_id, "--as", "minh.approver")
    assert approver.returncode == 1 and "minh.approver is not an active officer" in approver.stderr
    refused = await cli(run_id, "--as", "lan.officer")
    assert refused.returncode == 1, refused.stdout
    assert f"1 khoản bị hoàn trả chưa chi lại hoặc đóng: {p[1].reference}" in refused.stderr
    assert f"1 returned payout neither reissued nor closed: {p[1].reference}" in refused.stderr
    await office.be("lan.officer")
    queue = (await office.client.get("/api/reconciliation/exceptions")).json()["items"]
    resolved = await office.post(f"/api/reconciliation/exceptions/{queue[0]['id']}/resolve",
                                 json={"action": "close_without_reissue", "reason": "Tài khoản đã đóng"})
    assert resolved.status_code == 200, resolved.text
    closed = await cli(run_id, "--as", "lan.officer")
    assert closed.returncode == 0, closed.stderr
    assert closed.stdout.strip() == f"run {run_id} closed by lan.officer"
    run = await _run(office, run_id)
    assert (run["status"], run["closed_by"]) == ("closed", "lan.officer")
