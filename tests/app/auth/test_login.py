from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select, update

from app.auth.models import LoginAttempt, Role, StaffSession
from app.database import session_scope
from tests.support.actors import PASSWORD, add_user, sign_in


async def test_sign_in_sets_session_cookie_and_reports_role(client, engine):
    await add_user(engine, "lan.officer", Role.officer, provinces=("01",))
    response = await client.post("/api/auth/login", json={"username": "lan.officer", "password": PASSWORD})
    assert response.status_code == 200
    body = response.json()
    assert body["role"] == "officer" and body["provinces"] == ["01"] and body["csrf_token"]
    assert "ansinh_session" in response.cookies
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["name"] == "lan.officer"


async def test_wrong_password_and_unknown_user_get_the_same_generic_error(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    wrong = await client.post("/api/auth/login", json={"username": "lan.officer", "password": "nope-nope"})
    unknown = await client.post("/api/auth/login", json={"username": "nobody", "password": "nope-nope"})
    assert wrong.status_code == unknown.status_code == 401
    assert wrong.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["detail"] == unknown.json()["detail"] == (
        "Sai tên đăng nhập hoặc mật khẩu / Wrong username or password"
    )
    async with session_scope(engine) as session:
        failures = await session.scalar(select(func.count()).where(LoginAttempt.success.is_(False)))
    assert failures == 2


async def test_sign_in_is_rate_limited_after_repeated_failures(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    for _ in range(5):
        response = await client.post("/api/auth/login", json={"username": "lan.officer", "password": "bad-pass"})
        assert response.status_code == 401
    blocked = await client.post("/api/auth/login", json={"username": "lan.officer", "password": PASSWORD})
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0


async def test_one_user_s_failures_do_not_lock_out_the_office_behind_the_same_address(client, engine):
    # Everyone in a commune office signs in from one address: xa.hoankiem's nine mistakes lock xa.hoankiem,
    # not canbo.lan at the next desk.
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=("00070",))
    await add_user(engine, "canbo.lan", Role.officer)
    for _ in range(9):
        response = await client.post("/api/auth/login", json={"username": "xa.hoankiem", "password": "bad-pass"})
        assert response.status_code in (401, 429)
    assert (await client.post("/api/auth/login", json={"username": "xa.hoankiem",
                                                       "password": PASSWORD})).status_code == 429
    colleague = await client.post("/api/auth/login", json={"username": "canbo.lan", "password": PASSWORD})
    assert colleague.status_code == 200, colleague.text


async def test_an_address_spraying_many_usernames_is_refused_for_all(client, engine):
    await add_user(engine, "canbo.lan", Role.officer)
    for n in range(50):  # ten times the per-user limit, each username tried once
        response = await client.post("/api/auth/login", json={"username": f"guess{n}", "password": "bad-pass"})
        assert response.status_code == 401
    blocked = await client.post("/api/auth/login", json={"username": "canbo.lan", "password": PASSWORD})
    assert blocked.status_code == 429


async def test_unsafe_request_with_session_needs_csrf_token(client, engine):
    await add_user(engine, "root", Role.admin)
    headers = await sign_in(client, "root")
    without = await client.post("/api/admin/api-keys", json={"bank_bin": "970436"})
    assert without.status_code == 403
    assert "CSRF" in without.json()["detail"]
    with_token = await client.post("/api/admin/api-keys", json={"bank_bin": "970436"}, headers=headers)
    assert with_token.status_code == 201


async def test_logout_ends_the_session(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    headers = await sign_in(client, "lan.officer")
    assert (await client.post("/api/auth/logout", headers=headers)).status_code == 200
    client.cookies.clear()
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_expired_session_is_refused(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    await sign_in(client, "lan.officer")
    async with session_scope(engine) as session:
        await session.execute(update(StaffSession).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_commune_staff_needs_a_commune_scope(session):
    from app.auth.service import ScopeError, create_user

    try:
        await create_user(session, username="x", password=PASSWORD, role=Role.commune_staff)
    except ScopeError as exc:
        assert "commune" in str(exc)
    else:
        raise AssertionError("commune_staff without a commune was accepted")
    try:
        await create_user(session, username="y", password=PASSWORD, role=Role.commune_staff, communes=("99999",))
    except ScopeError as exc:
        assert "99999" in str(exc)
    else:
        raise AssertionError("an unknown commune code was accepted")
