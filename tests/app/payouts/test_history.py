"""How a payout's return reason reads for staff."""

from app.payouts.service.history import return_reason_message


def test_return_reasons_read_in_words_vietnamese_then_english():
    assert return_reason_message("withheld:bank_account_unusable") == (
        "Giữ lại, không chi: Ngân hàng hoàn trả vì tài khoản không nhận được tiền / "
        "withheld, not paid: the bank returned a payout because the account cannot receive money")
    assert return_reason_message("withheld:deceased") == (
        "Giữ lại, không chi: Người hưởng đã qua đời / withheld, not paid: the beneficiary has died")
    assert return_reason_message("AC04") == "AC04: Tài khoản đã đóng / AC04: account closed"
    # A reason an officer wrote (cash the commune gave back) and a code without words stay as they are.
    assert return_reason_message("Người hưởng đã chuyển đi nơi khác") == "Người hưởng đã chuyển đi nơi khác"
    assert return_reason_message("AM04") == "AM04"
    assert return_reason_message(None) is None and return_reason_message("") is None
