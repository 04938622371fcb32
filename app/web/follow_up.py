"""Follow-up pages for commune staff: the people whose money waits longest (elderly first), one tap
to call, record a visit or call, record an assisted withdrawal or a cash handover; print and Excel."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.names import staff_names
from app.auth.service import Principal
from app.http.money import Dong
from app.http.problems import Problem, bilingual
from app.payouts.service.orders import HANDED_OVER, SENT_STATUSES, no_cash_yet
from app.registry.identity import mask_digits
from app.registry.scope import masks_identifiers
from app.reports_api.routes import FOLLOW_UP_READERS, scope_of
from app.vietnam_time import form_minute_now, from_wall_clock
from app.web.forms import FormErrors, form_text
from app.web.render import current_lang, in_language, page, page_count, pager, see_other
from app.withdrawals_api.routes import COMMUNE_WRITERS
from app.withdrawals_api.schemas import AssistedWithdrawalIn, FollowUpNoteIn, WithdrawalCancelIn
from app.withdrawals_api.service import (
    add_assisted_withdrawal,
    add_follow_up_note,
    cancel_assisted_withdrawal,
    person_in_scope,
    undrawn_amount,
)
from reports.cash_handover import cash_handover_page
from reports.follow_up import EXPORT_LIMIT, follow_up_page
from reports.time_to_withdrawal import scope_condition

KIND_KEYS = {"visit": "follow.kind.visit", "call": "follow.kind.call", "note": "follow.kind.note",
             "assisted": "follow.kind.assisted", "cash_handover": "follow.kind.cash_handover"}
DONE_KEYS = {"note": "follow.done.note", "withdrawal": "follow.done.withdrawal", "cancelled": "follow.done.cancelled",
             "handover": "follow.done.handover"}
WITHDRAWAL_CHANNEL_KEYS = {"atm": "withdrawal.channel.atm", "counter": "withdrawal.channel.counter",
                           "transfer": "withdrawal.channel.transfer", "qr": "withdrawal.channel.qr",
                           "pos": "withdrawal.channel.pos", "agent": "withdrawal.channel.agent",
                           "assisted": "follow.kind.assisted", "cash_handover": "follow.kind.cash_handover"}
DAY_CHOICES = (3, 7, 14, 30)
PAGE_SIZE = 100  # people on one page of the list: each card carries its two forms (~2.6 KB), so a page stays
# near 260 KB for a phone on a rural network (500 a page weighed 1.3 MB)
CASH_RUN_CHOICES = 12  # the latest runs with cash a cash handover list offers (a year of one programme)
DECEASED_SHOWN = 50  # the people of the list whose death is recorded, shown apart (not to visit)
MAX_PAGE_NUMBER = 100_000  # any page past the end shows the last one


# Communes by name in Vietnamese alphabetical order (migration 0039).
_BY_NAME = 'ORDER BY vietnamese_sort_key(name) COLLATE "C"'


async def communes_in_scope(session: AsyncSession, principal: Principal) -> list[Any]:
    """The communes a person may pick: their own, or (officers) those with payouts in their provinces."""
    communes, provinces = scope_of(principal)
    if communes is not None:
        query = f"SELECT code, name FROM commune WHERE code = ANY(:codes) {_BY_NAME}"  # noqa: S608 - a constant
        params: dict[str, Any] = {"codes": list(communes)}
    elif provinces is not None:
        query = f"""SELECT code, name FROM commune WHERE province_code = ANY(:provinces)
                      AND code IN (SELECT DISTINCT commune_code FROM beneficiary) {_BY_NAME}"""  # noqa: S608
        params = {"provinces": list(provinces)}
    else:
        query = "SELECT code, name FROM commune WHERE code IN (SELECT DISTINCT commune_code FROM beneficiary) " + _BY_NAME  # noqa: S608
        params = {}
    return list(await session.execute(text(query), params))


def checked_commune(choices: list[Any], commune: str) -> str:
    """The commune a page was asked for, refused (403) when it is outside the caller's choices."""
    if commune and commune not in {c.code for c in choices}:
        raise Problem(403, "Xã/phường này không thuộc phạm vi của bạn / This commune is outside your scope")
    return commune


def _page_number(form: Any) -> str:
    page_number = form_text(form, "page_number")
    return page_number if page_number.isascii() and page_number.isdigit() else "1"


def _cash_list_path(form: Any) -> str:
    """The cash handover list a form came from: its run, commune, search and page."""
    try:
        run = str(UUID(form_text(form, "run")))
    except ValueError:
        run = ""  # the page then shows the latest run
    query = [(key, value) for key, value in (("run", run), ("commune", form_text(form, "commune")),
                                             ("q", form_text(form, "q"))) if value]
    return f"/follow-up/cash?{urlencode([*query, ('page_number', _page_number(form))])}"


