"""Decimal amounts become integer minor units exactly, by the ISO 4217 exponent of the currency."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from reconciliation.parsers.amounts import (
    AmountError,
    currency_exponent,
    decimal_text_to_minor,
    decimal_to_minor,
    minor_to_decimal_text,
)


@pytest.mark.parametrize(("text", "currency", "minor"), [
    ("1500000", "VND", 1_500_000), ("1500000.00", "VND", 1_500_000), ("12.34", "EUR", 1234), ("8.850", "EUR", 885),
    ("0.5", "USD", 50), ("1.234", "KWD", 1234), ("7", "JPY", 7), ("+3", "EUR", 300), (".25", "EUR", 25),
])
def test_decimal_text_to_minor(text: str, currency: str, minor: int) -> None:
    assert decimal_text_to_minor(text, currency) == minor


@pytest.mark.parametrize(("text", "currency", "fragment"), [
    ("1500000.5", "VND", "more than 0 decimals for VND"), ("1.234", "EUR", "more than 2 decimals"),
    ("1,5", "EUR", "invalid amount"), ("-1", "EUR", "invalid amount"), ("", "EUR", "invalid amount"),
    ("1e3", "EUR", "invalid amount"), ("12", "XYZ", "unknown currency"), ("12", "vnd", "unknown currency"),
])
def test_decimal_text_refusals(text: str, currency: str, fragment: str) -> None:
    with pytest.raises(AmountError) as caught:
        decimal_text_to_minor(text, currency)
    assert fragment in caught.value.message_en and caught.value.message_vi


def test_exponents_follow_iso_4217() -> None:
    assert [currency_exponent(c) for c in ("VND", "EUR", "USD", "JPY", "KWD", "CLF", "DEM")] == [0, 2, 2, 0, 3, 4, 2]


def test_signed_decimals() -> None:
    assert decimal_to_minor(Decimal("-147.64"), "EUR") == -14764
    assert decimal_to_minor(Decimal("-1500000"), "VND") == -1_500_000
    with pytest.raises(AmountError):
        decimal_to_minor(Decimal("0.001"), "EUR")
    with pytest.raises(AmountError):
        decimal_to_minor(Decimal("NaN"), "EUR")


@given(st.integers(min_value=0, max_value=10**15), st.sampled_from(["VND", "EUR", "KWD", "CLF"]))
def test_minor_units_round_trip_through_text(amount: int, currency: str) -> None:
    assert decimal_text_to_minor(minor_to_decimal_text(amount, currency), currency) == amount
    assert decimal_to_minor(Decimal(minor_to_decimal_text(amount, currency)), currency) == amount
