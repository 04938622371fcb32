"""Who may do what, as the browser shows it: a wrong password, commune staff without admin pages."""

import re

from playwright.sync_api import expect

from tests.browser.conftest import COMMUNE_STAFF, COMMUNE_STAFF_NAME, screenshot, sign_in


def test_wrong_password_shows_the_generic_message(page, live_server):
    sign_in(page, COMMUNE_STAFF, password="not-my-password")
    expect(page).to_have_url(live_server.url("/login"))
    expect(page.get_by_role("alert")).to_have_text("Sai tên đăng nhập hoặc mật khẩu.")
    expect(page.get_by_label("Tên đăng nhập")).to_have_value(COMMUNE_STAFF)
    expect(page.get_by_label("Mật khẩu")).to_have_value("")
    screenshot(page, "login-wrong-password")


def test_commune_staff_sees_no_admin_links_and_gets_the_403_page(page, live_server):
    sign_in(page, COMMUNE_STAFF)
    expect(page.get_by_role("heading", name=f"Xin chào, {COMMUNE_STAFF_NAME}")).to_be_visible()
    expect(page.get_by_text("Phường Hoàn Kiếm, Thành phố Hà Nội")).to_be_visible()
    menu = page.get_by_role("navigation", name="Trình đơn chính")
    # Commune staff follow the bank account requests they made (officers decide them).
    expect(menu.get_by_role("link")).to_have_text(["Trang chủ", "Tổng quan", "Cần hỗ trợ", "Người hưởng",
                                                   "Đề nghị đổi tài khoản", "Báo cáo"])
    expect(page.locator('a[href^="/admin"]')).to_have_count(0)
    screenshot(page, "home-commune-staff")

    response = page.goto("/admin/users")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Không có quyền truy cập")).to_be_visible()
    expect(page.get_by_role("link", name="Về trang chủ")).to_be_visible()
    expect(page.get_by_role("button", name="Đăng xuất")).to_be_visible()  # still signed in, still has a way out
    screenshot(page, "forbidden-commune-staff")

    page.get_by_role("link", name="Về trang chủ").click()
    expect(page).to_have_url(re.compile(r"/$"))
