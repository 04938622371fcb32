"""HTTP API of reconciliation: statement upload and reads, the exceptions queue and its resolutions, flags."""

from __future__ import annotations

from typing import Annotated, Any
from uuid import UUID

import msgspec
from litestar import Request, Response, get, post
from litestar.datastructures import UploadFile
from litestar.openapi import ResponseSpec
from litestar.params import Parameter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.service import Principal
from app.http.openapi import documented, one_of, upload_body
from app.http.paging import Page, PageSize, page_window
from app.http.problems import Problem, bilingual
from app.payouts.service.errors import PayoutError
from app.reconciliation_api import blocks as block_service
from app.reconciliation_api import flags as flag_service
from app.reconciliation_api import resolution
from app.reconciliation_api.importer import ImportOutcome, import_statement_file
from app.registry.service.beneficiaries import load_beneficiary

READERS = (Role.officer, Role.auditor, Role.admin)


class ResolveInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    action: str
    payout_id: UUID | None = None
    bank_account_id: int | None = None
    note: str | None = None
    reason: str | None = None


class DismissInput(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    reason: str | None = None
    note: str | None = None


def _principal(request: Request[Any, Any, Any]) -> Principal:
    principal = current_principal(request)
    assert principal is not None  # guards ran
    return principal


def _problem(error: PayoutError) -> Problem:
    return Problem(error.status, bilingual(error.vi, error.en), extra=error.extra or None)


async def _bank_of(db_session: AsyncSession, principal: Principal, bank: str | None) -> str:
    """The bank a call acts for: a bank key its own BIN only; an officer names one with ?bank=."""
    if principal.role == Role.bank:
        assert principal.bank_bin is not None
        if bank is not None and bank != principal.bank_bin:
            raise Problem(403, bilingual("Khoá API chỉ dùng cho ngân hàng của nó",
                                         "an API key acts for its own bank only"))
        return principal.bank_bin
    if not bank:
        raise Problem(400, bilingual("Cần chọn ngân hàng (?bank=BIN)", "name the bank (?bank=BIN)"))
    if not await db_session.scalar(text("SELECT 1 FROM bank WHERE bin = :bin"), {"bin": bank}):
        raise Problem(404, bilingual(f"Không có ngân hàng {bank}", f"no bank {bank}"))
    return bank


FORM_MEDIA_TYPES = ("multipart/form-data", "application/x-www-form-urlencoded")


async def _upload_content(request: Request[Any, Any, Any]) -> tuple[bytes, str | None]:
    media_type = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    if media_type in FORM_MEDIA_TYPES:  # a form carries the statement in its 'file' field, never in its body
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile):
            raise Problem(400, bilingual("Thiếu tệp (trường 'file')", "the 'file' field is missing"))
        return await upload.read(), upload.filename
    data = await request.body()
    name = request.headers.get("x-filename") or request.query_params.get("filename")
    return data, name


def _outcome_response(outcome: ImportOutcome) -> Response[Any]:
    if outcome.kind == "forbidden":
        raise Problem(403, bilingual(outcome.message_vi, outcome.message_en),
                      extra={"upload_id": str(outcome.upload_id) if outcome.upload_id else None})
    if outcome.kind == "rejected":
        # {row, column, message (Vietnamese), message_en} as every other rejected file and body
        raise Problem(422, bilingual(outcome.message_vi, outcome.message_en), errors=[dict(e) for e in outcome.errors],
                      extra={"upload_id": str(outcome.upload_id) if outcome.upload_id else None,
                             "total_errors": outcome.total_errors})
    return Response(outcome.as_dict(), status_code=201 if outcome.kind == "created" else 200)


STATEMENT_BODY = upload_body(
    "The statement: multipart/form-data with the field `file`, or the file itself as the body (its name in the "
    "X-Filename header or ?filename=).",
    file="a statement of the disbursement account: xlsx, csv, MT940 (.sta, .txt, .940) or camt.053/.054 (.xml)")


@post("/api/bank/statements", guards=[requires(Role.bank, Role.officer)], tags=["bank"], status_code=201,
      operation_class=documented(request_body=STATEMENT_BODY), opt={"problems": (404, 413, 422)},
      responses={200: ResponseSpec(data_container=dict[str, Any], generate_examples=False, description=(
          "Already imported (the same file, statement id or content): the existing `statement_id` with "
          "`already_imported: true`, `already_imported_by` and a `message`, nothing applied; or a dry run's "
          "answer (`dry_run: true`, `results`)"))},
      response_description="Imported: the match counts (200 with `already_imported: true` when the file, "
                           "statement id or content was imported before; `dry_run`: what would happen)")
