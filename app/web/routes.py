"""Every page route; ``app.main`` registers this list. A new page adds its controller here."""

from __future__ import annotations

from typing import Any

from app.web.account_requests import AccountRequestPages
from app.web.admin import AdminPages
from app.web.audit import AuditPages
from app.web.beneficiaries import BeneficiaryPages
from app.web.dashboard import DashboardPage
from app.web.exceptions import ExceptionPages
from app.web.follow_up import FollowUpPages
from app.web.home import HomePage
from app.web.reports import ReportPages
from app.web.runs import PayoutRunPages
from app.web.schedules import SchedulePages
from app.web.sign_in import SignInPages
from app.web.statements import StatementPages
from app.web.templating import static_files_router
from app.web.uploads import UploadPages

WEB_ROUTE_HANDLERS: list[Any] = [static_files_router(), SignInPages, HomePage, AdminPages, BeneficiaryPages,
                                   AccountRequestPages, PayoutRunPages, StatementPages, ExceptionPages, DashboardPage,
                                   FollowUpPages, ReportPages, UploadPages, AuditPages, SchedulePages]
