"""Beneficiary pages: search (accents optional), a person's detail with payouts timeline and the forms that
change it (bank account or a commune's request for one, corrections, status events, enrolments), import.

Every form posts to a page route that calls the same service function as the API; a refusal of the service
(409, 422) comes back on the form with what was typed and the service's message in the page's language.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import UploadFile
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.names import staff_names
from app.database import session_scope
from app.http.problems import Problem
from app.payouts.service.back_pay import months_not_back_paid
from app.payouts.service.errors import PayoutError
from app.payouts.service.history import payout_arrival, return_reason_message
from app.reconciliation_api.blocks import open_account_blocks
from app.reconciliation_api.blocks import release_block as release_account_block
from app.reconciliation_api.resolution import open_returns_of
from app.registry.importer.columns import COLUMNS as IMPORT_COLUMNS
from app.registry.importer.service import import_beneficiaries, record_rejected_import
from app.registry.importer.template import import_template_xlsx
from app.registry.models import Beneficiary
from app.registry.routes import READERS
from app.registry.schemas import (
    BankAccountIn,
    BeneficiaryOut,
    BeneficiaryPatch,
    EnrolmentEndIn,
    EnrolmentIn,
    EventIn,
)
from app.registry.service import accounts as registry_accounts
from app.registry.service import beneficiaries as registry
from app.registry.service import enrolments as registry_enrolments
from app.registry.service.programmes import list_banks, list_programmes
from app.registry.validation import FieldError, parse_coefficient
from app.reports_api.routes import OVERPAID_READERS, XLSX
from app.vietnam_time import form_minute_now, vietnam_today
from app.web import follow_up
from app.web.follow_up import KIND_KEYS, WITHDRAWAL_CHANNEL_KEYS
from app.web.forms import FORM_REFUSALS, FormErrors, form_text, problem_errors
from app.web.render import current_lang, page, see_other
from app.withdrawals_api.routes import COMMUNE_WRITERS
from app.withdrawals_api.service import list_follow_up_notes, list_withdrawals
from reports.overpaid import REASONS, overpaid_list

PAGE_SIZE = 25
STATUS_KEYS = {"active": "person.status.active", "suspended": "person.status.suspended",
               "deceased": "person.status.deceased"}
CHANNEL_KEYS = {"bank": "person.channel.bank", "cash": "person.channel.cash"}
SEX_KEYS = {"male": "person.sex.male", "female": "person.sex.female"}
PAYOUT_STATUS_KEYS = {"scheduled": "payout.status.scheduled", "sent": "payout.status.sent",
                      "credited": "payout.status.credited", "returned": "payout.status.returned",
                      "cancelled": "payout.status.cancelled"}
EVENT_KEYS = {"registered": "person.event.registered", "suspended": "person.event.suspended", "resumed": "person.event.resumed",
              "deceased": "person.event.deceased", "moved": "person.event.moved"}
REQUEST_STATUS_KEYS = {"pending": "requests.status.pending", "confirmed": "requests.status.confirmed",
                       "rejected": "requests.status.rejected"}
LABELS: dict[str, Any] = {"status_keys": STATUS_KEYS, "channel_keys": CHANNEL_KEYS, "sex_keys": SEX_KEYS,
          "payout_status_keys": PAYOUT_STATUS_KEYS, "event_keys": EVENT_KEYS,
          "request_status_keys": REQUEST_STATUS_KEYS}
DONE_KEYS = {**follow_up.DONE_KEYS, "account_registered": "person.done.account_registered",
             "account_requested": "person.done.account_requested", "edited": "person.done.edited",
             "edited_age_warning": "person.done.edited_age_warning",
             "unchanged": "person.done.unchanged", "event": "person.done.event",
             "enrolment_ended": "person.done.enrolment_ended", "enrolled": "person.done.enrolled",
             "request_confirmed": "requests.done.confirmed", "request_rejected": "requests.done.rejected",
             "block_released": "people.blocked.released"}
SEARCH_DONE_KEYS = {"moved_away": "people.done.moved_away"}
# Who registers an account: an officer directly, commune staff by a request an officer confirms.
ACCOUNT_WRITERS = (Role.officer, Role.commune_staff)
ACCOUNT_FIELDS = ("bank_bin", "account_number", "holder_name", "account_note")
EDIT_FIELDS = ("full_name", "national_id", "date_of_birth", "sex", "address", "phone", "channel")
EVENT_FIELDS = ("event_kind", "effective_on", "to_commune", "event_reason")
ENROL_FIELDS = ("enrol_category", "enrol_coefficient", "enrol_start_month", "enrol_decision_number",
                "enrol_decision_date")
# The enrolment form's inputs for the service's field names (programme and category are one choice on the form).
ENROL_INPUTS = {"programme": "enrol_category", "category": "enrol_category", "coefficient": "enrol_coefficient",
                "start_month": "enrol_start_month", "decision_number": "enrol_decision_number",
                "decision_date": "enrol_decision_date"}
# The events that fit a status (the service refuses the others, 409); none once the person died.
EVENT_CHOICES = {"active": ("suspended", "moved", "deceased"), "suspended": ("resumed", "moved", "deceased"),
                 "deceased": ()}


@dataclass
class FormState:
    """The form of a person's page that was just refused: which one, what was typed, what is wrong, and
    how the service's field names map to the form's inputs."""

    name: str  # "account", "edit", "event", "enrol", "end-<enrolment id>" or "decision-<request id>"
    values: dict[str, str]
    fields: dict[str, str] = dataclasses.field(default_factory=dict)
    errors: FormErrors = dataclasses.field(default_factory=FormErrors)
    form_field: str = ""  # where messages not about one input go: the form itself

    def __post_init__(self) -> None:
        self.form_field = self.form_field or f"{self.name}-form"


def _edit_values(person: BeneficiaryOut | Beneficiary) -> dict[str, str]:
    """The correction form's boxes as the person is now."""
    return {"full_name": person.full_name, "national_id": person.national_id,
            "date_of_birth": person.date_of_birth.isoformat(), "sex": person.sex, "address": person.address,
            "phone": person.phone or "", "channel": person.channel}


