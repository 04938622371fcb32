"""Payout run pages: list and create, compute with a live progress bar, review totals by commune and
bank, approve (a second user), fund banks, send, download order files, cancel a run before approval, and
close a settled run once nothing of it is left open."""

from __future__ import annotations

from datetime import date
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.names import staff_names
from app.http.problems import Problem
from app.payouts.routes import (
    READERS,
    close_settled_run,
    problem,
    province_limit,
    refuse_bank_funding_province_limited,
    refuse_province_limited,
    run_output,
    start_step,
)
from app.payouts.service.errors import PayoutError
from app.payouts.service.funding import record_funding
from app.payouts.service.ledger_steps import Shortfalls, funding_shortfalls
from app.payouts.service.runs import (
    BEFORE_APPROVAL,
    FIRST_PAYABLE_PERIOD,
    add_months,
    create_run,
    current_month,
    get_run,
    list_runs,
    run_summary,
)
from app.registry.models import Bank, Commune, Programme
from app.registry.scope import commune_in_scope
from app.vietnam_time import month_text, vietnam_today
from app.web.forms import FormErrors, form_text
from app.web.home import province_names
from app.web.i18n import translate
from app.web.render import current_lang, in_language, page, see_other

RUN_STATUS_KEYS = {"draft": "runs.status.draft", "computing": "runs.status.computing",
                   "computed": "runs.status.computed", "approved": "runs.status.approved",
                   "sending": "runs.status.sending", "sent": "runs.status.sent", "settled": "runs.status.settled",
                   "closed": "runs.status.closed", "cancelled": "runs.status.cancelled"}
RUN_KIND_KEYS = {"regular": "runs.kind.regular", "supplementary": "runs.kind.supplementary"}
STEP_DONE_KEYS = {"compute": "runs.done.compute", "approve": "runs.done.approve", "send": "runs.done.send",
                  "cancel": "runs.done.cancel", "close": "runs.done.close", "funding": "runs.done.funding",
                  "funding_commune": "runs.done.funding_commune", "started": "runs.done.started",
                  "cancel_started": "runs.done.cancel_started"}
PREPARERS = (Role.officer, Role.approver)


async def _programmes(session: AsyncSession) -> list[Any]:
    return list((await session.execute(select(Programme.code, Programme.name_vi, Programme.name_en)
                                       .order_by(Programme.code))).all())


async def _list_page(request: Request[Any, Any, Any], session: AsyncSession, *, status_code: int = 200,
                     errors: FormErrors | None = None, values: dict[str, str] | None = None) -> Response[Any]:
    runs = [run_output(run) for run in await list_runs(session, limit=200)]
    principal = current_principal(request)
    next_month = add_months(current_month(), 1)
    who = await staff_names(session, [name for run in runs for name in (run.created_by, run.prepared_by,
                                                                         run.approved_by)])
    return page(request, "runs/list.html", status_code=status_code, runs=runs, who=who,
                programmes=await _programmes(session), status_keys=RUN_STATUS_KEYS, kind_keys=RUN_KIND_KEYS,
                may_create=principal is not None and principal.role in PREPARERS and province_limit(request) is None,
                province_limited=province_limit(request) is not None,
                errors=errors or FormErrors(),
                values=values or {"programme": "", "period": month_text(next_month)},
                first_period=month_text(FIRST_PAYABLE_PERIOD), last_period=month_text(next_month))


