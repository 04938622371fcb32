from datetime import date
from decimal import Decimal
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.registry.rules import Entitlement, coefficient_hundredths, highest_entitlements, monthly_amount


def test_monthly_amount_is_exact_and_rounds_half_up():
    assert monthly_amount(500_000, Decimal("1.5")) == 750_000
    assert monthly_amount(360_000, Decimal("2.5")) == 900_000
    assert monthly_amount(333_333, Decimal("1.5")) == 500_000  # 499,999.5 rounds up
    assert monthly_amount(333_333, Decimal("1.25")) == 416_666  # 416,666.25 rounds down
    assert monthly_amount(2_789_000, Decimal("3")) == 8_367_000


def test_coefficients_with_more_than_two_decimals_are_refused():
    with pytest.raises(ValueError):
        coefficient_hundredths(Decimal("1.255"))
    with pytest.raises(ValueError):
        monthly_amount(0, Decimal("1"))


@given(base=st.integers(1, 100_000_000), hundredths=st.integers(1, 9999))
def test_monthly_amount_matches_decimal_rounding(base, hundredths):
    coefficient = Decimal(hundredths) / 100
    exact = Decimal(base) * coefficient
    assert monthly_amount(base, coefficient) == int(exact.to_integral_value(rounding="ROUND_HALF_UP"))


def _entitlement(person: int, enrolment: int, programme: str, group: str, amount: int,
                 start: date = date(2025, 1, 1)) -> Entitlement:
    return Entitlement(beneficiary_id=UUID(int=person), enrolment_id=enrolment, programme_code=programme,
                       benefit_group=group, start_month=start, amount=amount)


def test_only_the_highest_amount_per_benefit_group_is_paid():
    paid = highest_entitlements([
        _entitlement(1, 10, "TGXH", "TGXH_HTXH", 500_000),
        _entitlement(1, 11, "HTXH", "TGXH_HTXH", 750_000),
        _entitlement(1, 12, "NCC", "NCC", 8_367_000),
        _entitlement(2, 20, "TGXH", "TGXH_HTXH", 1_000_000),
        _entitlement(2, 21, "TGXH", "TGXH_HTXH", 750_000),
    ])
    assert [(e.beneficiary_id.int, e.enrolment_id) for e in paid] == [(1, 12), (1, 11), (2, 20)]


def test_ties_go_to_the_earliest_start_then_lowest_enrolment():
    paid = highest_entitlements([
        _entitlement(1, 12, "TGXH", "TGXH_HTXH", 500_000, date(2025, 3, 1)),
        _entitlement(1, 11, "HTXH", "TGXH_HTXH", 500_000, date(2025, 3, 1)),
        _entitlement(1, 13, "TGXH", "TGXH_HTXH", 500_000, date(2025, 5, 1)),
    ])
    assert [e.enrolment_id for e in paid] == [11]
