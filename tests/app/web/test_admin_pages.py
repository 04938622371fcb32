"""Admin pages: users with role and scope, bank API keys; CSRF on every form post."""

import re

from sqlalchemy import func, select, text

from app.audit.models import AuditEntry
from app.auth.models import BankApiKey, Role, StaffUser
from app.database import session_scope
from tests.support.actors import PASSWORD, add_user
from tests.support.pages import csrf_in, sign_in_on_page, signed_in_page


async def _user_count(engine) -> int:
    async with session_scope(engine) as session:
        return int(await session.scalar(select(func.count()).select_from(StaffUser)) or 0)


async def test_users_page_lists_users_with_scope_names(client, engine):
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "mai.xa", Role.commune_staff, communes=("00070",))
    await add_user(engine, "lan.officer", Role.officer, provinces=("01",))
    page, _ = await signed_in_page(client, "root", "/admin/users")
    assert page.status_code == 200
    assert "Phường Hoàn Kiếm" in page.text and "(00070)" in page.text
    assert "Thành phố Hà Nội" in page.text
    assert "Cán bộ xã" in page.text and "Cán bộ cấp tỉnh" in page.text
    assert 'aria-current="page">Người dùng</a>' in page.text


async def test_create_commune_staff_user_from_the_form(client, engine):
    await add_user(engine, "root", Role.admin)
    _, token = await signed_in_page(client, "root", "/admin/users")
    response = await client.post("/admin/users", data={
        "_csrf": token, "username": "Hoa.Xa", "full_name": "Nguyễn Thị Hoa", "password": "mat-khau-dai",
        "role": "commune_staff", "communes": "00070, 00073",
    }, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/admin/users?created=hoa.xa"
    listed = await client.get(response.headers["location"])
    assert "Đã tạo người dùng hoa.xa." in listed.text
    async with session_scope(engine) as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.username == "hoa.xa"))
        audit = await session.scalar(select(func.count()).where(AuditEntry.action == "user.create",
                                                                AuditEntry.actor == "root"))
    assert user is not None and user.role == "commune_staff" and user.communes == ["00070", "00073"]
    assert user.full_name == "Nguyễn Thị Hoa"
    assert audit == 1
    client.cookies.clear()
    assert (await sign_in_on_page(client, "hoa.xa", password="mat-khau-dai")).status_code == 303


async def test_bad_user_form_lists_every_error_and_creates_nothing(client, engine):
    await add_user(engine, "root", Role.admin)
    _, token = await signed_in_page(client, "root", "/admin/users")
    before = await _user_count(engine)
    response = await client.post("/admin/users", data={
        "_csrf": token, "username": "x", "password": "short", "role": "commune_staff", "communes": "",
    })
    assert response.status_code == 422
    for message in ("Tên đăng nhập phải có 3–64 ký tự", "Mật khẩu phải có ít nhất 8 ký tự.",
                    "Cán bộ xã cần ít nhất một mã xã."):
        assert message in response.text
    assert 'aria-invalid="true"' in response.text and 'role="alert"' in response.text
    unknown = await client.post("/admin/users", data={
        "_csrf": token, "username": "root", "password": PASSWORD, "role": "officer",
        "provinces": ["01", "99"], "communes": "00070 12345",
    })
    assert unknown.status_code == 422
    assert "Tên đăng nhập root đã có người dùng." in unknown.text
    assert "Không có tỉnh với mã: 99." in unknown.text
    assert "Không có xã với mã: 12345." in unknown.text
    assert re.search(r'value="01" checked', unknown.text)  # the form keeps what was chosen
    no_role = await client.post("/admin/users", data={"_csrf": token, "username": "ok.name", "password": PASSWORD})
    assert no_role.status_code == 422 and "Hãy chọn một vai trò." in no_role.text
    assert await _user_count(engine) == before


async def test_form_posts_need_the_session_token_urlencoded_and_multipart(client, engine):
    await add_user(engine, "root", Role.admin)
    _, token = await signed_in_page(client, "root", "/admin/users")
    fields = {"username": "no.token", "password": PASSWORD, "role": "auditor"}
    missing = await client.post("/admin/users", data=fields)
    assert missing.status_code == 403
    assert missing.headers["content-type"].startswith("text/html")
    assert "Biểu mẫu đã hết hiệu lực" in missing.text
    wrong = await client.post("/admin/users", data={**fields, "_csrf": "not-the-token"})
    assert wrong.status_code == 403
    multipart_missing = await client.post("/admin/users", data=fields, files={"note": ("n.txt", b"x")})
    assert multipart_missing.status_code == 403
    assert await _user_count(engine) == 1
    multipart = await client.post("/admin/users", data={**fields, "_csrf": token},
                                  files={"note": ("n.txt", b"x")}, follow_redirects=False)
    assert multipart.status_code == 303, multipart.text
    urlencoded = await client.post("/admin/users", data={**fields, "username": "with.token", "_csrf": token},
                                   follow_redirects=False)
    assert urlencoded.status_code == 303
    assert await _user_count(engine) == 3


