"""The exceptions queue page: unmatched lines and returns, page by page, each with the actions that fit it,
and the people banks reported deceased (record the death, or dismiss the report with a reason).

The queue is oldest first by default: it is worked like the follow-up list, the line booked first has
kept someone waiting longest (a returned payout is a person who has not been paid), and new statements
append at the end, so the page an officer is on does not shift while they work through it. "Newest
first" is one choice away, to look at what the latest statement brought. Every link and form keeps the
view (status, bank, order, page), so resolving a line on page 5 comes back to page 5.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import date
from typing import Any
from urllib.parse import urlencode
from uuid import UUID

from litestar import Controller, Request, Response, get, post
from litestar.datastructures import FormMultiDict
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.auth.guards import current_principal, requires
from app.auth.models import Role
from app.auth.names import staff_names
from app.http.paging import MAX_PAGE
from app.http.problems import Problem
from app.payouts.service.errors import PayoutError
from app.reconciliation_api import flags as flag_service
from app.reconciliation_api import resolution
from app.reconciliation_api.routes import READERS
from app.registry.schemas import EventIn
from app.registry.service import beneficiaries as registry
from app.vietnam_time import vietnam_today
from app.web.forms import form_text
from app.web.render import current_lang, in_language, page, page_count, pager, see_other
from app.web.statements import LABELS, bank_list
from reconciliation.matching import return_reason_text

PAGE_SIZE = 100
FLAG_PAGE_SIZE = 100
PATH = "/reconciliation/exceptions"
STATUSES = ("open", "resolved", "all")
ORDERS = ("oldest", "newest")
LINE_ACTIONS = {"exception": ("manual_match", "bank_fee", "ignore"),
                "returned": ("reissue", "close_without_reissue")}
ACTION_KEYS = {"manual_match": "exceptions.action.manual_match", "bank_fee": "exceptions.action.bank_fee",
               "ignore": "exceptions.action.ignore", "reissue": "exceptions.action.reissue",
               "close_without_reissue": "exceptions.action.close_without_reissue"}
RESOLUTION_KEYS = {"manual_match": "exceptions.resolution.manual_match",
                   "bank_fee": "exceptions.resolution.bank_fee", "ignore": "exceptions.resolution.ignore",
                   "reissue": "exceptions.resolution.reissue",
                   "close_without_reissue": "exceptions.resolution.close_without_reissue"}
FLAG_RESOLUTION_KEYS = {"death_recorded": "exceptions.flag.death_recorded",
                        "dismissed": "exceptions.flag.dismissed"}
DONE_KEYS = {"resolved": "statements.done.resolved", "flag_dismissed": "exceptions.done.flag_dismissed",
             "death_recorded": "exceptions.done.death_recorded"}
DECEASED_REASON = "MD07"


@dataclass(frozen=True)
class QueueView:
    """What the officer is looking at: the filters, the order and the page."""

    status: str = "open"
    bank: str = ""
    order: str = "oldest"
    page: int = 1

    @classmethod
    def of(cls, status: str, bank: str, order: str, page: int | str) -> QueueView:
        """A view from query or form values; anything unknown falls back to the default."""
        text = str(page)
        number = int(text) if text.isascii() and text.isdigit() else 1
        return cls(status=status if status in STATUSES else "open", bank=bank.strip()[:6],
                   order=order if order in ORDERS else "oldest", page=min(max(1, number), MAX_PAGE))

    @classmethod
    def from_form(cls, form: FormMultiDict) -> QueueView:
        return cls.of(form_text(form, "view_status"), form_text(form, "view_bank"), form_text(form, "view_order"),
                      form_text(form, "view_page"))

    def filters(self) -> dict[str, str | int]:
        """The query that keeps the filters (the page goes separately)."""
        return {"status": self.status, "bank": self.bank, "order": self.order}

    def url(self, **extra: str) -> str:
        query = [(key, str(value)) for key, value in self.filters().items() if value]
        query.append(("page_number", str(self.page)))
        query.extend(extra.items())
        return f"{PATH}?{urlencode(query)}"


def _may_resolve(request: Request[Any, Any, Any]) -> bool:
    principal = current_principal(request)
    return principal is not None and principal.role == Role.officer


# What an officer does when a returned payout cannot be reissued yet, by the reason (resolution.reissue_refusal).
REISSUE_HELP_KEYS = {"no_account": "exceptions.reissue.no_account", "not_theirs": "exceptions.reissue.no_account",
                     "not_usable": "exceptions.reissue.not_usable", "same_account": "exceptions.reissue.same_account",
                     "blocked": "exceptions.reissue.blocked"}


def _reissue_help(line: dict[str, Any], choice: resolution.ReissueChoice | None) -> str | None:
    """Why a returned line offers no reissue, as what to do next (an i18n key); None when it offers one."""
    if choice is None or choice.refusal is None:
        return None
    if choice.beneficiary_status == "deceased":
        return "exceptions.reissue.deceased"
    if _return_reason(line) == DECEASED_REASON and not (line["flag"] or {}).get("resolution"):
        return "exceptions.reissue.check_death"
    if choice.pending_request_id is not None:
        return "exceptions.reissue.pending_request"
    return REISSUE_HELP_KEYS[choice.refusal.code]


def _return_reason(line: dict[str, Any]) -> str | None:
    """The bank's return code of a line (the returned payout's when the line has none)."""
    return line["return_reason"] or next((p["return_reason"] for p in line["payouts"] if p.get("return_reason")),
                                         None)


def _line_actions(line: dict[str, Any], choices: dict[int, resolution.ReissueChoice]) -> list[str]:
    """The actions that fit a line, the likely one first: for a return, close it when the bank reports the
    holder deceased (unless an officer found the bank wrong), else reissue it (when the person's active account
    may be paid: a corrected one, or the same one once the report of a death is dismissed)."""
    actions = list(LINE_ACTIONS.get(line["status"], ()))
    if line["status"] == "returned":
        choice = choices.get(line["id"])
        if choice is None or choice.refusal is not None:
            actions.remove("reissue")
        elif _return_reason(line) == DECEASED_REASON and (line["flag"] or {}).get("resolution") != "dismissed":
            actions.reverse()
    return actions


async def _payout_people(session: AsyncSession, lines: list[dict[str, Any]]) -> dict[str, Any]:
    """Whose payouts the lines are: name and commune by beneficiary id (as text, as the lines give it)."""
    ids = {str(p["beneficiary_id"]) for line in lines for p in line["payouts"] if p.get("beneficiary_id")}
    if not ids:
        return {}
    rows = await session.execute(text(
        "SELECT id::text AS id, full_name, commune_code FROM beneficiary WHERE id = ANY(CAST(:ids AS uuid[]))"),
        {"ids": sorted(ids)})
    return {row.id: row for row in rows}


async def _queue_page(request: Request[Any, Any, Any], session: AsyncSession, view: QueueView, *,
                      error: str | None = None, status_code: int = 200) -> Response[Any]:
    listed = await resolution.list_exceptions(session, status=view.status, bank=view.bank or None, order=view.order,
                                              page=view.page, page_size=PAGE_SIZE)
    pages = page_count(listed["total"], PAGE_SIZE)
    if view.page > pages:  # the last lines of the last page were resolved meanwhile: show the new last page
        view = replace(view, page=pages)
        listed = await resolution.list_exceptions(session, status=view.status, bank=view.bank or None,
                                                  order=view.order, page=view.page, page_size=PAGE_SIZE)
    flags = await flag_service.list_flags(session, status=view.status, page_size=FLAG_PAGE_SIZE)
    resolved_flags = 0
    if view.status == "open":
        resolved_flags = (await flag_service.list_flags(session, status="resolved", page_size=1))["total"]
    open_returns = [item["id"] for item in listed["items"] if item["status"] == "returned" and not item["resolved_at"]]
    choices = await resolution.reissue_choices(session, open_returns)
    actions = {item["id"]: _line_actions(item, choices) for item in listed["items"] if not item["resolved_at"]}
    lang = current_lang(request)
    reasons = {item["id"]: in_language(return_reason_text(code), lang)
               for item in listed["items"] if item["status"] == "returned" and (code := _return_reason(item))}
    who = await staff_names(session, [item["resolved_by"] for item in (*listed["items"], *flags["items"])])
    return page(request, "statements/exceptions.html", status_code=status_code, listed=listed, who=who,
                pager=pager(PATH, view.filters(), page=view.page, pages=pages, total=listed["total"],
                            page_size=PAGE_SIZE),
                flags=flags, resolved_flags=resolved_flags, reissue_choices=choices, line_actions=actions,
                reissue_help={line_id: _reissue_help(item, choices.get(line_id)) for item in listed["items"]
                              if (line_id := item["id"]) in choices},
                return_reasons=reasons, people=await _payout_people(session, listed["items"]),
                view=view, banks=await bank_list(session), may_resolve=_may_resolve(request),
                done_key=DONE_KEYS.get(request.query_params.get("done") or ""), error=error,
                today=vietnam_today().isoformat(), action_keys=ACTION_KEYS, resolution_keys=RESOLUTION_KEYS,
                flag_resolution_keys=FLAG_RESOLUTION_KEYS, **LABELS)


async def _refused(request: Request[Any, Any, Any], session: AsyncSession, view: QueueView, message: str,
                   status_code: int) -> Response[Any]:
    """Nothing of the post is kept; the same view again, with the reason in the page's language."""
    await session.rollback()
    return await _queue_page(request, session, view, error=in_language(message, current_lang(request)),
                             status_code=status_code)


