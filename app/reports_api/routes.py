"""HTTP routes of the reports, each filtered to the caller's communes or provinces."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time
from typing import Annotated, Any

import msgspec
from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.service import Principal
from app.http.openapi import documented, one_of
from app.http.problems import Problem, bilingual
from app.payouts.service.runs import FIRST_PAYABLE_PERIOD, add_months, current_month
from app.vietnam_time import VIETNAM, month_text, vietnam_today, wall_clock
from app.withdrawals_api.service import EARLIEST_NOTE
from reports.follow_up import EXPORT_LIMIT, follow_up_page, follow_up_workbook
from reports.overpaid import (
    MOVED_TITLE_EN,
    MOVED_TITLE_VI,
    NOTICE_EN,
    NOTICE_VI,
    overpaid_list,
    overpaid_workbook,
)
from reports.time_to_withdrawal import GROUP_BY, month_start, time_to_withdrawal
from reports.workbooks import monthly_workbook

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
XLSX_LIST = documented(files={XLSX: "format=xlsx: the whole list as a workbook"})
REPORT_READERS = (Role.officer, Role.auditor, Role.commune_staff, Role.admin)
FOLLOW_UP_READERS = (Role.commune_staff, Role.officer, Role.auditor)
OVERPAID_READERS = (Role.officer, Role.auditor, Role.commune_staff)
OVERPAID_PAGE_SIZE = 100  # people per page of the JSON overpaid list
MAX_NAMED_COMMUNES = 5  # a file name lists at most this many commune codes
FOLLOW_UP_PAGE_SIZE = 100  # people per page of the JSON follow-up list, by default
FOLLOW_UP_MAX_PAGE_SIZE = 1000
MAX_PAGE = 1_000_000  # keeps the offset a number PostgreSQL takes


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = current_principal(request)
    assert principal is not None  # guards ran
    return principal


def scope_of(principal: Principal) -> tuple[Sequence[str] | None, Sequence[str] | None]:
    """(communes, provinces) the caller may see; None: no limit."""
    if principal.role == Role.commune_staff:
        return tuple(principal.communes), None
    return None, (tuple(principal.provinces) if principal.provinces else None)


def report_period(period: str | None, *, today: date | None = None) -> date:
    """The month a report is asked for (None: the current month in Việt Nam), parsed in this one place for
    every report route and the dashboard: 400 when it is not YYYY-MM, 422 outside the months ansinh can pay,
    the same as a payout run's (``check_payable_period``): from 2025-01 (``FIRST_PAYABLE_PERIOD``) to the
    month after the current one. Earlier or later months hold nothing to report (and the 12-month trend of
    a month near year 1 or 9999 is no calendar month at all)."""
    this_month = current_month(today)
    if period is None:
        return this_month
    try:
        month = month_start(period)
    except ValueError:
        raise Problem(400, bilingual("Kỳ phải có dạng YYYY-MM", "period must be YYYY-MM")) from None
    last = add_months(this_month, 1)
    if month < FIRST_PAYABLE_PERIOD:
        raise Problem(422, bilingual(
            f"Kỳ {month_text(month)} quá sớm: báo cáo có từ kỳ {month_text(FIRST_PAYABLE_PERIOD)} "
            "(kỳ đầu tiên ansinh chi trả)",
            f"period {period} is too early: reports start at {FIRST_PAYABLE_PERIOD:%Y-%m} "
            "(the first period ansinh pays)"))
    if month > last:
        raise Problem(422, bilingual(
            f"Kỳ {month_text(month)} quá xa: báo cáo có đến kỳ {month_text(last)} (tháng sau của tháng hiện tại)",
            f"period {period} is too far ahead: reports go up to {last:%Y-%m} (the month after the current one)"))
    return month


def follow_up_moment(as_of: datetime | None, *, now: datetime | None = None) -> datetime | None:
    """The follow-up list's ``as_of``, checked (422) like a report's period: with a time zone, not before
    ansinh's first payable month (``EARLIEST_NOTE``) nor after the last month a report can be asked for."""
    if as_of is None:
        return None
    if as_of.tzinfo is None:
        raise Problem(422, bilingual("as_of phải có múi giờ (ví dụ 2026-01-31T23:59:59+07:00)",
                                     "as_of needs a time zone (for example 2026-01-31T23:59:59+07:00)"))
    end = datetime.combine(add_months(current_month(vietnam_today(now)), 2), time(0), tzinfo=VIETNAM)
    if not EARLIEST_NOTE <= as_of < end:
        raise Problem(422, bilingual(
            f"as_of phải từ {wall_clock(EARLIEST_NOTE):%H:%M %d/%m/%Y} đến trước {wall_clock(end):%H:%M %d/%m/%Y} "
            f"(các kỳ ansinh chi trả được, từ {month_text(FIRST_PAYABLE_PERIOD)})",
            f"as_of must be from {EARLIEST_NOTE.isoformat()} to before {end.isoformat()} "
            f"(the periods ansinh can pay, from {FIRST_PAYABLE_PERIOD:%Y-%m})"))
    return as_of


