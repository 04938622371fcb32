"""The page of kept raw uploads (statement files, banks' withdrawal activity, registry imports) for officers
and auditors, each with a link to the file as it was received (``/api/uploads/{id}``, audited)."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import requires
from app.auth.models import Role
from app.auth.names import staff_names
from app.http.paging import page_window
from app.uploads_api.service import KINDS, list_uploads
from app.web.render import page, page_count, pager

PATH = "/uploads"
PAGE_SIZE = 100
KIND_KEYS = {"statement": "uploads.kind.statement", "withdrawals": "uploads.kind.withdrawals",
             "registry": "uploads.kind.registry"}
STATUS_KEYS = {"accepted": "uploads.status.accepted", "rejected": "uploads.status.rejected",
               "applied": "uploads.status.applied"}
# The roles that download uploads (``app.uploads_api.routes.UPLOAD_READERS`` less the banks' keys).
UPLOAD_PAGE_READERS = (Role.officer, Role.auditor)


class UploadPages(Controller):
    path = PATH
    include_in_schema = False

    @get("/", guards=[requires(*UPLOAD_PAGE_READERS)])
    async def uploads(self, request: Request[Any, Any, Any], db_session: AsyncSession, kind: str = "",
                      page_number: int = 1) -> Response[Any]:
        """Every kept upload, newest first, 100 a page, of one kind or all."""
        chosen = kind if kind in KINDS else None
        page_number = page_window(page_number, PAGE_SIZE)[0]
        items, total = await list_uploads(db_session, kind=chosen, page=page_number, page_size=PAGE_SIZE)
        pages = page_count(total, PAGE_SIZE)
        return page(request, "uploads/list.html", uploads=items, kind=chosen or "", kinds=KINDS,
                    who=await staff_names(db_session, [item.uploaded_by for item in items]),
                    kind_keys=KIND_KEYS, status_keys=STATUS_KEYS,
                    pager=pager(PATH, {"kind": chosen or ""}, page=page_number, pages=pages, total=total,
                                page_size=PAGE_SIZE))
