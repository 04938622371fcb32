"""HTTP API of payout runs, funding and payment orders."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Annotated, Any
from uuid import UUID

import msgspec
import structlog
from litestar import Controller, Request, Response, get, post
from litestar.datastructures import ResponseHeader, State
from litestar.params import Parameter
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import record
from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.background import spawn
from app.database import session_scope
from app.http.openapi import XLSX, documented, one_of
from app.http.paging import Page, PageSize
from app.http.problems import Problem, bilingual
from app.payouts.models import PAYOUT_STATUSES, RUN_STATUSES, PayoutRun
from app.payouts.order_files import PaymentOrder
from app.payouts.schemas import (
    CancelInput,
    CashReturnInput,
    FundingInput,
    FundingOutput,
    FundingReversal,
    FundingReversalInput,
    Progress,
    RunInput,
    RunOutput,
)
from app.payouts.service import orders as order_service
from app.payouts.service import unpaid as unpaid_service
from app.payouts.service.cash import NO_SUCH_PAYOUT, cash_payout, return_cash
from app.payouts.service.compute import compute_run, compute_size
from app.payouts.service.errors import PayoutError, RunStateConflict, bank_funding_refusal, whole_run_refusal
from app.payouts.service.funding import record_funding, reverse_funding
from app.payouts.service.history import list_payouts
from app.payouts.service.ledger_steps import approve_run, funding_shortfalls, send_run, shortfall_conflict
from app.payouts.service.runs import (
    busy_conflict,
    cancel_reason,
    cancel_run,
    check_approvable,
    check_cancellable,
    check_computable,
    check_no_live_supplementary,
    check_sendable,
    create_run,
    format_period,
    get_run,
    list_runs,
    province_names,
    run_is_busy,
    run_summary,
    scope_line,
)
from app.payouts.service.settlement import close_run, settle_runs
from app.registry.scope import commune_in_scope, masks_identifiers
from app.reports_api.routes import scope_of

log = structlog.get_logger()

# Steps of runs with at most ``Settings.payout_sync_limit`` payouts (before computing: ``compute_size``)
# are processed within the request (200); bigger ones answer 202 and report progress on
# GET /api/payout-runs/{id}.
READERS = (Role.officer, Role.approver, Role.auditor, Role.admin)


def province_limit(request: Request[Any, Any, Any]) -> tuple[str, ...] | None:
    """The provinces whose people a province-limited caller sees of a run; None: the whole run."""
    principal = current_principal(request)
    return tuple(principal.provinces) if principal is not None and principal.is_province_scoped else None


async def refuse_province_limited(request: Request[Any, Any, Any], session: AsyncSession) -> None:
    """403 for a province-limited caller: a run pays its programme's people in every province, so preparing,
    computing, approving, sending, cancelling or closing it is for staff without a province limit."""
    provinces = province_limit(request)
    if provinces is not None:
        raise Problem(403, bilingual(*whole_run_refusal(provinces, await province_names(session, provinces))))


async def refuse_bank_funding_province_limited(request: Request[Any, Any, Any], session: AsyncSession) -> None:
    """403 for a province-limited caller recording or reversing a bank's funding: the money at a bank pays
    every province's payouts there (a commune's cash stays theirs, within their provinces)."""
    provinces = province_limit(request)
    if provinces is not None:
        raise Problem(403, bilingual(*bank_funding_refusal(provinces, await province_names(session, provinces))))


# A pain.001 of a run is a bank's batch: every province's orders at the bank, handed out once (README).
BATCH_NOT_IN_SCOPE = (
    "Tệp pain.001 là lô lệnh chi để ngân hàng thực hiện, gồm lệnh của mọi tỉnh: chỉ cán bộ không giới hạn tỉnh mới "
    "lấy được lô của ngân hàng. Bảng kê Excel/CSV các lệnh trong phạm vi của bạn vẫn tải được",
    "a pain.001 is the bank's payment order batch, with every province's orders: only an officer without a "
    "province limit can take the bank's batch. The Excel/CSV lists of the orders within your scope are still there")


def problem(error: PayoutError) -> Problem:
    return Problem(error.status, bilingual(error.vi, error.en), extra=error.extra or None)


def run_output(run: PayoutRun, summary: Any = None) -> RunOutput:
    rate = None
    if run.phase is not None and run.progress_started_at is not None and run.progress_done:  # while it runs
        from app.payouts.service.runs import utcnow

        elapsed = (utcnow() - run.progress_started_at).total_seconds()
        rate = round(run.progress_done / elapsed, 1) if elapsed > 0 else None
    output = RunOutput(
        id=run.id, programme=run.programme_code, period=format_period(run.period), kind=run.kind, status=run.status,
        arrears_from=format_period(run.arrears_from), created_by=run.created_by, prepared_by=run.prepared_by,
        approved_by=run.approved_by, sent_by=run.sent_by, created_at=run.created_at, computed_at=run.computed_at,
        approved_at=run.approved_at, sent_at=run.sent_at,
        progress=Progress(phase=run.phase, done=run.progress_done, total=run.progress_total, rate_per_second=rate),
        count=run.payout_count, total_amount=run.total_amount, last_error=run.last_error,
        cancelled_by=run.cancelled_by, cancelled_at=run.cancelled_at, cancel_reason=run.cancel_reason,
        settled_at=run.settled_at, closed_at=run.closed_at, closed_by=run.closed_by,
    )
    if summary is not None:
        output.scope = summary.scope
        output.by_bank, output.by_commune = summary.by_bank, summary.by_commune
        output.by_status, output.skipped, output.skipped_count = summary.by_status, summary.skipped, \
            summary.skipped_count
        output.held, output.held_count = summary.held, summary.held_count
        output.withheld, output.withheld_count = summary.withheld, summary.withheld_count
        output.open_items = summary.open_items
    return output


async def _record_error(engine: AsyncEngine, run_id: UUID, error: BaseException) -> None:
    message = bilingual(error.vi, error.en) if isinstance(error, PayoutError) else f"{type(error).__name__}: {error}"
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout_run SET last_error = :error WHERE id = :run"),
                              {"error": message[:2000], "run": run_id})


async def _execute(state: State, run_id: UUID, size: int, name: str,
                   work: Callable[[], Awaitable[None]]) -> int:
    """Run ``work`` now (small runs) or after the response (large ones); returns the status code."""
    engine: AsyncEngine = state.engine
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout_run SET last_error = NULL WHERE id = :run"), {"run": run_id})
    if size <= state.settings.payout_sync_limit:
        try:
            await work()
        except PayoutError as error:
            raise problem(error) from None
        return 200

    async def in_background() -> None:
        try:
            await work()
        except RunStateConflict as error:
            # The run was checked before answering 202, so another request moved it on (or holds its work
            # lock) in between: the run's state is that request's outcome and nothing of this step
            # happened. Not the run's error: a stored one would stay on its page as a banner.
            log.warning("payout_step_superseded", step=name, run=str(run_id), reason=error.en)

    async def on_error(error: BaseException) -> None:
        await _record_error(engine, run_id, error)

    spawn(in_background(), name=f"{name}:{run_id}", on_error=on_error)
    return 202


async def _fresh_output(engine: AsyncEngine, run_id: UUID) -> RunOutput:
    async with session_scope(engine) as session:
        return run_output(await get_run(session, run_id), await run_summary(session, run_id))


async def _compute_check(session: AsyncSession, run: PayoutRun, actor: str, **options: Any) -> int:
    check_computable(run)
    return await compute_size(session, run)


async def _approve_check(session: AsyncSession, run: PayoutRun, actor: str, **options: Any) -> int:
    check_approvable(run, actor)
    return run.payout_count


async def _send_check(session: AsyncSession, run: PayoutRun, actor: str, **options: Any) -> int:
    check_sendable(run)
    shortfalls = await funding_shortfalls(session, run.id)
    if shortfalls:
        raise shortfall_conflict(shortfalls)
    return run.payout_count


async def _cancel_check(session: AsyncSession, run: PayoutRun, actor: str, **options: Any) -> int:
    check_cancellable(run)
    await check_no_live_supplementary(session, run)
    cancel_reason(options.get("reason"))
    return run.payout_count


# Each run step: a check made before answering — the run's state (the same check the step makes under
# the run's work lock), anything else that refuses it, the step's size — and the work.
STEPS: dict[str, tuple[Callable[..., Awaitable[int]], Callable[..., Awaitable[None]]]] = {
    "compute": (_compute_check, compute_run),
    "approve": (_approve_check, approve_run),
    "send": (_send_check, send_run),
    "cancel": (_cancel_check, cancel_run),
}


async def start_step(request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID, name: str,
                     **options: Any) -> int:
    """Check a step synchronously (a run at work, or in the wrong state, is a 409 Problem whatever its
    size), then run it in the request (200) or after it (202, progress on the run). ``options`` go to
    the check and the step (cancel: ``reason``). Shared by the API and the pages. 403 for a province-limited
    caller: the run is everyone's."""
    await refuse_province_limited(request, db_session)
    actor = _actor(request)
    check, step = STEPS[name]
    try:
        run = await get_run(db_session, run_id)
        if await run_is_busy(db_session, run_id):
            raise busy_conflict()
        size = await check(db_session, run, actor, **options)
    except PayoutError as error:
        raise problem(error) from None
    await db_session.commit()
    engine = request.app.state.engine
    return await _execute(request.app.state, run_id, size, name,
                          lambda: step(engine, run_id, actor=actor, **options))