async def _detail_page(request: Request[Any, Any, Any], session: AsyncSession, run_id: UUID, *,
                       status_code: int = 200, error: str | None = None) -> Response[Any]:
    provinces = province_limit(request)
    try:
        run = await get_run(session, run_id)
        output = run_output(run, await run_summary(session, run_id, provinces=provinces))
    except PayoutError as exc:
        raise problem(exc) from None
    principal = current_principal(request)
    role = principal.role if principal else None
    name = principal.name if principal else ""
    all_shortfalls = await funding_shortfalls(session, run_id) if run.status in ("approved", "sending") \
        else Shortfalls(banks=[], communes=[])
    shortfalls, commune_shortfalls = all_shortfalls.banks, all_shortfalls.communes
    if provinces is not None:  # the communes they may fund, and see
        in_scope = set((await session.scalars(select(Commune.code).where(
            Commune.code.in_([s["commune_code"] for s in commune_shortfalls]),
            Commune.province_code.in_(provinces)))).all())
        commune_shortfalls = [s for s in commune_shortfalls if s["commune_code"] in in_scope]
    banks = (await session.execute(select(Bank.bin, Bank.short_name).order_by(Bank.short_name))).all()
    busy = run.phase is not None and run.status in ("computing", "approved", "sending")
    # A run pays every province: its steps are for staff without a province limit (``refuse_province_limited``).
    national = provinces is None
    # The preparer whatever the case of the name (usernames are case-insensitive, as ``check_approvable`` reads them)
    prepared_by_me = run.prepared_by is not None and run.prepared_by.lower() == name.lower()
    actions = {
        # An approver who recomputes a computed run becomes its preparer and may no longer approve it: the page
        # leaves recomputing to officers (the API still lets an approver compute, as the README says).
        "compute": national and role in PREPARERS and run.status in ("draft", "computing", "computed") and not busy
        and not (role == Role.approver and run.status == "computed"),
        "approve": national and role == Role.approver and run.status == "computed" and not prepared_by_me,
        "self_approval": national and role == Role.approver and run.status == "computed" and prepared_by_me,
        "send": national and role == Role.officer and run.status in ("approved", "sending") and not busy
        and not all_shortfalls,
        # A bank's disbursement account pays every province's payouts there: funding it is for officers without a
        # province limit (``refuse_bank_funding_province_limited``); a commune's cash within their provinces is theirs.
        "fund_bank": national and role == Role.officer and bool(shortfalls),
        "fund_commune": role == Role.officer and bool(commune_shortfalls),
        "orders": role in (Role.officer, Role.auditor) and run.status in ("sent", "settled", "closed"),
        "cancel": national and role == Role.officer and run.status in BEFORE_APPROVAL and not busy,
        "close": national and role == Role.officer and run.status == "settled"
        and not _anything_open(output.open_items),
    }
    scope_places = None
    if provinces is not None:
        names = await province_names(session, provinces)
        scope_places = ", ".join(f"{names.get(code, code)} ({code})" for code in provinces)
    done = request.query_params.get("done")
    who = await staff_names(session, [output.prepared_by, output.approved_by, output.sent_by, output.closed_by,
                                      output.cancelled_by,
                                      *(batch["fetched_by"] for bank in output.by_bank
                                        for batch in bank.get("batches", ()))])
    return page(request, "runs/detail.html", status_code=status_code, run=output, actions=actions, who=who,
                anything_open=_anything_open(output.open_items),
                shortfalls=shortfalls, commune_shortfalls=commune_shortfalls, banks=banks, busy=busy,
                error=error or output.last_error,
                status_keys=RUN_STATUS_KEYS, kind_keys=RUN_KIND_KEYS, done_key=STEP_DONE_KEYS.get(done or ""),
                today=vietnam_today().isoformat(), may_take_orders=national and role == Role.officer,
                may_read_batches=national, national_only=not national and role in PREPARERS,
                bank_funding_national=not national and role == Role.officer and bool(shortfalls),
                scope_places=scope_places)


def _anything_open(open_items: dict[str, Any] | None) -> bool:
    return open_items is not None and any(open_items.values())


