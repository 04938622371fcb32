"""The audit log's codes in words, Vietnamese and English: the common actions and object types.

Only what is cheap to name is named; any other code is shown as it is. The API gives both languages
(``action_vi``/``action_en``, null when unnamed), the page the one it is read in, the Excel file Vietnamese.
"""

from __future__ import annotations

ACTION_NAMES: dict[str, tuple[str, str]] = {
    # Sign-in and administration
    "auth.login": ("Đăng nhập", "Signed in"),
    "user.create": ("Tạo người dùng", "Created a user"),
    "user.update": ("Đổi vai trò, phạm vi người dùng", "Changed a user's role or scope"),
    "user.deactivate": ("Khóa người dùng", "Deactivated a user"),
    "user.reactivate": ("Mở khóa người dùng", "Reactivated a user"),
    "user.password_reset": ("Đặt lại mật khẩu", "Reset a user's password"),
    "apikey.create": ("Cấp khóa API ngân hàng", "Issued a bank API key"),
    "apikey.revoke": ("Thu hồi khóa API ngân hàng", "Revoked a bank API key"),
    "schedule.update": ("Đổi lịch chạy tự động", "Changed a schedule"),
    "audit.export": ("Xuất nhật ký kiểm toán", "Exported the audit log"),
    "upload.download": ("Tải tệp đã lưu", "Downloaded a kept upload"),
    # Registry
    "beneficiary.create": ("Thêm người hưởng", "Added a beneficiary"),
    "beneficiary.update": ("Sửa thông tin người hưởng", "Corrected a beneficiary"),
    "beneficiary.import": ("Nhập danh sách người hưởng", "Imported a beneficiary list"),
    "beneficiary.import_update": ("Cập nhật từ tệp nhập", "Updated by an import"),
    "beneficiary.import_rejected": ("Tệp nhập bị từ chối", "Import file rejected"),
    "beneficiary.deceased": ("Ghi nhận đã mất", "Recorded a death"),
    "beneficiary.suspended": ("Tạm dừng hưởng", "Suspended"),
    "beneficiary.resumed": ("Hưởng lại", "Resumed"),
    "beneficiary.moved": ("Chuyển nơi ở", "Moved"),
    "bank_account.replace": ("Đổi tài khoản ngân hàng", "Replaced the bank account"),
    "bank_account.request": ("Đề nghị đổi tài khoản", "Requested an account change"),
    "bank_account.request_confirm": ("Xác nhận đề nghị đổi tài khoản", "Confirmed an account change"),
    "bank_account.request_reject": ("Từ chối đề nghị đổi tài khoản", "Rejected an account change"),
    "enrolment.create": ("Đưa vào chế độ", "Enrolled in a programme"),
    "enrolment.end": ("Kết thúc chế độ", "Ended an enrolment"),
    "programme.rate_add": ("Thêm mức chuẩn", "Added a base amount"),
    "bank.disbursement_account_register": ("Đăng ký tài khoản chi", "Registered a disbursement account"),
    # Payouts
    "payout_run.create": ("Lập đợt chi", "Created a payout run"),
    "payout_run.compute": ("Tính đợt chi", "Computed a payout run"),
    "payout_run.approve": ("Duyệt đợt chi", "Approved a payout run"),
    "payout_run.send": ("Gửi đợt chi", "Sent a payout run"),
    "payout_run.cancel": ("Hủy đợt chi", "Cancelled a payout run"),
    "payout_run.withhold": ("Giữ lại khoản chi", "Withheld payouts"),
    "payout.cash_return": ("Xã hoàn trả tiền mặt", "Cash returned by the commune"),
    "payout.cash_settle": ("Hạch toán tiền mặt đã gửi", "Settled cash sent"),
    "payment_orders.batch_taken": ("Lấy lô lệnh chi", "Took a payment order batch"),
    "funding.record": ("Ghi nhận cấp kinh phí", "Recorded funding"),
    "funding.reverse": ("Hủy khoản cấp kinh phí", "Reversed funding"),
    # Reconciliation and withdrawals
    "statement.import": ("Nhập sao kê", "Imported a statement"),
    "statement.reject": ("Sao kê bị từ chối", "Statement rejected"),
    "statement.reused_id": ("Sao kê trùng mã, nội dung khác", "Statement id reused with other content"),
    "reconciliation.manual_match": ("Đối soát thủ công", "Matched by hand"),
    "reconciliation.bank_fee": ("Ghi nhận phí ngân hàng", "Booked a bank fee"),
    "reconciliation.ignore": ("Bỏ qua dòng sao kê", "Ignored a statement line"),
    "reconciliation.reissue": ("Chi lại vào tài khoản đúng", "Reissued to a corrected account"),
    "reconciliation.close_without_reissue": ("Đóng, không chi lại", "Closed without reissue"),
    "reconciliation.flag_dismissed": ("Bỏ cờ báo đã mất", "Dismissed a reported death"),
    "reconciliation.flag_death_recorded": ("Đóng cờ: đã ghi nhận mất", "Flag closed: death recorded"),
    "withdrawal.assisted": ("Ghi nhận rút tiền có hỗ trợ", "Recorded an assisted withdrawal"),
    "withdrawal.cancel": ("Hủy ghi nhận rút tiền", "Cancelled a withdrawal record"),
    "withdrawals.receive": ("Nhận dữ liệu rút tiền của ngân hàng", "Received a bank's withdrawal activity"),
    "follow_up.note": ("Ghi chú theo dõi", "Follow-up note"),
}

OBJECT_TYPE_NAMES: dict[str, tuple[str, str]] = {
    "beneficiary": ("Người hưởng", "Beneficiary"),
    "payout_run": ("Đợt chi", "Payout run"),
    "payout": ("Khoản chi", "Payout"),
    "funding": ("Cấp kinh phí", "Funding"),
    "payment_order_batch": ("Lô lệnh chi", "Payment order batch"),
    "statement_upload": ("Tệp sao kê", "Statement file"),
    "statement_line": ("Dòng sao kê", "Statement line"),
    "beneficiary_flag": ("Cờ báo đã mất", "Reported death"),
    "beneficiary_import": ("Tệp danh sách", "Beneficiary list file"),
    "withdrawal_intake": ("Dữ liệu rút tiền", "Withdrawal activity"),
    "programme": ("Chương trình", "Programme"),
    "bank": ("Ngân hàng", "Bank"),
    "staff_user": ("Người dùng", "User"),
    "bank_api_key": ("Khóa API", "API key"),
    "job_schedule": ("Lịch chạy", "Schedule"),
    "audit_log": ("Nhật ký kiểm toán", "Audit log"),
}


def action_words(action: str) -> tuple[str | None, str | None]:
    """The action in Vietnamese and English, or (None, None) when it has no name yet."""
    return ACTION_NAMES.get(action, (None, None))


def object_type_words(object_type: str) -> tuple[str | None, str | None]:
    """The kind of object in Vietnamese and English, or (None, None)."""
    return OBJECT_TYPE_NAMES.get(object_type, (None, None))