def _bilingual(error: PayoutError) -> str:
    return f"{error.vi} / {error.en}"


def _problem_text(problem: Problem) -> str:
    """A registry problem as "vi / en" text: its detail, then each field's message."""
    vi, _, en = str(problem.detail).partition(" / ")
    for item in problem.errors or []:
        vi += f" — {item.get('message', '')}"
        en += f" — {item.get('message_en') or item.get('message', '')}"
    return f"{vi} / {en}" if en else vi


class ExceptionPages(Controller):
    path = "/reconciliation"
    include_in_schema = False

    @get("/exceptions", guards=[requires(*READERS)])
    async def exceptions(self, request: Request[Any, Any, Any], db_session: AsyncSession, status: str = "open",
                         bank: str = "", order: str = "oldest", page_number: str = "1") -> Response[Any]:
        """Lines waiting for an officer (unmatched lines, returns), a page at a time, and the people banks
        reported deceased."""
        return await _queue_page(request, db_session, QueueView.of(status, bank, order, page_number))

    @post("/exceptions/{line_id:int}/resolve", guards=[requires(Role.officer)])
    async def resolve(self, request: Request[Any, Any, Any], db_session: AsyncSession, line_id: int) -> Response[Any]:
        """Resolve one line: manual match (payout reference), bank fee, ignore (reason), or for a return
        reissue (corrected account) or close without reissue (reason); back to the same view."""
        form = await request.form()
        view = QueueView.from_form(form)
        action = form_text(form, "action")
        payout_id: UUID | None = None
        account = form_text(form, "bank_account_id")
        principal = current_principal(request)
        assert principal is not None
        try:
            reference = form_text(form, "payout_reference").upper()
            if action == "manual_match" and reference:
                payout_id = await db_session.scalar(text("SELECT id FROM payout WHERE reference = :r"),
                                                    {"r": reference})
                if payout_id is None:
                    raise PayoutError(f"Không có lệnh chi mã {reference}", f"no payout with reference {reference}")
            await resolution.resolve_line(db_session, line_id, action=action, actor=principal.name,
                                          note=form_text(form, "note") or None, payout_id=payout_id,
                                          bank_account_id=int(account) if account.isdigit() else None)
        except PayoutError as error:
            return await _refused(request, db_session, view, _bilingual(error), error.status)
        return see_other(view.url(done="resolved"))

    @post("/flags/{flag_id:int}/dismiss", guards=[requires(Role.officer)])
    async def dismiss_flag(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                           flag_id: int) -> Response[Any]:
        """Dismiss a bank's report of a death after checking the person is alive (a reason is required)."""
        form = await request.form()
        view = QueueView.from_form(form)
        principal = current_principal(request)
        assert principal is not None
        try:
            await flag_service.dismiss_flag(db_session, flag_id, actor=principal.name,
                                            reason=form_text(form, "reason") or None)
        except PayoutError as error:
            return await _refused(request, db_session, view, _bilingual(error), error.status)
        return see_other(view.url(done="flag_dismissed"))

    @post("/flags/{flag_id:int}/deceased", guards=[requires(Role.officer)])
    async def record_death(self, request: Request[Any, Any, Any], db_session: AsyncSession,
                           flag_id: int) -> Response[Any]:
        """Record the death the bank reported (date of death required), as ``POST /api/beneficiaries/{id}/events``
        does; the database closes the flag with it."""
        form = await request.form()
        view = QueueView.from_form(form)
        principal = current_principal(request)
        assert principal is not None
        try:
            flag = await flag_service.open_flag(db_session, flag_id)
            try:
                died_on = date.fromisoformat(form_text(form, "effective_on"))
            except ValueError:
                raise PayoutError("Cần ngày mất (ngày/tháng/năm)", "the date of death is required") from None
            await registry.record_event(db_session, flag.beneficiary_id, EventIn(
                kind="deceased", effective_on=died_on, reason=form_text(form, "reason")), principal)
        except PayoutError as error:
            return await _refused(request, db_session, view, _bilingual(error), error.status)
        except Problem as problem:
            return await _refused(request, db_session, view, _problem_text(problem), problem.status_code)
        return see_other(view.url(done="death_recorded"))
