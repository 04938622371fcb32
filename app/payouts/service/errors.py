"""Errors of payout operations, each with a Vietnamese and an English message."""

from __future__ import annotations

from typing import Any


class PayoutError(Exception):
    """A payout operation refused; ``status`` is the HTTP status it maps to."""

    status = 422

    def __init__(self, vi: str, en: str, **extra: Any) -> None:
        super().__init__(en)
        self.vi = vi
        self.en = en
        self.extra = extra


class NotFound(PayoutError):
    status = 404


class Conflict(PayoutError):
    status = 409


class RunStateConflict(Conflict):
    """The run is not in a state the step can start from, or another step is working on it.

    Raised before anything changes. A background step refused this way lost a race with another request
    whose outcome is the run's state now, so it is logged and not stored as the run's error."""
