"""HTTP API of the audit log: the filtered list newest first, or the same list as an Excel file."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import structlog
from litestar import Request, Response, get
from litestar.params import Parameter
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.export import audit_xlsx
from app.audit.queries import (
    AUDIT_READERS,
    DEFAULT_PAGE_SIZE,
    AuditFilter,
    AuditQueryError,
    count_entries,
    entries_page,
    entry_json,
    parse_filter,
    shows_details,
)
from app.audit.service import record
from app.auth.guards import current_principal, requires
from app.auth.names import staff_label, staff_names
from app.auth.service import Principal
from app.http.downloads import attachment
from app.http.problems import Problem, bilingual
from app.vietnam_time import VIETNAM

log = structlog.get_logger()
XLSX_MEDIA_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = current_principal(request)
    assert principal is not None  # guards ran
    return principal


def filter_from_query(*, actor: str | None, action: str | None, object_type: str | None, object_id: str | None,
                      from_: str | None, to: str | None) -> AuditFilter:
    """The filter of a request, or 400 saying what is wrong with it."""
    try:
        return parse_filter(actor=actor, action=action, object_type=object_type, object_id=object_id,
                            from_=from_, to=to)
    except AuditQueryError as exc:
        raise Problem(400, bilingual(exc.vi, exc.en)) from None


def filter_json(audit_filter: AuditFilter) -> dict[str, Any]:
    """The filter as the export's audit entry records it."""
    return {"actor": audit_filter.actor, "action": audit_filter.action, "object_type": audit_filter.object_type,
            "object_id": audit_filter.object_id,
            "from": audit_filter.since.isoformat() if audit_filter.since else None,
            "to": audit_filter.until.isoformat() if audit_filter.until else None}


@get("/api/audit", guards=[requires(*AUDIT_READERS)], tags=["audit"])
async def audit_log(
    request: Request[Any, Any, Any], db_session: AsyncSession,
    actor: str | None = None, action: str | None = None, object_type: str | None = None,
    object_id: str | None = None,
    from_: Annotated[str | None, Parameter(query="from", description="YYYY-MM-DD (Vietnam day) or ISO time")] = None,
    to: Annotated[str | None, Parameter(description="YYYY-MM-DD (inclusive) or ISO time")] = None,
    page: int = 1, page_size: int = DEFAULT_PAGE_SIZE,
    format: str = "json",  # noqa: A002 - the API's parameter name
) -> Response[Any]:
    """Audited actions, newest first, filtered by actor, action, object (type, and id) and time.

    ``{items, total, page, page_size, total_capped}``: ``total`` stops at 100,000 (``total_capped`` true),
    and pages reach no further. Auditors see every entry's ``before``/``after``; admins those of users, API
    keys and schedules only (``details_hidden``). ``format=xlsx``: the filtered list as one sheet (the newest
    50,000), itself audited as ``audit.export``."""
    if format not in ("json", "xlsx"):
        raise Problem(400, bilingual("Định dạng phải là json hoặc xlsx", "format must be json or xlsx"))
    principal = _principal(request)
    audit_filter = filter_from_query(actor=actor, action=action, object_type=object_type, object_id=object_id,
                                     from_=from_, to=to)
    if format == "xlsx":
        content, rows = await audit_xlsx(db_session, audit_filter, role=principal.role,
                                         made_by=staff_label(principal.name, principal.full_name))
        await record(db_session, actor=principal.name, actor_role=principal.role.value, action="audit.export",
                     object_type="audit_log", after={"filter": filter_json(audit_filter), "rows": rows})
        log.info("audit_exported", rows=rows)
        made = datetime.now(UTC).astimezone(VIETNAM)
        return Response(content, media_type=XLSX_MEDIA_TYPE, headers={
            "Content-Disposition": attachment(f"nhat-ky-kiem-toan-{made:%Y%m%d-%H%M}.xlsx"),
            "Cache-Control": "no-store"})
    try:
        items = await entries_page(db_session, audit_filter, page=page, page_size=page_size)
    except AuditQueryError as exc:
        raise Problem(400, bilingual(exc.vi, exc.en)) from None
    total, capped = await count_entries(db_session, audit_filter)
    names = await staff_names(db_session, [entry.actor for entry in items])
    return Response({"items": [entry_json(entry, details=shows_details(principal.role, entry.object_type),
                                          actor_name=names.full_names.get(entry.actor))
                               for entry in items],
                     "total": total, "page": page, "page_size": page_size, "total_capped": capped})


ROUTES = [audit_log]
