"""The reports page: download the monthly workbook and the follow-up list."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.reports_api.routes import FOLLOW_UP_READERS, REPORT_READERS, scope_of
from app.web.dashboard import latest_period, report_periods
from app.web.follow_up import communes_in_scope
from app.web.render import page

MONTHLY_READERS = (Role.officer, Role.auditor, Role.admin)


class ReportPages(Controller):
    include_in_schema = False

    @get("/reports", guards=[requires(*REPORT_READERS)])
    async def reports(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """The workbooks a role may download, with the month and province or commune to choose."""
        principal = current_principal(request)
        assert principal is not None
        _, provinces = scope_of(principal)
        province_rows = list(await db_session.execute(text(
            """SELECT code, name FROM province WHERE code IN (SELECT DISTINCT c.province_code FROM beneficiary b
                 JOIN commune c ON c.code = b.commune_code) AND (CAST(:scope AS text[]) IS NULL
                 OR code = ANY(CAST(:scope AS text[]))) ORDER BY name"""),
            {"scope": list(provinces) if provinces is not None else None}))
        periods = [period.strftime("%Y-%m") for period in await report_periods(db_session)]
        return page(request, "reports/reports.html", periods=periods,
                    period=(await latest_period(db_session)).strftime("%Y-%m"), provinces=province_rows,
                    communes=await communes_in_scope(db_session, principal),
                    monthly=principal.role in MONTHLY_READERS, follow_up=principal.role in FOLLOW_UP_READERS)
