"""The reports page: download the monthly workbook and the follow-up list; the overpaid list to recover."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.http.problems import Problem
from app.reports_api.routes import FOLLOW_UP_READERS, OVERPAID_READERS, REPORT_READERS, scope_of
from app.web.dashboard import latest_period, report_periods
from app.web.follow_up import checked_commune, communes_in_scope
from app.web.render import page, page_count, pager
from reports.overpaid import REASONS, overpaid_list

MONTHLY_READERS = (Role.officer, Role.auditor, Role.admin)
OVERPAID_PAGE_SIZE = 100  # people on one page of the overpaid list
MAX_PAGE_NUMBER = 100_000


async def _provinces_in_scope(session: AsyncSession, provinces: Any) -> list[Any]:
    """The provinces with beneficiaries that the caller may pick (None: every one), by their names in the province
    table, in Vietnamese alphabetical order."""
    return list(await session.execute(text(
        """SELECT code, name FROM province WHERE code IN (SELECT DISTINCT c.province_code FROM beneficiary b
             JOIN commune c ON c.code = b.commune_code) AND (CAST(:scope AS text[]) IS NULL
             OR code = ANY(CAST(:scope AS text[]))) ORDER BY vietnamese_sort_key(name) COLLATE "C" """),
        {"scope": list(provinces) if provinces is not None else None}))


class ReportPages(Controller):
    include_in_schema = False

    @get("/reports", guards=[requires(*REPORT_READERS)])
    async def reports(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """The workbooks a role may download, with the month and province or commune to choose."""
        principal = current_principal(request)
        assert principal is not None
        _, provinces = scope_of(principal)
        province_rows = await _provinces_in_scope(db_session, provinces)
        periods = [period.strftime("%Y-%m") for period in await report_periods(db_session)]
        # An officer of every province may take them all at once; one limited to provinces picks one of theirs.
        return page(request, "reports/reports.html", periods=periods,
                    period=(await latest_period(db_session)).strftime("%Y-%m"), provinces=province_rows,
                    all_provinces=provinces is None,
                    communes=await communes_in_scope(db_session, principal),
                    monthly=principal.role in MONTHLY_READERS, follow_up=principal.role in FOLLOW_UP_READERS,
                    overpaid=principal.role in OVERPAID_READERS)

    @get("/reports/overpaid", guards=[requires(*OVERPAID_READERS)])
    async def overpaid(self, request: Request[Any, Any, Any], db_session: AsyncSession, province: str = "",
                       commune: str = "", page_number: str = "1") -> Response[Any]:
        """Overpaid, to recover: the people paid for months the registry now says were not due, with the months,
        amounts, reasons and payout references, the totals and the Excel download. A list only."""
        principal = current_principal(request)
        assert principal is not None
        communes, provinces = scope_of(principal)
        commune_choices = await communes_in_scope(db_session, principal)
        commune = checked_commune(commune_choices, commune)
        province_choices = [] if communes is not None else await _provinces_in_scope(db_session, provinces)
        if province and province not in {p.code for p in province_choices}:
            raise Problem(403, "Tỉnh này không thuộc phạm vi của bạn / This province is outside your scope")
        listed = await overpaid_list(db_session, communes=communes, provinces=provinces, commune=commune or None,
                                     province=province or None)
        pages = page_count(len(listed.people), OVERPAID_PAGE_SIZE)
        shown = min(max(1, int(page_number)), MAX_PAGE_NUMBER, pages) if page_number.isascii() and page_number.isdigit() else 1
        start = (shown - 1) * OVERPAID_PAGE_SIZE
        excel_query = "&".join(f"{key}={value}" for key, value in (("province", province), ("commune", commune)) if value)
        return page(request, "reports/overpaid.html", people=listed.people[start:start + OVERPAID_PAGE_SIZE],
                    listed=listed, reasons=REASONS, provinces=province_choices, province=province,
                    all_provinces=provinces is None,
                    communes=commune_choices, commune=commune, excel_query=excel_query,
                    pager=pager("/reports/overpaid", {"province": province, "commune": commune}, page=shown,
                                pages=pages, total=len(listed.people), page_size=OVERPAID_PAGE_SIZE))
