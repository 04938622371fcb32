"""The admin's page of one user: change role and scope, set or make a password (shown once), deactivate and
reactivate; the admin's own account cannot be deactivated nor its role changed; other roles get 403."""

from __future__ import annotations

import asyncio
import re
import threading

import asyncpg
from sqlalchemy import select, text

from app.auth.models import Role, StaffUser
from app.database import session_scope, to_libpq_url
from tests.support.actors import add_user
from tests.support.pages import csrf_in, sign_in_on_page, signed_in_page
from tests.support.world import count_rows


async def _user(engine, username: str) -> StaffUser:
    async with session_scope(engine) as session:
        user = await session.scalar(select(StaffUser).where(StaffUser.username == username))
    assert user is not None
    return user


async def test_admin_changes_a_commune_staff_users_communes_and_role(client, engine):
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "mai.xa", Role.commune_staff, communes=("00070",))
    mai = await _user(engine, "mai.xa")
    listed, token = await signed_in_page(client, "root", "/admin/users")
    assert f'<a href="/admin/users/{mai.id}">mai.xa</a>' in listed.text
    page = await client.get(f"/admin/users/{mai.id}")
    assert page.status_code == 200
    assert "Người dùng mai.xa" in page.text and "Phường Hoàn Kiếm" in page.text
    assert 'aria-current="page">Người dùng</a>' in page.text  # the users section of the menu
    assert f'href="/audit?object_type=staff_user&amp;object_id={mai.id}"' in page.text
    assert 'href="/audit?actor=mai.xa"' in page.text
    saved = await client.post(f"/admin/users/{mai.id}", data={
        "_csrf": token, "full_name": "Lê Thị Mai", "role": "commune_staff", "communes": "00070, 00073"},
        follow_redirects=False)
    assert saved.status_code == 303 and saved.headers["location"] == f"/admin/users/{mai.id}?done=updated"
    done = await client.get(saved.headers["location"])
    assert "Đã lưu vai trò và phạm vi của mai.xa." in done.text and "(00073)" in done.text
    assert (await _user(engine, "mai.xa")).communes == ["00070", "00073"]
    refused = await client.post(f"/admin/users/{mai.id}", data={"_csrf": token, "role": "commune_staff",
                                                                 "communes": ""})
    assert refused.status_code == 422 and "Cán bộ xã cần ít nhất một mã xã." in refused.text
    promoted = await client.post(f"/admin/users/{mai.id}", data={"_csrf": token, "full_name": "Lê Thị Mai",
                                                                  "role": "officer", "provinces": "01"},
                                 follow_redirects=False)
    assert promoted.status_code == 303
    user = await _user(engine, "mai.xa")
    assert (user.role, user.provinces, user.communes) == ("officer", ["01"], [])
    unchanged = await client.post(f"/admin/users/{mai.id}", data={"_csrf": token, "full_name": "Lê Thị Mai",
                                                                   "role": "officer", "provinces": "01"},
                                  follow_redirects=False)
    assert unchanged.headers["location"].endswith("?done=unchanged")


async def test_temporary_password_is_shown_once_and_works(client, engine):
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "lan.officer", Role.officer)
    lan = await _user(engine, "lan.officer")
    opened, token = await signed_in_page(client, "root", f"/admin/users/{lan.id}")
    version = re.search(r'<input type="hidden" name="version" value="([^"]+)">', opened.text).group(1)
    form = {"_csrf": token, "password": "", "version": version}
    made = await client.post(f"/admin/users/{lan.id}/password", data=form)
    assert made.status_code == 200 and made.headers["cache-control"] == "no-store"
    password = re.search(r'<code class="secret" id="new-password">([^<]+)</code>', made.text).group(1)
    assert "Mật khẩu chỉ hiển thị một lần này" in made.text
    assert password not in (await client.get(f"/admin/users/{lan.id}")).text
    # Reloading the answer sends the same form again: the account changed since that page was opened, so no
    # second password is made (the one shown stays the one that works).
    again = await client.post(f"/admin/users/{lan.id}/password", data=form)
    assert again.status_code == 409 and 'id="new-password"' not in again.text
    assert "Tài khoản đã thay đổi lúc" in again.text and "không đặt lại lần nữa" in again.text
    assert await count_rows(engine, "SELECT count(*) FROM audit_log WHERE action = 'user.password_reset'") == 1
    short = await client.post(f"/admin/users/{lan.id}/password", data={"_csrf": token, "password": "short"})
    assert short.status_code == 422 and "Mật khẩu phải có ít nhất 8 ký tự." in short.text
    client.cookies.clear()
    assert (await sign_in_on_page(client, "lan.officer", password=password)).status_code == 303
    client.cookies.clear()
    _, token = await signed_in_page(client, "root", f"/admin/users/{lan.id}")
    given = await client.post(f"/admin/users/{lan.id}/password", data={"_csrf": token, "password": "mat-khau-moi-1"},
                              follow_redirects=False)
    assert given.status_code == 303 and "done=password_set" in given.headers["location"]
    done = await client.get(given.headers["location"])  # lan's sign-in above was still open
    assert "Đã đặt mật khẩu mới cho lan.officer; 1 phiên đăng nhập đã kết thúc." in done.text


