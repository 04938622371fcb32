"""Commune staff, on a 375 px phone, ask for a person's corrected bank account from the person's page (a
mistake first: the form keeps what was typed); an officer confirms it from the list of requests; the staff
member sees it confirmed."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor

from playwright.sync_api import expect

from app.auth.models import Role
from app.database import make_engine, session_scope
from app.registry.fake import BeneficiaryFaker
from tests.browser.conftest import COMMUNE_STAFF, new_page, screenshot, sign_in
from tests.support.actors import add_user
from tests.support.world import HANOI_COMMUNE, person, register_by_sql

OFFICER = "lan.canbo"
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _seed(database_url: str) -> str:
    """An officer and one person of Phường Hoàn Kiếm (the commune staff's commune); the person's name."""
    someone = person(BeneficiaryFaker(seed=41), commune=HANOI_COMMUNE)

    async def seed() -> None:
        engine = make_engine(database_url, pool_size=1)
        try:
            await add_user(engine, OFFICER, Role.officer, full_name="Nguyễn Thị Lan")
            async with session_scope(engine) as session:
                await register_by_sql(session, [someone])
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright's loop runs in this thread
        pool.submit(asyncio.run, seed()).result()
    return someone.full_name


def _no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


def test_commune_staff_ask_for_a_corrected_account_on_a_phone_and_an_officer_confirms(browser, live_server, watch):
    name = _seed(live_server.database_url)
    phone = new_page(browser, live_server, watch, **PHONE)
    sign_in(phone, COMMUNE_STAFF)
    phone.get_by_role("navigation", name="Trình đơn chính").get_by_role("link", name="Người hưởng").click()
    phone.get_by_role("link", name=name).click()
    expect(phone.get_by_role("heading", level=1)).to_have_text(name)
    phone.get_by_text("Đề nghị đăng ký tài khoản mới hoặc tài khoản đã sửa").click()
    phone.get_by_label("Ngân hàng (bắt buộc)").select_option(label="BIDV — 970418")
    phone.get_by_label("Số tài khoản (bắt buộc)").fill("1201 0")
    phone.get_by_label("Ghi chú cho cán bộ").fill("Bà mở tài khoản mới ở chi nhánh quận")
    _no_sideways_scroll(phone)
    screenshot(phone, "account-request-phone")
    phone.get_by_role("button", name="Gửi đề nghị").click()
    # the typed number is too short: said at the box, everything typed is still there
    expect(phone.locator("#account_number-error")).to_contain_text("phải gồm 6 đến 19 chữ số")
    expect(phone.get_by_label("Ghi chú cho cán bộ")).to_have_value("Bà mở tài khoản mới ở chi nhánh quận")
    expect(phone.get_by_label("Ngân hàng (bắt buộc)")).to_have_value("970418")
    _no_sideways_scroll(phone)
    screenshot(phone, "account-request-error-phone")
    phone.get_by_label("Số tài khoản (bắt buộc)").fill("1201 0000 1234 56")
    phone.get_by_role("button", name="Gửi đề nghị").click()
    expect(phone.get_by_role("status")).to_have_text("Đã gửi đề nghị; cán bộ cấp tỉnh sẽ xác nhận.")
    expect(phone.get_by_role("heading", name="Đề nghị đổi tài khoản đang chờ duyệt")).to_be_visible()
    expect(phone.get_by_role("button", name="Gửi đề nghị")).to_have_count(0)  # one pending request at a time
    _no_sideways_scroll(phone)

    officer = new_page(browser, live_server, watch, viewport={"width": 1280, "height": 900})
    sign_in(officer, OFFICER)
    officer.get_by_role("navigation", name="Trình đơn chính").get_by_role("link", name="Đề nghị đổi tài khoản").click()
    expect(officer.get_by_text("1 đề nghị")).to_be_visible()
    expect(officer.get_by_text("Bà mở tài khoản mới ở chi nhánh quận")).to_be_visible()
    officer.get_by_role("button", name="Xác nhận tài khoản").click()
    expect(officer.locator(".notice")).to_have_text("Đã xác nhận: tài khoản mới đang được dùng.")
    officer.context.close()

    phone.reload()
    phone.get_by_text("Các đề nghị đã xử lý (1)").click()
    expect(phone.get_by_text("Đã xác nhận")).to_be_visible()
    expect(phone.locator("td.code").first).to_have_text("*" * 10 + "3456")
    _no_sideways_scroll(phone)
    phone.context.close()
