"""The sign-in page: same sessions, cookies and rate limit as the API; redirects for pages only."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import func, select, update

from app.auth.models import LoginAttempt, Role, StaffSession
from app.database import session_scope
from tests.support.actors import PASSWORD, add_user
from tests.support.pages import csrf_in, sign_in_on_page


async def test_sign_in_page_is_vietnamese_by_default_and_public(client):
    response = await client.get("/login")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    assert '<html lang="vi">' in response.text
    assert "Đăng nhập" in response.text and "Mật khẩu" in response.text
    assert 'name="_csrf"' in response.text and csrf_in(response.text)
    assert '<label for="username">' in response.text and '<label for="password">' in response.text


async def test_language_switch_sets_a_cookie_that_later_pages_follow(client):
    switched = await client.get("/login?lang=en")
    assert '<html lang="en">' in switched.text and "Password" in switched.text
    assert switched.cookies.get("lang") == "en"
    later = await client.get("/login")
    assert '<html lang="en">' in later.text and "Mật khẩu" not in later.text
    back = await client.get("/login?lang=vi")
    assert '<html lang="vi">' in back.text and back.cookies.get("lang") == "vi"


async def test_form_sign_in_sets_the_api_cookies_and_goes_to_next(client, engine):
    await add_user(engine, "lan.officer", Role.officer, provinces=("01",))
    response = await sign_in_on_page(client, "lan.officer", next_path="/?from=test")
    assert response.status_code == 303
    assert response.headers["location"] == "/?from=test"
    assert response.cookies.get("ansinh_session") and response.cookies.get("ansinh_csrf")
    me = await client.get("/api/auth/me")
    assert me.status_code == 200 and me.json()["name"] == "lan.officer"
    assert me.json()["csrf_token"] == response.cookies.get("ansinh_csrf")


async def test_next_outside_the_site_is_ignored(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    for target in ("https://evil.example/", "//evil.example/x", "/\\evil.example"):
        client.cookies.clear()
        response = await sign_in_on_page(client, "lan.officer", next_path=target)
        assert response.status_code == 303 and response.headers["location"] == "/", target


async def test_wrong_password_and_unknown_user_show_the_same_generic_message(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    wrong = await sign_in_on_page(client, "lan.officer", password="not-the-password")
    unknown = await sign_in_on_page(client, "nobody.here", password="not-the-password")
    assert wrong.status_code == unknown.status_code == 401
    for response in (wrong, unknown):
        assert "Sai tên đăng nhập hoặc mật khẩu." in response.text
        assert "ansinh_session" not in response.cookies
    assert 'value="lan.officer"' in wrong.text  # the username stays filled in, never the password
    assert "not-the-password" not in wrong.text
    async with session_scope(engine) as session:
        failures = await session.scalar(select(func.count()).where(LoginAttempt.success.is_(False)))
    assert failures == 2


async def test_form_sign_in_shares_the_api_rate_limit(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    for _ in range(3):
        response = await client.post("/api/auth/login", json={"username": "lan.officer", "password": "bad-pass"})
        assert response.status_code == 401
    for _ in range(2):
        assert (await sign_in_on_page(client, "lan.officer", password="bad-pass")).status_code == 401
    blocked = await sign_in_on_page(client, "lan.officer")
    assert blocked.status_code == 429
    assert int(blocked.headers["retry-after"]) > 0
    assert "Đăng nhập sai quá nhiều lần. Hãy thử lại sau 15 phút." in blocked.text
    assert "ansinh_session" not in blocked.cookies


async def test_sign_in_form_without_its_token_is_refused(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    await client.get("/login")
    forged = await client.post("/login", data={"username": "lan.officer", "password": PASSWORD, "_csrf": "forged"},
                               follow_redirects=False)
    assert forged.status_code == 403
    assert "Biểu mẫu đã hết hạn" in forged.text
    assert "ansinh_session" not in forged.cookies
    client.cookies.clear()
    no_cookie = await client.post("/login", data={"username": "lan.officer", "password": PASSWORD, "_csrf": "x"},
                                  follow_redirects=False)
    assert no_cookie.status_code == 403
    assert (await client.get("/api/auth/me")).status_code == 401


async def test_anonymous_page_request_redirects_to_sign_in_but_api_keeps_401(client):
    page = await client.get("/admin/users?x=1", follow_redirects=False)
    assert page.status_code == 303
    location = urlsplit(page.headers["location"])
    assert location.path == "/login" and parse_qs(location.query)["next"] == ["/admin/users?x=1"]
    form = await client.get(page.headers["location"])
    assert "Hãy đăng nhập để tiếp tục." in form.text
    assert 'name="next" value="/admin/users?x=1"' in form.text
    english = await client.get("/admin/users?lang=en", follow_redirects=True)
    assert '<html lang="en">' in english.text and "Please sign in to continue." in english.text
    api = await client.get("/api/admin/users")
    assert api.status_code == 401
    assert api.headers["content-type"].startswith("application/problem+json")


async def test_expired_session_sends_the_browser_to_sign_in_with_a_notice(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    assert (await sign_in_on_page(client, "lan.officer")).status_code == 303
    assert (await client.get("/")).status_code == 200
    async with session_scope(engine) as session:
        await session.execute(update(StaffSession).values(expires_at=datetime.now(UTC) - timedelta(minutes=1)))
    expired = await client.get("/", follow_redirects=False)
    assert expired.status_code == 303
    assert expired.headers["location"] == "/login?next=%2F&expired=1"
    notice = await client.get(expired.headers["location"])
    assert "Phiên làm việc đã hết hạn. Hãy đăng nhập lại." in notice.text


async def test_sign_out_ends_the_session(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    await sign_in_on_page(client, "lan.officer")
    home = await client.get("/")
    out = await client.post("/logout", data={"_csrf": csrf_in(home.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login?signed_out=1"
    assert (await client.get("/api/auth/me")).status_code == 401
    assert "Bạn đã đăng xuất." in (await client.get("/login?signed_out=1")).text
    async with session_scope(engine) as session:
        revoked = await session.scalar(select(func.count()).where(StaffSession.revoked_at.is_not(None)))
    assert revoked == 1


async def test_signed_in_staff_opening_sign_in_goes_straight_on(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    await sign_in_on_page(client, "lan.officer")
    again = await client.get("/login?next=/", follow_redirects=False)
    assert again.status_code == 303 and again.headers["location"] == "/"