async def test_deactivate_and_reactivate_but_never_oneself(client, engine):
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "thu.auditor", Role.auditor)
    root, thu = await _user(engine, "root"), await _user(engine, "thu.auditor")
    own, token = await signed_in_page(client, "root", f"/admin/users/{root.id}")
    assert "Đây là tài khoản của bạn: bạn không thể tự khóa." in own.text
    assert f'action="/admin/users/{root.id}/deactivate"' not in own.text
    assert '<option value="officer"' not in own.text  # the own role cannot be changed
    refused = await client.post(f"/admin/users/{root.id}/deactivate", data={"_csrf": token})
    assert refused.status_code == 409 and "Bạn không thể tự khóa tài khoản của mình." in refused.text
    own_role = await client.post(f"/admin/users/{root.id}", data={"_csrf": token, "role": "auditor"})
    assert own_role.status_code == 422 and "Bạn không thể tự đổi vai trò của mình." in own_role.text
    assert (await _user(engine, "root")).is_active and (await _user(engine, "root")).role == "admin"

    page = await client.get(f"/admin/users/{thu.id}")
    assert 'data-confirm="Khóa tài khoản thu.auditor?"' in page.text
    off = await client.post(f"/admin/users/{thu.id}/deactivate", data={"_csrf": token}, follow_redirects=False)
    assert off.status_code == 303
    done = await client.get(off.headers["location"])
    assert "Đã khóa thu.auditor: không đăng nhập được nữa; 0 phiên đăng nhập đã kết thúc." in done.text
    assert f'action="/admin/users/{thu.id}/reactivate"' in done.text
    client.cookies.clear()
    assert (await sign_in_on_page(client, "thu.auditor")).status_code != 303
    client.cookies.clear()
    _, token = await signed_in_page(client, "root", f"/admin/users/{thu.id}")
    on = await client.post(f"/admin/users/{thu.id}/reactivate", data={"_csrf": token}, follow_redirects=False)
    assert "Đã mở khóa thu.auditor" in (await client.get(on.headers["location"])).text
    client.cookies.clear()
    assert (await sign_in_on_page(client, "thu.auditor")).status_code == 303


async def test_other_roles_and_forms_without_the_token_are_refused(client, engine):
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "lan.officer", Role.officer)
    lan = await _user(engine, "lan.officer")
    _, token = await signed_in_page(client, "lan.officer", "/")
    assert (await client.get(f"/admin/users/{lan.id}")).status_code == 403
    for path in (f"/admin/users/{lan.id}", f"/admin/users/{lan.id}/deactivate", f"/admin/users/{lan.id}/password"):
        assert (await client.post(path, data={"_csrf": token, "role": "admin"})).status_code == 403, path
    client.cookies.clear()
    page, token = await signed_in_page(client, "root", f"/admin/users/{lan.id}")
    assert (await client.post(f"/admin/users/{lan.id}/deactivate", data={})).status_code == 403
    assert (await client.get("/admin/users/999999")).status_code == 404
    assert (await _user(engine, "lan.officer")).is_active and (await _user(engine, "lan.officer")).role == "officer"
    assert csrf_in(page.text) == token


def _remove_commune_while_the_user_is_held(url: str, user_id: int, held: threading.Event) -> None:
    """Another admin's change of the user: hold the user's row until the page's save waits for it, then remove
    commune 99990 (merged into another) and let go. Its own thread and loop: the test client blocks the test's."""
    async def run() -> None:
        conn = await asyncpg.connect(to_libpq_url(url))
        try:
            async with conn.transaction():
                await conn.execute("SELECT id FROM staff_user WHERE id = $1 FOR UPDATE", user_id)
                held.set()
                async with asyncio.timeout(20):
                    while not await conn.fetchval("SELECT count(*) FROM pg_locks WHERE NOT granted"):  # noqa: ASYNC110
                        await asyncio.sleep(0.05)
                await conn.execute("DELETE FROM commune WHERE code = '99990'")
        finally:
            await conn.close()

    asyncio.run(run())


async def test_a_refusal_of_the_service_comes_back_on_the_form_in_the_pages_language(client, engine, database_url):
    """The form's own checks pass, then the service refuses: a commune code removed (communes are merged) while
    another change of the same user held its row. The reason shows in Vietnamese, or in English with
    ?lang=en, never the command line's English on a Vietnamese page; nothing is saved."""
    await add_user(engine, "root", Role.admin)
    await add_user(engine, "mai.xa", Role.commune_staff, communes=("00070",))
    mai = await _user(engine, "mai.xa")
    _, token = await signed_in_page(client, "root", f"/admin/users/{mai.id}")
    for query, expected, not_expected in (
            ("", "Chưa lưu được: Không có mã xã/phường: 99990", "unknown commune code"),
            ("?lang=en", "Not saved: unknown commune code(s): 99990", "Không có mã xã/phường")):
        async with session_scope(engine) as session:
            await session.execute(text("INSERT INTO commune (code, name, division_type, province_code) "
                                       "VALUES ('99990', 'Xã Sáp Nhập', 'Xã', '01')"))
        held = threading.Event()
        other_admin = threading.Thread(target=_remove_commune_while_the_user_is_held,
                                       args=(database_url, mai.id, held))
        other_admin.start()
        assert held.wait(20)
        refused = await client.post(f"/admin/users/{mai.id}{query}", data={
            "_csrf": token, "full_name": "Lê Thị Mai", "role": "commune_staff", "communes": "00070, 99990"})
        other_admin.join(20)
        assert refused.status_code == 422, refused.text
        assert expected in refused.text and not_expected not in refused.text
        assert "Không tạo được người dùng" not in refused.text  # a change, not a creation
        assert (await _user(engine, "mai.xa")).communes == ["00070"]
