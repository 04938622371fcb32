"""Entitlement rules that payouts apply, stated once in Python and mirrored by SQL functions.

* Monthly amount = base amount in force x category coefficient, in whole đồng, rounded half up.
  The coefficient has two decimals, so the product is computed exactly in integer hundredths.
  SQL: ``monthly_amount(base_amount bigint, coefficient numeric) -> bigint``.
* Base amount in force for (programme, province, month) = the higher of the latest national entry and
  the latest entry of that province, each effective on or before the month (a province can only raise
  the national level). SQL: ``rate_in_force(programme, province, month)`` and ``rates_in_force(month)``.
* A person is payable for a month when their status was ``active`` on at least one day of it
  (a death stops payment from the month after; a suspension covering a whole month stops that month).
  SQL: view ``beneficiary_status_period``, function ``beneficiaries_active_in(month)``.
* Highest amount only: within one benefit group (social assistance TGXH and social pension HTXH form
  one group; every other programme is its own group) a person is paid for one enrolment per month,
  the one with the highest amount; ties go to the earliest start month, then the lowest enrolment id.
  Python: :func:`highest_entitlements`; SQL: ``entitlements_for_month(month)``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from uuid import UUID


def coefficient_hundredths(coefficient: Decimal) -> int:
    """A coefficient as an exact integer number of hundredths (1.5 -> 150); more decimals are refused."""
    hundredths = coefficient * 100
    if hundredths != hundredths.to_integral_value() or coefficient <= 0:
        raise ValueError(f"coefficient {coefficient} must be positive with at most two decimals")
    return int(hundredths)


def monthly_amount(base_amount: int, coefficient: Decimal) -> int:
    """Base amount x coefficient in whole đồng, rounded half up, computed in integers."""
    if base_amount <= 0:
        raise ValueError("base amount must be positive")
    return (base_amount * coefficient_hundredths(coefficient) + 50) // 100


@dataclass(frozen=True)
class Entitlement:
    """One enrolment's claim for one month."""

    beneficiary_id: UUID
    enrolment_id: int
    programme_code: str
    benefit_group: str
    start_month: date
    amount: int


def _preference(entitlement: Entitlement) -> tuple[int, date, int]:
    return (-entitlement.amount, entitlement.start_month, entitlement.enrolment_id)


def highest_entitlements(candidates: Iterable[Entitlement]) -> list[Entitlement]:
    """The enrolments actually paid for a month: the highest amount per (beneficiary, benefit group)."""
    best: dict[tuple[UUID, str], Entitlement] = {}
    for candidate in candidates:
        key = (candidate.beneficiary_id, candidate.benefit_group)
        current = best.get(key)
        if current is None or _preference(candidate) < _preference(current):
            best[key] = candidate
    return sorted(best.values(), key=lambda e: (str(e.beneficiary_id), e.benefit_group))
