"""Errors of payout operations, each with a Vietnamese and an English message."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
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


def _places(provinces: Sequence[str], names: Mapping[str, str] | None) -> str:
    """The provinces by name as staff know them ("Điện Biên"), a code only where the name is not known."""
    return ", ".join((names or {}).get(code, code) for code in provinces)


def whole_run_refusal(provinces: Sequence[str], names: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Why a province-limited officer does not prepare, compute, approve, send, cancel or close a run
    (``names``: province code → name)."""
    codes = _places(provinces, names)
    return (f"Đợt chi trả cho người hưởng của mọi tỉnh: chỉ cán bộ không giới hạn tỉnh mới lập, tính, duyệt, gửi, "
            f"hủy hoặc đóng đợt chi (tài khoản của bạn giới hạn ở {codes})",
            f"a run pays the programme's people in every province: only staff without a province limit can "
            f"prepare, compute, approve, send, cancel or close it (your account is limited to {codes})")


def bank_funding_refusal(provinces: Sequence[str], names: Mapping[str, str] | None = None) -> tuple[str, str]:
    """Why a province-limited officer does not record (or reverse) a bank's funding, Vietnamese and English
    (``names``: province code → name)."""
    codes = _places(provinces, names)
    return (f"Tiền cấp vào tài khoản chi của ngân hàng dùng để chi cho người hưởng của mọi tỉnh trong đợt chi: chỉ cán "
            f"bộ không giới hạn tỉnh mới ghi nhận hoặc hủy khoản cấp này (tài khoản của bạn giới hạn ở {codes}). "
            f"Tiền mặt cấp cho xã/phường thuộc tỉnh của bạn thì bạn vẫn ghi nhận được",
            f"funding at a bank's disbursement account pays the whole run, every province's people: only an officer "
            f"without a province limit can record or reverse it (your account is limited to {codes}). "
            f"Cash given to a commune in your provinces you can still record")
