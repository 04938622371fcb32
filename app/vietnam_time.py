"""Việt Nam's calendar: the business date of everything staff and banks see, whatever the server's zone."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def vietnam_today(now: datetime | None = None) -> date:
    """The date in Việt Nam at ``now`` (timezone-aware; default: the current moment). A server clock in UTC
    is still on the previous day until 07:00 in Việt Nam, so ``date.today()`` and ``now(UTC).date()`` are
    not business dates."""
    return (now or datetime.now(UTC)).astimezone(VIETNAM).date()