def _back(form: Any, beneficiary_id: UUID, done: str | None) -> str:
    """Back to the person's page when the form was there, to the cash handover list at the card's place (the
    person now there: the next one when this one was handed over in full), else to the list it came from."""
    suffix = f"&done={done}" if done else ""
    back = form_text(form, "back")
    if back == "person":
        return f"/beneficiaries/{beneficiary_id}" + (f"?done={done}" if done else "")
    if back == "cash":  # the page shows the saved notice in the card now at the position, in view
        position = form_text(form, "position")
        if not (position.isascii() and position.isdigit()):
            return _cash_list_path(form) + suffix
        return f"{_cash_list_path(form)}{suffix}{f'&position={position}' if done else ''}#p-{position}"
    return (f"/follow-up?commune={form_text(form, 'commune')}&min_days={form_text(form, 'min_days') or '7'}"
            f"&page_number={_page_number(form)}{suffix}")


async def _cash_runs(session: AsyncSession, communes: Any, provinces: Any, commune: str | None,
                     limit: int = 6) -> list[Any]:
    """The latest sent runs with cash for the caller's communes: the lists the cash is handed over from."""
    params: dict[str, Any] = {}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune)
    return list(await session.execute(text(
        f"""SELECT r.id, r.programme_code, r.period, count(*) AS cash_payouts
              FROM payout_run r JOIN payout p ON p.run_id = r.id JOIN commune cm ON cm.code = p.commune_code
             WHERE r.status IN {HANDED_OVER} AND p.channel = 'cash' AND {where}
             GROUP BY r.id, r.programme_code, r.period ORDER BY r.period DESC, r.programme_code LIMIT :limit"""),  # noqa: S608
        {**params, "limit": limit}))


WITHDRAWAL_FIELDS = ("amount", "occurred_at", "helper_name", "note")
BACK_FIELDS = ("back", "commune", "min_days", "page_number", "run", "q", "position")


NOTE_FIELDS = ("kind", "at", "text")


def _form_errors(problem: Problem, request: Request[Any, Any, Any], fields: tuple[str, ...] = WITHDRAWAL_FIELDS,
                 default: str = "amount") -> FormErrors:
    """A refusal's field errors, each next to its input, in the page's language (anything else at ``default``)."""
    errors = FormErrors()
    lang = current_lang(request)
    for item in problem.errors or []:
        message = item.get("message_en") if lang == "en" and item.get("message_en") else item.get("message")
        field_name = item.get("column") if item.get("column") in fields else default
        errors.add(str(field_name), "follow.error.message", message=message)
    return errors


async def _form_again(request: Request[Any, Any, Any], session: AsyncSession, beneficiary_id: UUID, form: Any,
                      errors: FormErrors, *, template: str, fields: tuple[str, ...], detail: str | None = None,
                      status_code: int = 422, **context: Any) -> Response[Any]:
    """One person's refused form again (422, or the refusal's status), with what was typed, the errors and the
    way back."""
    principal = current_principal(request)
    assert principal is not None  # guarded route
    person = await person_in_scope(session, beneficiary_id, principal)
    name = await session.scalar(text("SELECT full_name FROM beneficiary WHERE id = :b"), {"b": beneficiary_id})
    values = {key: form_text(form, key) for key in fields + BACK_FIELDS}
    back = _back(form, beneficiary_id, None)
    return page(request, template, status_code=status_code, person_id=beneficiary_id, full_name=name,
                cash=person.channel == "cash", values=values, errors=errors, detail=detail, back_url=back, **context)


async def _withdrawal_form(request: Request[Any, Any, Any], session: AsyncSession, beneficiary_id: UUID, form: Any,
                           errors: FormErrors, *, detail: str | None = None, status_code: int = 422) -> Response[Any]:
    """The withdrawal form of one person again (422, or the refusal's status), with what was typed, the errors
    and the way back."""
    return await _form_again(request, session, beneficiary_id, form, errors, template="follow_up/withdrawal.html",
                             fields=WITHDRAWAL_FIELDS, detail=detail, status_code=status_code,
                             waiting=await undrawn_amount(session, beneficiary_id))