async def upload_statement(
    request: Request[Any, Any, Any], db_session: AsyncSession,
    bank: Annotated[str | None, Parameter(description="officers only: the bank's BIN (a bank key acts for its "
                                                      "own BIN)")] = None,
    dry_run: Annotated[bool, Parameter(description="check and match without storing or applying anything; the "
                                                   "answer lists what each line would do (`results`)")] = False,
) -> Response[Any]:
    """Upload a statement of the bank's disbursement account (multipart ``file`` or the raw body):
    xlsx, csv, MT940 or camt.053. 201 with match counts ``{statement_id, lines, matched, returned, exceptions}``;
    the same file, statement id or statement content (in any format) again: 200 with the existing
    ``statement_id``, ``already_imported: true``, ``already_imported_by`` (file, statement_id or content) and a
    ``message``, nothing applied; ``dry_run=true``: 200 with what each line would do, nothing stored; invalid
    (including an empty or unreadable file): 422 with every bad row in ``errors`` (``{row, column, message,
    message_en}``), nothing applied (the upload is kept). A bank key acts for its own accounts only (403)."""
    principal = _principal(request)
    bank_bin = await _bank_of(db_session, principal, bank)
    data, filename = await _upload_content(request)  # an empty file is refused (422) as any unreadable one
    outcome = await import_statement_file(db_session, data=data, filename=filename, bank_bin=bank_bin,
                                          actor=principal.name, dry_run=dry_run)
    if outcome.kind in ("rejected", "forbidden") and not dry_run:
        await db_session.commit()  # keep the rejected upload: the 4xx below rolls back only what follows
    return _outcome_response(outcome)


async def _statement_list(db_session: AsyncSession, bank: str | None, page: int, page_size: int) -> dict[str, Any]:
    page, page_size = page_window(page, page_size, most=500)
    params = {"bank": bank, "limit": page_size, "offset": (page - 1) * page_size}
    where = "WHERE s.bank_bin = :bank" if bank else ""
    total = await db_session.scalar(text(f"SELECT count(*) FROM bank_statement s {where}"), params)  # noqa: S608
    rows = await db_session.execute(text(
        f"""SELECT s.id, s.bank_bin, s.account, s.statement_id, s.format, s.opening_balance, s.closing_balance,
                   s.opening_date, s.closing_date, s.line_count, s.gap, s.uploaded_by, s.uploaded_at, u.filename,
                   s.upload_id
              FROM bank_statement s JOIN statement_upload u ON u.id = s.upload_id {where}
             ORDER BY s.uploaded_at DESC, s.position LIMIT :limit OFFSET :offset"""), params)  # noqa: S608
    items = [{"id": str(r.id), "bank_bin": r.bank_bin, "account": r.account, "bank_statement_id": r.statement_id,
              "format": r.format, "opening_balance": r.opening_balance, "closing_balance": r.closing_balance,
              "opening_date": r.opening_date, "closing_date": r.closing_date, "lines": r.line_count, "gap": r.gap,
              "filename": r.filename, "uploaded_by": r.uploaded_by, "uploaded_at": r.uploaded_at,
              "upload_id": str(r.upload_id), "upload_url": f"/api/uploads/{r.upload_id}"} for r in rows]
    return {"items": items, "total": int(total or 0), "page": page, "page_size": page_size}


@get("/api/bank/statements", guards=[requires(Role.bank)], tags=["bank"], opt={"problems": ()})
async def bank_statements(request: Request[Any, Any, Any], db_session: AsyncSession, page: Page = 1,
                          page_size: PageSize = 100) -> dict[str, Any]:
    """The calling bank's statements, newest first."""
    return await _statement_list(db_session, _principal(request).bank_bin, page, page_size)


@get("/api/statements", guards=[requires(*READERS)], tags=["reconciliation"])
async def all_statements(db_session: AsyncSession, bank: str | None = None, page: Page = 1,
                         page_size: PageSize = 100) -> dict[str, Any]:
    """Every bank's statements (or one bank's), newest first."""
    return await _statement_list(db_session, bank, page, page_size)


@get("/api/statements/{statement_id:uuid}", guards=[requires(*READERS, Role.bank)], tags=["reconciliation"])
async def statement_detail(request: Request[Any, Any, Any], db_session: AsyncSession,
                           statement_id: UUID) -> dict[str, Any]:
    """One statement with every line's match status, rule and payouts (a bank: its own only)."""
    principal = _principal(request)
    row = (await db_session.execute(text(
        """SELECT s.*, u.filename FROM bank_statement s JOIN statement_upload u ON u.id = s.upload_id
            WHERE s.id = :id"""), {"id": statement_id})).first()
    if row is None or principal.role == Role.bank and row.bank_bin != principal.bank_bin:
        raise Problem(404, bilingual("Không tìm thấy sao kê", "statement not found"))
    lines = await resolution.statement_lines(db_session, statement_id)
    counts: dict[str, int] = {}
    for line in lines:
        counts[line["status"]] = counts.get(line["status"], 0) + 1
    return {"id": str(row.id), "bank_bin": row.bank_bin, "account": row.account, "bank_statement_id": row.statement_id,
            "format": row.format, "currency": row.currency, "opening_balance": row.opening_balance,
            "closing_balance": row.closing_balance, "opening_date": row.opening_date,
            "closing_date": row.closing_date, "gap": row.gap, "filename": row.filename,
            "duplicate_of": str(row.duplicate_of) if row.duplicate_of else None,
            "uploaded_by": row.uploaded_by, "uploaded_at": row.uploaded_at, "upload_id": str(row.upload_id),
            "upload_url": f"/api/uploads/{row.upload_id}", "counts": counts, "lines": lines}


