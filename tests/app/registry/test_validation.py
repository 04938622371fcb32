from datetime import date, datetime
from decimal import Decimal

import pytest

from app.registry.validation import (
    FieldError,
    parse_account_number,
    parse_citizen_id,
    parse_coefficient,
    parse_commune_code,
    parse_date,
    parse_date_of_birth,
    parse_holder_name,
    parse_month,
    parse_phone,
    parse_sex,
)


def test_dates_in_dd_mm_yyyy_iso_and_excel_forms():
    assert parse_date("17/05/1940") == date(1940, 5, 17)
    assert parse_date("7/5/1940") == date(1940, 5, 7)
    assert parse_date("1940-05-17") == date(1940, 5, 17)
    assert parse_date(date(1940, 5, 17)) == date(1940, 5, 17)
    assert parse_date(datetime(1940, 5, 17, 0, 0)) == date(1940, 5, 17)
    assert parse_date(14748.0) == date(1940, 5, 17)  # Excel serial number


@pytest.mark.parametrize("value, english", [
    ("31/02/1950", "does not exist"), ("1950/02/03", "dd/mm/yyyy"), ("", "missing"), (-3.0, "not a valid date"),
])
def test_bad_dates_say_why(value, english):
    with pytest.raises(FieldError) as raised:
        parse_date(value)
    assert english in raised.value.message.en and raised.value.message.vi


def test_birth_dates_must_be_past_and_after_1900():
    with pytest.raises(FieldError):
        parse_date_of_birth("01/01/2030", date(2026, 1, 1))
    with pytest.raises(FieldError):
        parse_date_of_birth("31/12/1899", date(2026, 1, 1))


def test_months_as_mm_yyyy_or_yyyy_mm():
    assert parse_month("07/2024") == date(2024, 7, 1)
    assert parse_month("7/2024") == date(2024, 7, 1)
    assert parse_month("2024-07") == date(2024, 7, 1)
    assert parse_month(date(2024, 7, 15)) == date(2024, 7, 1)
    for bad in ("13/2024", "2024/07", "July 2024"):
        with pytest.raises(FieldError):
            parse_month(bad)


def test_citizen_id_from_number_cells_gets_its_leading_zeros_back():
    assert parse_citizen_id(11185012345.0) == "011185012345"  # provinces 010-096: one zero lost
    assert parse_citizen_id(1185012345) == "001185012345"  # Hà Nội (001) and 002-009: two zeros lost
    assert parse_citizen_id(1185012345.0) == "001185012345"
    assert parse_citizen_id("001 185 012 345") == "001185012345"
    for short_text in ("11185012345", "1185012345"):  # text keeps what was typed, with a hint for Excel's zeros
        with pytest.raises(FieldError) as refused:
            parse_citizen_id(short_text)
        assert "định dạng cột CCCD là Văn bản (Text)" in refused.value.message.vi
        assert "format the citizen ID column as Text" in refused.value.message.en
    for too_short in (185012345, "185012345"):  # three zeros would be province 000: no such province
        with pytest.raises(FieldError) as refused:
            parse_citizen_id(too_short)
        assert "Văn bản" not in refused.value.message.vi


def test_sex_in_vietnamese_or_english():
    assert [parse_sex(v) for v in ("Nam", "Nữ", "nu", "male", "F")] == ["male", "female", "female", "male", "female"]
    with pytest.raises(FieldError):
        parse_sex("x")


def test_commune_codes_are_padded_to_five_digits():
    assert parse_commune_code(70.0) == "00070"
    assert parse_commune_code("00070") == "00070"
    with pytest.raises(FieldError):
        parse_commune_code("123456")


def test_phone_numbers_are_normalised():
    assert parse_phone("+84 912 345 678") == "0912345678"
    assert parse_phone(912345678.0) == "0912345678"
    assert parse_phone("0912.345.678") == "0912345678"
    assert parse_phone("") is None
    with pytest.raises(FieldError):
        parse_phone("12345")


def test_coefficients_accept_comma_and_dot_and_at_most_two_decimals():
    assert parse_coefficient("1,5") == Decimal("1.50")
    assert parse_coefficient(2.5) == Decimal("2.50")
    assert parse_coefficient("") is None
    for bad in ("0", "-1", "abc", "1.234", "100"):
        with pytest.raises(FieldError):
            parse_coefficient(bad)


def test_account_numbers_are_text_of_6_to_19_digits():
    assert parse_account_number("0011 0023 4567") == "001100234567"
    assert parse_account_number(123456789.0) == "123456789"
    for bad in ("12345", "12345678901234567890", "12AB5678"):
        with pytest.raises(FieldError):
            parse_account_number(bad)


def test_holder_names_are_converted_to_bank_form():
    assert parse_holder_name("Nguyễn Thị Hoa") == "NGUYEN THI HOA"
    with pytest.raises(FieldError):
        parse_holder_name("NGUYEN VAN A.")