async def person_page(request: Request[Any, Any, Any], session: AsyncSession, beneficiary_id: UUID, *,
                      status_code: int = 200, form_state: FormState | None = None, error: PayoutError | None = None,
                      release_reason: str = "") -> Response[Any]:
    """A person's page for the caller (404 outside their scope), with a refused form open when given (a refused
    release of a block: ``error`` and the reason typed)."""
    principal = current_principal(request)
    person = await registry.beneficiary_detail(session, beneficiary_id, principal)
    accounts = await registry_accounts.list_bank_accounts(session, beneficiary_id, principal)
    events = await registry.list_events(session, beneficiary_id, principal)
    requests = await registry_accounts.list_bank_account_requests(session, principal, None,
                                                                  beneficiary_id=beneficiary_id)
    notes = await list_follow_up_notes(session, beneficiary_id, principal) if principal else []
    withdrawals = await list_withdrawals(session, beneficiary_id, principal) if principal else []
    blocks = await open_account_blocks(session, beneficiary_id)
    banks = await list_banks(session)
    role = principal.role if principal is not None else None
    done = request.query_params.get("done")
    may_enrol = role == Role.officer
    who = await staff_names(session, [*(n.recorded_by for n in notes),
                                      *(name for w in withdrawals for name in (w.recorded_by, w.cancelled_by)),
                                      *(name for r in requests for name in (r.requested_by, r.decided_by))])
    return page(request, "beneficiaries/detail.html", status_code=status_code, person=person, accounts=accounts,
                who=who,
                events=events, reason_messages={p["id"]: return_reason_message(p["return_reason"])
                                                for p in person.payouts},
                blocks={block.bank_account_id: block for block in blocks},
                active_blocks=[block for block in blocks if block.active],
                not_back_paid=await months_not_back_paid(session, beneficiary_id),
                contacts=contacts_of(notes, withdrawals), withdrawals=withdrawals,
                withdrawal_channel_keys=WITHDRAWAL_CHANNEL_KEYS, done_key=DONE_KEYS.get(done or ""), kind_keys=KIND_KEYS,
                may_record=role in COMMUNE_WRITERS,
                may_register_account=role == Role.officer and person.status != "deceased",
                may_request_account=role == Role.commune_staff and person.status != "deceased",
                may_decide=role == Role.officer, may_edit=role == Role.officer,
                pending_requests=[r for r in requests if r.status == "pending"],
                decided_requests=[r for r in reversed(requests) if r.status != "pending"],
                bank_names={bank.bin: bank.short_name for bank in banks}, banks=banks,
                **await _scheme_names(session, current_lang(request)),
                open_returns=await open_returns_of(session, beneficiary_id) if role == Role.officer else 0,
                event_choices=EVENT_CHOICES.get(person.status, ()), edit_values=_edit_values(person),
                age_warned={warning.enrolment_id for warning in person.warnings},
                overpaid=(await overpaid_list(session, beneficiary_id=beneficiary_id)).people,
                overpaid_reasons=REASONS, may_see_overpaid_list=role in OVERPAID_READERS,
                may_enrol=may_enrol, programmes=await list_programmes(session) if may_enrol else [],
                this_month=f"{vietnam_today():%Y-%m}", open_end=_open_end(request, form_state),
                form_state=form_state, no_errors=FormErrors(), today=vietnam_today().isoformat(),
                may_release=role == Role.officer, release_reason=release_reason,
                error=None if error is None else (error.en if current_lang(request) == "en" else error.vi),
                now_local=form_minute_now(), **LABELS)


