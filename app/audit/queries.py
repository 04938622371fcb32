"""Reading the audit log: filters, a page newest first, a capped count, and a stream for the export.

Every filter is served by an index ending in (at, id) (migration 0034), so a page is an index scan that
stops after the page whatever the log's size. The count stops at ``COUNT_CAP`` (the answer says when it
did), and pages reach no further than that: a longer list is narrowed by date, actor or action first.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.audit.names import action_words, object_type_words
from app.auth.models import Role, StaffUser
from app.vietnam_time import VIETNAM

COUNT_CAP = 100_000
DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 500
# Who reads the log: auditors all of it; admins all entries, but the before/after details only of what they
# administer (a person's details are for the roles that read beneficiaries). Officers do not: the log is not
# filtered by province, and it is the record of their own work.
AUDIT_READERS = (Role.auditor, Role.admin)
ADMIN_DETAIL_TYPES = frozenset({"staff_user", "bank_api_key", "job_schedule", "audit_log"})
_MICROSECOND = timedelta(microseconds=1)


class AuditQueryError(ValueError):
    """A filter or page the log cannot be read with, said in Vietnamese and English."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(f"{vi} / {en}")
        self.vi, self.en = vi, en


@dataclass(frozen=True)
class AuditFilter:
    """Which entries: each field None when not filtered; ``since`` inclusive, ``until`` exclusive."""

    actor: str | None = None
    action: str | None = None
    object_type: str | None = None
    object_id: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[ColumnElement[bool]]:
        """The WHERE conditions of this filter."""
        found: list[ColumnElement[bool]] = []
        if self.actor is not None:
            found.append(AuditEntry.actor == self.actor)
        if self.action is not None:
            found.append(AuditEntry.action == self.action)
        if self.object_type is not None:
            found.append(AuditEntry.object_type == self.object_type)
        if self.object_id is not None:
            found.append(AuditEntry.object_id == self.object_id)
        if self.since is not None:
            found.append(AuditEntry.at >= self.since)
        if self.until is not None:
            found.append(AuditEntry.at < self.until)
        return found


def _blank_to_none(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def parse_moment(value: str, *, end: bool) -> datetime:
    """A ``from``/``to`` bound: a date (``YYYY-MM-DD``, a whole day in Việt Nam) or an ISO date-time (Việt
    Nam time when it names no offset). For ``to`` (``end``) the bound returned is exclusive: the day after a
    date, a microsecond after a date-time."""
    try:
        if len(value) == 10:
            day = date.fromisoformat(value)
            return datetime.combine(day + timedelta(days=1) if end else day, time(), VIETNAM)
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise AuditQueryError(f"Thời điểm không hợp lệ: {value!r} (YYYY-MM-DD hoặc YYYY-MM-DDTHH:MM)",
                              f"not a date or time: {value!r} (YYYY-MM-DD or YYYY-MM-DDTHH:MM)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=VIETNAM)
    return moment + _MICROSECOND if end else moment


def parse_filter(*, actor: str | None = None, action: str | None = None, object_type: str | None = None,
                 object_id: str | None = None, from_: str | None = None, to: str | None = None) -> AuditFilter:
    """The filter of an API call or a page's form (blank fields are no filter)."""
    object_type, object_id = _blank_to_none(object_type), _blank_to_none(object_id)
    if object_id is not None and object_type is None:
        raise AuditQueryError("Tìm theo mã đối tượng cần chọn cả loại đối tượng",
                              "object_id needs object_type as well")
    from_text, to_text = _blank_to_none(from_), _blank_to_none(to)
    since = parse_moment(from_text, end=False) if from_text else None
    until = parse_moment(to_text, end=True) if to_text else None
    if since is not None and until is not None and since >= until:
        raise AuditQueryError("Ngày bắt đầu phải trước ngày kết thúc", "from must come before to")
    return AuditFilter(actor=_blank_to_none(actor), action=_blank_to_none(action), object_type=object_type,
                       object_id=object_id, since=since, until=until)


def check_page(page: int, page_size: int) -> None:
    """Refuse a page outside 1..``MAX_PAGE_SIZE`` rows or beyond the first ``COUNT_CAP`` entries."""
    if page < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        raise AuditQueryError(f"page từ 1, page_size từ 1 đến {MAX_PAGE_SIZE}",
                              f"page must be 1 or more, page_size between 1 and {MAX_PAGE_SIZE}")
    if (page - 1) * page_size >= COUNT_CAP:
        cap_vi = f"{COUNT_CAP:,}".replace(",", ".")
        raise AuditQueryError(
            f"Chỉ xem được {cap_vi} dòng đầu của một danh sách; hãy thu hẹp theo ngày, người hoặc hành động",
            f"only the first {COUNT_CAP:,} entries of a list can be paged; narrow it by date, actor or action")


async def count_entries(session: AsyncSession, audit_filter: AuditFilter, *, cap: int = COUNT_CAP
                        ) -> tuple[int, bool]:
    """How many entries match, counting no further than ``cap``; (count, whether it stopped at the cap)."""
    matching = select(AuditEntry.id).where(*audit_filter.conditions()).limit(cap + 1).subquery()
    counted = int(await session.scalar(select(func.count()).select_from(matching)) or 0)
    return min(counted, cap), counted > cap


def _newest_first(audit_filter: AuditFilter) -> Any:
    return (select(AuditEntry).where(*audit_filter.conditions())
            .order_by(AuditEntry.at.desc(), AuditEntry.id.desc()))


async def entries_page(session: AsyncSession, audit_filter: AuditFilter, *, page: int,
                       page_size: int) -> list[AuditEntry]:
    """One page of matching entries, newest first (ties by id)."""
    check_page(page, page_size)
    query = _newest_first(audit_filter).offset((page - 1) * page_size).limit(page_size)
    return list((await session.scalars(query)).all())


async def stream_entries(session: AsyncSession, audit_filter: AuditFilter, *, limit: int
                         ) -> AsyncIterator[tuple[AuditEntry, str | None]]:
    """Matching entries newest first, at most ``limit``, read through a server-side cursor; each with its actor's
    full name when the actor is a staff user (None for a bank, the scheduler, ``system``)."""
    query = (_newest_first(audit_filter).add_columns(StaffUser.full_name)
             .outerjoin(StaffUser, StaffUser.username == AuditEntry.actor))
    result = await session.stream(query.limit(limit).execution_options(yield_per=2000))
    async for entry, full_name in result:
        yield entry, full_name


def shows_details(role: Role, object_type: str) -> bool:
    """Whether ``role`` sees an entry's before/after: auditors always, admins for what they administer."""
    return role == Role.auditor or object_type in ADMIN_DETAIL_TYPES


def entry_json(entry: AuditEntry, *, details: bool, actor_name: str | None = None) -> dict[str, Any]:
    """One entry for the API: codes, their words where named, details unless hidden for the caller; ``actor_name``
    the actor's full name when the actor is a staff user with one (None otherwise)."""
    action_vi, action_en = action_words(entry.action)
    type_vi, type_en = object_type_words(entry.object_type)
    return {
        "id": entry.id, "at": entry.at.isoformat(), "actor": entry.actor, "actor_name": actor_name,
        "actor_role": entry.actor_role,
        "action": entry.action, "action_vi": action_vi, "action_en": action_en,
        "object_type": entry.object_type, "object_type_vi": type_vi, "object_type_en": type_en,
        "object_id": entry.object_id,
        "before": entry.before if details else None, "after": entry.after if details else None,
        "details_hidden": not details and (entry.before is not None or entry.after is not None),
        "request_id": entry.request_id,
    }
