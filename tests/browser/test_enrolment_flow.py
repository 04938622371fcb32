"""An officer, on a 375 px phone, acts on the person page's notice that an enrolment no longer fits a corrected
date of birth: the notice's link opens that enrolment's end form (a month before the start first: refused at the
box), the enrolment is ended after the question, the notice is gone, and the person is enrolled in the category
that fits from the month it does."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import date

from playwright.sync_api import expect

from app.auth.models import Role
from app.database import make_engine, session_scope
from app.registry.fake import BeneficiaryFaker, citizen_id_for
from tests.browser.conftest import new_page, screenshot, sign_in
from tests.support.actors import add_user
from tests.support.world import HANOI_COMMUNE, person, register_by_sql

OFFICER = "hoa.canbo"
PHONE = {"viewport": {"width": 375, "height": 812}, "device_scale_factor": 2, "is_mobile": True, "has_touch": True}


def _seed(database_url: str) -> str:
    """An officer and a person enrolled as 80+ (from 75 in the category NCT_80) from 01/2026 whose date of birth
    reads 20/02/1951: 74 in January, so the page warns of the enrolment. The person's id."""
    born = date(1951, 2, 20)
    someone = person(BeneficiaryFaker(seed=43), commune=HANOI_COMMUNE)
    someone = dataclasses.replace(someone, date_of_birth=born,
                                  national_id=citizen_id_for(born, someone.sex, "001", 424242))
    person_id = str(uuid.uuid4())

    async def seed() -> None:
        engine = make_engine(database_url, pool_size=1)
        try:
            await add_user(engine, OFFICER, Role.officer, full_name="Lê Thị Hoa")
            async with session_scope(engine) as session:
                await register_by_sql(session, [someone], ids=[person_id])
        finally:
            await engine.dispose()

    with ThreadPoolExecutor(max_workers=1) as pool:  # Playwright's loop runs in this thread
        pool.submit(asyncio.run, seed()).result()
    return person_id


def _no_sideways_scroll(page) -> None:  # type: ignore[no-untyped-def]
    assert page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth") <= 0


def test_an_officer_ends_the_enrolment_the_age_notice_names_and_enrols_in_the_one_that_fits(browser, live_server,
                                                                                             watch):
    person_id = _seed(live_server.database_url)
    phone = new_page(browser, live_server, watch, **PHONE)
    sign_in(phone, OFFICER)
    phone.goto(f"/beneficiaries/{person_id}")
    notice = phone.locator("#age-warnings")
    expect(notice).to_contain_text("Quyết định số QĐ-99 (TGXH, hưởng từ tháng 01/2026) không còn hợp với ngày sinh")
    end_month = phone.get_by_label("Tháng kết thúc (bắt buộc)")
    expect(end_month).to_be_hidden()  # the end form starts closed
    notice.get_by_role("link", name="Kết thúc quyết định này").click()
    expect(end_month).to_be_visible()
    expect(end_month).to_be_in_viewport()
    end_month.fill("12/2025")
    phone.get_by_label("Lý do kết thúc (bắt buộc)").fill("Không còn hợp tuổi theo ngày sinh đã sửa")
    _no_sideways_scroll(phone)
    screenshot(phone, "enrolment-end-phone")
    questions: list[str] = []

    def accept(dialog) -> None:  # type: ignore[no-untyped-def]
        questions.append(dialog.message)
        dialog.accept()

    phone.on("dialog", accept)
    phone.get_by_role("button", name="Kết thúc quyết định số QĐ-99").click()
    # Before the start month: said at the box, what was typed still there, nothing ended.
    expect(phone.locator("[id^=end_month-][id$=-error]")).to_contain_text(
        "Tháng kết thúc 12/2025 trước tháng bắt đầu hưởng 01/2026")
    expect(phone.get_by_label("Lý do kết thúc (bắt buộc)")).to_have_value("Không còn hợp tuổi theo ngày sinh đã sửa")
    expect(phone.locator("#age-warnings")).to_be_visible()
    _no_sideways_scroll(phone)
    phone.get_by_label("Tháng kết thúc (bắt buộc)").fill("01/2026")
    phone.get_by_role("button", name="Kết thúc quyết định số QĐ-99").click()
    expect(phone.get_by_role("status")).to_have_text(
        "Đã kết thúc quyết định hưởng; tháng kết thúc là tháng cuối cùng được chi trả.")
    expect(phone.locator("#age-warnings")).to_have_count(0)
    assert questions == ["Kết thúc quyết định số QĐ-99? Các tháng sau tháng kết thúc sẽ không được chi trả."] * 2

    # 75 from February: enrolled in NCT_80 again from 02/2026, by a new decision.
    phone.get_by_text("Lập quyết định hưởng mới").click()
    phone.get_by_label("Đối tượng (bắt buộc)").select_option("TGXH/NCT_80")
    phone.get_by_label("Tháng bắt đầu hưởng (bắt buộc)").fill("02/2026")
    phone.get_by_label("Số quyết định (bắt buộc)").fill("16/QĐ-UBND")
    _no_sideways_scroll(phone)
    screenshot(phone, "enrolment-add-phone")
    phone.get_by_role("button", name="Lưu quyết định hưởng").click()
    expect(phone.get_by_role("status")).to_have_text("Đã lưu quyết định hưởng mới.")
    rows = phone.locator("section[aria-labelledby=enrolments-heading] tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("01/2026 → 01/2026")
    expect(rows.nth(1)).to_contain_text("02/2026 → …")
    expect(rows.nth(1)).to_contain_text("16/QĐ-UBND")
    _no_sideways_scroll(phone)
    phone.context.close()
