"""Phones with large text, page weight, nothing loaded from outside."""

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from playwright.sync_api import expect

from app.auth.models import Role
from app.auth.service import Principal
from app.database import make_engine, session_scope
from app.registry.service import register_disbursement_account
from reconciliation.parsers import Statement, StatementLine
from reconciliation.writers import write_statement_csv
from tests.browser.conftest import ADMIN, COMMUNE_STAFF, new_page, screenshot, sign_in
from tests.support.actors import add_user
from tests.support.world import VIETCOMBANK

PHONE = {"viewport": {"width": 360, "height": 740}, "device_scale_factor": 2, "is_mobile": True,
         "has_touch": True}
# A phone set to large text: the browser's base size goes from 16 px to 24 px. Pages use rem, so
# everything grows with it. (bypass_csp lets the test add this one style; the pages allow none.)
LARGE_TEXT = "html { font-size: 150% !important; }"
PAGE_BUDGET = 200 * 1024
ICT = timezone(timedelta(hours=7))


def run_async(coroutine):  # type: ignore[no-untyped-def]
    """Run a coroutine to the end from a test whose thread already runs Playwright's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


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


OFFICER = "lan.canbo"
DISBURSEMENT = "0011009999999"
# The right edge of every element past the viewport, widest first: what makes a page scroll sideways.
_OVERFLOWING = """() => [...document.querySelectorAll('main *')]
    .map(e => [e.tagName.toLowerCase() + (e.id ? '#' + e.id : '') + (e.className ? '.' + e.className : '')
               + (e.htmlFor ? '[for=' + e.htmlFor + ']' : '') + ' x=' + Math.round(e.getBoundingClientRect().left)
               + ' w=' + Math.round(e.getBoundingClientRect().width),
               Math.round(e.getBoundingClientRect().right)])
    .filter(([, right]) => right > document.documentElement.clientWidth).sort((a, b) => b[1] - a[1]).slice(0, 20)"""


def _statement_file(folder: Path) -> Path:
    """A bank's CSV statement of one day: a funding credit and a fee."""
    booked = datetime(2026, 3, 10, 9, 0, tzinfo=ICT)
    lines = tuple(StatementLine(
        account=DISBURSEMENT, booking_date=booked.date(), value_date=booked.date(), booked_at=booked, amount=amount,
        currency="VND", bank_reference=f"FT2603100000{index}", end_to_end_ref=None, counterparty_account=None,
        counterparty_name=None, description=description, return_reason=None, is_reversal=False, line_no=index)
        for index, (amount, description) in enumerate(((5_000_000, "KBNN cap kinh phi TGXH thang 03/2026"),
                                                       (-11_000, "Phi dich vu")), 1))
    statement = Statement(statement_id="VCB-20260310", account=DISBURSEMENT, currency="VND", opening_balance=0,
                          closing_balance=4_989_000, opening_date=booked.date(), closing_date=booked.date(),
                          lines=lines, source_format="csv")
    path = folder / "sao-ke-tai-khoan-chi-tra-vietcombank-thang-03-2026.csv"
    path.write_bytes(write_statement_csv(statement))
    return path


def test_statement_upload_page_on_a_375px_phone_does_not_scroll_sideways(browser, live_server, watch, tmp_path):
    """The upload form, the statement's page it leads to, the list and the 'already imported' answer."""
    async def seed() -> None:
        engine = make_engine(live_server.database_url, pool_size=1)
        try:
            await add_user(engine, OFFICER, Role.officer, full_name="Nguyễn Thị Lan")
            async with session_scope(engine) as session:
                await register_disbursement_account(session, VIETCOMBANK, DISBURSEMENT,
                                                    Principal(kind="staff", name=OFFICER, role=Role.officer))
        finally:
            await engine.dispose()

    run_async(seed())
    phone = new_page(browser, live_server, watch, viewport={"width": 375, "height": 740}, device_scale_factor=2,
                     is_mobile=True, has_touch=True)
    sign_in(phone, OFFICER)
    statement = _statement_file(tmp_path)

    def upload() -> None:
        phone.goto("/statements")
        expect(phone.get_by_role("heading", level=1)).to_be_visible()
        assert _horizontal_overflow(phone) <= 0, str(phone.evaluate(_OVERFLOWING))
        file_input = phone.get_by_label("Tệp sao kê").bounding_box()  # it made the page 431 px wide
        assert file_input is not None and file_input["x"] + file_input["width"] <= 375
        phone.get_by_label("Ngân hàng", exact=True).select_option(VIETCOMBANK)
        phone.get_by_label("Tệp sao kê").set_input_files(str(statement))
        phone.get_by_role("button", name="Tải lên và đối soát").click()

    upload()
    expect(phone.get_by_text("Đã tải và đối soát sao kê")).to_be_visible()  # the statement's page: its sha256 id
    assert _horizontal_overflow(phone) <= 0, str(phone.evaluate(_OVERFLOWING))
    upload()  # the same file again: already imported, and the list holds the statement
    expect(phone.locator("#outcome-heading")).to_be_visible()
    screenshot(phone, "statements-phone")
    assert _horizontal_overflow(phone) <= 0, str(phone.evaluate(_OVERFLOWING))
    phone.goto("/uploads?kind=statement")  # the files as sent, linked from the statements page
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    assert _horizontal_overflow(phone) <= 0, str(phone.evaluate(_OVERFLOWING))
    phone.context.close()