@get("/api/reconciliation/exceptions", guards=[requires(*READERS)], tags=["reconciliation"])
async def exceptions(db_session: AsyncSession,
                     status: Annotated[str, one_of("open", "resolved", "all")] = "open", bank: str | None = None, order: str = "oldest",
                     page: Page = 1, page_size: PageSize = 100) -> dict[str, Any]:
    """Unmatched lines and returns awaiting an officer (``status=open``), or resolved, or all; ``order``
    oldest (booked first, the default) or newest."""
    try:
        return await resolution.list_exceptions(db_session, status=status, bank=bank, order=order, page=page,
                                                page_size=page_size)
    except PayoutError as error:
        raise _problem(error) from None


@post("/api/reconciliation/exceptions/{line_id:int}/resolve", guards=[requires(Role.officer)],
      tags=["reconciliation"], status_code=200)
async def resolve_exception(request: Request[Any, Any, Any], db_session: AsyncSession, line_id: int,
                            data: ResolveInput) -> dict[str, Any]:
    """Resolve a line: manual_match (payout_id), bank_fee, ignore (note = reason), and for a returned payout
    reissue (bank_account_id) or close_without_reissue (reason required; nobody is paid again)."""
    try:
        return await resolution.resolve_line(db_session, line_id, action=data.action, actor=_principal(request).name,
                                             note=data.note or data.reason, payout_id=data.payout_id,
                                             bank_account_id=data.bank_account_id)
    except PayoutError as error:
        raise _problem(error) from None


@get("/api/reconciliation/flags", guards=[requires(*READERS)], tags=["reconciliation"])
async def flags(db_session: AsyncSession, status: str = "open", page: Page = 1, page_size: PageSize = 100) -> dict[str, Any]:
    """Beneficiaries a bank reported deceased (return reason MD07): open (default), resolved or all."""
    try:
        return await flag_service.list_flags(db_session, status=status, page=page, page_size=page_size)
    except PayoutError as error:
        raise _problem(error) from None


@post("/api/reconciliation/flags/{flag_id:int}/dismiss", guards=[requires(Role.officer)], tags=["reconciliation"],
      status_code=200)
async def dismiss_flag(request: Request[Any, Any, Any], db_session: AsyncSession, flag_id: int,
                       data: DismissInput) -> dict[str, Any]:
    """Dismiss a flag the bank raised in error (reason required). A real death is recorded instead with
    ``POST /api/beneficiaries/{id}/events {"kind": "deceased", ...}``, which closes the flag."""
    try:
        return await flag_service.dismiss_flag(db_session, flag_id, actor=_principal(request).name,
                                               reason=data.reason or data.note)
    except PayoutError as error:
        raise _problem(error) from None


@get("/api/bank-account-blocks", guards=[requires(*READERS)], tags=["reconciliation"])
async def account_blocks(db_session: AsyncSession, status: str = "open", beneficiary_id: UUID | None = None,
                         bank: str | None = None, page: int = 1, page_size: int = 100) -> dict[str, Any]:
    """Account numbers a bank refused (a return saying the account cannot receive money), oldest first: open
    (default: runs hold their holders and registering the number is refused), released or all."""
    try:
        return await block_service.list_blocks(db_session, status=status, beneficiary_id=beneficiary_id, bank=bank,
                                               page=page, page_size=page_size)
    except PayoutError as error:
        raise _problem(error) from None


@post("/api/bank-account-blocks/{block_id:int}/release", guards=[requires(Role.officer)], tags=["reconciliation"],
      status_code=200)
async def release_account_block(request: Request[Any, Any, Any], db_session: AsyncSession, block_id: int,
                                data: DismissInput) -> dict[str, Any]:
    """Release a block once the bank confirms the account can receive money again (reason required, audited):
    the number may be registered again and the next run pays its holder, with the months held back. A death
    the bank reported (MD07) is dismissed or recorded in the exceptions queue instead."""
    principal = _principal(request)
    try:
        block = await block_service.get_block(db_session, block_id)
        await load_beneficiary(db_session, UUID(block["beneficiary_id"]), principal)  # 404 outside their provinces
        return await block_service.release_block(db_session, block_id, actor=principal.name,
                                                 actor_role=principal.role.value, reason=data.reason or data.note)
    except PayoutError as error:
        raise _problem(error) from None


route_handlers = [upload_statement, bank_statements, all_statements, statement_detail, exceptions,
                  resolve_exception, flags, dismiss_flag, account_blocks, release_account_block]
