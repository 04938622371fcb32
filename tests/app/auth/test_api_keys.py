from app.auth.models import Role
from tests.support.actors import add_user, bank_key, sign_in


async def test_bank_key_is_accepted_and_bound_to_its_bank(client, engine):
    headers = await bank_key(engine, "970436")
    me = await client.get("/api/auth/me", headers=headers)
    assert me.status_code == 200
    assert me.json()["role"] == "bank" and me.json()["bank_bin"] == "970436"


async def test_wrong_key_is_unauthorized(client):
    response = await client.get("/api/auth/me", headers={"Authorization": "Bearer ansinh_deadbeef_nope"})
    assert response.status_code == 401
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_revoked_key_stops_working(client, engine):
    await add_user(engine, "root", Role.admin)
    csrf = await sign_in(client, "root")
    created = await client.post("/api/admin/api-keys", json={"bank_bin": "970418", "label": "BIDV prod"},
                                headers=csrf)
    assert created.status_code == 201
    key, prefix = created.json()["key"], created.json()["prefix"]
    bank = {"Authorization": f"Bearer {key}"}
    client.cookies.clear()
    assert (await client.get("/api/auth/me", headers=bank)).status_code == 200
    csrf = await sign_in(client, "root")
    revoked = await client.post(f"/api/admin/api-keys/{prefix}/revoke", headers=csrf)
    assert revoked.status_code == 200
    client.cookies.clear()
    assert (await client.get("/api/auth/me", headers=bank)).status_code == 401


async def test_key_for_unknown_bank_is_refused(client, engine):
    await add_user(engine, "root", Role.admin)
    csrf = await sign_in(client, "root")
    response = await client.post("/api/admin/api-keys", json={"bank_bin": "123456"}, headers=csrf)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == "Không có ngân hàng mã BIN '123456' / unknown bank BIN '123456'"


async def test_bank_key_cannot_reach_staff_administration(client, engine):
    headers = await bank_key(engine, "970436")
    assert (await client.get("/api/admin/users", headers=headers)).status_code == 403
