"""Exact conversion of decimal amounts to integer minor units, by the ISO 4217 exponent."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

# ISO 4217 currencies whose minor unit is not 2 decimals.
_EXPONENT_0 = ("BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX UYI VND VUV XAF XOF XPF "
               "ITL ESP GRD")  # the last three are withdrawn codes still seen in old files
_EXPONENT_3 = "BHD IQD JOD KWD LYD OMR TND"
_EXPONENT_4 = "CLF UYW"
# Every other active ISO 4217 code (and a few withdrawn European ones) has 2 decimals.
_EXPONENT_2 = (
    "AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BOV BRL BSD BTN BWP "
    "BYN BZD CAD CDF CHE CHF CHW CNY COP COU CRC CUC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR "
    "FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS INR IRR JMD KES KGS KHR KPW "
    "KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MXV MYR MZN "
    "NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD "
    "SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD USN UYU "
    "UZS VED VES WST XCD XCG YER ZAR ZMW ZWG ZWL "
    "DEM NLG FRF ATS FIM IEP BEF LUF"
)

CURRENCY_EXPONENTS: dict[str, int] = {
    **dict.fromkeys(_EXPONENT_2.split(), 2),
    **dict.fromkeys(_EXPONENT_0.split(), 0),
    **dict.fromkeys(_EXPONENT_3.split(), 3),
    **dict.fromkeys(_EXPONENT_4.split(), 4),
}

_DECIMAL_TEXT = re.compile(r"\+?(\d*)(?:\.(\d*))?")


class AmountError(ValueError):
    """An amount or currency that cannot be turned into exact minor units."""

    def __init__(self, message: str, message_en: str) -> None:
        self.message_vi = message
        self.message_en = message_en
        super().__init__(f"{message} / {message_en}")


def currency_exponent(currency: str) -> int:
    """Number of decimals of ``currency`` (ISO 4217); unknown codes are refused."""
    try:
        return CURRENCY_EXPONENTS[currency]
    except KeyError:
        raise AmountError(f"mã tiền tệ không hợp lệ: {currency!r}",
                          f"unknown currency code {currency!r} (ISO 4217)") from None


def decimal_text_to_minor(text: str, currency: str) -> int:
    """``"1234.50"`` in EUR → 123450; refuses signs other than ``+``, garbage and lost precision."""
    exponent = currency_exponent(currency)
    if exponent == 0 and text.isdigit() and text.isascii():
        return int(text)
    match = _DECIMAL_TEXT.fullmatch(text.strip())
    if match is None or not (match.group(1) or match.group(2)):
        raise AmountError(f"số tiền không hợp lệ: {text!r}", f"invalid amount {text!r}")
    whole, fraction = match.group(1) or "0", match.group(2) or ""
    return combine_digits(whole, fraction, exponent, text, currency)


def combine_digits(whole: str, fraction: str, exponent: int, shown: str, currency: str) -> int:
    """Whole and fraction digit strings → minor units, refusing digits the currency has no room for."""
    kept, dropped = fraction[:exponent], fraction[exponent:]
    if dropped.strip("0"):
        raise AmountError(
            f"số tiền {shown!r} có nhiều hơn {exponent} chữ số thập phân cho {currency}",
            f"amount {shown!r} has more than {exponent} decimals for {currency}")
    return int(whole) * 10**exponent + (int(kept.ljust(exponent, "0")) if exponent else 0)


def decimal_to_minor(value: Decimal, currency: str) -> int:
    """A signed Decimal → signed minor units, refusing anything finer than the currency allows."""
    exponent = currency_exponent(currency)
    try:
        scaled = value.scaleb(exponent)
        if not scaled.is_finite() or scaled != scaled.to_integral_value():
            raise AmountError(
                f"số tiền {value} có nhiều hơn {exponent} chữ số thập phân cho {currency}",
                f"amount {value} has more than {exponent} decimals for {currency}")
        return int(scaled)
    except InvalidOperation:
        raise AmountError(f"số tiền không hợp lệ: {value}", f"invalid amount {value}") from None


def minor_to_decimal_text(amount: int, currency: str, decimal_mark: str = ".") -> str:
    """Unsigned minor units → ``"1234.50"`` (EUR) or ``"1500000"`` (VND), for writers."""
    exponent = currency_exponent(currency)
    if amount < 0:
        raise ValueError("minor_to_decimal_text takes an unsigned amount")
    if exponent == 0:
        return str(amount)
    whole, fraction = divmod(amount, 10**exponent)
    return f"{whole}{decimal_mark}{fraction:0{exponent}d}"


def amount_vi(amount: int, currency: str | None = "VND") -> str:
    """An amount of a statement in a Vietnamese message: đồng as staff write them ("744.663.000 đ"), other
    currencies' minor units with the code ("1.050 USD")."""
    unit = "đ" if currency in (None, "VND") else currency
    return f"{amount:,} {unit}".replace(",", ".")


def amount_en(amount: int, currency: str | None = "VND") -> str:
    """The same in an English message: "744,663,000 đồng", "1,050 USD"."""
    return f"{amount:,} {'đồng' if currency in (None, 'VND') else currency}"
