"""The navigation menu: one table of (path, label, roles). A new page adds one row here.

The roles of a row must be the roles the page's route guard allows (a test checks it), so the
menu never shows a link that would answer 403.
"""

from __future__ import annotations

from dataclasses import dataclass

from app.auth.guards import STAFF
from app.auth.models import Role


@dataclass(frozen=True)
class MenuItem:
    """One link in the menu: where it goes, its text (an i18n key) and who sees it."""

    path: str
    label_key: str
    roles: frozenset[Role]

    @property
    def help_key(self) -> str:
        """The i18n key of the one-line description shown on the home page."""
        return f"{self.label_key}.help"


def _roles(*roles: Role) -> frozenset[Role]:
    return frozenset(roles)


MENU: list[MenuItem] = [
    MenuItem("/", "nav.home", _roles(*STAFF)),
    MenuItem("/dashboard", "nav.dashboard", _roles(Role.officer, Role.auditor, Role.commune_staff, Role.admin)),
    MenuItem("/follow-up", "nav.follow_up", _roles(Role.commune_staff, Role.officer, Role.auditor)),
    MenuItem("/beneficiaries", "nav.beneficiaries", _roles(Role.officer, Role.commune_staff, Role.auditor)),
    MenuItem("/bank-account-requests", "nav.account_requests", _roles(Role.officer, Role.commune_staff, Role.auditor)),
    MenuItem("/payout-runs", "nav.payout_runs", _roles(Role.officer, Role.approver, Role.auditor, Role.admin)),
    MenuItem("/statements", "nav.statements", _roles(Role.officer, Role.auditor, Role.admin)),
    MenuItem("/uploads", "nav.uploads", _roles(Role.officer, Role.auditor)),
    MenuItem("/reports", "nav.reports", _roles(Role.officer, Role.auditor, Role.commune_staff, Role.admin)),
    MenuItem("/schedules", "nav.schedules", _roles(Role.officer, Role.admin, Role.auditor)),
    MenuItem("/audit", "nav.audit", _roles(Role.auditor, Role.admin)),
    MenuItem("/admin/users", "nav.admin_users", _roles(Role.admin)),
    MenuItem("/admin/api-keys", "nav.admin_api_keys", _roles(Role.admin)),
]


def menu_for(role: Role | None) -> list[MenuItem]:
    """The menu rows a role may see, in table order."""
    if role is None:
        return []
    return [item for item in MENU if role in item.roles]


def active_item(path: str, items: list[MenuItem]) -> MenuItem | None:
    """The row the current page belongs to: the longest path that prefixes ``path``."""
    best: MenuItem | None = None
    for item in items:
        matches = path == item.path or (item.path != "/" and path.startswith(item.path + "/"))
        if matches and (best is None or len(item.path) > len(best.path)):
            best = item
    return best