async def _check_commune(session: AsyncSession, principal: Principal, commune: str) -> None:
    province = await session.scalar(text("SELECT province_code FROM commune WHERE code = :c"), {"c": commune})
    if province is None:
        raise Problem(404, bilingual(f"Không có xã/phường mã {commune}", f"unknown commune {commune}"))
    communes, provinces = scope_of(principal)
    if (communes is not None and commune not in communes) or (provinces is not None and province not in provinces):
        raise Problem(403, bilingual("Xã/phường này không thuộc phạm vi của bạn", "This commune is outside your scope"))


async def _report_scope(session: AsyncSession, principal: Principal, commune: str | None, province: str | None,
                        ) -> tuple[Sequence[str] | None, Sequence[str] | None, str | None]:
    """(communes, provinces) of the caller's scope and the province asked for, each filter checked: another
    commune or province 403, an unknown one 404; an empty province is every province in scope (the reports
    page's "Tất cả các tỉnh / All provinces" sends one)."""
    if commune is not None:
        await _check_commune(session, principal, commune)
    communes, provinces = scope_of(principal)
    province = province or None
    if province is not None:
        await _check_province(session, provinces, province)
    return communes, provinces, province


async def _check_province(session: AsyncSession, provinces: Sequence[str] | None, province: str) -> None:
    """403 for a province outside the caller's scope (whether it exists or not), 404 for an unknown one."""
    if provinces is not None and province not in provinces:
        raise Problem(403, bilingual("Tỉnh này không thuộc phạm vi của bạn", "This province is outside your scope"))
    if await session.scalar(text("SELECT 1 FROM province WHERE code = :p"), {"p": province}) is None:
        raise Problem(404, bilingual(f"Không có tỉnh/thành phố mã {province}", f"unknown province {province}"))


def _follow_up_name(commune: str | None, communes: Sequence[str] | None) -> str:
    """What the follow-up file is named after: the commune asked for, else the caller's communes (commune
    staff), else "all"."""
    if commune is not None:
        return commune
    if not communes:
        return "all"
    codes = sorted(communes)
    return "-".join(codes) if len(codes) <= MAX_NAMED_COMMUNES else f"{codes[0]}-va-{len(codes) - 1}-xa-khac"


def _attachment(name: str) -> dict[str, str]:
    return {"Content-Disposition": f'attachment; filename="{name}"'}


