"""The cash handover list on screen: the people of one run whose cash was sent to their commune and is not
handed over in full yet, the oldest people and the longest waits first (the follow-up list's order), with
what each is owed from the run, the months it covers and the cash of earlier runs still waiting for them."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.http.paging import page_window
from app.registry.service.beneficiaries import name_tsquery
from app.registry.validation import FieldError, parse_phone
from app.vietnam_time import vietnam_today
from reports.time_to_withdrawal import scope_condition


@dataclass(frozen=True)
class CashWaitingPerson:
    beneficiary_id: UUID
    payout_id: UUID
    full_name: str
    national_id: str | None
    date_of_birth: date
    age: int
    commune_code: str
    commune_name: str
    phone: str | None
    address: str
    amount: int  # the run's cash payout
    amount_waiting: int  # of it, not handed over yet
    months: tuple[date, ...]
    earlier_waiting: int  # cash of the person's earlier runs not handed over yet (handed over first: FIFO)
    sent_at: datetime
    deceased_on: date | None = None  # the person's death is recorded: not to hand over (the officer recovers it)

    @property
    def month_labels(self) -> tuple[str, ...]:
        """The months the run's payout covers, as staff write them (03/2026)."""
        return tuple(f"{month:%m/%Y}" for month in self.months)


@dataclass(frozen=True)
class CashHandoverPage:
    """One page of a run's cash still to hand over (matching ``q`` when given), with the whole list's figures:
    the living people and their cash still to hand over, the deceased (listed, marked, not handed cash: the
    officer recovers it) and their cash, the people found by the search and those handed over in full."""

    people: list[CashWaitingPerson]
    waiting: int  # living people still to hand cash to (the deceased are not: ``deceased``)
    amount_waiting: int  # their cash
    matched: int
    handed_over: int
    page: int
    page_size: int
    deceased: int = 0  # people whose death is recorded and whose cash of the run is still at the commune
    amount_deceased: int = 0


# ``run_cash`` is the run's cash payouts in the caller's scope, found through ix_payout_run_bank (run_id,
# bank_bin: a cash payout has no bank) and read once; ``waiting`` those not handed over in full, with what
# is left of each (the amount less what the withdrawals allocated to it). ``matched`` narrows them to the
# search, and a page of it is looked up person by person, as the follow-up list does.
_QUERY = """
    WITH run_cash AS MATERIALIZED (
        SELECT p.id, p.beneficiary_id, p.amount, p.sent_at, p.withdrawn_at, p.first_withdrawal_at
          FROM payout p JOIN commune cm ON cm.code = p.commune_code
         WHERE p.run_id = :run AND p.bank_bin IS NULL AND p.channel = 'cash' AND p.status = 'sent' AND {where}
    ),
    waiting AS MATERIALIZED (
        SELECT c.id, c.beneficiary_id, c.amount, c.sent_at,
               (c.amount - coalesce((SELECT sum(a.amount) FROM withdrawal_allocation a
                                      WHERE a.payout_id = c.id AND c.first_withdrawal_at IS NOT NULL), 0))::bigint
                   AS amount_waiting
          FROM run_cash c WHERE c.withdrawn_at IS NULL
    ),
    matched AS MATERIALIZED (
        SELECT w.*, b.full_name, b.name_sort_key, b.national_id, b.date_of_birth, b.commune_code, b.phone, b.address,
               b.deceased_on
          FROM waiting w
         CROSS JOIN LATERAL (SELECT * FROM beneficiary x WHERE x.id = w.beneficiary_id OFFSET 0) b
         WHERE {search}
    ),
    -- the deceased among those waiting: listed and marked, but nobody to hand cash to (the officer recovers it)
    deceased AS (
        SELECT count(*) AS people, coalesce(sum(w.amount_waiting), 0)::bigint AS amount
          FROM waiting w JOIN beneficiary b ON b.id = w.beneficiary_id
         WHERE b.deceased_on IS NOT NULL
    ),
    totals AS (
        SELECT (SELECT count(*) FROM waiting) - d.people AS total_waiting,
               (SELECT coalesce(sum(amount_waiting), 0) FROM waiting)::bigint - d.amount AS total_amount_waiting,
               d.people AS total_deceased, d.amount AS total_amount_deceased,
               (SELECT count(*) FROM matched) AS total_matched,
               (SELECT count(*) FROM run_cash WHERE withdrawn_at IS NOT NULL) AS total_handed_over
          FROM deceased d
    ),
    listed AS (
        SELECT m.*, cm.name AS commune_name, earlier.amount AS earlier_waiting,
               least(m.sent_at, coalesce(earlier.since, m.sent_at)) AS since,
               date_part('year', age(CAST(:today AS date), m.date_of_birth))::int AS age,
               CASE WHEN date_part('year', age(CAST(:today AS date), m.date_of_birth)) >= 80 THEN 0
                    WHEN date_part('year', age(CAST(:today AS date), m.date_of_birth)) >= 70 THEN 1
                    WHEN date_part('year', age(CAST(:today AS date), m.date_of_birth)) >= 60 THEN 2
                    ELSE 3 END AS age_band,
               (SELECT array_agg(pm.month ORDER BY pm.month) FROM payout_month pm WHERE pm.payout_id = m.id)
                   AS months
          FROM matched m JOIN commune cm ON cm.code = m.commune_code
          -- the person's cash of other runs still at the commune: handed over first (first in, first out)
          CROSS JOIN LATERAL (
              SELECT coalesce(sum(o.amount - coalesce((SELECT sum(a.amount) FROM withdrawal_allocation a
                                                        WHERE a.payout_id = o.id
                                                          AND o.first_withdrawal_at IS NOT NULL), 0)), 0)::bigint
                         AS amount,
                     min(o.sent_at) AS since
                FROM payout o
               WHERE o.beneficiary_id = m.beneficiary_id AND o.run_id <> :run AND o.channel = 'cash'
                 AND o.status = 'sent' AND o.withdrawn_at IS NULL AND o.sent_at <= m.sent_at) earlier
         -- the follow-up list's order: 80+ first, then 70–79, 60–69 and younger, within a band the longest
         -- wait first; the id last, so pages neither repeat nor skip anyone
         ORDER BY age_band, since, m.date_of_birth, m.name_sort_key, m.beneficiary_id
         LIMIT :limit OFFSET :offset
    )
    SELECT t.*, l.id AS payout_id, l.beneficiary_id, l.full_name, l.national_id, l.date_of_birth, l.age,
           l.commune_code, l.commune_name, l.phone, l.address, l.amount, l.amount_waiting, l.months,
           l.earlier_waiting, l.sent_at, l.deceased_on
      FROM totals t LEFT JOIN listed l ON true
     ORDER BY l.age_band, l.since, l.date_of_birth, l.name_sort_key, l.beneficiary_id
"""

