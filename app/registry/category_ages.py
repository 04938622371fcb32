"""Ages a category is for: a person enrolled in an age-bound category must have that age in the enrolment's
start month.

The bands are data (``data/category_ages.csv``): a category with no band has no age condition; a category with
several bands (a child *or* an elderly person with a disability) accepts any of them. A band is met in a month
when the person reaches ``from_age`` by the month's last day (an allowance can start in the month of the
birthday) and is still under ``below_age`` on its first day.

A correction of the date of birth states a fact and is not refused for this: the person's active enrolments whose
category no longer fits are warned about instead (``enrolment_age_warnings``), until an officer ends them and
enrols the person in the category that fits, or corrects the date again.
"""

from __future__ import annotations

import calendar
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

from app.registry.identity import Message
from app.registry.models import Enrolment
from app.registry.reference import read_reference_csv
from app.registry.schemas import EnrolmentWarning
from app.vietnam_time import month_text


@dataclass(frozen=True)
class AgeBand:
    """One age range of a category: from ``from_age`` (reached) to under ``below_age`` (None: no limit)."""

    from_age: int
    below_age: int | None
    condition_vi: str
    condition_en: str


@lru_cache(maxsize=1)
def category_age_bands() -> dict[tuple[str, str], tuple[AgeBand, ...]]:
    """(programme, category) -> its age bands, from the shipped reference data."""
    bands: dict[tuple[str, str], list[AgeBand]] = {}
    for row in read_reference_csv("category_ages"):
        bands.setdefault((row["programme"], row["category"]), []).append(AgeBand(
            from_age=int(row["from_age"]), below_age=int(row["below_age"]) if row["below_age"] else None,
            condition_vi=row["condition_vi"], condition_en=row["condition_en"]))
    return {key: tuple(value) for key, value in bands.items()}


def age_on(born: date, day: date) -> int:
    """Whole years of age on ``day`` (negative before birth)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


def category_age_problem(programme: str, category: str, born: date, start_month: date) -> Message | None:
    """Why a person born on ``born`` cannot start ``category`` in ``start_month`` because of age, or None."""
    bands = category_age_bands().get((programme, category))
    if not bands:
        return None
    first = start_month.replace(day=1)
    last = first.replace(day=calendar.monthrange(first.year, first.month)[1])
    for band in bands:
        if age_on(born, last) >= band.from_age and (band.below_age is None or age_on(born, first) < band.below_age):
            return None
    age = age_on(born, first)
    return Message(
        f"Đối tượng {category} dành cho người {' hoặc '.join(b.condition_vi for b in bands)}; người sinh ngày "
        f"{born:%d/%m/%Y} được {age} tuổi vào tháng bắt đầu hưởng {month_text(first)}",
        f"Category {category} is for people {' or '.join(b.condition_en for b in bands)}; someone born on "
        f"{born:%d/%m/%Y} is {age} in the start month {month_text(first)}")


def enrolment_age_warnings(born: date, enrolments: Iterable[Enrolment], *, this_month: date,
                           deceased: bool = False) -> list[EnrolmentWarning]:
    """A warning per active enrolment — not ended before ``this_month``, of a person alive — whose category does
    not fit someone born on ``born`` in its start month: which one, why and what to do."""
    if deceased:
        return []
    warnings = []
    for enrolment in enrolments:
        if enrolment.end_month is not None and enrolment.end_month < this_month:
            continue
        problem = category_age_problem(enrolment.programme_code, enrolment.category_code, born,
                                       enrolment.start_month)
        if problem is None:
            continue
        start = month_text(enrolment.start_month)  # the API's start_month stays YYYY-MM; staff read MM/YYYY
        warnings.append(EnrolmentWarning(
            enrolment_id=enrolment.id, programme=enrolment.programme_code, category=enrolment.category_code,
            start_month=f"{enrolment.start_month:%Y-%m}",
            message=f"Quyết định số {enrolment.decision_number} ({enrolment.programme_code}, hưởng từ tháng "
                    f"{start}) không còn hợp với ngày sinh: {problem.vi}. Hãy kết thúc quyết định này và "
                    f"lập quyết định theo đúng đối tượng, hoặc sửa lại ngày sinh nếu nhập nhầm",
            message_en=f"Decision {enrolment.decision_number} ({enrolment.programme_code}, from {start}) no "
                       f"longer fits the date of birth: {problem.en}. End this enrolment and enrol the person in "
                       f"the category that fits, or correct the date of birth if it was mistyped"))
    return warnings
