"""The audit log page: who did what, when (Vietnam time), to which object, with what before and after;
filtered as the API is, newest first, a page at a time, and the same list as Excel."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.models import AuditEntry
from app.audit.names import ACTION_NAMES, OBJECT_TYPE_NAMES, action_words, object_type_words
from app.audit.queries import (
    AUDIT_READERS,
    AuditQueryError,
    check_page,
    count_entries,
    entries_page,
    parse_filter,
    shows_details,
)
from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.names import staff_names
from app.payouts.routes import READERS as RUN_READERS
from app.reconciliation_api.routes import READERS as STATEMENT_READERS
from app.registry.routes import READERS as PERSON_READERS
from app.web.render import current_lang, page, page_count, pager
from app.web.uploads import UPLOAD_PAGE_READERS

PATH = "/audit"
PAGE_SIZE = 50
SCHEDULE_READERS = (Role.officer, Role.admin, Role.auditor)
UPLOAD_TYPES = ("statement_upload", "withdrawal_intake", "beneficiary_import")


@dataclass
class DetailRow:
    """One field of an entry's details: its value before and after (None where that side lacks it)."""

    name: str
    before: str | None
    after: str | None


@dataclass
class EntryView:
    """An entry as the page shows it."""

    entry: AuditEntry
    action_label: str | None
    object_label: str | None
    links: list[tuple[str, str]] = field(default_factory=list)  # (i18n key, url)
    history_url: str | None = None
    actor_url: str = ""
    details: list[DetailRow] = field(default_factory=list)
    details_hidden: bool = False
    has_before: bool = False
    has_after: bool = False


def _uuid(value: object) -> UUID | None:
    try:
        return UUID(str(value))
    except ValueError:
        return None


def readable(value: Any) -> str:
    """A detail's value as text: plain for scalars and lists of them, compact JSON for anything nested."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    if isinstance(value, list) and all(isinstance(item, str | int | float) for item in value):
        return ", ".join(str(item) for item in value) if value else "[]"
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=str)


def detail_rows(before: Any, after: Any) -> list[DetailRow]:
    """The fields of ``before`` and ``after`` side by side, in the order they first appear."""
    before_fields = before if isinstance(before, dict) else ({} if before is None else {"value": before})
    after_fields = after if isinstance(after, dict) else ({} if after is None else {"value": after})
    names = list(dict.fromkeys([*before_fields, *after_fields]))
    return [DetailRow(name, readable(before_fields[name]) if name in before_fields else None,
                      readable(after_fields[name]) if name in after_fields else None) for name in names]


def object_links(entry: AuditEntry, role: Role) -> list[tuple[str, str]]:
    """Pages about the entry's object that ``role`` may open: the run, the person, the statements, the user,
    the schedules, the kept file."""
    links: list[tuple[str, str]] = []
    kind, object_id = entry.object_type, entry.object_id
    if kind == "payout_run" and role in RUN_READERS and (run_id := _uuid(object_id)):
        links.append(("audit.link.run", f"/payout-runs/{run_id}"))
    if kind == "beneficiary" and role in PERSON_READERS and (person_id := _uuid(object_id)):
        links.append(("audit.link.person", f"/beneficiaries/{person_id}"))
    if kind == "statement_upload" and role in STATEMENT_READERS and isinstance(entry.after, dict):
        statements = entry.after.get("statements")
        for statement in statements if isinstance(statements, list) else []:
            if statement_id := _uuid(statement):
                links.append(("audit.link.statement", f"/statements/{statement_id}"))
    if kind in UPLOAD_TYPES and role in UPLOAD_PAGE_READERS and (upload_id := _uuid(object_id)):
        links.append(("audit.link.file", f"/api/uploads/{upload_id}"))
    if kind == "staff_user" and role == Role.admin and object_id and object_id.isdigit():
        links.append(("audit.link.user", f"/admin/users/{object_id}"))
    if kind == "job_schedule" and role in SCHEDULE_READERS:
        links.append(("audit.link.schedules", "/schedules"))
    return links


def entry_view(entry: AuditEntry, role: Role, lang: str) -> EntryView:
    """What the page shows of one entry, in ``lang``."""
    action_vi, action_en = action_words(entry.action)
    type_vi, type_en = object_type_words(entry.object_type)
    details = shows_details(role, entry.object_type)
    view = EntryView(
        entry=entry,
        action_label=action_en if lang == "en" else action_vi,
        object_label=type_en if lang == "en" else type_vi,
        links=object_links(entry, role),
        actor_url=f"{PATH}?{urlencode({'actor': entry.actor})}",
        details_hidden=not details and (entry.before is not None or entry.after is not None),
        has_before=entry.before is not None, has_after=entry.after is not None,
    )
    if entry.object_id is not None:
        view.history_url = f"{PATH}?{urlencode({'object_type': entry.object_type, 'object_id': entry.object_id})}"
    if details:
        view.details = detail_rows(entry.before, entry.after)
    return view


class AuditPages(Controller):
    path = PATH
    include_in_schema = False

    @get("/", guards=[requires(*AUDIT_READERS)])
    async def audit(self, request: Request[Any, Any, Any], db_session: AsyncSession, actor: str = "",
                    action: str = "", object_type: str = "", object_id: str = "",
                    from_: Annotated[str, Parameter(query="from")] = "", to: str = "",
                    page_number: int = 1) -> Response[Any]:
        """The audit log newest first, 50 a page, filtered by actor, action, object and dates."""
        principal = current_principal(request)
        assert principal is not None
        lang = current_lang(request)
        filters: dict[str, str | int] = {"actor": actor.strip(), "action": action.strip(),
                                         "object_type": object_type.strip(), "object_id": object_id.strip(),
                                         "from": from_.strip(), "to": to.strip()}
        context: dict[str, Any] = {
            "filters": filters, "entries": [], "error": None, "capped": False, "roles": [r.value for r in Role],
            "actions": sorted((code, en if lang == "en" else vi) for code, (vi, en) in ACTION_NAMES.items()),
            "object_types": sorted((code, en if lang == "en" else vi) for code, (vi, en) in OBJECT_TYPE_NAMES.items()),
            "export_url": "/api/audit?" + urlencode([*[(k, v) for k, v in filters.items() if v],
                                                     ("format", "xlsx")]),
        }
        try:
            audit_filter = parse_filter(actor=actor, action=action, object_type=object_type, object_id=object_id,
                                        from_=from_, to=to)
            check_page(max(page_number, 1), PAGE_SIZE)
        except AuditQueryError as exc:
            context["error"] = exc.en if lang == "en" else exc.vi
            context["pager"] = pager(PATH, filters, page=1, pages=1, total=0, page_size=PAGE_SIZE)
            return page(request, "audit/list.html", status_code=400, **context)
        page_number = max(page_number, 1)
        entries = await entries_page(db_session, audit_filter, page=page_number, page_size=PAGE_SIZE)
        total, capped = await count_entries(db_session, audit_filter)
        context.update(
            entries=[entry_view(entry, principal.role, lang) for entry in entries], capped=capped,
            who=await staff_names(db_session, [entry.actor for entry in entries]),
            pager=pager(PATH, filters, page=page_number, pages=page_count(total, PAGE_SIZE), total=total,
                        page_size=PAGE_SIZE))
        return page(request, "audit/list.html", **context)
