"""An administrator at work in a real browser: sign in, switch language, create a user and a key,
revoke it, sign out."""

import re

import httpx
from playwright.sync_api import expect

from tests.browser.conftest import ADMIN, ADMIN_NAME, screenshot, sign_in


def test_admin_signs_in_switches_to_english_creates_user_and_key_and_signs_out(page, live_server):
    page.goto("/login")
    expect(page.locator("html")).to_have_attribute("lang", "vi")
    expect(page.get_by_role("heading", name="Đăng nhập")).to_be_visible()
    screenshot(page, "login-vi")

    sign_in(page, ADMIN)
    expect(page).to_have_url(live_server.url("/"))
    expect(page.get_by_role("heading", name=f"Xin chào, {ADMIN_NAME}")).to_be_visible()
    expect(page.get_by_role("navigation", name="Trình đơn chính").get_by_role("link", name="Người dùng")).to_be_visible()
    screenshot(page, "home-admin-vi")

    page.get_by_role("link", name="English").click()
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", name=f"Hello, {ADMIN_NAME}")).to_be_visible()

    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Users").click()
    expect(page).to_have_url(live_server.url("/admin/users"))
    expect(page.locator("html")).to_have_attribute("lang", "en")  # the choice is remembered
    page.get_by_label("Username").fill("hoa.xa")
    page.get_by_label("Full name").fill("Nguyễn Thị Hoa")
    page.get_by_label("Initial password").fill("mat-khau-rat-dai")
    page.get_by_label("Role").select_option(label="Commune staff")
    page.get_by_label("Find a commune by name or code").fill("hoan kiem")
    page.get_by_role("button", name=re.compile(r"^Add 00070 — Phường Hoàn Kiếm")).click()
    expect(page.get_by_label("Commune codes in scope")).to_have_value("00070")
    expect(page.locator("#communes-names")).to_contain_text("00070 — Phường Hoàn Kiếm, Thành phố Hà Nội")
    screenshot(page, "users-form-en")
    page.get_by_role("button", name="Create user").click()
    expect(page.get_by_role("status")).to_have_text("User hoa.xa created.")
    row = page.get_by_role("row", name=re.compile("hoa.xa"))
    expect(row).to_contain_text("Commune staff")
    expect(row).to_contain_text("Phường Hoàn Kiếm")

    page.get_by_role("link", name="Bank API keys").click()
    page.get_by_label("Bank").select_option(label="Vietcombank — 970436")
    page.get_by_label("Label").fill("main integration server")
    page.get_by_role("button", name="Issue key").click()
    expect(page.get_by_role("heading", name="New key for Vietcombank")).to_be_visible()
    key = page.locator("#new-key").inner_text().strip()
    assert key.startswith("ansinh_")
    screenshot(page, "api-key-created-en")
    page.context.grant_permissions(["clipboard-read", "clipboard-write"])
    page.get_by_role("button", name="Copy key").click()
    expect(page.get_by_role("button", name="Copied")).to_be_visible()
    assert page.evaluate("navigator.clipboard.readText()") == key
    me = httpx.get(live_server.url("/api/auth/me"), headers={"Authorization": f"Bearer {key}"})
    assert me.status_code == 200 and me.json()["bank_bin"] == "970436"

    prefix = key.split("_")[1]
    page.goto("/admin/api-keys")
    expect(page.locator("#new-key")).to_have_count(0)  # shown once only
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name=f"Revoke key {prefix}").click()
    expect(page.get_by_role("status")).to_have_text(f"Key {prefix} revoked.")
    assert httpx.get(live_server.url("/api/auth/me"), headers={"Authorization": f"Bearer {key}"}).status_code == 401

    page.get_by_role("button", name="Sign out").click()
    expect(page).to_have_url(live_server.url("/login?signed_out=1"))
    expect(page.get_by_role("status")).to_have_text("You have signed out.")
    page.goto("/admin/users")
    expect(page).to_have_url(re.compile(r"/login\?next=%2Fadmin%2Fusers$"))


def test_sign_in_and_skip_to_content_with_the_keyboard_only(page, live_server):
    page.goto("/login")
    expect(page.get_by_label("Tên đăng nhập")).to_be_focused()  # the form is ready to type into
    page.keyboard.type(ADMIN)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Mật khẩu")).to_be_focused()
    page.keyboard.type("correct horse battery")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url("/"))

    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Bỏ qua, đến nội dung chính")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    page.keyboard.press("Tab")
    first_link = page.locator("main a").first
    expect(first_link).to_be_focused()  # the first link inside main
    target = first_link.get_attribute("href")
    page.keyboard.press("Enter")
    expect(page).to_have_url(live_server.url(target))