async def _run_step(request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID,
                    name: str, **options: Any) -> Response[RunOutput]:
    code = await start_step(request, db_session, run_id, name, **options)
    return Response(await _fresh_output(request.app.state.engine, run_id), status_code=code)


async def close_settled_run(session: AsyncSession, run_id: UUID, *, actor: str) -> PayoutRun:
    """Settle the run if nothing of it is in flight (committed whatever comes next), then close it
    (``close_run``). Shared by the API and the pages."""
    if await settle_runs(session, [run_id], actor=actor, cause="close"):
        await session.commit()
    return await close_run(session, run_id, actor=actor)


def _actor(request: Request[Any, Any, Any]) -> str:
    principal = current_principal(request)
    assert principal is not None
    return principal.name


class PayoutRunController(Controller):
    path = "/api/payout-runs"
    tags = ["payouts"]

    @post("/", guards=[requires(Role.officer, Role.approver)])
    async def create(self, request: Request[Any, Any, Any], db_session: AsyncSession, data: RunInput) -> RunOutput:
        """Create a draft run for a programme and period (one regular run each); 403 for province-limited staff."""
        await refuse_province_limited(request, db_session)
        try:
            run = await create_run(db_session, programme=data.programme, period=data.period, kind=data.kind,
                                   actor=_actor(request))
        except PayoutError as error:
            raise problem(error) from None
        await db_session.refresh(run)
        return run_output(run)

    @get("/", guards=[requires(*READERS)])
    async def list_runs(self, db_session: AsyncSession, programme: str | None = None, period: str | None = None,
                        status: Annotated[str | None, one_of(*RUN_STATUSES)] = None) -> dict[str, Any]:
        """Runs, newest period first."""
        items = [run_output(run) for run in await list_runs(db_session, programme=programme, period=period,
                                                             status=status)]
        return {"items": items, "total": len(items), "page": 1, "page_size": len(items)}

    @get("/{run_id:uuid}", guards=[requires(*READERS)])
    async def detail(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> RunOutput:
        """Status, progress, counts and totals by bank and commune, and the people skipped; of a province-limited
        caller, the lists and counts within their provinces (``scope``: which, and the run's payouts there)."""
        try:
            return run_output(await get_run(db_session, run_id),
                              await run_summary(db_session, run_id, provinces=province_limit(request)))
        except PayoutError as error:
            raise problem(error) from None

    @post("/{run_id:uuid}/compute", guards=[requires(Role.officer, Role.approver)], status_code=200)
    async def compute(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                      run_id: UUID) -> Response[RunOutput]:
        """Compute payouts with arrears; 202 with progress for large runs."""
        return await _run_step(request, db_session, run_id, "compute")

    @post("/{run_id:uuid}/approve", guards=[requires(Role.approver)], status_code=200)
    async def approve(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                      run_id: UUID) -> Response[RunOutput]:
        """Approve a computed run (maker-checker: not by its preparer) and post the entitlements."""
        return await _run_step(request, db_session, run_id, "approve")

    @post("/{run_id:uuid}/send", guards=[requires(Role.officer)], status_code=200)
    async def send(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                   run_id: UUID) -> Response[RunOutput]:
        """Create payment orders and hand the cash to the communes; 409 with the shortfall per bank and per
        commune (``commune_shortfall``) if funding is insufficient."""
        return await _run_step(request, db_session, run_id, "send")

    @post("/{run_id:uuid}/cancel", guards=[requires(Role.officer)], status_code=200)
    async def cancel(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID,
                     data: CancelInput) -> Response[RunOutput]:
        """Cancel a run before approval (reason required): its payouts and paid months are removed so the
        months can be paid by another run; 409 once approved or sent (the money is in the ledger)."""
        return await _run_step(request, db_session, run_id, "cancel", reason=data.reason)

    @post("/{run_id:uuid}/close", guards=[requires(Role.officer)], status_code=200)
    async def close(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> RunOutput:
        """Close a settled run once nothing of it is left open for an officer: no payout in flight, no return
        waiting to be reissued or closed, no unresolved exception line naming one of its payouts, no bank report
        of a death (MD07) from its returns not checked yet. 409 says what is open, in Vietnamese and English,
        and lists it (``open_items``). A closed run still takes withdrawals and banks' late credits and returns.
        403 for province-limited staff."""
        await refuse_province_limited(request, db_session)
        try:
            return run_output(await close_settled_run(db_session, run_id, actor=_actor(request)),
                              await run_summary(db_session, run_id))
        except PayoutError as error:
            raise problem(error) from None

    @post("/{run_id:uuid}/payouts/{payout_id:uuid}/cash-return", guards=[requires(Role.officer)], status_code=200)
    async def cash_return(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID,
                          payout_id: UUID, data: CashReturnInput) -> dict[str, Any]:
        """The commune gave back the cash of a payout it could not hand over (reason required): the payout is
        returned, the transfer to the commune reversed and its months released for the next run; 409 if it is
        not a sent cash payout or any of it was handed over; 404, as an unknown payout, outside the officer's
        provinces."""
        try:
            payout = await cash_payout(db_session, run_id, payout_id)
            if not commune_in_scope(current_principal(request), payout.commune_code, payout.province_code):
                raise Problem(404, bilingual(*NO_SUCH_PAYOUT))
            return await return_cash(db_session, payout, reason=data.reason, actor=_actor(request))
        except PayoutError as error:
            raise problem(error) from None

    @get("/{run_id:uuid}/payouts", guards=[requires(*READERS)])
    async def payouts(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID,
                      bank: str | None = None, commune: str | None = None,
                      status: Annotated[str | None, one_of(*PAYOUT_STATUSES)] = None,
                      page: Page = 1, page_size: PageSize = 100) -> dict[str, Any]:
        """The run's payouts, filtered by bank, commune and status; of a province-limited caller, those of their
        provinces only (``total`` counts those; a commune elsewhere is 403)."""
        if commune is not None:
            await check_commune_scope(request, db_session, commune)
        provinces = province_limit(request)
        listed = await list_payouts(db_session, run_id=run_id, bank=bank, commune=commune, status=status,
                                    page=page, page_size=page_size, provinces=provinces)
        return {**listed, "scope": None if provinces is None else {"provinces": list(provinces)}}

    @get("/{run_id:uuid}/unpaid", guards=[requires(*READERS)],
         operation_class=documented(files={XLSX: "format=xlsx: the whole list as one sheet"}))
    async def unpaid(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID,
                     format: Annotated[str, one_of("json", "xlsx")] = "json",  # noqa: A002 - the API's parameter name
                     page: Page = 1, page_size: PageSize = 100) -> Any:
        """Everyone the run did not pay (skipped, held, withheld), with the reason in both languages: a page of
        the list with the whole list's count and amount (json), or the whole list as one sheet (xlsx); of a
        province-limited caller, their provinces' people only, counted and summed over them."""
        if format not in ("json", "xlsx"):
            raise Problem(400, bilingual("Định dạng phải là json hoặc xlsx", "format must be json or xlsx"))
        provinces = province_limit(request)
        try:
            if format == "json":
                return await unpaid_service.unpaid_page(db_session, run_id, page=page, page_size=page_size,
                                                        provinces=provinces)
            content = await unpaid_service.unpaid_xlsx(db_session, run_id, provinces=provinces)
        except PayoutError as error:
            raise problem(error) from None
        return Response(content, media_type=order_service.ORDER_FORMATS["xlsx"][0], headers={
            "Content-Disposition": f'attachment; filename="khong-chi-{run_id.hex[:8]}.xlsx"'})

    @get("/{run_id:uuid}/orders", guards=[requires(Role.officer, Role.auditor)], opt={"problems": (404, 409, 422)},
         operation_class=documented(json=False, files={
             XLSX: "format=xlsx: the orders as a sheet for checking", "text/csv": "format=csv: the same as CSV",
             "application/xml": "format=pain001: one batch's ISO 20022 pain.001 payment message"}),
         response_headers=[ResponseHeader(name="X-Message-Id", documentation_only=True, value="MsgId",
                                          description="pain001: the batch's MsgId"),
                           ResponseHeader(name="X-More-Orders", documentation_only=True, value="false",
                                          description="pain001: true when orders of the run are left for another "
                                                      "batch")])
    async def orders(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID, bank: str,
                     format: Annotated[str, one_of(*order_service.ORDER_FORMATS)] = "xlsx",  # noqa: A002 - the API's parameter name
                     batch: str | None = None) -> Response[bytes]:
        """The run's orders at one bank. xlsx, csv: a list for checking, naming each order's batch (MsgId).
        pain001: a payment message, always one batch's — the run's orders no batch took yet, taken into a new
        batch as the bank's fetch would (officers), or the one batch holding the run's orders, or the batch
        ``batch`` (its MsgId); 409 listing the batches when there are several. A province-limited caller gets the
        lists of their provinces' orders and no pain.001 (403: a batch holds every province's orders)."""
        if format not in order_service.ORDER_FORMATS:
            raise Problem(400, bilingual("Định dạng phải là xlsx, csv hoặc pain001", "format must be xlsx, csv or pain001"))
        media_type, extension = order_service.ORDER_FORMATS[format]
        provinces = province_limit(request)
        try:
            if format == "pain001":
                if provinces is not None:
                    raise Problem(403, bilingual(*BATCH_NOT_IN_SCOPE))
                return await _run_batch_file(request, db_session, run_id, bank, batch)
            header, orders = await order_service.run_orders(db_session, run_id, bank, provinces=provinces)
            batch_of = await order_service.run_order_batches(db_session, run_id, bank)
            scope = None if provinces is None else await scope_line(db_session, provinces)
            content = order_service.render_orders(header, orders, format, batch_of, scope)
        except PayoutError as error:
            raise problem(error) from None
        return Response(content, media_type=media_type, headers={
            "Content-Disposition": f'attachment; filename="bang-ke-lenh-chi-{bank}-{run_id.hex[:8]}.{extension}"'})

    @get("/{run_id:uuid}/cash-handover", guards=[requires(Role.officer, Role.auditor, Role.commune_staff)])
    async def cash_handover(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID,
                            commune: str | None = None) -> Response[bytes]:
        """The list of cash payouts per commune for the commune's cash handover (xlsx); commune staff get
        their own communes' (403 for another commune)."""
        principal = current_principal(request)
        assert principal is not None
        communes, provinces = scope_of(principal)
        if commune is not None:
            province = await db_session.scalar(text("SELECT province_code FROM commune WHERE code = :c"),
                                               {"c": commune})
            if province is None or not commune_in_scope(principal, commune, province):
                raise Problem(403, bilingual("Xã/phường này không thuộc phạm vi của bạn",
                                             "This commune is outside your scope"))
        if principal.role == Role.commune_staff:
            status = await db_session.scalar(text("SELECT status FROM payout_run WHERE id = :id"), {"id": run_id})
            if status is not None and status not in order_service.SENT_STATUSES:
                raise Problem(409, bilingual(*order_service.no_cash_yet(status)))
        try:
            content = await order_service.cash_handover(db_session, run_id, commune, communes, provinces,
                                                        mask_ids=masks_identifiers(principal))
        except PayoutError as error:
            raise problem(error) from None
        return Response(content, media_type=order_service.ORDER_FORMATS["xlsx"][0], headers={
            "Content-Disposition": f'attachment; filename="chi-tien-mat-{run_id.hex[:8]}.xlsx"'})


def _batch_link(run_id: UUID, bank_bin: str, message_id: str) -> str:
    return f"/api/payout-runs/{run_id}/orders?bank={bank_bin}&format=pain001&batch={message_id}"


async def _run_batch_file(request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID, bank_bin: str,
                          message_id: str | None) -> Response[bytes]:
    """The pain.001 of one batch holding the run's orders at the bank (see ``PayoutRunController.orders``)."""
    principal = current_principal(request)
    assert principal is not None
    if message_id is None and principal.role == Role.officer:
        taken = await order_service.take_new_orders(db_session, bank_bin, principal.name, run_id=run_id,
                                                    limit=order_service.BATCH_ORDERS)
        if taken is not None:
            await record(db_session, actor=principal.name, actor_role=principal.role.value,
                         action="payment_orders.batch_taken", object_type="payment_order_batch",
                         object_id=taken.header.message_id,
                         after={"run_id": run_id, "bank_bin": bank_bin, "orders": len(taken.orders),
                                "total_amount": sum(order.amount for order in taken.orders), "more": taken.more})
            return _batch_response(taken, bank_bin)
    batches = await order_service.run_batches(db_session, run_id, bank_bin)
    if message_id is not None:
        if message_id not in {b["message_id"] for b in batches}:  # not echoed: it may be anything a client sent
            raise Problem(404, bilingual("Không có lô lệnh chi với mã này chứa lệnh của đợt chi tại ngân hàng này",
                                         "no payment order batch with this id holds this run's orders at this bank"))
        return _batch_response(await order_service.batch_again(db_session, bank_bin, message_id, run_id), bank_bin)
    waiting = await order_service.run_orders_not_batched(db_session, run_id, bank_bin)
    listed = [{**b, "created_at": b["created_at"].isoformat(), "url": _batch_link(run_id, bank_bin, b["message_id"])}
              for b in batches]
    if waiting:  # only an auditor gets here: reading does not hand orders out
        raise Problem(409, bilingual(
            f"{waiting} lệnh của đợt chi tại ngân hàng này chưa vào lô nào: ngân hàng nhận lệnh, hoặc cán bộ tải tệp "
            "pain.001, sẽ lập lô cho chúng. Kiểm toán viên tải được tệp của các lô đã có (batches)",
            f"{waiting} of this run's orders at this bank are not in a batch yet: the bank's fetch, or an officer's "
            "pain.001 download, takes them into one. Auditors can download the batches there are (batches)"),
            extra={"not_in_a_batch": waiting, "batches": listed})
    if not batches:
        if await order_service.run_orders_settled_unbatched(db_session, run_id, bank_bin):
            raise Problem(404, bilingual(
                "Các lệnh của đợt chi tại ngân hàng này đã được ghi có hoặc hoàn trả trước khi vào lô nào: không lập "
                "lệnh thanh toán cho chúng nữa (bảng kê Excel/CSV vẫn tải được)",
                "this run's orders at this bank were credited or returned before any batch took them: no payment "
                "message is made for them any more (the Excel/CSV lists are still there)"))
        raise Problem(404, bilingual("Không có lệnh chi nào cho ngân hàng này trong đợt chi (đợt chi đã gửi chưa?)",
                                     "no payment orders for this bank in this run (has the run been sent?)"))
    if len(batches) > 1:
        raise Problem(409, bilingual(
            f"Lệnh của đợt chi tại ngân hàng này nằm trong {len(batches)} lô; mỗi lô là một tệp pain.001 với mã lô "
            "(MsgId) riêng: tải từng lô theo đường dẫn trong batches",
            f"this run's orders at this bank are in {len(batches)} batches; each batch is one pain.001 under its "
            "own MsgId: download each batch from its url in batches"), extra={"batches": listed})
    return _batch_response(await order_service.batch_again(db_session, bank_bin, batches[0]["message_id"], run_id),
                           bank_bin)


def _batch_response(batch: order_service.OrderBatch, bank_bin: str) -> Response[bytes]:
    """A batch's pain.001 as the bank gets it, with its MsgId and whether the run has more orders to take."""
    media_type, extension = order_service.ORDER_FORMATS["pain001"]
    message_id = batch.header.message_id
    return Response(order_service.render_orders(batch.header, batch.orders, "pain001"), media_type=media_type,
                    headers={"Content-Disposition": f'attachment; filename="lenh-chi-{bank_bin}-{message_id}.{extension}"',
                             "X-Message-Id": str(message_id), "X-More-Orders": "true" if batch.more else "false"})


async def check_commune_scope(request: Request[Any, Any, Any], db_session: AsyncSession, commune: str) -> None:
    """404 for an unknown commune, 403 for one outside the caller's provinces (or communes)."""
    province = await db_session.scalar(text("SELECT province_code FROM commune WHERE code = :c"), {"c": commune})
    if province is None:
        raise Problem(404, bilingual(f"Không có xã/phường mã {commune}", f"unknown commune {commune}"))
    if not commune_in_scope(current_principal(request), commune, province):
        raise Problem(403, bilingual("Xã/phường này không thuộc phạm vi của bạn", "This commune is outside your scope"))


@post("/api/funding", guards=[requires(Role.officer)], tags=["payouts"])
async def record_funding_route(request: Request[Any, Any, Any], db_session: AsyncSession,
                               data: FundingInput) -> Response[FundingOutput]:
    """Record budget that reached a bank's disbursement account (``bank_bin``; 403 for a province-limited officer:
    it pays every province) or a commune's cash for its cash payouts (``commune_code``, in the officer's scope):
    exactly one; idempotent by reference."""
    if data.bank_bin and data.bank_bin.strip():
        await refuse_bank_funding_province_limited(request, db_session)
    if data.commune_code and not data.bank_bin:
        await check_commune_scope(request, db_session, data.commune_code.strip())
    try:
        funding, created = await record_funding(
            db_session, bank_bin=data.bank_bin, commune_code=data.commune_code, programme=data.programme,
            amount=int(data.amount), reference=data.reference, value_date=data.value_date, actor=_actor(request))
    except PayoutError as error:
        raise problem(error) from None
    return Response(FundingOutput(
        id=funding.id, bank_bin=funding.bank_bin, commune_code=funding.commune_code, programme=funding.programme_code,
        amount=funding.amount, reference=funding.reference, value_date=funding.value_date,
        recorded_by=funding.recorded_by, recorded_at=funding.recorded_at, created=created),
        status_code=201 if created else 200)


_FUNDING_COLUMNS = """f.id, f.bank_bin, f.commune_code, f.programme_code, f.amount, f.reference, f.value_date,
    f.recorded_by, f.recorded_at, v.reason, v.reversed_by, v.reversed_at, v.transfer_id"""


def _funding_output(row: Any) -> FundingOutput:
    reversal = None if row.reversed_at is None else FundingReversal(
        reason=row.reason, reversed_by=row.reversed_by, reversed_at=row.reversed_at, transfer_id=row.transfer_id)
    return FundingOutput(id=row.id, bank_bin=row.bank_bin, commune_code=row.commune_code, programme=row.programme_code,
                         amount=row.amount, reference=row.reference, value_date=row.value_date,
                         recorded_by=row.recorded_by, recorded_at=row.recorded_at, created=False, reversal=reversal)


@get("/api/funding", guards=[requires(Role.officer, Role.auditor)], tags=["payouts"])
async def list_funding(request: Request[Any, Any, Any], db_session: AsyncSession, programme: str | None = None,
                       bank_bin: str | None = None, commune_code: str | None = None,
                       limit: int = 100) -> dict[str, Any]:
    """Funding entries, newest first, with their reversal if any; a commune's cash only within the caller's
    provinces (a bank's disbursement account serves every province)."""
    if not 1 <= limit <= 1000:
        raise Problem(400, bilingual("limit phải từ 1 đến 1000", "limit must be between 1 and 1000"))
    principal = current_principal(request)
    assert principal is not None  # the guard let a signed-in officer or auditor through
    _, provinces = scope_of(principal)
    rows = await db_session.execute(text(
        f"""SELECT {_FUNDING_COLUMNS} FROM funding f LEFT JOIN funding_reversal v ON v.funding_id = f.id
             WHERE (CAST(:programme AS text) IS NULL OR f.programme_code = :programme)
               AND (CAST(:bank AS text) IS NULL OR f.bank_bin = :bank)
               AND (CAST(:commune AS text) IS NULL OR f.commune_code = :commune)
               AND (f.commune_code IS NULL OR CAST(:provinces AS text[]) IS NULL
                    OR (SELECT c.province_code FROM commune c WHERE c.code = f.commune_code) = ANY(:provinces))
             ORDER BY f.recorded_at DESC, f.id LIMIT :limit"""),  # noqa: S608 - constant columns
        {"programme": programme, "bank": bank_bin, "commune": commune_code, "limit": limit,
         "provinces": list(provinces) if provinces is not None else None})
    return {"items": [msgspec.to_builtins(_funding_output(r)) for r in rows]}


@post("/api/funding/{funding_id:uuid}/reverse", guards=[requires(Role.officer)], tags=["payouts"], status_code=200)
async def reverse_funding_route(request: Request[Any, Any, Any], db_session: AsyncSession, funding_id: UUID,
                                data: FundingReversalInput) -> FundingOutput:
    """Take back a funding entry recorded by mistake (a reversing ledger transfer; the entry stays, marked); a
    bank's only by an officer without a province limit, a commune's within the officer's provinces. 409 when
    already reversed, confirmed by a bank statement, or already used by the programme's payouts."""
    place = (await db_session.execute(text("SELECT bank_bin, commune_code FROM funding WHERE id = :id"),
                                      {"id": funding_id})).first()
    if place is not None and place.bank_bin is not None:
        await refuse_bank_funding_province_limited(request, db_session)
    if place is not None and place.commune_code is not None:
        await check_commune_scope(request, db_session, place.commune_code)
    try:
        await reverse_funding(db_session, funding_id, reason=data.reason, actor=_actor(request))
    except PayoutError as error:
        raise problem(error) from None
    row = (await db_session.execute(text(
        f"""SELECT {_FUNDING_COLUMNS} FROM funding f LEFT JOIN funding_reversal v ON v.funding_id = f.id
             WHERE f.id = :id"""), {"id": funding_id})).one()  # noqa: S608 - constant columns
    return _funding_output(row)


def _bank_of(request: Request[Any, Any, Any]) -> tuple[str, str]:
    """(the calling bank's BIN, the key's name) of a bank API request."""
    principal = current_principal(request)
    assert principal is not None and principal.bank_bin is not None
    return principal.bank_bin, principal.name


def _orders_json(orders: Sequence[PaymentOrder], message_id: str | None, total: int | None = None,
                 page_size: int | None = None) -> dict[str, Any]:
    """Orders as the API lists them; ``total`` (default: these orders) all there are, of which these are the
    first ``page_size``."""
    return {"message_id": message_id, "items": [
        {"reference": o.reference, "payout_id": str(o.payout_id), "account_number": o.account_number,
         "holder_name": o.holder_name, "amount": o.amount, "months": list(o.months),
         "programme": o.programme_code, "period": o.period, "return_reason": o.return_reason} for o in orders],
        "total": len(orders) if total is None else total, "page": 1,
        "page_size": len(orders) if page_size is None else page_size}


def _order_file(batch: order_service.OrderBatch, bank_bin: str, file_format: str) -> Response[Any]:
    """The batch as JSON or a file; ``more`` (JSON) / ``X-More-Orders`` (file): fetch again for the rest."""
    more = "true" if batch.more else "false"
    if file_format == "json":
        return Response({**_orders_json(batch.orders, batch.header.message_id), "more": batch.more},
                        headers={"X-More-Orders": more})
    if file_format not in ("csv", "pain001"):
        raise Problem(400, bilingual("Định dạng phải là json, csv hoặc pain001", "format must be json, csv or pain001"))
    media_type, extension = order_service.ORDER_FORMATS[file_format]
    return Response(order_service.render_orders(batch.header, batch.orders, file_format), media_type=media_type,
                    headers={"Content-Disposition":
                             f'attachment; filename="lenh-chi-{bank_bin}-{batch.header.message_id}.{extension}"',
                             "X-More-Orders": more})


NOTHING_NEW = ("Không có lệnh chi mới. Lô đã nhận trước đây tải lại tại /api/bank/payment-orders/batches",
               "no new payment orders; batches fetched before are at /api/bank/payment-orders/batches")


ORDER_FILES = {"text/csv": "format=csv: the batch's orders as CSV (UTF-8)",
               "application/xml": "format=pain001: the batch as an ISO 20022 pain.001.001.09 payment message"}
MORE_ORDERS = ResponseHeader(name="X-More-Orders", documentation_only=True, value="false",
                             description="true when more orders wait: fetch again for the next batch")


@get("/api/bank/payment-orders", guards=[requires(Role.bank)], tags=["bank"], opt={"problems": (404, 422)},
     operation_class=documented(files=ORDER_FILES), response_headers=[MORE_ORDERS],
     response_description="status=sent: a new batch of the orders to execute (JSON with `more`, or the file); "
                          "credited / returned: the latest orders as JSON")
async def bank_payment_orders(
    request: Request[Any, Any, Any], db_session: AsyncSession,
    status: Annotated[str, one_of("sent", "credited", "returned", description=(
        "sent: orders to execute, taken into a new batch; credited / returned: the latest ones, as JSON"))] = "sent",
    format: Annotated[str, one_of("json", "csv", "pain001")] = "json",  # noqa: A002 - the API's parameter name
    request_id: Annotated[str | None, Parameter(description=(
        "the bank's own id of this fetch (1 to 100 characters): repeating it answers the same batch again (a "
        "lost file)"))] = None,
    limit: Annotated[int, Parameter(description=(
        f"at most this many orders in the batch (1 to {order_service.MAX_BATCH_ORDERS}); `more` / X-More-Orders "
        "say whether to fetch again"))] = order_service.BATCH_ORDERS,
) -> Response[Any]:
    """The calling bank's payment orders (its own BIN only): json, csv or pain001.

    ``status=sent`` (orders to execute): the orders no earlier fetch took, in a new batch whose MsgId the file
    carries; each order comes in one batch only. A lost file is fetched again by its MsgId
    (``/api/bank/payment-orders/batches/{message_id}``), or by repeating the fetch with the same
    ``request_id`` (the bank's own id of the fetch). A batch holds at most ``limit`` orders (50,000 by
    default, 100,000 at most); ``more`` says whether to fetch again. ``credited`` / ``returned``: the latest
    ``limit``, as JSON, ``total`` counting all the bank's orders in that status, a returned order with its
    ``return_reason``."""
    bank_bin, actor = _bank_of(request)
    if status not in ("sent", "credited", "returned"):
        raise Problem(400, bilingual("Trạng thái phải là sent, credited hoặc returned",
                                     "status must be sent, credited or returned"))
    if format not in ("json", "csv", "pain001"):
        raise Problem(400, bilingual("Định dạng phải là json, csv hoặc pain001", "format must be json, csv or pain001"))
    if not 1 <= limit <= order_service.MAX_BATCH_ORDERS:
        raise Problem(400, bilingual(f"limit từ 1 đến {order_service.MAX_BATCH_ORDERS:,}".replace(",", "."),
                                     f"limit must be between 1 and {order_service.MAX_BATCH_ORDERS:,}"))
    if status != "sent":
        if format != "json":
            raise Problem(400, bilingual("Chỉ lệnh chờ thực hiện (status=sent) có tệp lệnh chi",
                                         "only orders to execute (status=sent) come as an order file"))
        orders, total = await order_service.bank_orders(db_session, bank_bin, status, limit)
        return Response(_orders_json(orders, None, total=total, page_size=limit))
    if request_id is not None and not 0 < len(request_id) <= 100:
        raise Problem(400, bilingual("request_id dài từ 1 đến 100 ký tự", "request_id must be 1 to 100 characters"))
    try:
        batch = await order_service.take_new_orders(db_session, bank_bin, actor, request_id, limit)
    except PayoutError as error:
        raise problem(error) from None
    if batch is not None and batch.taken:  # a change of state, as the officer's download; a retry changes nothing
        await record(db_session, actor=actor, actor_role=Role.bank.value, action="payment_orders.batch_taken",
                     object_type="payment_order_batch", object_id=batch.header.message_id,
                     after={"bank_bin": bank_bin, "request_id": request_id, "orders": len(batch.orders),
                            "total_amount": sum(order.amount for order in batch.orders), "more": batch.more})
    if batch is None:
        if format == "json":  # an empty list, saying where the batches fetched before are
            return Response({**_orders_json([], None), "detail": bilingual(*NOTHING_NEW)})
        raise Problem(404, bilingual(*NOTHING_NEW))
    return _order_file(batch, bank_bin, format)


@get("/api/bank/payment-orders/batches", guards=[requires(Role.bank)], tags=["bank"], opt={"problems": ()})
async def bank_order_batches(request: Request[Any, Any, Any], db_session: AsyncSession,
                             limit: int = 100) -> dict[str, Any]:
    """The calling bank's latest order batches, newest first (MsgId, when, orders, total, how many still open);
    ``total``: all its batches."""
    bank_bin, _ = _bank_of(request)
    if not 1 <= limit <= 1000:
        raise Problem(400, bilingual("limit từ 1 đến 1000", "limit must be between 1 and 1000"))
    items, total = await order_service.bank_batches(db_session, bank_bin, limit)
    return {"items": items, "total": total}


@get("/api/bank/payment-orders/batches/{message_id:str}", guards=[requires(Role.bank)], tags=["bank"],
     opt={"problems": (404,)}, operation_class=documented(files=ORDER_FILES), response_headers=[MORE_ORDERS])
async def bank_order_batch(request: Request[Any, Any, Any], db_session: AsyncSession, message_id: str,
                           format: Annotated[str, one_of("json", "csv", "pain001")] = "pain001",  # noqa: A002
                           ) -> Response[Any]:
    """One of the calling bank's batches again: the same orders, the same MsgId (json, csv or pain001)."""
    bank_bin, _ = _bank_of(request)
    try:
        batch = await order_service.batch_again(db_session, bank_bin, message_id)
    except PayoutError as error:
        raise problem(error) from None
    return _order_file(batch, bank_bin, format)


route_handlers = [PayoutRunController, record_funding_route, list_funding, reverse_funding_route, bank_payment_orders, bank_order_batches,
                  bank_order_batch]