_DIGITS = re.compile(r"\+?[0-9]+")
_MASKED_ENDING = re.compile(r"\**[0-9]{4}")  # the last 4 digits of a citizen ID, masked or not


def _search_condition(q: str, params: dict[str, Any]) -> str:
    """SQL matching ``q`` on the listed people: a citizen ID or phone exactly, or the last 4 digits of a citizen
    ID (what staff ask for, and all a masked ID shows: "********7890" may be typed as it is), else every word a
    prefix of a word of the name, accents optional. No other part of an ID matches: staff shown masked IDs must
    not probe the hidden digits."""
    q = q.strip()
    if not q:
        return "true"
    digits = re.sub(r"[\s.\-()]", "", q)
    if _MASKED_ENDING.fullmatch(digits):
        params["search_id_end"] = digits.lstrip("*")
        return "right(b.national_id, 4) = :search_id_end"
    if _DIGITS.fullmatch(digits):
        params["search_id"] = digits
        try:
            params["search_phone"] = parse_phone(digits) or ""
        except FieldError:
            params["search_phone"] = ""
        return "(b.national_id = :search_id OR b.phone = :search_phone)"
    tsquery = name_tsquery(q)
    if tsquery is None:
        return "false"
    params["search_name"] = tsquery
    return "to_tsvector('simple', b.search_name) @@ to_tsquery('simple', :search_name)"


async def cash_handover_page(session: AsyncSession, run_id: UUID, *, communes: Sequence[str] | None = None,
                             provinces: Sequence[str] | None = None, commune: str | None = None, q: str = "",
                             as_of: datetime | None = None, page: int = 1, page_size: int = 100) -> CashHandoverPage:
    """Page ``page`` (from 1) of the people whose cash of run ``run_id`` reached their commune (within the
    caller's ``communes`` / ``provinces``, None: no limit; ``commune``: one of them) and is not handed over in
    full, matching ``q`` (name, citizen ID or its last 4 digits, or phone; blank: everyone), in the follow-up list's order; with the
    whole list's counts. A page past the end has nobody, and the same counts."""
    as_of = as_of or datetime.now(UTC)
    page, page_size = page_window(page, page_size, most=max(page_size, 1))
    params: dict[str, Any] = {"run": run_id, "today": vietnam_today(as_of), "limit": page_size,
                              "offset": (page - 1) * page_size}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune)
    search = _search_condition(q, params)
    rows = (await session.execute(text(_QUERY.format(where=where, search=search)), params)).all()
    people = [CashWaitingPerson(
        beneficiary_id=r.beneficiary_id, payout_id=r.payout_id, full_name=r.full_name, national_id=r.national_id,
        date_of_birth=r.date_of_birth, age=r.age, commune_code=r.commune_code, commune_name=r.commune_name,
        phone=r.phone, address=r.address or "", amount=int(r.amount), amount_waiting=int(r.amount_waiting),
        months=tuple(r.months or ()), earlier_waiting=int(r.earlier_waiting), sent_at=r.sent_at,
        deceased_on=r.deceased_on,
    ) for r in rows if r.payout_id is not None]
    first = rows[0]
    return CashHandoverPage(people=people, waiting=int(first.total_waiting),
                            amount_waiting=int(first.total_amount_waiting), matched=int(first.total_matched),
                            handed_over=int(first.total_handed_over), page=page, page_size=page_size,
                            deceased=int(first.total_deceased), amount_deceased=int(first.total_amount_deceased))
