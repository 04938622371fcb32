import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEntry
from app.audit.service import record
from app.auth.models import Role
from app.database import session_scope
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, debit, statement, upload
from tests.support.actors import add_user, sign_in
from tests.support.world import VIETCOMBANK, Office


async def test_changes_through_the_api_are_audited_with_actor_and_after(client, engine):
    await add_user(engine, "root", Role.admin)
    csrf = await sign_in(client, "root")
    response = await client.post("/api/admin/users", headers=csrf, json={
        "username": "hoa.commune", "password": "long enough pw", "role": "commune_staff", "communes": ["00070"]})
    assert response.status_code == 201
    async with session_scope(engine) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "user.create",
                                                              AuditEntry.actor == "root"))
    assert entry is not None
    assert entry.after == {"username": "hoa.commune", "role": "commune_staff", "provinces": [],
                           "communes": ["00070"]}
    assert entry.request_id


@pytest.mark.parametrize("statement", [
    "UPDATE audit_log SET actor = 'someone else'",
    "DELETE FROM audit_log",
    "TRUNCATE audit_log",
])
async def test_database_refuses_to_change_audit_history(engine, statement):
    async with session_scope(engine) as session:
        await record(session, actor="tester", action="thing.create", object_type="thing", object_id=1,
                     after={"amount": 750000})
    with pytest.raises(DBAPIError, match="append-only"):
        async with session_scope(engine) as session:
            await session.execute(text(statement))
    async with session_scope(engine) as session:
        rows = (await session.scalars(select(AuditEntry))).all()
    assert [(r.actor, r.after) for r in rows] == [("tester", {"amount": 750000})]


async def test_every_entry_names_the_role_it_was_done_in_and_a_banks_batch_is_audited_once(client, engine):
    """Officers', approvers', admins' and banks' entries carry their role (a bank as ``bank``, its BIN in the
    actor), whichever module wrote them; a bank's fetch that takes orders into a batch is audited, its retry
    with the same request_id (nothing taken) is not."""
    office = await Office(client, engine).setup()
    await add_user(engine, "root", Role.admin)
    _, payouts = await build_world(office, vietcombank=2)
    await office.be("root")
    assert (await office.post("/api/admin/api-keys", json={"bank_bin": VIETCOMBANK, "label": "VCB"})).status_code == 201
    headers = await as_bank(office, VIETCOMBANK)
    for _ in range(2):  # a lost response, fetched again
        fetched = await client.get("/api/bank/payment-orders", headers=headers, params={"request_id": "VCB-1"})
        assert fetched.status_code == 200 and len(fetched.json()["items"]) == 2
    message_id = fetched.json()["message_id"]
    imported = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [debit(payouts[0])])), "SK-1.xml")
    assert imported.status_code == 201, imported.text
    refused = await upload(office, headers, b"not a statement", "rac.csv")
    assert refused.status_code == 422
    async with session_scope(engine) as session:
        entries = list(await session.execute(text(
            "SELECT action, actor, actor_role, object_id, after FROM audit_log ORDER BY id")))
    roles = {(e.action, e.actor, e.actor_role) for e in entries}
    assert {("payout_run.create", "lan.officer", "officer"), ("payout_run.compute", "lan.officer", "officer"),
            ("payout_run.approve", "minh.approver", "approver"), ("payout_run.send", "lan.officer", "officer"),
            ("funding.record", "lan.officer", "officer"), ("apikey.create", "root", "admin"),
            ("statement.import", f"bank:{VIETCOMBANK}", "bank"), ("statement.reject", f"bank:{VIETCOMBANK}", "bank"),
            ("payment_orders.batch_taken", f"bank:{VIETCOMBANK}", "bank")} <= roles
    # Only the test's own set-up (add_user, bank_key: as the system) has no role: no one's account did it.
    assert {(e.action, e.actor) for e in entries if e.actor_role is None} == {
        ("user.create", "system"), ("apikey.create", "system")}
    (rejected,) = [e for e in entries if e.action == "statement.reject"]  # why, in Vietnamese with English
    assert rejected.after["reason"] == refused.json()["detail"] and " / " in rejected.after["reason"]
    (taken,) = [e for e in entries if e.action == "payment_orders.batch_taken"]
    assert taken.object_id == message_id
    assert taken.after == {"bank_bin": VIETCOMBANK, "request_id": "VCB-1", "orders": 2,
                           "total_amount": payouts[0].amount + payouts[1].amount, "more": False}


async def test_an_entry_of_someone_without_an_account_has_no_role(engine):
    await add_user(engine, "Hoa.Officer", Role.officer)
    async with session_scope(engine) as session:
        for actor in ("scheduler", "hoa.officer", "bank:970436"):
            await record(session, actor=actor, action="thing.touch", object_type="thing")
        await record(session, actor="hoa.officer", actor_role="auditor", action="thing.read", object_type="thing")
        rows = list(await session.execute(text(
            "SELECT actor, actor_role FROM audit_log WHERE object_type = 'thing' ORDER BY id")))
    assert [(r.actor, r.actor_role) for r in rows] == [
        ("scheduler", None), ("hoa.officer", "officer"), ("bank:970436", "bank"), ("hoa.officer", "auditor")]
