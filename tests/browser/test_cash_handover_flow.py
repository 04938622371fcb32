"""Commune staff hand out a run's cash with a phone (375 px): from the follow-up page to the run's cash
handover list, find a person, record the handover on the card and come back to the list at the same place."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import httpx
import pytest
from playwright.sync_api import expect
from sqlalchemy import text

from app.database import make_engine, session_scope, to_libpq_url
from app.registry.fake import BeneficiaryFaker, FakePerson
from app.web.forms import fold
from reconciliation.withdrawals import reallocate
from tests.browser.conftest import COMMUNE_STAFF, new_page, screenshot, sign_in
from tests.support.vietnamese import person_sort_key
from tests.support.world import Office, person


def run_async(coroutine):  # type: ignore[no-untyped-def]
    """Run a coroutine to the end from a test whose thread already runs Playwright's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def cash_people(live_server) -> list[FakePerson]:
    """Two people of Phường Hoàn Kiếm paid in cash, March 2026 sent through the server's API; the cash reached
    the commune a day ago."""
    faker = BeneficiaryFaker(seed=51)
    people = [person(faker, bank=None, start="2026-03") for _ in range(2)]

    async def seed() -> None:
        engine = make_engine(live_server.database_url, pool_size=1)
        try:
            async with httpx.AsyncClient(base_url=live_server.base_url) as http:
                office = await Office(http, engine).setup()  # type: ignore[arg-type]
                await office.import_people(people)
                await office.run_cycle("2026-03")
            async with session_scope(engine) as session:
                await session.execute(text("UPDATE payout SET sent_at = sent_at - interval '1 day'"))
                await reallocate(session)
        finally:
            await engine.dispose()

    run_async(seed())
    return sorted(people, key=lambda p: (p.date_of_birth, person_sort_key(p.full_name)))  # the list's order: the oldest first


def _handovers(live_server) -> list[asyncpg.Record]:
    async def fetch() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(to_libpq_url(live_server.database_url))
        try:
            return await conn.fetch("SELECT b.full_name, w.amount, w.channel FROM withdrawal w"
                                    " JOIN beneficiary b ON b.id = w.beneficiary_id")
        finally:
            await conn.close()

    return run_async(fetch())


def test_commune_staff_record_a_cash_handover_on_a_phone(browser, live_server, watch, cash_people):
    phone = new_page(browser, live_server, watch, viewport={"width": 375, "height": 740}, device_scale_factor=2,
                     is_mobile=True, has_touch=True)
    sign_in(phone, COMMUNE_STAFF)
    phone.goto("/follow-up")
    cash_lists = phone.get_by_role("region", name="Danh sách chi tiền mặt (để giao tiền)")
    expect(cash_lists.get_by_role("link", name="Excel")).to_be_visible()  # the printable list stays
    cash_lists.get_by_role("link", name="TGXH tháng 03/2026: 2 người nhận tiền mặt").click()
    expect(phone.get_by_role("heading", level=1, name="Giao tiền mặt")).to_be_visible()
    expect(phone.locator(".person")).to_have_count(2)
    expect(phone.locator("#cash-summary")).to_have_text(
        "TGXH tháng 03/2026: 2 người còn chờ nhận tiền mặt, tổng 1.300.000 đ")
    expect(phone.locator(".person h2 a")).to_have_text([p.full_name for p in cash_people])
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375  # no sideways scrolling

    # Found by name typed without accents.
    second = cash_people[1]
    phone.get_by_label("Tìm theo tên, CCCD (hoặc 4 số cuối) hoặc số điện thoại").fill(fold(second.full_name))
    phone.get_by_role("button", name="Xem").click()
    expect(phone.locator(".person h2 a")).to_have_text([second.full_name])
    phone.get_by_role("link", name="Xem cả danh sách").click()
    expect(phone.locator(".person")).to_have_count(2)

    first = phone.locator(".person").first
    expect(first.get_by_text("650.000 đ", exact=True)).to_be_visible()
    first.get_by_text("Ghi nhận đã giao tiền mặt").click()
    expect(first.get_by_label("Số tiền (đồng)")).to_have_value("650000")
    screenshot(phone, "cash-handover-phone")
    first.get_by_role("button", name="Lưu").click()
    expect(phone.get_by_text("Đã ghi nhận giao tiền mặt.")).to_be_visible()
    # Back at the card's place (the next person is there now), the saved notice in that card, in view.
    assert phone.url.endswith("&done=handover&position=1#p-1")
    expect(phone.locator("#p-1 .notice")).to_have_text("Đã ghi nhận giao tiền mặt.")
    expect(phone.locator("#p-1 .notice")).to_be_in_viewport()
    expect(phone.locator(".person h2 a")).to_have_text([second.full_name])
    expect(phone.locator("#cash-done")).to_have_text("Đã giao đủ: 1 người (không hiện trong danh sách)")
    assert phone.evaluate("document.documentElement.scrollWidth") <= 375
    assert [(r["full_name"], r["amount"], r["channel"]) for r in _handovers(live_server)] == [
        (cash_people[0].full_name, 650_000, "cash_handover")]
    phone.context.close()
