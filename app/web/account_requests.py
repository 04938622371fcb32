"""Bank account change requests: commune staff ask for a new or corrected account on a person's page; an
officer confirms (the account becomes the active one) or refuses (with the reason) here or on that page.

The list shows the requests in the caller's scope (``GET /api/bank-account-requests``), pending first by
default; decisions call the same service as ``POST /api/bank-account-requests/{id}/confirm|reject``.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.names import staff_names
from app.http.problems import Problem
from app.registry.models import BankAccountRequest, Beneficiary, Commune
from app.registry.routes import READERS
from app.registry.service.accounts import decide_bank_account_request, list_bank_account_requests
from app.registry.service.programmes import list_banks
from app.web.beneficiaries import REQUEST_STATUS_KEYS, FormState, person_page
from app.web.forms import FORM_REFUSALS, FormErrors, form_text, problem_errors
from app.web.render import current_lang, page, see_other

PATH = "/bank-account-requests"
STATUSES = ("pending", "rejected", "confirmed")
DONE_KEYS = {"request_confirmed": "requests.done.confirmed", "request_rejected": "requests.done.rejected"}


def _decision_state(request_id: int, note: str) -> FormState:
    """The decision form of one request, with the note typed (the service calls it ``note``)."""
    return FormState(f"decision-{request_id}", {"decision_note": note},
                     fields={"note": f"decision-{request_id}-note"})


async def _list_page(request: Request[Any, Any, Any], session: AsyncSession, status: str, *,
                     status_code: int = 200, form_state: FormState | None = None) -> Response[Any]:
    principal = current_principal(request)
    requests = await list_bank_account_requests(session, principal, status)
    people = {row.id: row for row in await session.execute(
        select(Beneficiary.id, Beneficiary.full_name, Beneficiary.commune_code, Commune.name.label("commune_name"))
        .join(Commune, Commune.code == Beneficiary.commune_code)
        .where(Beneficiary.id.in_({r.beneficiary_id for r in requests})))}
    who = await staff_names(session, [name for r in requests for name in (r.requested_by, r.decided_by)])
    return page(request, "beneficiaries/requests.html", status_code=status_code, requests=requests, people=people,
                who=who,
                status=status, statuses=STATUSES, request_status_keys=REQUEST_STATUS_KEYS,
                bank_names={bank.bin: bank.short_name for bank in await list_banks(session)},
                may_decide=principal is not None and principal.role == Role.officer,
                done_key=DONE_KEYS.get(request.query_params.get("done") or ""),
                form_state=form_state, no_errors=FormErrors())


class AccountRequestPages(Controller):
    path = PATH
    include_in_schema = False

    @get("/", guards=[requires(*READERS)])
    async def requests(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                       status: str = "pending") -> Response[Any]:
        """The requests in the caller's scope: pending (oldest first, the longest waiting), refused or confirmed."""
        return await _list_page(request, db_session, status if status in STATUSES else "pending")

    @post("/{request_id:int}/confirm", guards=[requires(Role.officer)])
    async def confirm(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                      request_id: int) -> Response[Any]:
        """Confirm a request: its account becomes the person's active one (the old one stays as history)."""
        return await _decide(request, db_session, request_id, confirm=True)

    @post("/{request_id:int}/reject", guards=[requires(Role.officer)])
    async def reject(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                     request_id: int) -> Response[Any]:
        """Refuse a request; the reason is required (commune staff read it on the person's page)."""
        return await _decide(request, db_session, request_id, confirm=False)


async def _decide(request: Request[Any, Any, Any], session: AsyncSession, request_id: int, *,
                  confirm: bool) -> Response[Any]:
    """Decide a request and go back where the officer was: the person's page or the list. A refusal of the
    service (409, 422) shows on the request's form with the note typed; 404 (unknown, outside the officer's
    provinces) is an error page."""
    form = await request.form()
    principal = current_principal(request)
    assert principal is not None
    note = form_text(form, "decision_note")
    from_person = form_text(form, "back") == "person"
    try:
        decided = await decide_bank_account_request(session, request_id, confirm=confirm, note=note,
                                                    principal=principal)
    except Problem as problem:
        if problem.status_code not in FORM_REFUSALS:
            raise
        await session.rollback()
        state = _decision_state(request_id, note)
        state.errors = problem_errors(problem, current_lang(request), fields=state.fields,
                                      form_field=state.form_field)
        if from_person:
            beneficiary_id: UUID | None = await session.scalar(
                select(BankAccountRequest.beneficiary_id).where(BankAccountRequest.id == request_id))
            if beneficiary_id is not None:
                return await person_page(request, session, beneficiary_id, status_code=problem.status_code,
                                         form_state=state)
        return await _list_page(request, session, "pending", status_code=problem.status_code, form_state=state)
    done = "request_confirmed" if confirm else "request_rejected"
    if from_person:
        return see_other(f"/beneficiaries/{decided.beneficiary_id}?done={done}#accounts-heading")
    return see_other(f"{PATH}?done={done}")
