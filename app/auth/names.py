"""Who did something, as staff read it: a staff user's full name with their username beside it, "Trần Thị Lan
(lan.officer)"; anyone else (a bank's key ``bank:<BIN>``, the scheduler, ``system``, a user without a full
name) as recorded. Records keep the username; pages and staff's Excel files show the name."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.models import Role

# What each role is called, Vietnamese and English: the pages (``role.<code>`` in app.web.i18n) and the audit
# log's Excel read this one mapping.
ROLE_NAMES: dict[Role, tuple[str, str]] = {
    Role.admin: ("Quản trị hệ thống", "Administrator"),
    Role.officer: ("Cán bộ cấp tỉnh", "Province officer"),
    Role.approver: ("Người phê duyệt", "Approver"),
    Role.commune_staff: ("Cán bộ xã", "Commune staff"),
    Role.auditor: ("Kiểm toán viên", "Auditor"),
    Role.bank: ("Ngân hàng", "Bank"),
}


def role_label(role: str | None) -> str:
    """A role as staff read it in a file, "Cán bộ xã / Commune staff"; a code no role has, as recorded."""
    if not role:
        return ""
    try:
        vi, en = ROLE_NAMES[Role(role)]
    except (ValueError, KeyError):
        return role
    return f"{vi} / {en}"


def staff_label(actor: str | None, full_name: str | None) -> str:
    """"Full Name (username)", or the actor alone when there is no full name (not a staff user, or none given)."""
    if not actor:
        return ""
    full_name = (full_name or "").strip()
    return f"{full_name} ({actor})" if full_name else actor


@dataclass(frozen=True)
class StaffNames:
    """The full names of the staff users among some actors, looked up at once (``staff_names``); called with an
    actor, gives what a page shows for it (``staff_label``)."""

    full_names: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, actor: str | None) -> str:
        return staff_label(actor, self.full_names.get(actor or ""))


async def staff_names(session: AsyncSession, actors: Iterable[str | None]) -> StaffNames:
    """The full names of the staff users among ``actors`` (usernames, ``bank:<BIN>``, ``scheduler``…), in one
    query however many there are."""
    wanted = sorted({actor for actor in actors if actor})
    if not wanted:
        return StaffNames()
    rows = await session.execute(text(
        "SELECT username, full_name FROM staff_user WHERE username = ANY(:usernames) AND full_name <> ''"),
        {"usernames": wanted})
    return StaffNames({row.username: row.full_name for row in rows})