def _open_end(request: Request[Any, Any, Any], form_state: FormState | None) -> int | None:
    """The enrolment whose end form starts open: the one just refused, or the one the age notice's link names
    (``?end=<enrolment id>``, so it opens without scripts)."""
    if form_state is not None and form_state.name.startswith("end-"):
        return int(form_state.name.removeprefix("end-"))
    asked = request.query_params.get("end") or ""
    return int(asked) if asked.isdigit() else None


async def _scheme_names(session: AsyncSession, lang: str) -> dict[str, Any]:
    """Programme and category names in the page's language (the codes stay beside them): staff read "Người cao
    tuổi từ 80 tuổi trở lên…", not NCT_80."""
    column = "name_en" if lang == "en" else "name_vi"
    programmes = await session.execute(text(f"SELECT code, {column} AS name FROM programme"))  # noqa: S608
    categories = await session.execute(text(
        f"SELECT programme_code, code, {column} AS name FROM programme_category"))  # noqa: S608
    return {"programme_names": {row.code: row.name for row in programmes},
            "category_names": {(row.programme_code, row.code): row.name for row in categories}}


async def refused(request: Request[Any, Any, Any], session: AsyncSession, beneficiary_id: UUID, problem: Problem,
                  state: FormState) -> Response[Any]:
    """The person's page again after the service refused a form (409, 422): nothing of the post is kept, the
    form shows what was typed and why. Other refusals (403, 404) are error pages."""
    if problem.status_code not in FORM_REFUSALS:
        raise problem
    await session.rollback()
    state.errors = problem_errors(problem, current_lang(request), fields=state.fields, form_field=state.form_field)
    return await person_page(request, session, beneficiary_id, status_code=problem.status_code, form_state=state)


@dataclass(frozen=True)
class LatestPayout:
    """A person's latest payout as the list of people shows it: has this month's money arrived, and been
    withdrawn? ``state`` is a message key (``people.latest.*``), ``since`` its time."""

    period: date
    amount: int
    state: str
    since: Any = None