class PayoutRunPages(Controller):
    path = "/payout-runs"
    include_in_schema = False

    @get("/", guards=[requires(*READERS)])
    async def runs(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Every run, newest period first, and the form to prepare one."""
        return await _list_page(request, db_session)

    @post("/", guards=[requires(*PREPARERS)])
    async def create(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Create a draft run for a programme and period (403 for province-limited staff)."""
        await refuse_province_limited(request, db_session)
        form = await request.form()
        values = {"programme": form_text(form, "programme"), "period": form_text(form, "period")}
        principal = current_principal(request)
        assert principal is not None
        try:
            run = await create_run(db_session, programme=values["programme"], period=values["period"],
                                   actor=principal.name)
        except PayoutError as exc:
            errors = FormErrors()
            errors.add("period", "runs.error.create", message=exc.en if current_lang(request) == "en" else exc.vi)
            await db_session.rollback()
            return await _list_page(request, db_session, status_code=422, errors=errors, values=values)
        return see_other(f"/payout-runs/{run.id}")

    @get("/{run_id:uuid}", guards=[requires(*READERS)])
    async def detail(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> Response[Any]:
        """Status with a live progress bar, totals by bank and commune, actions the role may take."""
        return await _detail_page(request, db_session, run_id)

    async def _step(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID,
                    name: str, **options: Any) -> Response[Any]:
        try:
            code = await start_step(request, db_session, run_id, name, **options)
        except Problem as error:
            await db_session.rollback()
            return await _detail_page(request, db_session, run_id, status_code=error.status_code,
                                      error=in_language(str(error.detail), current_lang(request)))
        done = name if code != 202 else "cancel_started" if name == "cancel" else "started"
        return see_other(f"/payout-runs/{run_id}?done={done}")

    @post("/{run_id:uuid}/compute", guards=[requires(*PREPARERS)])
    async def compute(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> Response[Any]:
        """Compute (or recompute) the run's payouts."""
        return await self._step(request, db_session, run_id, "compute")

    @post("/{run_id:uuid}/approve", guards=[requires(Role.approver)])
    async def approve(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> Response[Any]:
        """Approve a computed run (not by its preparer)."""
        return await self._step(request, db_session, run_id, "approve")

    @post("/{run_id:uuid}/send", guards=[requires(Role.officer)])
    async def send(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> Response[Any]:
        """Reserve the money at each bank and create the payment orders."""
        return await self._step(request, db_session, run_id, "send")

    @post("/{run_id:uuid}/cancel", guards=[requires(Role.officer)])
    async def cancel(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> Response[Any]:
        """Cancel a run that is not approved yet (with the reason); its months can be paid by another run."""
        form = await request.form()
        return await self._step(request, db_session, run_id, "cancel", reason=form_text(form, "reason"))

    @post("/{run_id:uuid}/close", guards=[requires(Role.officer)])
    async def close(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> Response[Any]:
        """Close a settled run with nothing left open; otherwise the page says what is still open."""
        principal = current_principal(request)
        assert principal is not None
        try:
            await refuse_province_limited(request, db_session)
        except Problem as error:
            return await _detail_page(request, db_session, run_id, status_code=error.status_code,
                                      error=in_language(str(error.detail), current_lang(request)))
        try:
            await close_settled_run(db_session, run_id, actor=principal.name)
        except PayoutError as exc:
            await db_session.rollback()
            return await _detail_page(request, db_session, run_id, status_code=exc.status,
                                      error=exc.en if current_lang(request) == "en" else exc.vi)
        return see_other(f"/payout-runs/{run_id}?done=close")

    @post("/{run_id:uuid}/funding", guards=[requires(Role.officer)])
    async def fund(self, request: Request[Any, Any, Any], db_session: AsyncSession, run_id: UUID) -> Response[Any]:
        """Record budget that reached a bank's disbursement account (officers without a province limit: it pays
        every province), or cash given to a commune in the officer's provinces (``commune_code``), for this run's
        programme."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        run = await get_run(db_session, run_id)
        commune_code = form_text(form, "commune_code") or None
        if commune_code is None:  # a bank's funding, refused before anything else is read
            try:
                await refuse_bank_funding_province_limited(request, db_session)
            except Problem as error:
                return await _detail_page(request, db_session, run_id, status_code=error.status_code,
                                          error=in_language(str(error.detail), current_lang(request)))
        try:
            amount = int(form_text(form, "amount").replace(".", "").replace(",", "").replace(" ", ""))
            value_date = date.fromisoformat(form_text(form, "value_date"))
        except ValueError:
            return await _detail_page(request, db_session, run_id, status_code=422,
                                      error=translate("runs.error.funding_input", current_lang(request)))
        if commune_code is not None:
            province = await db_session.scalar(select(Commune.province_code).where(Commune.code == commune_code))
            if not commune_in_scope(principal, commune_code, province):
                raise Problem(403, translate("runs.error.commune_scope", current_lang(request)))
        try:
            await record_funding(db_session, bank_bin=None if commune_code else form_text(form, "bank_bin"),
                                 commune_code=commune_code, programme=run.programme_code, amount=amount,
                                 reference=form_text(form, "reference"), value_date=value_date,
                                 actor=principal.name)
        except PayoutError as exc:
            await db_session.rollback()
            return await _detail_page(request, db_session, run_id, status_code=exc.status,
                                      error=exc.en if current_lang(request) == "en" else exc.vi)
        return see_other(f"/payout-runs/{run_id}?done={'funding_commune' if commune_code else 'funding'}")
