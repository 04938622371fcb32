"""The whole month in a real browser, as each role does it: an officer imports people, prepares and
computes a run; an approver (a second person) approves it; the officer funds the bank, sends the
orders and uploads the bank's camt.053 statement; the dashboard shows the credited money; commune
staff, on a phone, record an assisted withdrawal and the dashboard changes."""

from __future__ import annotations

import asyncio
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import asyncpg
import pytest
from playwright.sync_api import expect

from app.auth.models import Role
from app.auth.service import Principal
from app.database import make_engine, session_scope, to_libpq_url
from app.registry.fake import BeneficiaryFaker, import_file_bytes
from app.registry.service import register_disbursement_account
from reconciliation.parsers import Statement, StatementLine
from reconciliation.writers import write_camt053
from tests.browser.conftest import COMMUNE_STAFF, new_page, prepare_and_compute_run, screenshot, sign_in
from tests.support.actors import add_user
from tests.support.world import VIETCOMBANK, person

OFFICER, APPROVER = "lan.canbo", "minh.pheduyet"
DISBURSEMENT = "0011004455667"
ICT = timezone(timedelta(hours=7))


def run_async(coroutine):  # type: ignore[no-untyped-def]
    """Run a coroutine to the end from a test whose thread already runs Playwright's event loop."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


@pytest.fixture(scope="module")
def people_file(live_server, tmp_path_factory) -> Path:
    """An officer and an approver on the server, the bank's disbursement account, and a list of three
    people of Phường Hoàn Kiếm to import."""

    async def seed() -> None:
        engine = make_engine(live_server.database_url, pool_size=1)
        try:
            await add_user(engine, OFFICER, Role.officer, full_name="Nguyễn Thị Lan")
            await add_user(engine, APPROVER, Role.approver, full_name="Trần Văn Minh")
            async with session_scope(engine) as session:
                await register_disbursement_account(session, VIETCOMBANK, DISBURSEMENT,
                                                    Principal(kind="staff", name=OFFICER, role=Role.officer))
        finally:
            await engine.dispose()

    run_async(seed())
    faker = BeneficiaryFaker(seed=21)
    path = tmp_path_factory.mktemp("upload") / "danh-sach-hoan-kiem.csv"
    path.write_bytes(import_file_bytes([person(faker) for _ in range(3)], kind="csv"))
    return path


def _bank_statement(live_server, folder: Path) -> Path:
    """The bank's camt.053 for the sent payouts: one debit per payout, with its end-to-end reference."""

    async def payouts() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(to_libpq_url(live_server.database_url))
        try:
            return await conn.fetch("SELECT reference, amount, account_number FROM payout WHERE status = 'sent'"
                                    " ORDER BY serial")
        finally:
            await conn.close()

    # Booked as the orders left (this minute; a bank cannot credit before it received them), to the minute: the
    # phone records the withdrawal at the minute it is made, which must not be before the money arrived.
    booked = datetime.now(ICT).replace(second=0, microsecond=0)
    lines = tuple(StatementLine(
        account=DISBURSEMENT, booking_date=booked.date(), value_date=booked.date(), booked_at=booked,
        amount=-row["amount"], currency="VND", bank_reference=f"FT{index:08d}", end_to_end_ref=row["reference"],
        counterparty_account=row["account_number"], counterparty_name=None, description="Tro cap xa hoi",
        return_reason=None, is_reversal=False, line_no=index) for index, row in enumerate(run_async(payouts()), 1))
    opening = sum(-line.amount for line in lines)
    statement = Statement(statement_id="VCB-202603", account=DISBURSEMENT, currency="VND", opening_balance=opening,
                          closing_balance=0, opening_date=booked.date(), closing_date=booked.date(),
                          lines=lines, source_format="camt.053")
    path = folder / "sao-ke-vcb-2026-03.xml"
    path.write_bytes(write_camt053(statement))
    return path