def latest_payout_state(status: str, channel: str, arrived_at: Any, first_withdrawal_at: Any,
                        withdrawn_at: Any) -> tuple[str, Any]:
    """The message key and time of a payout's state, as commune staff ask it: on its way, arrived and waiting,
    partly or fully withdrawn (for cash: handed over), returned (a cancelled payout is never the latest)."""
    if status == "returned":
        return "people.latest.returned", None
    if arrived_at is None:
        return "people.latest.on_its_way", None
    if withdrawn_at is not None:
        return ("people.latest.handed_over" if channel == "cash" else "people.latest.withdrawn"), withdrawn_at
    if first_withdrawal_at is not None:
        return "people.latest.partly", first_withdrawal_at
    return ("people.latest.cash_waiting" if channel == "cash" else "people.latest.waiting"), arrived_at


async def latest_payouts(session: AsyncSession, people: list[UUID]) -> dict[UUID, LatestPayout]:
    """Each of ``people``'s latest payout (the latest month paid; a page of the list: one lookup by person)."""
    if not people:
        return {}
    rows = await session.execute(text(
        """SELECT DISTINCT ON (p.beneficiary_id) p.beneficiary_id, r.period, p.amount, p.status, p.channel,
                  p.credited_at, p.sent_at, p.first_withdrawal_at, p.withdrawn_at
             FROM payout p JOIN payout_run r ON r.id = p.run_id
            WHERE p.beneficiary_id = ANY(:people) AND p.status <> 'cancelled'
            ORDER BY p.beneficiary_id, r.period DESC, p.serial DESC"""), {"people": people})
    latest = {}
    for r in rows:
        state, since = latest_payout_state(r.status, r.channel, payout_arrival(r.status, r.channel, r.credited_at,
                                                                                 r.sent_at),
                                           r.first_withdrawal_at, r.withdrawn_at)
        latest[r.beneficiary_id] = LatestPayout(period=r.period, amount=int(r.amount), state=state, since=since)
    return latest


def contacts_of(notes: list[Any], withdrawals: list[Any]) -> list[dict[str, Any]]:
    """Every time commune staff were in touch with the person, newest first: their notes (visits, calls) and
    the withdrawals they helped with or the cash they handed over (not cancelled) — the follow-up list's
    "last contact" is the first of these."""
    contacts = [{"at": n.at, "kind": n.kind, "recorded_by": n.recorded_by, "text": n.text} for n in notes]
    contacts += [{"at": w.occurred_at, "kind": w.channel, "recorded_by": w.recorded_by, "text": None}
                 for w in withdrawals if w.source == "commune" and w.cancelled_at is None]
    return sorted(contacts, key=lambda contact: contact["at"], reverse=True)