class FollowUpPages(Controller):
    path = "/follow-up"
    include_in_schema = False

    @get("/", guards=[requires(*FOLLOW_UP_READERS)])
    async def follow_up(self, request: Request[Any, Any, Any], db_session: AsyncSession, commune: str = "",
                        min_days: int = 7, page_number: str = "1") -> Response[Any]:
        """The people waiting at least ``min_days`` in the chosen commune (all of the caller's by default), a page
        at a time, with the number of people and the amount waiting in the whole list."""
        principal = current_principal(request)
        assert principal is not None
        choices = await communes_in_scope(db_session, principal)
        commune = checked_commune(choices, commune)
        communes, provinces = scope_of(principal)
        min_days = max(0, min(min_days, 365))
        shown_page = min(max(1, int(page_number)), MAX_PAGE_NUMBER) if page_number.isascii() and page_number.isdigit() else 1
        listed = await follow_up_page(db_session, communes=communes, provinces=provinces, commune=commune or None,
                                      min_days=min_days, page=shown_page, page_size=PAGE_SIZE)
        pages = page_count(listed.total, PAGE_SIZE)
        if shown_page > pages:  # the list got shorter (people withdrew) since the link was made: its last page
            shown_page = pages
            listed = await follow_up_page(db_session, communes=communes, provinces=provinces,
                                          commune=commune or None, min_days=min_days, page=shown_page,
                                          page_size=PAGE_SIZE)
        deceased = []
        if listed.deceased:  # not to visit: listed apart, for the officer to recover their money
            deceased = (await follow_up_page(db_session, communes=communes, provinces=provinces,
                                             commune=commune or None, min_days=min_days, page=1,
                                             page_size=DECEASED_SHOWN, deceased=True)).people
        cash_runs = await _cash_runs(db_session, communes, provinces, commune or None)
        who = await staff_names(db_session, [person.last_contact_by for person in listed.people])
        return page(request, "follow_up/list.html", people=listed.people, communes=choices, commune=commune, who=who,
                    min_days=min_days, day_choices=DAY_CHOICES, kind_keys=KIND_KEYS,
                    may_record=principal.role in COMMUNE_WRITERS, now_local=form_minute_now(),
                    done_key=DONE_KEYS.get(request.query_params.get("done") or ""),
                    total_people=listed.total, total_waiting=listed.amount_waiting, deceased=deceased,
                    deceased_count=listed.deceased, deceased_amount=listed.deceased_amount,
                    excel_has_all=listed.total <= EXPORT_LIMIT, cash_runs=cash_runs,
                    pager=pager("/follow-up", {"commune": commune, "min_days": min_days}, page=shown_page,
                                pages=pages, total=listed.total, page_size=PAGE_SIZE))

    @get("/cash", guards=[requires(*FOLLOW_UP_READERS)])
    async def cash_handover(self, request: Request[Any, Any, Any], db_session: AsyncSession, run: UUID | None = None,
                            commune: str = "", q: str = "", page_number: str = "1",
                            position: str = "") -> Response[Any]:
        """The cash of a run (the latest sent run with cash by default) still to hand over in the chosen commune
        (all of the caller's by default): who, how much, for which months, the oldest first, a page at a time,
        each with the handover form; found by name, citizen ID (or its last 4 digits) or phone. After a save
        (``done``) its notice is in the card at ``position``, where the page opens, rather than out of view."""
        principal = current_principal(request)
        assert principal is not None
        choices = await communes_in_scope(db_session, principal)
        commune = checked_commune(choices, commune)
        communes, provinces = scope_of(principal)
        runs = await _cash_runs(db_session, communes, provinces, commune or None, limit=CASH_RUN_CHOICES)
        if run is None and runs:
            run = runs[0].id
        chosen = None
        if run is not None:
            chosen = (await db_session.execute(text(
                "SELECT id, programme_code, period, status FROM payout_run WHERE id = :id"), {"id": run})).first()
            if chosen is None:
                raise Problem(404, bilingual("Không có đợt chi này", "no such payout run"))
            if chosen.status not in SENT_STATUSES:
                raise Problem(409, bilingual(*no_cash_yet(chosen.status)))
            if chosen.id not in {r.id for r in runs}:  # an older run asked for by its link: still one to pick
                runs = [*runs, chosen]
        q = q.strip()[:100]
        shown_page = min(max(1, int(page_number)), MAX_PAGE_NUMBER) if page_number.isascii() and page_number.isdigit() else 1
        listed = None
        if chosen is not None:
            listed = await cash_handover_page(db_session, chosen.id, communes=communes, provinces=provinces,
                                              commune=commune or None, q=q, page=shown_page, page_size=PAGE_SIZE)
            if shown_page > page_count(listed.matched, PAGE_SIZE):  # handed over since the link was made: the last page
                shown_page = page_count(listed.matched, PAGE_SIZE)
                listed = await cash_handover_page(db_session, chosen.id, communes=communes, provinces=provinces,
                                                  commune=commune or None, q=q, page=shown_page, page_size=PAGE_SIZE)
        matched = listed.matched if listed is not None else 0
        masked = masks_identifiers(principal)
        return page(request, "follow_up/cash.html", run=chosen, runs=runs, communes=choices, commune=commune, q=q,
                    listed=listed, people=listed.people if listed is not None else [],
                    national_id=(lambda value: mask_digits(value) if masked else value),
                    may_record=principal.role in COMMUNE_WRITERS, now_local=form_minute_now(),
                    done_key=DONE_KEYS.get(request.query_params.get("done") or ""),
                    done_position=int(position) if position.isascii() and position.isdigit() else None,
                    pager=pager("/follow-up/cash", {"run": str(chosen.id) if chosen else "", "commune": commune,
                                                    "q": q},
                                page=shown_page, pages=page_count(matched, PAGE_SIZE), total=matched,
                                page_size=PAGE_SIZE))

    @post("/{beneficiary_id:uuid}/note", guards=[requires(*COMMUNE_WRITERS)])
    async def note(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                   beneficiary_id: UUID) -> Response[Any]:
        """Record a home visit, a call or a note about the person, when it happened (blank: now). A refusal (a time
        in the future or before 2025) shows the form again with what was typed and the reason at the field."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        at = None
        if form_text(form, "at"):
            try:
                at = from_wall_clock(form_text(form, "at"))
            except ValueError:
                errors = FormErrors()
                errors.add("at", "follow.error.when")
                return await self._note_form(request, db_session, beneficiary_id, form, errors)
        try:
            await add_follow_up_note(db_session, beneficiary_id, FollowUpNoteIn(
                kind=form_text(form, "kind"), text=form_text(form, "text"), at=at), principal)
        except Problem as problem:
            if problem.status_code != 422:  # scope (403) and unknown people (404) keep their error pages
                raise
            await db_session.rollback()
            return await self._note_form(request, db_session, beneficiary_id, form,
                                         _form_errors(problem, request, NOTE_FIELDS, "text"),
                                         detail=in_language(str(problem.detail), current_lang(request)))
        return see_other(_back(form, beneficiary_id, "note"))

    @staticmethod
    async def _note_form(request: Request[Any, Any, Any], session: AsyncSession, beneficiary_id: UUID, form: Any,
                         errors: FormErrors, *, detail: str | None = None) -> Response[Any]:
        return await _form_again(request, session, beneficiary_id, form, errors, template="follow_up/note.html",
                                 fields=NOTE_FIELDS, detail=detail, kind_keys=KIND_KEYS)

    @post("/{beneficiary_id:uuid}/withdrawal", guards=[requires(*COMMUNE_WRITERS)])
    async def withdrawal(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                         beneficiary_id: UUID) -> Response[Any]:
        """Record a withdrawal made with staff help, or the cash handed over (cash channel). A refusal (bad amount
        or time, more than is waiting, before the money arrived) shows the form again with what was typed and
        the reason next to the field, rather than an error page that loses the input."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        errors = FormErrors()
        amount_text = form_text(form, "amount").replace(".", "").replace(",", "").replace(" ", "")
        try:
            amount = Dong(amount_text)  # a form's text, read as the form's own (not JSON) input
        except ValueError:
            errors.add("amount", "follow.error.amount")
        try:
            occurred = from_wall_clock(form_text(form, "occurred_at"))
        except ValueError:
            errors.add("occurred_at", "follow.error.when")
        if errors:
            return await _withdrawal_form(request, db_session, beneficiary_id, form, errors)
        try:
            await add_assisted_withdrawal(db_session, beneficiary_id, AssistedWithdrawalIn(
                occurred_at=occurred, amount=amount,
                helper_name=form_text(form, "helper_name") or None, note=form_text(form, "note")), principal)
        except Problem as problem:
            # scope (403) and unknown people (404) keep their error pages; a handover after the person's death
            # (409) shows the form again with why, like a bad input
            if problem.status_code not in (409, 422):
                raise
            await db_session.rollback()
            return await _withdrawal_form(request, db_session, beneficiary_id, form, _form_errors(problem, request),
                                          detail=in_language(str(problem.detail), current_lang(request)),
                                          status_code=problem.status_code)
        return see_other(_back(form, beneficiary_id, "handover" if form_text(form, "back") == "cash" else "withdrawal"))

    @post("/{beneficiary_id:uuid}/withdrawal/{withdrawal_id:int}/cancel", guards=[requires(*COMMUNE_WRITERS)])
    async def cancel_withdrawal(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                                beneficiary_id: UUID, withdrawal_id: int) -> Response[Any]:
        """Cancel an assisted withdrawal or cash handover recorded by mistake (reason required)."""
        form = await request.form()
        principal = current_principal(request)
        assert principal is not None
        await cancel_assisted_withdrawal(db_session, beneficiary_id, withdrawal_id,
                                         WithdrawalCancelIn(reason=form_text(form, "reason")), principal)
        return see_other(f"/beneficiaries/{beneficiary_id}?done=cancelled")
