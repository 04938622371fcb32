"""Layout, menu by role, friendly error pages, static files and page headers."""

from litestar import Litestar

from app.auth.guards import declared_roles
from app.auth.models import Role
from app.web.menu import MENU, active_item, menu_for
from tests.support.actors import add_user, bank_key, sign_in
from tests.support.pages import sign_in_on_page


async def test_home_shows_who_you_are_your_scope_and_your_links(client, engine):
    await add_user(engine, "mai.xa", Role.commune_staff, communes=("00070", "00073"))
    await sign_in_on_page(client, "mai.xa")
    home = await client.get("/")
    assert home.status_code == 200
    assert "Xin chào, mai.xa" in home.text and "Cán bộ xã" in home.text
    assert "Phường Hoàn Kiếm, Thành phố Hà Nội" in home.text and "(00073)" in home.text
    assert "/admin/users" not in home.text and "/admin/api-keys" not in home.text
    assert 'href="#main"' in home.text and '<main id="main"' in home.text
    assert 'action="/logout"' in home.text


async def test_admin_home_links_to_admin_pages(client, engine):
    await add_user(engine, "root", Role.admin)
    await sign_in_on_page(client, "root")
    home = await client.get("/?lang=en")
    assert "Nationwide (no province or commune limit)" in home.text
    assert 'href="/admin/users"' in home.text and 'href="/admin/api-keys"' in home.text
    assert "Administrator" in home.text and "Sign out" in home.text


async def test_role_without_permission_gets_the_403_page_and_the_api_keeps_problem_json(client, engine):
    await add_user(engine, "mai.xa", Role.commune_staff, communes=("00070",))
    await sign_in_on_page(client, "mai.xa")
    for path in ("/admin/users", "/admin/api-keys", "/admin/communes.json?q=ha"):
        page = await client.get(path)
        assert page.status_code == 403, path
        assert page.headers["content-type"].startswith("text/html")
        assert "Không có quyền truy cập" in page.text and 'href="/"' in page.text
    api = await client.get("/api/admin/users")
    assert api.status_code == 403 and api.headers["content-type"].startswith("application/problem+json")


async def test_bank_key_cannot_use_pages(client, engine):
    headers = await bank_key(engine, "970436")
    page = await client.get("/", headers=headers)
    assert page.status_code == 403 and "Không có quyền truy cập" in page.text


async def test_unknown_page_is_a_friendly_404_and_unknown_api_path_is_problem_json(client):
    page = await client.get("/no-such-page?lang=en")
    assert page.status_code == 404 and "Page not found" in page.text
    api = await client.get("/api/no-such-thing")
    assert api.status_code == 404 and api.headers["content-type"].startswith("application/problem+json")


async def test_pages_forbid_framing_caching_and_outside_resources(client, engine):
    await add_user(engine, "root", Role.admin)
    await sign_in_on_page(client, "root")
    for path in ("/login", "/", "/admin/users", "/admin/api-keys"):
        response = await client.get(path)
        csp = response.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
        assert response.headers["cache-control"] == "no-store"
        assert "http://" not in response.text and "https://" not in response.text  # no CDN, nothing external
        assert len(response.content) < 200 * 1024


async def test_static_files_are_public_and_versioned(client):
    login = await client.get("/login")
    assert "/static/ansinh.css?v=" in login.text and "/static/ansinh.js?v=" in login.text
    css = await client.get("/static/ansinh.css")
    js = await client.get("/static/ansinh.js")
    assert css.status_code == js.status_code == 200
    assert css.headers["content-type"].startswith("text/css") and "max-age" in css.headers["cache-control"]
    assert "javascript" in js.headers["content-type"]
    assert (await client.get("/static/nothing.css")).status_code == 404
    # The page names its icon, so a browser does not ask for a /favicon.ico that is not there.
    assert '<link rel="icon" type="image/svg+xml" href="/static/favicon.svg?v=' in login.text
    icon = await client.get("/static/favicon.svg")
    assert icon.status_code == 200 and icon.headers["content-type"].startswith("image/svg+xml")


async def test_every_menu_row_has_a_page_with_exactly_those_roles(client):
    app: Litestar = client.app
    get_routes = {}
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if "GET" in getattr(handler, "http_methods", ()):
                get_routes[route.path] = handler
    for item in MENU:
        assert item.path in get_routes, f"menu row {item.path} has no page"
        assert declared_roles(get_routes[item.path]) == item.roles, item.path


def test_menu_is_filtered_by_role_and_marks_the_current_section():
    assert [item.path for item in menu_for(Role.admin)] == ["/", "/dashboard", "/payout-runs", "/statements", "/reports", "/schedules", "/audit", "/admin/users", "/admin/api-keys"]
    assert [item.path for item in menu_for(Role.commune_staff)] == ["/", "/dashboard", "/follow-up", "/beneficiaries",
                                                                   "/bank-account-requests", "/reports"]
    assert menu_for(Role.bank) == [] and menu_for(None) == []
    items = menu_for(Role.admin)
    assert active_item("/admin/users", items).path == "/admin/users"
    assert active_item("/admin/users/7", items).path == "/admin/users"
    assert active_item("/", items).path == "/"
    assert active_item("/elsewhere", items) is None


async def test_api_sign_in_still_answers_json(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    headers = await sign_in(client, "lan.officer")
    assert headers["X-CSRF-Token"]
    assert (await client.get("/")).status_code == 200  # the same session opens pages too
