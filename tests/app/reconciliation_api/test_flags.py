"""People a bank reported deceased (MD07): the flag closes when the death is recorded, or an officer
dismisses it with a reason; each way is audited, and a resolved flag never changes again."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.auth.models import Role
from app.database import make_sessionmaker, session_scope
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, debit, returned, statement, upload
from tests.support.world import VIETCOMBANK, Office


async def _bank_reports_deaths(office: Office, *payouts, statement_id: str = "SK202603/1") -> None:
    headers = await as_bank(office, VIETCOMBANK)
    lines = [returned(payout, "MD07") for payout in payouts]
    response = await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines, statement_id=statement_id)),
                            "s.xml")
    assert response.status_code == 201 and response.json()["returned"] == len(payouts), response.text


async def _flags(office: Office, status: str = "open") -> list[dict]:
    await office.be("lan.officer")
    response = await office.client.get("/api/reconciliation/flags", params={"status": status})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _audit(engine, action: str) -> list:
    async with session_scope(engine) as session:
        return list(await session.execute(text(
            "SELECT actor, object_type, object_id, after FROM audit_log WHERE action = :a ORDER BY id"), {"a": action}))


async def test_recording_the_death_closes_the_banks_flag(office, engine):
    _, p = await build_world(office, vietcombank=2)
    await _bank_reports_deaths(office, p[0])
    (flag,) = await _flags(office)
    assert (flag["beneficiary_id"], flag["status"], flag["payout_reference"]) == (
        str(p[0].beneficiary_id), "open", p[0].reference)
    assert flag["message"].startswith("Ngân hàng báo chủ tài khoản đã mất")
    assert flag["reported_on"] == "2026-03-12"  # the bank's booking of the return, not the day it was loaded

    died = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/events",
                             json={"kind": "deceased", "effective_on": "2026-03-08", "reason": "giấy báo tử 12/2026"})
    assert died.status_code == 201, died.text
    assert await _flags(office) == []
    (closed,) = await _flags(office, "resolved")
    assert closed["id"] == flag["id"] and closed["status"] == "resolved"
    assert (closed["resolution"], closed["resolved_by"], closed["event_id"]) == ("death_recorded", "lan.officer",
                                                                               died.json()["id"])
    assert closed["resolution_message"] == "Đã ghi nhận người hưởng mất / the death is recorded"
    assert closed["deceased_on"] == "2026-03-08" and closed["resolved_at"] is not None
    (audit,) = await _audit(engine, "reconciliation.flag_death_recorded")
    assert (audit.actor, audit.object_type, audit.object_id) == ("lan.officer", "beneficiary_flag", str(flag["id"]))
    assert audit.after["event_id"] == died.json()["id"] and audit.after["deceased_on"] == "2026-03-08"
    # resolved once: neither the API nor SQL changes it again, and flags are never deleted
    again = await office.post(f"/api/reconciliation/flags/{flag['id']}/dismiss", json={"reason": "nhầm"})
    assert again.status_code == 409 and "đã được xử lý" in again.json()["detail"]
    async with session_scope(engine) as session:
        with pytest.raises(DBAPIError, match="already resolved"):
            async with session.begin_nested():
                await session.execute(text("UPDATE beneficiary_flag SET note = 'x' WHERE id = :id"), {"id": flag["id"]})
        with pytest.raises(DBAPIError, match="DELETE refused"):
            async with session.begin_nested():
                await session.execute(text("DELETE FROM beneficiary_flag"))
    # the other person, whose payout came back for no death, is untouched
    assert [f["beneficiary_id"] for f in await _flags(office, "all")] == [str(p[0].beneficiary_id)]


async def test_an_officer_dismisses_a_flag_the_bank_raised_in_error_with_a_reason(office, engine, client):
    _, p = await build_world(office, vietcombank=2)
    await _bank_reports_deaths(office, p[0], p[1])
    first, second = await _flags(office)
    no_reason = await office.post(f"/api/reconciliation/flags/{first['id']}/dismiss", json={"reason": " "})
    assert no_reason.status_code == 422 and "lý do" in no_reason.json()["detail"]
    missing = await office.post("/api/reconciliation/flags/999999/dismiss", json={"reason": "x"})
    assert missing.status_code == 404
    await office.be("thu.auditor")
    denied = await office.post(f"/api/reconciliation/flags/{first['id']}/dismiss", json={"reason": "x"})
    assert denied.status_code == 403
    await office.be("lan.officer")
    dismissed = await office.post(f"/api/reconciliation/flags/{first['id']}/dismiss",
                                  json={"reason": "Cán bộ xã gặp trực tiếp, người hưởng còn sống; ngân hàng báo nhầm"})
    assert dismissed.status_code == 200, dismissed.text
    body = dismissed.json()
    assert (body["status"], body["resolution"], body["resolved_by"], body["event_id"]) == (
        "resolved", "dismissed", "lan.officer", None)
    assert body["note"] == "Cán bộ xã gặp trực tiếp, người hưởng còn sống; ngân hàng báo nhầm"
    assert [f["id"] for f in await _flags(office)] == [second["id"]]
    (audit,) = await _audit(engine, "reconciliation.flag_dismissed")
    assert (audit.actor, audit.object_id) == ("lan.officer", str(first["id"]))
    assert audit.after["note"].startswith("Cán bộ xã gặp trực tiếp")
    assert audit.after["beneficiary_id"] == str(p[0].beneficiary_id)
    twice = await office.post(f"/api/reconciliation/flags/{first['id']}/dismiss", json={"reason": "x"})
    assert twice.status_code == 409
    # the person is still active (a dismissal records no death) and the return stays in the queue to decide
    detail = await office.client.get(f"/api/beneficiaries/{p[0].beneficiary_id}")
    assert detail.json()["status"] == "active"
    queue = await office.client.get("/api/reconciliation/exceptions")
    assert {item["payouts"][0]["reference"] for item in queue.json()["items"]} == {p[0].reference, p[1].reference}
    bad_status = await office.client.get("/api/reconciliation/flags", params={"status": "closed"})
    assert bad_status.status_code == 422
    # The bank was wrong about the death, not about the account: the money may go to the same account again,
    # while the return whose flag is still open may not.
    lines = {item["payouts"][0]["reference"]: item["id"] for item in queue.json()["items"]}
    again = await office.post(f"/api/reconciliation/exceptions/{lines[p[0].reference]}/resolve",
                              json={"action": "reissue", "bank_account_id": p[0].bank_account_id, "note": "còn sống"})
    assert again.status_code == 200, again.text
    still_open = await office.post(f"/api/reconciliation/exceptions/{lines[p[1].reference]}/resolve",
                                   json={"action": "reissue", "bank_account_id": p[1].bank_account_id})
    # (its account is still blocked by the MD07 return: the refusal says so and points at the queue)
    assert still_open.status_code == 409 and "mã MD07" in still_open.json()["detail"]
    assert "hàng đợi ngoại lệ" in still_open.json()["detail"] and still_open.json()["block"]["reason"] == "MD07"


async def test_a_death_already_on_record_raises_the_flag_closed(office, engine):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, [debit(p[1])])),
                         "a.xml")).status_code == 201
    await office.be("lan.officer")
    died = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/events",
                             json={"kind": "deceased", "effective_on": "2026-03-02"})
    assert died.status_code == 201, died.text
    await _bank_reports_deaths(office, p[0], statement_id="SK202603/2")
    assert await _flags(office) == []
    (flag,) = await _flags(office, "resolved")
    assert (flag["resolution"], flag["resolved_by"], flag["event_id"]) == ("death_recorded", "system",
                                                                         died.json()["id"])
    (audit,) = await _audit(engine, "reconciliation.flag_death_recorded")
    assert (audit.actor, audit.object_id) == ("system", str(flag["id"]))


async def test_only_officers_and_readers_see_flags(office, engine, client):
    from tests.support.actors import add_user

    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=("00070",))
    await office.be("xa.hoankiem")
    assert (await client.get("/api/reconciliation/flags")).status_code == 403
    await office.be("thu.auditor")
    assert (await client.get("/api/reconciliation/flags", params={"status": "all"})).json()["items"] == []


@pytest.mark.parametrize("first", ["death", "flag"])
async def test_a_death_recorded_while_a_bank_reports_it_leaves_no_open_flag(office, engine, first):
    _, p = await build_world(office, vietcombank=1)
    person = p[0].beneficiary_id
    death = text("""INSERT INTO beneficiary_event (beneficiary_id, kind, effective_on, status_after, commune_after,
                                                   recorded_by)
                    VALUES (:b, 'deceased', DATE '2026-03-08', 'active', '00070', 'lan.officer')""")
    flag = text("""INSERT INTO beneficiary_flag (beneficiary_id, kind, payout_id)
                   VALUES (:b, 'deceased_reported_by_bank', :p)""")
    statements = {"death": (death, {"b": person}), "flag": (flag, {"b": person, "p": p[0].id})}
    later = "flag" if first == "death" else "death"
    maker = make_sessionmaker(engine)
    async with maker() as early, maker() as late:
        await early.execute(*statements[first])
        waiting = asyncio.create_task(late.execute(*statements[later]))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # the person's row lock orders the two
        await early.commit()
        await asyncio.wait_for(waiting, timeout=10)
        await late.commit()
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT resolution, resolved_at FROM beneficiary_flag"))).one()
    assert row.resolution == "death_recorded" and row.resolved_at is not None
