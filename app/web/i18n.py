"""Page text in Vietnamese (default) and English: one catalogue, ``t(key)`` in templates.

Add a key here for every piece of text a page shows; tests check that every key used in a
template exists and has both languages.
"""

from __future__ import annotations

from typing import Any

import structlog

log = structlog.get_logger()

LANGS = ("vi", "en")
DEFAULT_LANG = "vi"
LANG_COOKIE = "lang"
LANG_QUERY = "lang"

MESSAGES: dict[str, dict[str, str]] = {
    # Product and layout
    "app.name": {"vi": "An Sinh", "en": "An Sinh"},
    "app.tagline": {"vi": "Chi trả an sinh xã hội không dùng tiền mặt",
                    "en": "Cashless social-security payments"},
    "layout.skip": {"vi": "Bỏ qua, đến nội dung chính", "en": "Skip to main content"},
    "layout.menu": {"vi": "Trình đơn chính", "en": "Main menu"},
    "layout.language": {"vi": "Ngôn ngữ", "en": "Language"},
    "layout.signed_in_as": {"vi": "Đang đăng nhập", "en": "Signed in as"},
    "layout.sign_out": {"vi": "Đăng xuất", "en": "Sign out"},
    "layout.footer": {"vi": "An Sinh — hệ thống chi trả trợ cấp qua tài khoản ngân hàng",
                      "en": "An Sinh — allowances paid into bank accounts"},
    # Roles
    "role.admin": {"vi": "Quản trị hệ thống", "en": "Administrator"},
    "role.officer": {"vi": "Cán bộ cấp tỉnh", "en": "Province officer"},
    "role.approver": {"vi": "Người phê duyệt", "en": "Approver"},
    "role.commune_staff": {"vi": "Cán bộ xã", "en": "Commune staff"},
    "role.auditor": {"vi": "Kiểm toán viên", "en": "Auditor"},
    "role.bank": {"vi": "Ngân hàng", "en": "Bank"},
    # Menu
    "nav.home": {"vi": "Trang chủ", "en": "Home"},
    "nav.admin_users": {"vi": "Người dùng", "en": "Users"},
    "nav.admin_api_keys": {"vi": "Khóa API ngân hàng", "en": "Bank API keys"},
    "nav.home.help": {"vi": "Thông tin tài khoản và phạm vi của bạn", "en": "Your account and scope"},
    "nav.admin_users.help": {"vi": "Tạo người dùng, gán vai trò và phạm vi tỉnh, xã",
                             "en": "Create users, assign roles and province or commune scope"},
    "nav.admin_api_keys.help": {"vi": "Cấp và thu hồi khóa API cho ngân hàng",
                                "en": "Issue and revoke API keys for banks"},
    # Sign-in
    "login.title": {"vi": "Đăng nhập", "en": "Sign in"},
    "login.intro": {"vi": "Dành cho cán bộ. Ngân hàng kết nối qua API bằng khóa riêng.",
                    "en": "For staff. Banks connect through the API with their own key."},
    "login.username": {"vi": "Tên đăng nhập", "en": "Username"},
    "login.password": {"vi": "Mật khẩu", "en": "Password"},
    "login.submit": {"vi": "Đăng nhập", "en": "Sign in"},
    "login.failed": {"vi": "Sai tên đăng nhập hoặc mật khẩu.", "en": "Wrong username or password."},
    "login.rate_limited": {"vi": "Đăng nhập sai quá nhiều lần. Hãy thử lại sau {minutes} phút.",
                           "en": "Too many failed sign-ins. Try again in {minutes} minutes."},
    "login.form_expired": {"vi": "Biểu mẫu đã hết hạn. Hãy nhập lại và đăng nhập.",
                           "en": "The form expired. Enter your details and sign in again."},
    "login.session_expired": {"vi": "Phiên làm việc đã hết hạn. Hãy đăng nhập lại.",
                              "en": "Your session has expired. Please sign in again."},
    "login.signed_out": {"vi": "Bạn đã đăng xuất.", "en": "You have signed out."},
    "login.required": {"vi": "Hãy đăng nhập để tiếp tục.", "en": "Please sign in to continue."},
    # Home
    "home.title": {"vi": "Trang chủ", "en": "Home"},
    "home.welcome": {"vi": "Xin chào, {name}", "en": "Hello, {name}"},
    "home.account": {"vi": "Tài khoản của bạn", "en": "Your account"},
    "home.username": {"vi": "Tên đăng nhập", "en": "Username"},
    "home.role": {"vi": "Vai trò", "en": "Role"},
    "home.scope": {"vi": "Phạm vi", "en": "Scope"},
    "home.scope_all": {"vi": "Toàn quốc (không giới hạn tỉnh, xã)", "en": "Nationwide (no province or commune limit)"},
    "home.provinces": {"vi": "Tỉnh, thành phố", "en": "Provinces"},
    "home.communes": {"vi": "Xã, phường", "en": "Communes"},
    "home.links": {"vi": "Bạn có thể", "en": "What you can do"},
    "home.no_links": {"vi": "Chưa có trang nào khác cho vai trò của bạn.",
                      "en": "There are no other pages for your role yet."},
    # Admin: users
    "users.title": {"vi": "Người dùng", "en": "Users"},
    "users.list": {"vi": "Danh sách người dùng", "en": "All users"},
    "users.count": {"vi": "{count} người dùng", "en": "{count} users"},
    "users.username": {"vi": "Tên đăng nhập", "en": "Username"},
    "users.full_name": {"vi": "Họ và tên", "en": "Full name"},
    "users.role": {"vi": "Vai trò", "en": "Role"},
    "users.scope": {"vi": "Phạm vi", "en": "Scope"},
    "users.status": {"vi": "Trạng thái", "en": "Status"},
    "users.active": {"vi": "Đang hoạt động", "en": "Active"},
    "users.inactive": {"vi": "Đã khóa", "en": "Disabled"},
    "users.create": {"vi": "Tạo người dùng", "en": "Create a user"},
    "users.password": {"vi": "Mật khẩu ban đầu", "en": "Initial password"},
    "users.password.help": {"vi": "Ít nhất 8 ký tự. Gửi riêng cho người dùng.",
                            "en": "At least 8 characters. Give it to the user privately."},
    "users.username.help": {"vi": "Chữ thường không dấu, số, dấu chấm, gạch ngang; ví dụ lan.nguyen",
                            "en": "Lowercase letters, digits, dots, dashes; e.g. lan.nguyen"},
    "users.choose_role": {"vi": "— Chọn vai trò —", "en": "— Choose a role —"},
    "users.provinces": {"vi": "Tỉnh, thành phố trong phạm vi", "en": "Provinces in scope"},
    "users.provinces.help": {"vi": "Để trống nếu người dùng làm việc trên toàn quốc.",
                             "en": "Leave empty for nationwide work."},
    "users.communes": {"vi": "Mã xã, phường trong phạm vi", "en": "Commune codes in scope"},
    "users.communes.help": {"vi": "Mã 5 chữ số, cách nhau bởi dấu phẩy. Bắt buộc với cán bộ xã.",
                            "en": "5-digit codes separated by commas. Required for commune staff."},
    "users.commune_search": {"vi": "Tìm xã theo tên hoặc mã", "en": "Find a commune by name or code"},
    "users.commune_add": {"vi": "Thêm", "en": "Add"},
    "users.commune_unknown": {"vi": "không có mã này", "en": "no such code"},
    "users.submit": {"vi": "Tạo người dùng", "en": "Create user"},
    "users.created": {"vi": "Đã tạo người dùng {username}.", "en": "User {username} created."},
    "users.nationwide": {"vi": "Toàn quốc", "en": "Nationwide"},
    "users.errors": {"vi": "Chưa tạo được người dùng. Hãy sửa các lỗi sau:",
                     "en": "The user was not created. Please fix these errors:"},
    "users.error.username": {"vi": "Tên đăng nhập phải có 3–64 ký tự: chữ thường không dấu, số, dấu chấm, gạch ngang.",
                             "en": "Username must be 3–64 characters: lowercase letters, digits, dots, dashes."},
    "users.error.username_taken": {"vi": "Tên đăng nhập {username} đã có người dùng.",
                                   "en": "Username {username} is already taken."},
    "users.error.password": {"vi": "Mật khẩu phải có ít nhất 8 ký tự.",
                             "en": "The password must have at least 8 characters."},
    "users.error.role": {"vi": "Hãy chọn một vai trò.", "en": "Choose a role."},
    "users.error.communes_required": {"vi": "Cán bộ xã cần ít nhất một mã xã.",
                                      "en": "Commune staff need at least one commune code."},
    "users.error.unknown_provinces": {"vi": "Không có tỉnh với mã: {codes}.", "en": "Unknown province code(s): {codes}."},
    "users.error.unknown_communes": {"vi": "Không có xã với mã: {codes}.", "en": "Unknown commune code(s): {codes}."},
    "users.error.service": {"vi": "Không tạo được người dùng: {message}", "en": "Could not create the user: {message}"},
    # Admin: API keys
    "keys.title": {"vi": "Khóa API ngân hàng", "en": "Bank API keys"},
    "keys.list": {"vi": "Các khóa đã cấp", "en": "Keys issued"},
    "keys.none": {"vi": "Chưa cấp khóa nào.", "en": "No keys yet."},
    "keys.prefix": {"vi": "Tiền tố", "en": "Prefix"},
    "keys.bank": {"vi": "Ngân hàng", "en": "Bank"},
    "keys.label": {"vi": "Ghi chú", "en": "Label"},
    "keys.label.help": {"vi": "Ví dụ: máy chủ kết nối chính", "en": "For example: main integration server"},
    "keys.created": {"vi": "Ngày cấp", "en": "Created"},
    "keys.last_used": {"vi": "Dùng lần cuối", "en": "Last used"},
    "keys.never_used": {"vi": "Chưa dùng", "en": "Never"},
    "keys.status": {"vi": "Trạng thái", "en": "Status"},
    "keys.active": {"vi": "Đang hiệu lực", "en": "Active"},
    "keys.revoked_at": {"vi": "Đã thu hồi {when}", "en": "Revoked {when}"},
    "keys.revoke": {"vi": "Thu hồi", "en": "Revoke"},
    "keys.revoke_label": {"vi": "Thu hồi khóa {prefix}", "en": "Revoke key {prefix}"},
    "keys.revoke_confirm": {"vi": "Thu hồi khóa {prefix}? Ngân hàng sẽ không gọi API bằng khóa này được nữa.",
                            "en": "Revoke key {prefix}? The bank will no longer be able to call the API with it."},
    "keys.revoked": {"vi": "Đã thu hồi khóa {prefix}.", "en": "Key {prefix} revoked."},
    "keys.create": {"vi": "Cấp khóa mới", "en": "Issue a new key"},
    "keys.choose_bank": {"vi": "— Chọn ngân hàng —", "en": "— Choose a bank —"},
    "keys.submit": {"vi": "Cấp khóa", "en": "Issue key"},
    "keys.new_key": {"vi": "Khóa mới cho {bank}", "en": "New key for {bank}"},
    "keys.new_key.warning": {"vi": "Khóa chỉ hiển thị một lần này. Hãy sao chép và gửi cho ngân hàng qua kênh an toàn.",
                             "en": "The key is shown only this once. Copy it and send it to the bank over a safe channel."},
    "keys.copy": {"vi": "Sao chép khóa", "en": "Copy key"},
    "keys.copied": {"vi": "Đã sao chép", "en": "Copied"},
    "keys.error.bank": {"vi": "Hãy chọn một ngân hàng.", "en": "Choose a bank."},
    "keys.errors": {"vi": "Chưa cấp được khóa:", "en": "The key was not issued:"},
    # Errors
    "error.403.title": {"vi": "Không có quyền truy cập", "en": "Access denied"},
    "error.403.body": {"vi": "Vai trò của bạn không được dùng trang này. Nếu bạn cần quyền này, hãy liên hệ quản trị hệ thống.",
                       "en": "Your role may not use this page. If you need access, ask an administrator."},
    "error.csrf.title": {"vi": "Biểu mẫu đã hết hiệu lực", "en": "The form is no longer valid"},
    "error.csrf.body": {"vi": "Trang đã mở quá lâu hoặc bạn đã đăng nhập lại. Hãy quay lại, tải lại trang và gửi lại.",
                        "en": "The page was open too long or you signed in again. Go back, reload the page and submit again."},
    "error.404.title": {"vi": "Không tìm thấy trang", "en": "Page not found"},
    "error.404.body": {"vi": "Địa chỉ này không có trong hệ thống.", "en": "This address does not exist."},
    "error.generic.title": {"vi": "Không thực hiện được yêu cầu", "en": "The request could not be completed"},
    "error.500.title": {"vi": "Lỗi hệ thống", "en": "System error"},
    "error.500.body": {"vi": "Đã xảy ra lỗi. Hãy thử lại hoặc báo quản trị hệ thống.",
                       "en": "Something went wrong. Try again or tell an administrator."},
    "error.status": {"vi": "Mã lỗi {status}", "en": "Error {status}"},
    "error.home": {"vi": "Về trang chủ", "en": "Go to the home page"},
    # Form bits
    "form.required": {"vi": "bắt buộc", "en": "required"},
    "form.optional": {"vi": "không bắt buộc", "en": "optional"},
}


def normalise_lang(value: str | None) -> str | None:
    """``vi`` or ``en`` when ``value`` names a supported language, else None."""
    value = (value or "").strip().lower()[:2]
    return value if value in LANGS else None


def translate(key: str, lang: str, **params: Any) -> str:
    """The text for ``key`` in ``lang`` (Vietnamese if missing), with ``{name}`` placeholders filled."""
    entry = MESSAGES.get(key)
    if entry is None:
        log.warning("missing_translation", key=key)
        return key
    text = entry.get(lang) or entry[DEFAULT_LANG]
    return text.format(**params) if params else text

