"""Statement pages: upload with a progress bar (and a dry run) and per-line results (the exceptions
queue is ``app.web.exceptions``)."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.names import staff_names
from app.http.problems import Problem, bilingual
from app.reconciliation_api import resolution
from app.reconciliation_api.importer import import_statement_file
from app.reconciliation_api.routes import READERS
from app.registry.models import Bank
from app.web.forms import form_text
from app.web.i18n import translate
from app.web.render import current_lang, page, see_other
from app.web.templating import vnd
from app.web.uploads import UPLOAD_PAGE_READERS

LINE_STATUS_KEYS = {"matched": "statements.line.matched", "returned": "statements.line.returned",
                    "exception": "statements.line.exception", "ignored": "statements.line.ignored",
                    "fee": "statements.line.fee"}
RULE_KEYS = {"reference": "statements.rule.reference", "return": "statements.rule.return",
             "bulk": "statements.rule.bulk", "account_amount_date": "statements.rule.account_amount_date",
             "funding": "statements.rule.funding", "manual_match": "statements.rule.manual",
             "bank_fee": "statements.rule.bank_fee", "ignore": "statements.rule.ignore"}
LABELS: dict[str, Any] = {"line_status_keys": LINE_STATUS_KEYS, "rule_keys": RULE_KEYS}


def may_download(request: Request[Any, Any, Any]) -> bool:
    """Whether the caller gets the kept files (``/api/uploads``): officers and auditors, not admins."""
    principal = current_principal(request)
    return principal is not None and principal.role in UPLOAD_PAGE_READERS


async def bank_list(session: AsyncSession) -> list[Any]:
    """Banks by short name, for the bank choices of a form."""
    return list((await session.execute(select(Bank.bin, Bank.short_name).order_by(Bank.short_name))).all())


def _day(value: str) -> str:
    return date.fromisoformat(value).strftime("%d/%m/%Y")


def gap_notes(gap: dict[str, Any] | None) -> list[tuple[str, dict[str, str]]]:
    """What a statement's break against the account's previous one says, as page text keys with their values:
    the balance it opens with against the one the previous closed with, and the days no statement covers."""
    if not gap:
        return []
    notes: list[tuple[str, dict[str, str]]] = []
    if gap.get("expected_opening_balance") is not None:
        notes.append(("statements.gap.balance", {
            "opening": vnd(gap.get("opening_balance")), "expected": vnd(gap["expected_opening_balance"]),
            "difference": vnd(abs(int(gap.get("difference") or 0)))}))
    if gap.get("missing_from") and gap.get("missing_to"):
        notes.append(("statements.gap.days", {"start": _day(gap["missing_from"]), "end": _day(gap["missing_to"])}))
    return notes


async def _list_page(request: Request[Any, Any, Any], session: AsyncSession, *, status_code: int = 200,
                     outcome: Any = None, error: str | None = None, filename: str | None = None) -> Response[Any]:
    rows = await session.execute(text(
        """SELECT s.id, s.bank_bin, b.short_name, s.statement_id, s.account, s.format, s.opening_date,
                  s.closing_date, s.line_count, s.gap, s.duplicate_of, s.uploaded_by, s.uploaded_at, s.upload_id,
                  u.filename,
                  (SELECT count(*) FROM statement_line l WHERE l.statement_id = s.id
                      AND l.status = 'exception' AND l.resolved_at IS NULL) AS open_exceptions
             FROM bank_statement s JOIN bank b ON b.bin = s.bank_bin
                  JOIN statement_upload u ON u.id = s.upload_id
            ORDER BY s.uploaded_at DESC, s.position LIMIT 100"""))
    open_count = await session.scalar(text(
        "SELECT count(*) FROM statement_line WHERE resolved_at IS NULL AND status IN ('exception', 'returned')"))
    principal = current_principal(request)
    statements = list(rows)
    return page(request, "statements/list.html", status_code=status_code, statements=statements,
                who=await staff_names(session, [row.uploaded_by for row in statements]),
                banks=await bank_list(session), open_count=int(open_count or 0), outcome=outcome, error=error,
                filename=filename, may_upload=principal is not None and principal.role == Role.officer,
                may_download=may_download(request), **LABELS)


class StatementPages(Controller):
    path = "/statements"
    include_in_schema = False

    @get("/", guards=[requires(*READERS)])
    async def statements(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Uploaded statements, newest first, and the upload form."""
        return await _list_page(request, db_session)

    @post("/", guards=[requires(Role.officer)], request_max_body_size=200 * 1024 * 1024)
    async def upload(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Upload a bank's statement on its behalf: the match counts, or why it was rejected."""
        form = await request.form()
        upload = form.get("file")
        bank_bin = form_text(form, "bank")
        dry_run = form_text(form, "dry_run") == "1"
        lang = current_lang(request)
        if not isinstance(upload, UploadFile) or not upload.filename:
            return await _list_page(request, db_session, status_code=422,
                                    error=translate("statements.error.file", lang))
        if bank_bin not in {bank.bin for bank in await bank_list(db_session)}:
            return await _list_page(request, db_session, status_code=422,
                                    error=translate("statements.error.bank", lang))
        principal = current_principal(request)
        assert principal is not None
        data = await upload.read()
        outcome = await import_statement_file(db_session, data=data, filename=upload.filename, bank_bin=bank_bin,
                                              actor=principal.name, dry_run=dry_run)
        if outcome.kind in ("rejected", "forbidden"):
            if not dry_run:
                await db_session.commit()  # the rejected upload is kept
            return await _list_page(request, db_session, status_code=422 if outcome.kind == "rejected" else 403,
                                    outcome=outcome, filename=upload.filename,
                                    error=outcome.message_en if lang == "en" else outcome.message_vi)
        if outcome.kind == "created" and len(outcome.statements) == 1:
            return see_other(f"/statements/{outcome.statement_id}?uploaded=1")
        if outcome.content_differs:  # statement ids imported before, from another file: nothing applied, kept
            return await _list_page(request, db_session, outcome=outcome, filename=upload.filename,
                                    error=outcome.message_en if lang == "en" else outcome.message_vi)
        return await _list_page(request, db_session, outcome=outcome, filename=upload.filename)

    @get("/{statement_id:uuid}", guards=[requires(*READERS)])
    async def detail(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                     statement_id: UUID) -> Response[Any]:
        """One statement: balances, gap, and every line with its status and the rule that matched."""
        row = (await db_session.execute(text(
            """SELECT s.*, b.short_name, u.filename FROM bank_statement s JOIN bank b ON b.bin = s.bank_bin
                 JOIN statement_upload u ON u.id = s.upload_id WHERE s.id = :id"""), {"id": statement_id})).first()
        if row is None:
            raise Problem(404, bilingual("Không tìm thấy sao kê", "statement not found"))
        # The statements this one points at: the previous one of the account (its gap) and, for a statement
        # imported twice before migration 0037, the first copy.
        linked = {r.id: r for r in await db_session.execute(text(
            """SELECT s.id, s.statement_id, s.opening_date, s.closing_date, u.filename
                 FROM bank_statement s JOIN statement_upload u ON u.id = s.upload_id
                WHERE s.id = ANY(:ids)"""),
            {"ids": [i for i in (row.previous_statement, row.duplicate_of) if i is not None]})}
        lines = await resolution.statement_lines(db_session, statement_id)
        counts: dict[str, int] = {}
        for line in lines:
            counts[line["status"]] = counts.get(line["status"], 0) + 1
        previous_id = (row.gap or {}).get("previous_statement") or row.previous_statement
        previous = linked.get(UUID(str(previous_id))) if previous_id else None
        return page(request, "statements/detail.html", statement=row, lines=lines[:5000], total_lines=len(lines),
                    counts=counts, uploaded=request.query_params.get("uploaded") == "1",
                    gap_notes=gap_notes(row.gap), previous=previous, previous_id=previous_id,
                    first_copy=linked.get(row.duplicate_of) if row.duplicate_of else None,
                    may_download=may_download(request), **LABELS)
