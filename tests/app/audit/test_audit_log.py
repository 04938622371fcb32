import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from app.audit.models import AuditEntry
from app.audit.service import record
from app.auth.models import Role
from app.database import session_scope
from tests.support.actors import add_user, sign_in


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
