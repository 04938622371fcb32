"""Browser tests: the real server (``ansinh serve`` in a subprocess) driven by Debian's Chromium.

One database and one server per test module (the tests of a module share its users); a fresh
browser context (no cookies, no cache) per test. Chromium must be at /usr/bin/chromium
(``apt-get install chromium``; .ci/run does it): without it these tests fail, they never skip.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import pytest

from app.auth.models import Role
from app.database import make_engine, to_asyncpg_url
from tests.support.actors import PASSWORD, add_user
from tests.support.processes import base_env, free_port, start_server, stop_server

CHROMIUM = Path("/usr/bin/chromium")
# This machine has no network: nothing in Chromium may try to reach one.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SCREENSHOTS = Path(__file__).parent / "screenshots"

ADMIN = "quan.tri"
ADMIN_NAME = "Trần Văn Quản"
COMMUNE_STAFF = "mai.xa"
COMMUNE_STAFF_NAME = "Lê Thị Mai"


@dataclass(frozen=True)
class LiveServer:
    """A running ``ansinh serve`` and the database behind it."""

    base_url: str
    database_url: str

    def url(self, path: str) -> str:
        """Absolute URL of a path on this server."""
        return self.base_url + path


async def _admin_sql(admin_url: str, sql: str) -> None:
    conn = await asyncpg.connect(admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


async def _seed_users(database_url: str) -> None:
    engine = make_engine(database_url, pool_size=1)
    try:
        await add_user(engine, ADMIN, Role.admin, full_name=ADMIN_NAME)
        await add_user(engine, COMMUNE_STAFF, Role.commune_staff, communes=("00070",), full_name=COMMUNE_STAFF_NAME)
    finally:
        await engine.dispose()


@pytest.fixture(scope="module")
def live_server(pg_server: Any, migrated_template: str) -> Iterator[LiveServer]:
    """A database for this module (copied from the migrated template, with an admin and a commune
    staff member) and ``ansinh serve`` on a free port against it."""
    name = f"browser_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    asyncio.run(_admin_sql(pg_server.admin_url, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}"'))
    database_url = to_asyncpg_url(pg_server.url_for(name))
    asyncio.run(_seed_users(database_url))
    port = free_port()
    process = start_server(base_env(DATABASE_URL=database_url), port)
    try:
        yield LiveServer(base_url=f"http://127.0.0.1:{port}", database_url=database_url)
    finally:
        stop_server(process)
        asyncio.run(_admin_sql(pg_server.admin_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture(scope="module")
def browser(live_server: LiveServer) -> Iterator[Any]:
    """Headless Chromium for this module (after the server, so no event loop is left running)."""
    if not CHROMIUM.exists():
        pytest.fail(f"Chromium is missing at {CHROMIUM}: run `apt-get install -y chromium` "
                    "(.ci/run installs it when tests/browser exists)", pytrace=False)
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the playwright package is missing: `make install` installs the dev dependencies",
                    pytrace=False)
    SCREENSHOTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


class PageWatch:
    """What a page did that it should not: requests off this server, script errors."""

    def __init__(self, base_url: str) -> None:
        self.base_url = base_url
        self.outside_requests: list[str] = []
        self.script_errors: list[str] = []

    def attach(self, page: Any) -> None:
        page.on("request", self._on_request)
        page.on("pageerror", lambda error: self.script_errors.append(str(error)))

    def _on_request(self, request: Any) -> None:
        if not request.url.startswith(self.base_url) and not request.url.startswith("data:"):
            self.outside_requests.append(request.url)


def new_page(browser: Any, live_server: LiveServer, watch: PageWatch, **context_options: Any) -> Any:
    """A page in a fresh context (no cookies, no cache) on the live server."""
    context = browser.new_context(base_url=live_server.base_url, **context_options)
    page = context.new_page()
    page.set_default_timeout(10_000)
    watch.attach(page)
    return page


@pytest.fixture
def watch(live_server: LiveServer) -> Iterator[PageWatch]:
    """Fails the test if any page it opened loaded something from elsewhere or threw a script error."""
    observed = PageWatch(live_server.base_url)
    yield observed
    assert observed.outside_requests == [], "pages must load nothing from outside the server (offline intranets)"
    assert observed.script_errors == []


@pytest.fixture
def page(browser: Any, live_server: LiveServer, watch: PageWatch) -> Iterator[Any]:
    """A desktop-sized page in a fresh browser context."""
    opened = new_page(browser, live_server, watch, viewport={"width": 1280, "height": 900})
    yield opened
    opened.context.close()


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under tests/browser/screenshots/ (not committed)."""
    path = SCREENSHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def sign_in(page: Any, username: str, password: str = PASSWORD) -> None:
    """Fill the Vietnamese sign-in form as a person would and submit it."""
    page.goto("/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()


def prepare_and_compute_run(page: Any, programme: str, period: str) -> str:
    """As an officer on the runs page: prepare the run of ``period`` (MM/YYYY, as staff type it) and compute it;
    the run page's address."""
    from playwright.sync_api import expect

    page.goto("/payout-runs")
    page.get_by_label("Chương trình").select_option(programme)
    page.get_by_label("Kỳ chi (tháng/năm)").fill(period)
    page.get_by_role("button", name="Lập đợt chi").click()
    page.get_by_role("button", name="Tính đợt chi").click()
    expect(page.get_by_text("Đã tính xong đợt chi.")).to_be_visible()
    return page.url.split("?")[0]