def test_a_month_from_import_to_assisted_withdrawal(browser, live_server, watch, people_file, tmp_path):
    officer = new_page(browser, live_server, watch, viewport={"width": 1280, "height": 900})
    sign_in(officer, OFFICER)
    officer.get_by_role("navigation", name="Trình đơn chính").get_by_role("link", name="Người hưởng").click()
    officer.get_by_role("link", name="Nhập danh sách từ tệp").click()
    officer.get_by_label("Tệp danh sách (xlsx hoặc csv)").set_input_files(str(people_file))
    officer.get_by_role("button", name="Nhập").click()
    expect(officer.get_by_role("heading", name="Đã nhập danh-sach-hoan-kiem.csv")).to_be_visible()

    run_url = prepare_and_compute_run(officer, "TGXH", "03/2026")
    expect(officer.locator("#run-status")).to_have_text("Đã tính, chờ duyệt")
    screenshot(officer, "run-computed")

    approver = new_page(browser, live_server, watch, viewport={"width": 1280, "height": 900})
    sign_in(approver, APPROVER)
    approver.goto(run_url)
    approver.once("dialog", lambda dialog: dialog.accept())
    approver.get_by_role("button", name="Duyệt đợt chi").click()
    expect(approver.get_by_text("Đã duyệt đợt chi và ghi sổ.")).to_be_visible()
    approver.context.close()

    officer.goto(run_url)
    expect(officer.get_by_role("heading", name="Ngân hàng chưa đủ tiền để chi")).to_be_visible()
    officer.get_by_label("Số tham chiếu của ngân hàng").fill("KB-2026-03-VCB")
    officer.get_by_role("button", name="Ghi nhận tiền cấp").click()
    expect(officer.get_by_text("Đã ghi nhận tiền cấp cho ngân hàng.")).to_be_visible()
    officer.once("dialog", lambda dialog: dialog.accept())
    officer.get_by_role("button", name="Gửi lệnh chi").click()
    expect(officer.get_by_text("Đã gửi lệnh chi tới ngân hàng.")).to_be_visible()
    expect(officer.get_by_role("link", name="pain.001")).to_be_visible()

    officer.get_by_role("navigation", name="Trình đơn chính").get_by_role("link", name="Sao kê ngân hàng").click()
    officer.get_by_label("Ngân hàng", exact=True).select_option(VIETCOMBANK)
    officer.get_by_label("Tệp sao kê").set_input_files(str(_bank_statement(live_server, tmp_path)))
    officer.get_by_role("button", name="Tải lên và đối soát").click()
    expect(officer.get_by_text("Đã tải và đối soát sao kê")).to_be_visible()
    expect(officer.locator(".badge-matched")).to_have_count(3)

    officer.goto("/dashboard?period=2026-03")
    expect(officer.get_by_text("3 khoản chi · 3 đã về (vào tài khoản hoặc tiền mặt về xã) · 0 đã rút hết")).to_be_visible()
    screenshot(officer, "dashboard-before")
    officer.context.close()

    phone = new_page(browser, live_server, watch, viewport={"width": 360, "height": 740}, device_scale_factor=2,
                     is_mobile=True, has_touch=True)
    sign_in(phone, COMMUNE_STAFF)
    phone.get_by_role("navigation", name="Trình đơn chính").get_by_role("link", name="Cần hỗ trợ").click()
    expect(phone.get_by_role("heading", level=1)).to_be_visible()
    phone.goto("/follow-up?min_days=0")  # the money arrived minutes ago: everyone waiting, from day 0
    expect(phone.locator(".person")).to_have_count(3)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 360  # no sideways scrolling
    screenshot(phone, "follow-up-phone")
    first = phone.locator(".person").first
    first.get_by_text("Ghi nhận đã hỗ trợ rút tiền").click()
    first.get_by_label("Thời gian", exact=True).fill(datetime.now(ICT).strftime("%Y-%m-%dT%H:%M"))
    first.get_by_role("button", name="Lưu").click()
    expect(phone.get_by_text("Đã ghi nhận rút tiền.")).to_be_visible()
    expect(phone.locator(".person")).to_have_count(2)
    phone.goto("/dashboard?period=2026-03")
    expect(phone.get_by_text("3 khoản chi · 3 đã về (vào tài khoản hoặc tiền mặt về xã) · 1 đã rút hết")).to_be_visible()
    # The money arrived minutes ago: its 3 days are not over, so no share yet (one in three withdrew, which a
    # share counted now would show as 33,3 % and change as the others' days pass).
    expect(phone.locator("#within-3d")).to_have_text("chưa đủ 3 ngày")
    screenshot(phone, "dashboard-phone")
    phone.context.close()