class ReportController(Controller):
    path = "/api/reports"
    tags = ["reports"]

    @get("/time-to-withdrawal", guards=[requires(*REPORT_READERS)])
    async def time_to_withdrawal(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                                 period: str | None = None,
                                 group_by: Annotated[str, one_of(*GROUP_BY)] = "commune",
                                 commune: str | None = None, province: str | None = None) -> dict[str, Any]:
        """Per group: payouts, credited, withdrawn, median and p90 days, share within 1/3/7/30 days, never
        withdrawn, undrawn amount, accounts opened; totals and a 12-month trend."""
        principal = _principal(request)
        if group_by not in GROUP_BY:
            raise Problem(400, bilingual(f"group_by phải là một trong: {', '.join(GROUP_BY)}",
                                         f"group_by must be one of: {', '.join(GROUP_BY)}"))
        communes, provinces, province = await _report_scope(db_session, principal, commune, province)
        return await time_to_withdrawal(db_session, period=report_period(period), group_by=group_by, communes=communes,
                                        provinces=provinces, commune=commune, province=province)

    @get("/follow-up", guards=[requires(*FOLLOW_UP_READERS)], operation_class=XLSX_LIST)
    async def follow_up(self, request: Request[Any, Any, Any], db_session: AsyncSession, commune: str | None = None,
                        min_days: int = 7,
                        format: Annotated[str, one_of("json", "xlsx")] = "json",  # noqa: A002 - the API's parameter name
                        as_of: datetime | None = None, page: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 1,
                        page_size: Annotated[int, Parameter(ge=1, le=FOLLOW_UP_MAX_PAGE_SIZE)] = FOLLOW_UP_PAGE_SIZE,
                        ) -> Response[Any]:
        """People who have not withdrawn after ``min_days`` days, 80+ first, longest wait first: JSON a page at a
        time with the number of people and the amount waiting in the whole list, or the whole list as xlsx. People
        whose death is recorded are not listed (nobody visits them to remind them): ``deceased_people`` and
        ``deceased_amount`` count them and their money waiting for recovery."""
        principal = _principal(request)
        if format not in ("json", "xlsx"):
            raise Problem(400, bilingual("Định dạng phải là json hoặc xlsx", "format must be json or xlsx"))
        if not 0 <= min_days <= 3650:
            raise Problem(400, bilingual("min_days phải từ 0 đến 3650", "min_days must be 0-3650"))
        checked_as_of = follow_up_moment(as_of)
        if commune is not None:
            await _check_commune(db_session, principal, commune)
        communes, provinces = scope_of(principal)
        if format == "xlsx":  # the whole list (up to the export limit), whatever page was asked for
            whole = await follow_up_page(db_session, communes=communes, provinces=provinces, commune=commune,
                                         min_days=min_days, as_of=checked_as_of, page=1, page_size=EXPORT_LIMIT)
            people = whole.people
            name = _follow_up_name(commune, communes)
            title = ("Danh sách theo dõi rút tiền — các xã/phường bạn phụ trách / "
                     "Follow-up list — the communes you cover")
            if commune is not None:
                commune_name = await db_session.scalar(text("SELECT name FROM commune WHERE code = :c"),
                                                       {"c": commune})
                title = f"Danh sách theo dõi rút tiền — {commune_name} / Follow-up list — {commune_name}"
            return Response(follow_up_workbook(people, title=title, min_days=min_days, total=whole.total,
                                               deceased=whole.deceased, deceased_amount=whole.deceased_amount),
                            media_type=XLSX,
                            headers=_attachment(f"theo-doi-{name}.xlsx"))
        listed = await follow_up_page(db_session, communes=communes, provinces=provinces, commune=commune,
                                      min_days=min_days, as_of=checked_as_of, page=page, page_size=page_size)
        return Response({"items": [msgspec.to_builtins(person) for person in listed.people], "total": listed.total,
                         "total_amount": listed.amount_waiting, "page": listed.page, "page_size": listed.page_size,
                         "min_days": min_days, "deceased_people": listed.deceased,
                         "deceased_amount": listed.deceased_amount})

    @get("/monthly", guards=[requires(Role.officer, Role.auditor, Role.admin)],
         operation_class=documented(json=False, files={XLSX: "the workbook"}))
    async def monthly(self, request: Request[Any, Any, Any], db_session: AsyncSession, period: str | None = None,
                      province: str | None = None,
                      format: Annotated[str, one_of("xlsx")] = "xlsx",  # noqa: A002 - the API's parameter name
                      ) -> Response[bytes]:
        """The monthly disbursement and time-to-withdrawal workbook (xlsx) of a province, or (no or an empty
        ``province``) of every province in the caller's scope."""
        principal = _principal(request)
        if format != "xlsx":
            raise Problem(400, bilingual("Định dạng phải là xlsx", "format must be xlsx"))
        communes, provinces, province = await _report_scope(db_session, principal, None, province)
        month = report_period(period)
        content = await monthly_workbook(db_session, period=month, province=province, communes=communes,
                                         provinces=provinces)
        return Response(content, media_type=XLSX,
                        headers=_attachment(f"bao-cao-{month:%Y-%m}-{province or 'all'}.xlsx"))

    @get("/overpaid", guards=[requires(*OVERPAID_READERS)], operation_class=XLSX_LIST)
    async def overpaid(self, request: Request[Any, Any, Any], db_session: AsyncSession, province: str | None = None,
                       commune: str | None = None,
                       format: Annotated[str, one_of("json", "xlsx")] = "json",  # noqa: A002 - the API's parameter name
                       page: Annotated[int, Parameter(ge=1, le=MAX_PAGE)] = 1) -> Response[Any]:
        """Money paid for months the registry now says were not (wholly) due, per person, with the reasons and the
        payout references: JSON a page of people at a time with the whole list's totals, or the list as xlsx.
        Months the old province paid after a move recorded late are not overpaid (the person was due them; the
        new province never pays them): they are in ``moved_away``, with nothing to recover. A list only: nothing
        is posted or changed."""
        principal = _principal(request)
        if format not in ("json", "xlsx"):
            raise Problem(400, bilingual("Định dạng phải là json hoặc xlsx", "format must be json or xlsx"))
        communes, provinces, province = await _report_scope(db_session, principal, commune, province)
        listed = await overpaid_list(db_session, communes=communes, provinces=provinces, commune=commune,
                                     province=province)
        if format == "xlsx":
            place = commune or province or _follow_up_name(None, communes)
            title = "Chi sai, cần thu hồi / Overpaid, to recover"
            if commune is not None or province is not None:
                name = await db_session.scalar(text(
                    "SELECT name FROM commune WHERE code = :c" if commune is not None
                    else "SELECT name FROM province WHERE code = :c"), {"c": commune or province})
                title = f"Chi sai, cần thu hồi — {name} / Overpaid, to recover — {name}"
            return Response(overpaid_workbook(listed, title=title), media_type=XLSX,
                            headers=_attachment(f"chi-sai-thu-hoi-{place}.xlsx"))
        start = (page - 1) * OVERPAID_PAGE_SIZE
        return Response({"items": [person.as_dict() for person in listed.people[start:start + OVERPAID_PAGE_SIZE]],
                         "total": len(listed.people), "totals": listed.totals(), "page": page,
                         "page_size": OVERPAID_PAGE_SIZE, "notice": bilingual(NOTICE_VI, NOTICE_EN),
                         "moved_away": {"title": bilingual(MOVED_TITLE_VI, MOVED_TITLE_EN),
                                        "items": [person.as_dict() for person in listed.moved_away],
                                        "totals": listed.moved_away_totals()}})


ROUTES = [ReportController]
