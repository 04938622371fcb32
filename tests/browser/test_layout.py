"""Phones with large text, page weight, nothing loaded from outside."""

from typing import Any

from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, COMMUNE_STAFF, new_page, screenshot, sign_in

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
# A phone set to large text: the browser's base size goes from 16 px to 24 px. Pages use rem, so
# everything grows with it. (bypass_csp lets the test add this one style; the pages allow none.)
LARGE_TEXT = "html { font-size: 150% !important; }"
PAGE_BUDGET = 200 * 1024


def _horizontal_overflow(page: Any) -> int:
    return int(page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth"))


def _large_text_phone(browser, live_server, watch) -> Any:
    page = new_page(browser, live_server, watch, bypass_csp=True, **PHONE)
    page.add_init_script(
        "document.addEventListener('DOMContentLoaded', () => {"
        f" const s = document.createElement('style'); s.textContent = {LARGE_TEXT!r};"
        " document.head.appendChild(s); });"
    )
    return page


def test_sign_in_page_on_a_360px_phone_with_large_text_does_not_scroll_sideways(browser, live_server, watch):
    page = _large_text_phone(browser, live_server, watch)
    page.goto("/login")
    font_size = page.evaluate("parseFloat(getComputedStyle(document.documentElement).fontSize)")
    assert font_size == 24
    assert _horizontal_overflow(page) <= 0
    button = page.get_by_role("button", name="Đăng nhập").bounding_box()
    field = page.get_by_label("Tên đăng nhập").bounding_box()
    assert button is not None and field is not None
    assert button["height"] >= 44 and field["height"] >= 44  # large tap targets
    assert field["x"] >= 0 and field["x"] + field["width"] <= 360
    screenshot(page, "login-phone-large-text")
    page.context.close()


def test_signed_in_pages_on_a_phone_with_large_text_do_not_scroll_sideways(browser, live_server, watch):
    page = _large_text_phone(browser, live_server, watch)
    sign_in(page, ADMIN)
    for path, name in (("/", "home"), ("/admin/users", "users"), ("/admin/api-keys", "api-keys")):
        page.goto(path)
        expect(page.locator("main h1")).to_be_visible()
        screenshot(page, f"phone-large-text-{name}")
        assert _horizontal_overflow(page) <= 0, path
    page.context.close()


def test_audit_schedules_and_user_pages_on_a_phone_with_large_text_do_not_scroll_sideways(browser, live_server,
                                                                                           watch):
    page = _large_text_phone(browser, live_server, watch)
    sign_in(page, ADMIN)
    page.goto("/admin/users")
    page.get_by_role("link", name=COMMUNE_STAFF).click()
    expect(page.locator("main h1")).to_contain_text(COMMUNE_STAFF)
    screenshot(page, "phone-large-text-user")
    assert _horizontal_overflow(page) <= 0, page.url
    page.goto("/audit")
    expect(page.locator("main h1")).to_be_visible()
    details = page.locator("details summary")
    for index in range(details.count()):  # open every entry's details: long ids and values must wrap
        details.nth(index).click()
    screenshot(page, "phone-large-text-audit")
    assert _horizontal_overflow(page) <= 0, "/audit"
    page.goto("/schedules")
    expect(page.locator("main h1")).to_be_visible()
    screenshot(page, "phone-large-text-schedules")
    assert _horizontal_overflow(page) <= 0, "/schedules"
    page.context.close()


def _page_weight(browser, live_server, watch, path: str, storage_state: Any) -> tuple[int, int]:
    """Bytes of everything the page loads in a fresh context (empty cache), and its status."""
    page = new_page(browser, live_server, watch, storage_state=storage_state)
    responses: list[Any] = []
    page.on("response", lambda response: responses.append(response))
    response = page.goto(path, wait_until="load")
    assert response is not None
    status = response.status
    loaded = {r.url.split("?")[0].removeprefix(live_server.base_url) for r in responses}
    assert {"/static/ansinh.css", "/static/ansinh.js"} <= loaded, loaded
    weight = sum(len(r.body()) for r in responses if not 300 <= r.status < 400)
    page.context.close()
    return weight, status


def test_each_page_with_its_css_and_js_weighs_under_200_kb(browser, live_server, watch):
    signed_in: dict[str, Any] = {}
    for username in (ADMIN, COMMUNE_STAFF):
        page = new_page(browser, live_server, watch)
        sign_in(page, username)
        expect(page.locator("main h1")).to_be_visible()
        signed_in[username] = page.context.storage_state()
        page.context.close()
    pages = [("/login", None, 200), ("/", signed_in[ADMIN], 200), ("/admin/users", signed_in[ADMIN], 200),
             ("/admin/api-keys", signed_in[ADMIN], 200), ("/admin/users", signed_in[COMMUNE_STAFF], 403),
             ("/no-such-page", signed_in[COMMUNE_STAFF], 404)]
    for path, state, expected_status in pages:
        weight, status = _page_weight(browser, live_server, watch, path, state)
        assert status == expected_status, path
        assert 1000 < weight < PAGE_BUDGET, (path, weight)
