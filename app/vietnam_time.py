"""Việt Nam's calendar: the business date of everything staff and banks see, whatever the server's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


# The same in SQL, whatever the session's time zone (the embedded server's is UTC).
VIETNAM_TODAY_SQL = "((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)"


def vietnam_today(now: datetime | None = None) -> date:
    """The date in Việt Nam at ``now`` (timezone-aware; default: the current moment). A server clock in UTC
    is still on the previous day until 07:00 in Việt Nam, so ``date.today()`` and ``now(UTC).date()`` are
    not business dates."""
    return (now or datetime.now(UTC)).astimezone(VIETNAM).date()


def wall_clock(moment: datetime) -> datetime:
    """``moment`` (timezone-aware) as Việt Nam wall-clock time without a zone: what an Excel cell or a form's
    datetime-local box holds."""
    return moment.astimezone(VIETNAM).replace(tzinfo=None)


def form_minute_now(now: datetime | None = None) -> str:
    """The current minute in Việt Nam as a datetime-local box's value (``YYYY-MM-DDTHH:MM``)."""
    return wall_clock(now or datetime.now(UTC)).isoformat(timespec="minutes")


def from_wall_clock(value: str) -> datetime:
    """A datetime-local box's value (Việt Nam wall-clock time, no zone) as a timezone-aware time; ValueError
    when it is not a date and time."""
    try:
        return datetime.fromisoformat(value).replace(tzinfo=VIETNAM).astimezone(UTC)
    except OverflowError:  # at the edge of the calendar (01/01/0001)
        raise ValueError(value) from None


def month_text(month: date | str) -> str:
    """A month as staff read it, ``MM/YYYY`` ("12/2026"), from a date or the API's ``YYYY-MM`` text (which
    API fields, URL parameters and payment messages keep)."""
    if isinstance(month, str):
        year, _, number = month.partition("-")
        if not (len(year) == 4 and year.isdigit() and number[:2].isdigit() and len(number) >= 2):
            raise ValueError(f"not a YYYY-MM month: {month!r}")
        return f"{number[:2]}/{year}"
    return f"{month.month:02d}/{month.year:04d}"