class BeneficiaryPages(Controller):
    path = "/beneficiaries"
    include_in_schema = False

    @get("/", guards=[requires(*READERS)])
    async def search(self, request: Request[Any, Any, Any], db_session: AsyncSession, q: str = "",
                     commune: str = "", status: str = "", page_number: int = 1) -> Response[Any]:
        """Search by name (accents optional), citizen ID or phone, in the caller's scope."""
        principal = current_principal(request)
        found = await registry.search_beneficiaries(
            db_session, principal, q=q or None, commune=commune or None,
            status=status if status in registry.STATUSES else None, page=page_number, page_size=PAGE_SIZE)
        pages = max(1, -(-found.total // PAGE_SIZE))
        latest = await latest_payouts(db_session, [item.id for item in found.items])
        return page(request, "beneficiaries/search.html", found=found, q=q, commune=commune, status=status,
                    pages=pages, statuses=registry.STATUSES, latest=latest,
                    done_key=SEARCH_DONE_KEYS.get(request.query_params.get("done") or ""),
                    may_import=principal is not None and principal.role == Role.officer, **LABELS)

    @get("/{beneficiary_id:uuid}", guards=[requires(*READERS)])
    async def detail(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                     beneficiary_id: UUID) -> Response[Any]:
        """A person: identity, bank account history and change requests, enrolments, status events and payouts
        timeline; the forms the caller's role may use."""
        return await person_page(request, db_session, beneficiary_id)

    @post("/{beneficiary_id:uuid}/bank-accounts", guards=[requires(*ACCOUNT_WRITERS)])
    async def add_bank_account(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                               beneficiary_id: UUID) -> Response[Any]:
        """Officer: the new account becomes the active one (the old one stays as history). Commune staff: a
        request an officer confirms. As ``POST /api/beneficiaries/{id}/bank-accounts`` does."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        values = {name: form_text(form, name) for name in ACCOUNT_FIELDS}
        data = BankAccountIn(bank_bin=values["bank_bin"], account_number=values["account_number"],
                             holder_name=values["holder_name"] or None, note=values["account_note"])
        try:
            if principal.role == Role.commune_staff:
                await registry_accounts.request_bank_account_change(db_session, beneficiary_id, data, principal)
            else:
                await registry_accounts.add_bank_account(db_session, beneficiary_id, data, principal)
        except Problem as problem:
            return await refused(request, db_session, beneficiary_id, problem, FormState(
                "account", values, fields={"bank_bin": "bank_bin", "account_number": "account_number",
                                           "holder_name": "holder_name", "note": "account_note"}))
        done = "account_requested" if principal.role == Role.commune_staff else "account_registered"
        return see_other(f"/beneficiaries/{beneficiary_id}?done={done}#accounts-heading")

    @post("/{beneficiary_id:uuid}/edit", guards=[requires(Role.officer)])
    async def edit(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                   beneficiary_id: UUID) -> Response[Any]:
        """Correct name, citizen ID, date of birth, sex, address, phone or channel, as
        ``PATCH /api/beneficiaries/{id}`` does; only what the officer changed is sent."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        values = {name: form_text(form, name) for name in EDIT_FIELDS}
        state = FormState("edit", values, fields={name: name for name in EDIT_FIELDS})
        current = _edit_values(await registry.load_beneficiary(db_session, beneficiary_id, principal))
        changes: dict[str, Any] = {name: values[name] for name in EDIT_FIELDS
                                   if values[name] != current[name] and name != "date_of_birth"}
        if values["date_of_birth"] != current["date_of_birth"]:
            try:
                changes["date_of_birth"] = date.fromisoformat(values["date_of_birth"])
            except ValueError:
                state.errors.add("date_of_birth", "person.edit.date_invalid")
                return await person_page(request, db_session, beneficiary_id, status_code=422, form_state=state)
        if "phone" in changes and not changes["phone"]:
            changes["phone"] = None  # an emptied box removes the number
        if not changes:
            return see_other(f"/beneficiaries/{beneficiary_id}?done=unchanged")
        try:
            warnings = await registry.update_beneficiary(db_session, beneficiary_id, BeneficiaryPatch(**changes),
                                                         principal)
        except Problem as problem:
            return await refused(request, db_session, beneficiary_id, problem, state)
        if warnings:  # saved; the page's notice says which enrolments no longer fit the corrected age
            return see_other(f"/beneficiaries/{beneficiary_id}?done=edited_age_warning#age-warnings")
        return see_other(f"/beneficiaries/{beneficiary_id}?done=edited")

    @post("/{beneficiary_id:uuid}/events", guards=[requires(Role.officer)])
    async def add_event(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                        beneficiary_id: UUID) -> Response[Any]:
        """Record a suspension, a resumption, a death (with its date) or a move (with the new commune), as
        ``POST /api/beneficiaries/{id}/events`` does."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        values = {name: form_text(form, name) for name in EVENT_FIELDS}
        state = FormState("event", values, fields={"kind": "event_kind", "effective_on": "effective_on",
                                                   "to_commune": "to_commune", "reason": "event_reason"})
        try:
            effective_on = date.fromisoformat(values["effective_on"]) if values["effective_on"] else None
        except ValueError:
            state.errors.add("effective_on", "person.edit.date_invalid")
            return await person_page(request, db_session, beneficiary_id, status_code=422, form_state=state)
        try:
            await registry.record_event(db_session, beneficiary_id, EventIn(
                kind=values["event_kind"], effective_on=effective_on, to_commune=values["to_commune"] or None,
                reason=values["event_reason"]), principal)
        except Problem as problem:
            return await refused(request, db_session, beneficiary_id, problem, state)
        try:
            await registry.load_beneficiary(db_session, beneficiary_id, principal)
        except Problem:  # moved to a commune outside the officer's provinces: out of their sight now
            return see_other("/beneficiaries?done=moved_away")
        return see_other(f"/beneficiaries/{beneficiary_id}?done=event#events-heading")

    @post("/{beneficiary_id:uuid}/enrolments", guards=[requires(Role.officer)])
    async def add_enrolment(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                            beneficiary_id: UUID) -> Response[Any]:
        """Enrol the person in a programme category from a start month (MM/YYYY), by decision, as
        ``POST /api/beneficiaries/{id}/enrolments`` does (the same checks, the age in the start month among them)."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        values = {name: form_text(form, name) for name in ENROL_FIELDS}
        state = FormState("enrol", values, fields=ENROL_INPUTS)
        programme, _, category = values["enrol_category"].partition("/")
        lang = current_lang(request)
        coefficient = None
        try:  # the API takes a number; the form's text is read as the import reads it ("1,5" or "1.5")
            coefficient = parse_coefficient(values["enrol_coefficient"])
        except FieldError as bad:
            state.errors.add("enrol_coefficient", "form.problem",
                             message=bad.message.en if lang == "en" else bad.message.vi)
        decision_date = None
        try:
            decision_date = (date.fromisoformat(values["enrol_decision_date"]) if values["enrol_decision_date"]
                             else None)
        except ValueError:
            state.errors.add("enrol_decision_date", "person.edit.date_invalid")
        if state.errors:
            return await person_page(request, db_session, beneficiary_id, status_code=422, form_state=state)
        try:
            await registry_enrolments.add_enrolment(db_session, beneficiary_id, EnrolmentIn(
                programme=programme, category=category, start_month=values["enrol_start_month"],
                decision_number=values["enrol_decision_number"], coefficient=coefficient,
                decision_date=decision_date), principal)
        except Problem as problem:
            return await refused(request, db_session, beneficiary_id, problem, state)
        return see_other(f"/beneficiaries/{beneficiary_id}?done=enrolled#enrolments-heading")

    @post("/{beneficiary_id:uuid}/enrolments/{enrolment_id:int}/end", guards=[requires(Role.officer)])
    async def end_enrolment(self, request: Request[Any, Any, Any], db_session: AsyncSession, beneficiary_id: UUID,
                            enrolment_id: int) -> Response[Any]:
        """End an enrolment: the last month paid (MM/YYYY) and why, as the API's
        ``PATCH /api/beneficiaries/{id}/enrolments/{enrolment_id}`` does (audited ``enrolment.end``)."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        values = {"end_month": form_text(form, "end_month"), "end_reason": form_text(form, "end_reason")}
        state = FormState(f"end-{enrolment_id}", values, fields={"end_month": f"end_month-{enrolment_id}",
                                                                  "reason": f"end_reason-{enrolment_id}"})
        if not values["end_month"]:  # a blank month would reopen the enrolment in the API, not end it
            state.errors.add(f"end_month-{enrolment_id}", "person.enrolment.end_month_missing")
            return await person_page(request, db_session, beneficiary_id, status_code=422, form_state=state)
        try:
            await registry_enrolments.set_enrolment_end(db_session, beneficiary_id, enrolment_id, EnrolmentEndIn(
                end_month=values["end_month"], reason=values["end_reason"]), principal)
        except Problem as problem:
            return await refused(request, db_session, beneficiary_id, problem, state)
        return see_other(f"/beneficiaries/{beneficiary_id}?done=enrolment_ended#enrolments-heading")

    @post("/{beneficiary_id:uuid}/blocks/{block_id:int}/release", guards=[requires(Role.officer)])
    async def release_block(self, request: Request[Any, Any, Any], db_session: AsyncSession, beneficiary_id: UUID,
                            block_id: int) -> Response[Any]:
        """Release the block on one of the person's account numbers: the bank confirmed the account can receive
        money again (reason required, audited); back to the person's page."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        await registry.load_beneficiary(db_session, beneficiary_id, principal)  # 404 outside their provinces
        if block_id not in {block.id for block in await open_account_blocks(db_session, beneficiary_id)}:
            error = PayoutError("Tài khoản của người này không có khoá đang mở với mã số đó",
                                "none of this person's accounts has an open block with that number")
            return await person_page(request, db_session, beneficiary_id, error=error, status_code=404)
        try:
            await release_account_block(db_session, block_id, actor=principal.name, actor_role=principal.role.value,
                                        reason=form_text(form, "reason"))
        except PayoutError as error:
            await db_session.rollback()
            return await person_page(request, db_session, beneficiary_id, error=error, status_code=error.status,
                                     release_reason=form_text(form, "reason"))
        return see_other(f"/beneficiaries/{beneficiary_id}?done=block_released")

    @get("/import", guards=[requires(Role.officer)])
    async def import_form(self, request: Request[Any, Any, Any]) -> Response[Any]:
        """Upload a beneficiary list (xlsx or csv); the columns it takes are listed, with a blank template."""
        return page(request, "beneficiaries/import.html", outcome=None, upload_id=None, filename=None,
                    columns=IMPORT_COLUMNS)

    @get("/import/template.xlsx", guards=[requires(Role.officer)])
    async def import_template(self, db_session: AsyncSession) -> Response[bytes]:
        """A blank import file: the list sheet with the header row in Vietnamese (what the import reads), then
        what to write in each column with an example, the categories (codes, coefficients, ages) and the banks."""
        categories = (await db_session.execute(text(
            """SELECT programme_code, code, name_vi, name_en, coefficient FROM programme_category
                ORDER BY programme_code = 'NCC', programme_code DESC, code"""))).all()
        banks = (await db_session.execute(text("SELECT bin, short_name, name FROM bank ORDER BY short_name"))).all()
        return Response(import_template_xlsx(categories, banks), media_type=XLSX,
                        headers={"Content-Disposition": 'attachment; filename="mau-danh-sach-doi-tuong.xlsx"'})

    @post("/import", guards=[requires(Role.officer)])
    async def import_file(self, request: Request[Any, Any, Any], db_session: AsyncSession) -> Response[Any]:
        """Import the file: the summary, or every bad row with row, column and message (nothing stored)."""
        form = await request.form()
        upload = form.get("file")
        if not isinstance(upload, UploadFile) or not upload.filename:
            return page(request, "beneficiaries/import.html", status_code=422, outcome=None, upload_id=None,
                        filename=None, missing_file=True, columns=IMPORT_COLUMNS)
        content = await upload.read()
        principal = current_principal(request)
        assert principal is not None
        outcome = await import_beneficiaries(db_session, content=content, filename=upload.filename,
                                             principal=principal)
        upload_id = outcome.upload_id
        if not outcome.applied:
            await db_session.rollback()
            async with session_scope(request.app.state.engine) as own_session:
                upload_id = await record_rejected_import(own_session, content=content, filename=upload.filename,
                                                         principal=principal, outcome=outcome)
        return page(request, "beneficiaries/import.html", status_code=200 if outcome.applied else 422,
                    outcome=outcome, upload_id=upload_id, filename=upload.filename, columns=IMPORT_COLUMNS)
