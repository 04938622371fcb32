"""The dashboard: how long people take to get their money, for the chosen month and scope.

Headline figures (median days to withdraw, share within 3 days, money waiting and how many people,
accounts opened shown smaller beside them), the share withdrawn by day since credit, a bar per
commune and the 12-month trend — charts drawn on the server as SVG, numbers also in tables.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from litestar import Controller, Request, Response, get
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.payouts.service.runs import current_month
from app.reports_api.routes import REPORT_READERS, report_period, scope_of
from app.web.charts import Point, bar_chart, line_chart
from app.web.follow_up import checked_commune, communes_in_scope
from app.web.i18n import translate
from app.web.render import current_lang, page
from reports.time_to_withdrawal import people_waiting, share_by_day, time_to_withdrawal

# Runs whose months the dashboard and reports offer: approved (entitlements posted) and later.
REPORTED = "('approved', 'sending', 'sent', 'settled', 'closed')"
# Runs that have sent payouts, and the statuses of a payout that was sent to its person.
SENT_RUNS = "('sending', 'sent', 'settled', 'closed')"
SENT_PAYOUTS = "('sent', 'credited', 'returned')"


async def latest_period(session: AsyncSession) -> date:
    """The newest month with payouts sent to people (sent, credited or returned), else the current month.

    Not the newest approved run's month: that is often next month's run, approved ahead and not paid yet,
    whose dashboard would read "not reached" with almost nothing withdrawn."""
    found = await session.scalar(text(
        f"""SELECT r.period FROM payout_run r
             WHERE r.status IN {SENT_RUNS}
               AND EXISTS (SELECT 1 FROM payout p WHERE p.run_id = r.id AND p.status IN {SENT_PAYOUTS})
             ORDER BY r.period DESC LIMIT 1"""))  # noqa: S608
    return found or current_month()


async def report_periods(session: AsyncSession, limit: int = 24) -> list[date]:
    """The months a report can be asked for, newest first: those of approved runs (a draft or computed run
    is a proposal, not money on its way; a cancelled one never was)."""
    return [r.period for r in await session.execute(text(
        f"SELECT DISTINCT period FROM payout_run WHERE status IN {REPORTED} ORDER BY period DESC LIMIT :limit"),  # noqa: S608
        {"limit": limit})]


class DashboardPage(Controller):
    include_in_schema = False

    @get("/dashboard", guards=[requires(*REPORT_READERS)])
    async def dashboard(self, request: Request[Any, Any, Any], db_session: AsyncSession, period: str = "",
                        commune: str = "") -> Response[Any]:
        """Time to withdrawal for a month, in the caller's scope (optionally one commune)."""
        principal = current_principal(request)
        assert principal is not None
        lang = current_lang(request)
        month = report_period(period) if period else await latest_period(db_session)
        choices = await communes_in_scope(db_session, principal)
        commune = checked_commune(choices, commune)
        communes, provinces = scope_of(principal)
        scope: dict[str, Any] = {"communes": communes, "provinces": provinces, "commune": commune or None}
        report = await time_to_withdrawal(db_session, period=month, group_by="commune", **scope)
        by_day = await share_by_day(db_session, period=month, **scope)
        waiting_people, waiting_amount = await people_waiting(db_session, **scope)
        periods = await report_periods(db_session)
        if month not in periods:  # the current month before anything is sent, or one asked for: still shown as chosen
            periods = sorted([*periods, month], reverse=True)
        items = sorted(report["items"], key=lambda item: (item["within_3d"] is None, item["within_3d"] or 0))
        charts = {
            "by_day": line_chart([Point(str(day), share) for day, share in enumerate(by_day)], step=True,
                                 title=translate("dash.chart.by_day", lang)),
            "by_commune": bar_chart([Point(item["label"], item["within_3d"]) for item in items[:40]],
                                    title=translate("dash.chart.by_commune", lang)),
            "trend": line_chart([Point(row["month"][5:] + "/" + row["month"][2:4], row["within_3d"])
                                 for row in report["trend"]], title=translate("dash.chart.trend", lang)),
        }
        return page(request, "dashboard/dashboard.html", report=report, totals=report["totals"], items=items,
                    by_day=by_day, charts=charts, waiting_people=waiting_people, waiting_amount=waiting_amount,
                    period=month.strftime("%Y-%m"), periods=[p.strftime("%Y-%m") for p in periods],
                    communes=choices, commune=commune)