async def test_commune_lookup_finds_by_code_and_by_name_without_accents(client, engine):
    await add_user(engine, "root", Role.admin)
    await sign_in_on_page(client, "root")
    by_codes = (await client.get("/admin/communes.json?codes=00070,99999")).json()["items"]
    assert by_codes[0] == {"code": "00070", "name": "Phường Hoàn Kiếm", "province": "Thành phố Hà Nội"}
    assert by_codes[1] == {"code": "99999", "name": None, "province": None}
    by_name = (await client.get("/admin/communes.json?q=hoan kiem")).json()["items"]
    assert {"code": "00070", "name": "Phường Hoàn Kiếm", "province": "Thành phố Hà Nội"} in by_name
    by_prefix = (await client.get("/admin/communes.json?q=0007")).json()["items"]
    assert by_prefix and all(item["code"].startswith("0007") for item in by_prefix)
    assert (await client.get("/admin/communes.json?q=h")).json()["items"] == []


async def test_api_key_is_shown_once_works_and_can_be_revoked(client, engine):
    await add_user(engine, "root", Role.admin)
    page, token = await signed_in_page(client, "root", "/admin/api-keys")
    assert "Chưa cấp khóa nào." in page.text and "Vietcombank" in page.text
    created = await client.post("/admin/api-keys", data={"_csrf": token, "bank_bin": "970436", "label": "máy chủ"})
    assert created.status_code == 200 and created.url.path == "/admin/api-keys"  # after the redirect
    key = re.search(r'<code class="secret" id="new-key">([^<]+)</code>', created.text).group(1)
    assert "Khóa chỉ hiển thị một lần này." in created.text and "Khóa mới cho Vietcombank" in created.text
    assert created.headers["cache-control"] == "no-store"
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {key}"})).json()["bank_bin"] == "970436"
    listed = await client.get("/admin/api-keys")
    assert key not in listed.text and "máy chủ" in listed.text and "Đang hiệu lực" in listed.text
    prefix = key.split("_")[1]
    revoke = await client.post(f"/admin/api-keys/{prefix}/revoke", data={"_csrf": csrf_in(listed.text)},
                               follow_redirects=False)
    assert revoke.status_code == 303 and revoke.headers["location"] == f"/admin/api-keys?revoked={prefix}"
    after = await client.get(revoke.headers["location"])
    assert f"Đã thu hồi khóa {prefix}." in after.text
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {key}"})).status_code == 401
    again = await client.post(f"/admin/api-keys/{prefix}/revoke", data={"_csrf": csrf_in(listed.text)})
    assert again.status_code == 404 and "Không tìm thấy trang" in again.text
    async with session_scope(engine) as session:
        revoked = await session.scalar(select(func.count()).where(BankApiKey.revoked_at.is_not(None)))
    assert revoked == 1


async def test_issuing_a_key_redirects_and_a_reload_neither_issues_another_nor_shows_it_again(client, engine):
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "root2", Role.admin)
    _, token = await signed_in_page(client, "root", "/admin/api-keys")
    issued = await client.post("/admin/api-keys", data={"_csrf": token, "bank_bin": "970418", "label": "BIDV"},
                               follow_redirects=False)
    assert issued.status_code == 303 and "new-key" not in issued.text
    location = issued.headers["location"]
    assert location.startswith("/admin/api-keys?issued=")
    async with session_scope(engine) as session:
        stored = (await session.execute(text("SELECT sealed_key, token_hash FROM api_key_reveal"))).one()
    shown = await client.get(location)
    key = re.search(r'<code class="secret" id="new-key">([^<]+)</code>', shown.text).group(1)
    assert key.startswith("ansinh_") and "Khóa mới cho BIDV" in shown.text
    # Neither the key nor the token that unseals it was in the database; the reveal is gone once read.
    assert key.encode() not in bytes(stored.sealed_key) and location.split("=", 1)[1].encode() not in stored.token_hash
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM api_key_reveal")) == 0

    reloaded = await client.get(location)
    assert reloaded.status_code == 200 and key not in reloaded.text and 'id="new-key"' not in reloaded.text
    assert "Khóa mới đã được hiển thị một lần và không hiển thị lại" in reloaded.text
    async with session_scope(engine) as session:
        assert await session.scalar(select(func.count()).select_from(BankApiKey)) == 1
    assert (await client.get("/api/auth/me", headers={"Authorization": f"Bearer {key}"})).json()["bank_bin"] == "970418"

    # Another admin's session cannot read a reveal of this one's: it stays for its own session, until it expires.
    second = await client.post("/admin/api-keys", data={"_csrf": csrf_in(reloaded.text), "bank_bin": "970436"},
                               follow_redirects=False)
    client.cookies.clear()
    other, _ = await signed_in_page(client, "root2", second.headers["location"])
    assert 'id="new-key"' not in other.text and "không hiển thị lại" in other.text
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM api_key_reveal")) == 1
        assert await session.scalar(select(func.count()).select_from(BankApiKey)) == 2


async def test_api_key_form_without_a_bank_is_refused(client, engine):
    await add_user(engine, "root", Role.admin)
    _, token = await signed_in_page(client, "root", "/admin/api-keys")
    response = await client.post("/admin/api-keys", data={"_csrf": token, "bank_bin": "123456"})
    assert response.status_code == 422 and "Hãy chọn một ngân hàng." in response.text
    assert 'class="secret"' not in response.text
    async with session_scope(engine) as session:
        assert await session.scalar(select(func.count()).select_from(BankApiKey)) == 0
