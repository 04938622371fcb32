"""MT940 specifics: SWIFT envelopes, keyword and free-text details, returns and reversals."""

from __future__ import annotations

from datetime import date

from reconciliation.parsers import parse_statement_file

ENVELOPED = (
    "{1:F01BFTVVNVXAXXX0000000000}{2:O9401200240131BFTVVNVXAXXX00000000002401311200N}{4:\r\n"
    ":20:VCB240131\r\n:25:0011001234567\r\n:28C:31/1\r\n:60F:C240130VND1000000000,\r\n"
    ":61:2401310131D1500000,NTRFAS2401000001//FT24031000001\r\n"
    ":86:/EREF/AS2401000001/IBAN/0071000111222/NAME/NGUYEN VAN AN/REMI/T\r\n"
    "RO CAP THANG 01/2024\r\n"
    ":61:2401310131C1500000,NRTINONREF//FT24031000002\r\n"
    ":86:/EREF/AS2401000002/RTRN/AC04/NAME/TRAN THI BINH/REMI/HOAN TRA\r\n"
    ":61:2401310131RD750000,NTRFNONREF//FT24031000003\r\n"
    ":86:HUY GIAO DICH EREF+AS2401000003 RTRN+MS03\r\n"
    ":62F:C240131VND1000750000,\r\n-}\r\n"
)


def test_enveloped_vietnamese_mt940() -> None:
    (statement,) = parse_statement_file(ENVELOPED.encode())
    assert (statement.statement_id, statement.account, statement.currency) == ("VCB240131/31/1", "0011001234567", "VND")
    assert statement.adds_up is True
    payout, returned, reversal = statement.lines
    assert (payout.amount, payout.end_to_end_ref, payout.bank_reference) == (-1_500_000, "AS2401000001",
                                                                             "FT24031000001")
    assert (payout.counterparty_account, payout.counterparty_name) == ("0071000111222", "NGUYEN VAN AN")
    assert payout.description == "TRO CAP THANG 01/2024"  # a 65-character line was wrapped mid-word
    assert payout.booking_date == payout.value_date == date(2024, 1, 31)
    assert (returned.amount, returned.return_reason, returned.end_to_end_ref) == (1_500_000, "AC04", "AS2401000002")
    assert (reversal.amount, reversal.is_reversal) == (750_000, True)  # RD: a debit taken back
    assert (reversal.end_to_end_ref, reversal.return_reason) == ("AS2401000003", "MS03")


def test_statement_information_after_the_closing_balance_is_not_a_line_detail() -> None:
    data = (b":20:X\n:25:1\n:28C:1\n:60F:C240101EUR10,00\n:61:240102D1,00NTRFNONREF\n:86:COFFEE\n"
            b":62F:C240102EUR9,00\n:86:SUMMARY OF THE DAY\n")
    (statement,) = parse_statement_file(data)
    assert statement.lines[0].description == "COFFEE"
