"""Admins manage accounts through /api/admin/users/{id}: deactivate (sign-in refused, sessions ended) and
reactivate, reset a password (given, or made and shown once; sessions ended), change a role and scope. Each
is audited; an admin cannot deactivate themselves or change their own role; nobody else may do any of it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from app.audit.models import AuditEntry
from app.auth.models import Role, StaffSession, StaffUser
from app.database import session_scope
from tests.support.actors import PASSWORD, add_user, bank_key, sign_in

TEMPORARY = re.compile(r"^[a-z2-9]{4}-[a-z2-9]{4}-[a-z2-9]{4}$")


async def _user_id(engine, username: str) -> int:
    async with session_scope(engine) as session:
        return int(await session.scalar(select(StaffUser.id).where(StaffUser.username == username)))


async def _audit(engine, action: str) -> list[AuditEntry]:
    async with session_scope(engine) as session:
        return list((await session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                           .order_by(AuditEntry.id))).all())


class Desk:
    """One test client used by two people in turn: each keeps their own session cookies."""

    def __init__(self, client) -> None:
        self.client = client
        self.jars: dict[str, dict[str, str]] = {}
        self.tokens: dict[str, dict[str, str]] = {}

    async def sign_in(self, username: str, password: str = PASSWORD) -> dict[str, str]:
        self.client.cookies.clear()
        self.tokens[username] = await sign_in(self.client, username, password)
        self.jars[username] = dict(self.client.cookies)
        return self.tokens[username]

    def be(self, username: str) -> dict[str, str]:
        self.client.cookies.clear()
        self.client.cookies.update(self.jars[username])
        return self.tokens[username]


@pytest.fixture
async def desk(client, engine) -> Desk:
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "lan.officer", Role.officer, provinces=("01",))
    await add_user(engine, "mai.xa", Role.commune_staff, communes=("00070",))
    return Desk(client)


async def test_deactivated_user_is_signed_out_and_cannot_sign_in_until_reactivated(desk, client, engine):
    await desk.sign_in("lan.officer")
    assert (await client.get("/api/auth/me")).status_code == 200
    csrf = await desk.sign_in("root")
    lan = await _user_id(engine, "lan.officer")
    response = await client.post(f"/api/admin/users/{lan}/deactivate", headers=csrf)
    assert response.status_code == 200 and response.json()["is_active"] is False
    again = await client.post(f"/api/admin/users/{lan}/deactivate", headers=csrf)
    assert again.status_code == 200  # already so: nothing written
    desk.be("lan.officer")
    assert (await client.get("/api/auth/me")).status_code == 401  # the open session ended at once
    client.cookies.clear()
    refused = await client.post("/api/auth/login", json={"username": "lan.officer", "password": PASSWORD})
    assert refused.status_code == 401
    async with session_scope(engine) as session:
        open_sessions = await session.scalar(select(func.count()).select_from(StaffSession).where(
            StaffSession.user_id == lan, StaffSession.revoked_at.is_(None)))
    assert open_sessions == 0
    [entry] = await _audit(engine, "user.deactivate")
    assert (entry.actor, entry.actor_role, entry.object_id) == ("root", "admin", str(lan))
    assert entry.before == {"username": "lan.officer", "is_active": True}
    assert entry.after == {"username": "lan.officer", "is_active": False, "sessions_ended": 1}

    csrf = desk.be("root")
    back = await client.post(f"/api/admin/users/{lan}/reactivate", headers=csrf)
    assert back.status_code == 200 and back.json()["is_active"] is True
    desk.be("lan.officer")
    assert (await client.get("/api/auth/me")).status_code == 401  # an ended session stays ended
    await desk.sign_in("lan.officer")
    assert (await client.get("/api/auth/me")).json()["name"] == "lan.officer"
    assert len(await _audit(engine, "user.reactivate")) == 1


async def test_an_admin_cannot_deactivate_themselves_nor_change_their_own_role(desk, client, engine):
    csrf = await desk.sign_in("root")
    root = await _user_id(engine, "root")
    refused = await client.post(f"/api/admin/users/{root}/deactivate", headers=csrf)
    assert refused.status_code == 409
    assert refused.json()["detail"] == ("Không thể tự khóa tài khoản của chính mình; hãy nhờ một quản trị viên "
                                        "khác / an admin cannot deactivate themselves; ask another admin")
    own_role = await client.patch(f"/api/admin/users/{root}", headers=csrf, json={"role": "officer"})
    assert own_role.status_code == 409 and "an admin cannot change their own role" in own_role.json()["detail"]
    renamed = await client.patch(f"/api/admin/users/{root}", headers=csrf, json={"full_name": "Quản trị"})
    assert renamed.status_code == 200 and renamed.json()["role"] == "admin"
    assert (await client.get("/api/auth/me")).status_code == 200
    async with session_scope(engine) as session:
        user = await session.get(StaffUser, root)
    assert user is not None and user.is_active and user.role == "admin" and user.full_name == "Quản trị"
    assert await _audit(engine, "user.deactivate") == []


async def test_password_reset_made_or_given_ends_sessions_and_is_never_logged(desk, client, engine):
    await desk.sign_in("mai.xa")
    csrf = await desk.sign_in("root")
    mai = await _user_id(engine, "mai.xa")
    made = await client.post(f"/api/admin/users/{mai}/password", headers=csrf)
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["username"] == "mai.xa" and TEMPORARY.match(body["password"]) and body["sessions_ended"] == 1
    assert (await client.get("/api/auth/me")).status_code == 200  # the admin stays signed in
    desk.be("mai.xa")
    assert (await client.get("/api/auth/me")).status_code == 401
    client.cookies.clear()
    assert (await client.post("/api/auth/login", json={"username": "mai.xa", "password": PASSWORD})).status_code == 401
    await desk.sign_in("mai.xa", body["password"])

    csrf = desk.be("root")
    short = await client.post(f"/api/admin/users/{mai}/password", headers=csrf, json={"password": "short"})
    assert short.status_code == 422 and "ít nhất 8 ký tự" in short.json()["detail"]
    given = await client.post(f"/api/admin/users/{mai}/password", headers=csrf, json={"password": "mat-khau-moi-1"})
    assert given.status_code == 200 and given.json() == {"username": "mai.xa", "password": None, "sessions_ended": 1}
    client.cookies.clear()
    await desk.sign_in("mai.xa", "mat-khau-moi-1")
    entries = await _audit(engine, "user.password_reset")
    assert [e.after for e in entries] == [
        {"username": "mai.xa", "generated": True, "sessions_ended": 1},
        {"username": "mai.xa", "generated": False, "sessions_ended": 1},
    ]
    assert all(body["password"] not in str(e.after) and "mat-khau-moi-1" not in str(e.after) for e in entries)
    assert (await client.post("/api/admin/users/999999/password", headers=desk.be("root"))).status_code == 404


async def test_role_and_scope_change_applies_at_the_next_request_and_is_checked(desk, client, engine):
    await desk.sign_in("mai.xa")
    csrf = await desk.sign_in("root")
    mai = await _user_id(engine, "mai.xa")
    moved = await client.patch(f"/api/admin/users/{mai}", headers=csrf, json={"communes": ["00070", "00073"]})
    assert moved.status_code == 200 and moved.json()["communes"] == ["00070", "00073"]
    desk.be("mai.xa")
    assert (await client.get("/api/auth/me")).json()["communes"] == ["00070", "00073"]  # no new sign-in needed
    csrf = desk.be("root")
    for change, message in (({"communes": []}, "commune_staff needs at least one"),
                            ({"communes": ["12345"]}, "unknown commune code(s): 12345"),
                            ({"role": "officer", "provinces": ["99"]}, "unknown province code(s): 99"),
                            ({"role": "bank"}, "not a staff role"),
                            ({"role": "superuser"}, "unknown role: superuser")):
        refused = await client.patch(f"/api/admin/users/{mai}", headers=csrf, json=change)
        assert refused.status_code == 422, change
        assert message in refused.json()["detail"], refused.json()
        assert " / " in refused.json()["detail"] and refused.json()["detail"].index(" / ") < refused.json()[
            "detail"].index(message), refused.json()  # Vietnamese first
    promoted = await client.patch(f"/api/admin/users/{mai}", headers=csrf,
                                  json={"role": "officer", "provinces": ["01"], "communes": []})
    assert promoted.status_code == 200
    assert (promoted.json()["role"], promoted.json()["provinces"], promoted.json()["communes"]) == (
        "officer", ["01"], [])
    same = await client.patch(f"/api/admin/users/{mai}", headers=csrf, json={"role": "officer"})
    assert same.status_code == 200
    desk.be("mai.xa")
    me = (await client.get("/api/auth/me")).json()
    assert (me["role"], me["provinces"]) == ("officer", ["01"])
    entries = await _audit(engine, "user.update")
    assert [(e.before, e.after) for e in entries] == [
        ({"username": "mai.xa", "communes": ["00070"]}, {"username": "mai.xa", "communes": ["00070", "00073"]}),
        ({"username": "mai.xa", "role": "commune_staff", "provinces": [], "communes": ["00070", "00073"]},
         {"username": "mai.xa", "role": "officer", "provinces": ["01"], "communes": []}),
    ]  # only what changed; the change to nothing wrote nothing
    assert (await client.patch("/api/admin/users/999999", headers=desk.be("root"),
                               json={"role": "officer"})).status_code == 404


async def test_only_admins_manage_accounts(desk, client, engine):
    lan = await _user_id(engine, "lan.officer")
    calls = (("post", f"/api/admin/users/{lan}/deactivate", None), ("post", f"/api/admin/users/{lan}/reactivate", None),
             ("post", f"/api/admin/users/{lan}/password", None), ("patch", f"/api/admin/users/{lan}", {"role": "auditor"}),
             ("get", f"/api/admin/users/{lan}", None))
    for method, path, body in calls:
        assert (await client.request(method, path, json=body)).status_code == 401, path
    await add_user(engine, "thu.auditor", Role.auditor)
    for username in ("lan.officer", "mai.xa", "thu.auditor"):
        csrf = await desk.sign_in(username)
        for method, path, body in calls:
            assert (await client.request(method, path, json=body, headers=csrf)).status_code == 403, (username, path)
    client.cookies.clear()
    bank = await bank_key(engine, "970436")
    for method, path, body in calls:
        assert (await client.request(method, path, json=body, headers=bank)).status_code == 403, path
    await desk.sign_in("root")
    no_token = await client.post(f"/api/admin/users/{lan}/deactivate")
    assert no_token.status_code == 403
    async with session_scope(engine) as session:
        user = await session.get(StaffUser, lan)
    assert user is not None and user.is_active and user.role == "officer"
    assert await _audit(engine, "user.deactivate") == [] and await _audit(engine, "user.update") == []
