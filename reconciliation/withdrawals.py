"""Withdrawal activity: intake (bank feeds, assisted withdrawals, cash handovers) and its first-in-first-out
allocation to the payouts that reached each person.

Allocation model. Per person, the payouts that reached them (status ``credited``, or a cash payout
``sent`` to the commune) are laid end to end in order of arrival (``credited_at``, for cash the time
it was sent to the commune), and so are their withdrawals in order of ``occurred_at``. The i-th đồng
withdrawn pays off the i-th đồng that arrived: an allocation is the overlap of a withdrawal's
interval with a payout's interval on that cumulative scale, one join per person, no loop. Money
withdrawn before anything arrived is thereby held and counts when the next payout arrives: such an
allocation's ``effective_at`` is the payout's arrival, not the (earlier) withdrawal. A payout's
``first_withdrawal_at`` is its earliest allocation, ``withdrawn_at`` the one that used it up.

The allocation is derived data: ``reallocate`` gives the given people the from-scratch result (writing only
what differs), so late (back-dated) activity, a payout credited later or a payout returned after its
credit all give the same result as if everything had arrived in order. It does not recompute it: each
person's ``allocation_frontier`` says where their allocation stands, and a person whose history up to it
is unchanged only gets the continuation. Callers that note what their transaction changed
(``note_changes``, ``reallocate_noted``) have only those rows checked against the frontiers. The memo ledger keeps each
person's undrawn balance (``undrawn:B`` debited by what arrived, credited by what was drawn, against
``undrawn:control``); ``undrawn_position`` remembers what was posted, and a change is posted as new
entries for the difference, never by changing old ones.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from ledger.accounts import (
    AccountConflict,
    account_conflicts,
    account_of_row,
    ensure_accounts,
    ensure_accounts_from_query,
)
from ledger.driver import driver_connection
from ledger.schemas import APPLIED_RESULTS, AccountSpec, AccountType, TransferKind
from ledger.service import create_transfer_arrays, lock_ledger, new_transfer_id
from reconciliation.parsers.model import LOCAL_TIMEZONE
from reconciliation.withdrawal_files import COMMUNE_CHANNELS, WithdrawalRow

log = structlog.get_logger()

UNDRAWN_CONTROL = AccountSpec(code="undrawn:control", type=AccountType.memo)
# A bank's monthly feed reallocates a million people: its sorts (a window over each person's payouts and
# withdrawals) and hashes get this much memory for the reallocation instead of spilling to disk.
LARGE_SCOPE = 50_000
LARGE_SCOPE_WORK_MEM = "256MB"
ALLOCATION_LOCK = "withdrawal_allocation"

# Payouts that reached the person, and when: the statement's credit, or for cash the handover to the commune.
ARRIVED = "(p.status = 'credited' OR (p.channel = 'cash' AND p.status = 'sent'))"
ARRIVED_AT = "coalesce(p.credited_at, p.sent_at)"


def undrawn_account(beneficiary_id: UUID | str) -> AccountSpec:
    """The memo account holding what reached a person and is not withdrawn yet."""
    return AccountSpec(code=f"undrawn:{beneficiary_id}", type=AccountType.memo)


_UNDRAWN_PREFIX = undrawn_account("").code
_UNDRAWN_COLUMNS, _UNDRAWN_JOIN = account_of_row("$1", "t.beneficiary_id")


class StepClock:
    """Seconds of each step of a long job, for its log line: ``clock("name")`` ends the step just done."""

    def __init__(self, steps: dict[str, float] | None = None) -> None:
        self.steps: dict[str, float] = {} if steps is None else steps
        self.started = self.mark = time.perf_counter()

    def __call__(self, name: str) -> None:
        now = time.perf_counter()
        self.steps[name] = round(now - self.mark, 3)
        self.mark = now

    def seconds(self) -> float:
        return round(time.perf_counter() - self.started, 3)


@dataclass
class AllocationResult:
    people: int = 0
    allocations: int = 0
    payouts_changed: int = 0
    ledger_entries: int = 0
    resolved_unknown: int = 0
    seconds: float = 0.0
    steps: dict[str, float] = field(default_factory=dict)


@dataclass
class IntakeResult:
    intake_id: UUID
    rows: int
    accepted: int
    duplicates: int
    # The first ``LISTED_ROWS`` rows (by row number) of each list; the totals count them all.
    unknown_accounts: list[dict[str, Any]] = field(default_factory=list)
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    unknown_accounts_total: int = 0  # rows accepted whose account ansinh does not know
    unknown_account_numbers: int = 0  # distinct account numbers among them
    conflicts_total: int = 0
    assisted_confirmed: int = 0  # commune staff's assisted records the feed confirmed (``_confirm_assisted``)


_SCOPE_TABLE = """
    DO $$ BEGIN
        IF to_regclass('pg_temp.allocation_base') IS NULL THEN
            CREATE TEMP TABLE IF NOT EXISTS allocation_scope (beneficiary_id uuid NOT NULL) ON COMMIT DELETE ROWS;
            -- Each person's frontier this run starts from (fresh: recomputed from scratch, from zero); one row
            -- per person of the scope (no index to keep: a million rows are written, then joined by hash).
            CREATE TEMP TABLE allocation_base (beneficiary_id uuid NOT NULL, fresh boolean NOT NULL,
                allocated bigint NOT NULL, withdrawal_at timestamptz NOT NULL, withdrawal_id bigint NOT NULL,
                withdrawal_upto bigint NOT NULL, withdrawal_count bigint NOT NULL, payout_at timestamptz NOT NULL,
                payout_serial bigint NOT NULL, payout_upto bigint NOT NULL, withdrawn bigint,
                noted_only boolean NOT NULL DEFAULT false) ON COMMIT DELETE ROWS;
            -- The withdrawals of each person from their frontier on, on the cumulative scale.
            CREATE TEMP TABLE allocation_withdrawals (withdrawal_id bigint NOT NULL, beneficiary_id uuid NOT NULL,
                amount bigint NOT NULL, occurred_at timestamptz NOT NULL, upto bigint NOT NULL)
                ON COMMIT DELETE ROWS;
            -- Where the continuation left each person it allocated anything to: their new frontier.
            CREATE TEMP TABLE allocation_moved (beneficiary_id uuid NOT NULL, had_frontier boolean NOT NULL,
                allocated bigint NOT NULL, withdrawal_at timestamptz NOT NULL, withdrawal_id bigint NOT NULL,
                withdrawal_upto bigint NOT NULL, withdrawal_count bigint NOT NULL, payout_at timestamptz NOT NULL,
                payout_serial bigint NOT NULL, payout_upto bigint NOT NULL, withdrawn bigint NOT NULL)
                ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS allocation_new (withdrawal_id bigint NOT NULL, payout_id uuid NOT NULL,
                beneficiary_id uuid NOT NULL, amount bigint NOT NULL, effective_at timestamptz NOT NULL,
                withdrawal_at timestamptz NOT NULL, withdrawal_upto bigint NOT NULL, payout_at timestamptz NOT NULL,
                payout_serial bigint NOT NULL, payout_upto bigint NOT NULL) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS allocation_changed (payout_id uuid PRIMARY KEY) ON COMMIT DELETE ROWS;
            -- The payouts that reached each person from their frontier on, laid on the cumulative scale.
            CREATE TEMP TABLE allocation_arrivals (payout_id uuid NOT NULL, beneficiary_id uuid NOT NULL,
                amount bigint NOT NULL, arrived_at timestamptz NOT NULL, serial bigint NOT NULL,
                allocated bigint NOT NULL, upto bigint NOT NULL) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE IF NOT EXISTS undrawn_target (beneficiary_id uuid PRIMARY KEY, credited bigint NOT NULL,
                drawn bigint NOT NULL, posted_credited bigint NOT NULL, posted_drawn bigint NOT NULL,
                has_position boolean NOT NULL)
                ON COMMIT DELETE ROWS;
        END IF;
    END $$
"""

# What the caller's transaction changed in the people's allocation inputs (see ``note_changes``).
_CHANGES_TABLES = """
    DO $$ BEGIN
        IF to_regclass('pg_temp.allocation_changed_withdrawal') IS NULL THEN
            -- A withdrawal with its place in its person's history; a payout by id (a row may come twice).
            CREATE TEMP TABLE allocation_changed_withdrawal (beneficiary_id uuid NOT NULL,
                occurred_at timestamptz NOT NULL, id bigint NOT NULL, amount bigint NOT NULL) ON COMMIT DELETE ROWS;
            CREATE TEMP TABLE allocation_changed_payout (id uuid NOT NULL) ON COMMIT DELETE ROWS;
        END IF;
    END $$
"""
# Notes withdrawals: "{NOTE_WITHDRAWALS} SELECT beneficiary_id, occurred_at, id, amount FROM ..." (known people).
NOTE_WITHDRAWALS = "INSERT INTO allocation_changed_withdrawal (beneficiary_id, occurred_at, id, amount)"
# Notes payouts whose arrival changed: "{NOTE_PAYOUTS} SELECT id FROM payout WHERE ...".
NOTE_PAYOUTS = "INSERT INTO allocation_changed_payout (id)"

_RESOLVE_UNKNOWN = """
    WITH resolved AS (
        UPDATE withdrawal w SET beneficiary_id = found.beneficiary_id
          FROM withdrawal u
          CROSS JOIN LATERAL (
              SELECT b.beneficiary_id FROM bank_account b
               WHERE b.bank_bin = u.bank_bin AND b.account_number = u.account_number
               ORDER BY (b.effective_to IS NULL) DESC, b.effective_from DESC, b.id DESC LIMIT 1) found
         WHERE u.beneficiary_id IS NULL AND w.id = u.id
        RETURNING w.id, w.beneficiary_id, w.occurred_at, w.amount
    ), added AS (
        INSERT INTO allocation_scope SELECT DISTINCT r.beneficiary_id FROM resolved r
         WHERE NOT EXISTS (SELECT 1 FROM allocation_scope s WHERE s.beneficiary_id = r.beneficiary_id)
    ), noted AS (  -- a withdrawal that now belongs to a person is new to their history
        INSERT INTO allocation_changed_withdrawal (beneficiary_id, occurred_at, id, amount)
        SELECT beneficiary_id, occurred_at, id, amount FROM resolved
    )
    SELECT count(*) FROM resolved
"""

# A withdrawal that counts: not cancelled (commune staff's mistakes are cancelled, never deleted).
LIVE_WITHDRAWAL = "NOT EXISTS (SELECT 1 FROM withdrawal_cancellation c WHERE c.withdrawal_id = w.id)"

PAYOUT_KEY = f"({ARRIVED_AT}, p.serial)"
WITHDRAWAL_KEY = "(w.occurred_at, w.id)"

# People whose allocation so far still stands: nothing arrived or was withdrawn (back-dated) at or
# before their frontier since it was written, and no payout that holds allocations stopped counting
# (returned). A payout before the frontier that arrived since has no allocation yet
# (first_withdrawal_at NULL); a withdrawal that came since changes the count up to the frontier.
_STANDING = f"""
    WITH standing AS (
        SELECT f.* FROM allocation_scope s JOIN allocation_frontier f ON f.beneficiary_id = s.beneficiary_id
    ), pp AS (  -- per person, one pass over their payouts (a join, not a lookup per person)
        SELECT f.beneficiary_id,
               count(*) FILTER (WHERE ({ARRIVED} AND p.first_withdrawal_at IS NULL
                                       AND {PAYOUT_KEY} < (f.payout_at, f.payout_serial))
                                   OR (NOT {ARRIVED} AND p.first_withdrawal_at IS NOT NULL)) AS broken,
               coalesce(sum(p.amount) FILTER (WHERE {ARRIVED} AND {PAYOUT_KEY} <= (f.payout_at, f.payout_serial)),
                        0) AS upto
          FROM standing f JOIN payout p ON p.beneficiary_id = f.beneficiary_id
         GROUP BY f.beneficiary_id
    ), ww AS (
        SELECT f.beneficiary_id,
               count(*) FILTER (WHERE {WITHDRAWAL_KEY} <= (f.withdrawal_at, f.withdrawal_id)) AS n,
               coalesce(sum(w.amount) FILTER (WHERE {WITHDRAWAL_KEY} <= (f.withdrawal_at, f.withdrawal_id)), 0) AS upto
          FROM standing f JOIN withdrawal w ON w.beneficiary_id = f.beneficiary_id
         WHERE {LIVE_WITHDRAWAL}
         GROUP BY f.beneficiary_id
    )
    INSERT INTO allocation_base (beneficiary_id, fresh, allocated, withdrawal_at, withdrawal_id, withdrawal_upto,
                                 withdrawal_count, payout_at, payout_serial, payout_upto, withdrawn)
    SELECT f.beneficiary_id, false, f.allocated, f.withdrawal_at, f.withdrawal_id, f.withdrawal_upto,
           f.withdrawal_count, f.payout_at, f.payout_serial, f.payout_upto, f.withdrawn
      FROM standing f LEFT JOIN pp ON pp.beneficiary_id = f.beneficiary_id
      LEFT JOIN ww ON ww.beneficiary_id = f.beneficiary_id
     WHERE coalesce(pp.broken, 0) = 0 AND coalesce(pp.upto, 0) = f.payout_upto
       AND coalesce(ww.n, 0) = f.withdrawal_count AND coalesce(ww.upto, 0) = f.withdrawal_upto
"""  # noqa: S608 - constant fragments only

# The same when the caller noted every change its transaction made (``note_changes``): only those rows
# are read. A frontier stands unless a noted withdrawal is at or before it (back-dated, or cancelled
# after it was allocated), or a noted payout is at or before it or holds allocations (returned after
# use). Rows after the frontier need no check: the continuation reads them.
_STANDING_NOTED = f"""
    INSERT INTO allocation_base (beneficiary_id, fresh, allocated, withdrawal_at, withdrawal_id, withdrawal_upto,
                                 withdrawal_count, payout_at, payout_serial, payout_upto, withdrawn, noted_only)
    SELECT f.beneficiary_id, false, f.allocated, f.withdrawal_at, f.withdrawal_id, f.withdrawal_upto,
           f.withdrawal_count, f.payout_at, f.payout_serial, f.payout_upto, f.withdrawn,
           -- every withdrawal the person had was used up: what follows the frontier is what was noted
           coalesce(f.withdrawn = f.allocated AND f.withdrawal_upto = f.allocated, false)
      FROM allocation_scope s JOIN allocation_frontier f ON f.beneficiary_id = s.beneficiary_id
     WHERE NOT EXISTS (SELECT 1 FROM allocation_changed_withdrawal c
                        WHERE c.beneficiary_id = f.beneficiary_id
                          AND (c.occurred_at, c.id) <= (f.withdrawal_at, f.withdrawal_id))
       AND NOT EXISTS (SELECT 1 FROM allocation_changed_payout c JOIN payout p ON p.id = c.id
                        WHERE p.beneficiary_id = f.beneficiary_id
                          AND (p.first_withdrawal_at IS NOT NULL
                               OR {PAYOUT_KEY} <= (f.payout_at, f.payout_serial)))
"""  # noqa: S608 - constant fragments only

# Everyone else starts again from zero: their allocations go (the payouts they touched are re-derived).
_START_AGAIN = (
    """INSERT INTO allocation_base (beneficiary_id, fresh, allocated, withdrawal_at, withdrawal_id, withdrawal_upto,
                                    withdrawal_count, payout_at, payout_serial, payout_upto)
       SELECT s.beneficiary_id, true, 0, '-infinity', 0, 0, 0, '-infinity', 0, 0 FROM allocation_scope s
        WHERE NOT EXISTS (SELECT 1 FROM allocation_base b WHERE b.beneficiary_id = s.beneficiary_id)""",
    """WITH gone AS (
           DELETE FROM withdrawal_allocation a USING allocation_base b
            WHERE b.fresh AND a.beneficiary_id = b.beneficiary_id
           RETURNING a.payout_id)
       INSERT INTO allocation_changed SELECT DISTINCT payout_id FROM gone ON CONFLICT DO NOTHING""",
    # No frontier means "from zero": a stale one goes (a person with nothing allocated keeps none).
    """DELETE FROM allocation_frontier f USING allocation_base b WHERE b.fresh AND f.beneficiary_id = b.beneficiary_id""",
)

# The continuation from each person's frontier: payouts and withdrawals from their frontier item on,
# laid on the cumulative scale (the frontier items end at the stored totals), overlaps above what is
# already allocated. The frontier is never partly used on both sides, so every pair here is new.
def _arrivals(people: str, payouts: str) -> str:
    return f"""
        INSERT INTO allocation_arrivals (payout_id, beneficiary_id, amount, arrived_at, serial, allocated, upto)
        SELECT p.id, p.beneficiary_id, p.amount, {ARRIVED_AT}, p.serial, b.allocated,
               b.payout_upto + sum(CASE WHEN {PAYOUT_KEY} > (b.payout_at, b.payout_serial) THEN p.amount ELSE 0 END)
                   OVER (PARTITION BY p.beneficiary_id ORDER BY {ARRIVED_AT}, p.serial)
          FROM payout p JOIN allocation_base b ON b.beneficiary_id = p.beneficiary_id AND {people}
         WHERE {ARRIVED} AND {payouts} AND {PAYOUT_KEY} >= (b.payout_at, b.payout_serial)"""  # noqa: S608 - constants


# The same for a few people, each person's payouts read through the payout's beneficiary index (``OFFSET 0``
# keeps the subquery a per-person probe): the join above is planned from statistics that cannot know the rows
# the caller's transaction just changed (a send chunk's cash payouts, sent a moment ago, looked like none), and
# the planner nested-looped every arrived payout of the table against every person of the scope (2,479 people
# of a run's first chunk of 50,000: 6 million comparisons, 1.9 s, growing with every chunk of the run).
def _arrivals_by_person(people: str, payouts: str) -> str:
    return f"""
        INSERT INTO allocation_arrivals (payout_id, beneficiary_id, amount, arrived_at, serial, allocated, upto)
        SELECT x.id, b.beneficiary_id, x.amount, x.arrived_at, x.serial, b.allocated,
               b.payout_upto + sum(CASE WHEN (x.arrived_at, x.serial) > (b.payout_at, b.payout_serial)
                                        THEN x.amount ELSE 0 END)
                   OVER (PARTITION BY b.beneficiary_id ORDER BY x.arrived_at, x.serial)
          FROM allocation_base b
         CROSS JOIN LATERAL (
               SELECT p.id, p.amount, {ARRIVED_AT} AS arrived_at, p.serial FROM payout p
                WHERE p.beneficiary_id = b.beneficiary_id AND {ARRIVED} AND {payouts}
                  AND {PAYOUT_KEY} >= (b.payout_at, b.payout_serial)
               OFFSET 0) x
         WHERE {people}"""  # noqa: S608 - constants


# People continuing from their frontier need only the payouts not used up: everything before the frontier
# is (the frontier payout too, when it is used up: it adds nothing, and its end is the frontier's), and
# nothing after it has been touched. Filtered while the payout table is read, most of a million people's
# history never reaches the join. People started again need all their arrived payouts.
# Each as (the join, by person).
_ARRIVALS_CONTINUED = (_arrivals("NOT b.fresh", "p.withdrawn_at IS NULL"),
                       _arrivals_by_person("NOT b.fresh", "p.withdrawn_at IS NULL"))
_ARRIVALS_AGAIN = (_arrivals("b.fresh", "true"), _arrivals_by_person("b.fresh", "true"))
# Below this many people a reallocation reads their payouts and withdrawals person by person (index probes)
# instead of joining them with the whole tables.
BY_PERSON_BELOW = 20_000

# The withdrawals from each person's frontier on. A person whose withdrawals were all used up when the
# frontier was saved (``noted_only``) has, after it, only what this transaction noted (a frontier stands only
# if every noted withdrawal is after it); the others' are read from the table.
_WITHDRAWALS_FROM_TABLE = f"""
    INSERT INTO allocation_withdrawals (withdrawal_id, beneficiary_id, amount, occurred_at, upto)
    SELECT w.id, w.beneficiary_id, w.amount, w.occurred_at,
           b.withdrawal_upto + sum(CASE WHEN {WITHDRAWAL_KEY} > (b.withdrawal_at, b.withdrawal_id)
                                        THEN w.amount ELSE 0 END)
               OVER (PARTITION BY w.beneficiary_id ORDER BY w.occurred_at, w.id)
      FROM withdrawal w JOIN allocation_base b ON b.beneficiary_id = w.beneficiary_id AND NOT b.noted_only
     WHERE {WITHDRAWAL_KEY} >= (b.withdrawal_at, b.withdrawal_id) AND {LIVE_WITHDRAWAL}
"""  # noqa: S608 - constant fragments only
# The same for a few people, by person through the withdrawal's beneficiary index (see ``_arrivals_by_person``).
_WITHDRAWALS_FROM_TABLE_BY_PERSON = f"""
    INSERT INTO allocation_withdrawals (withdrawal_id, beneficiary_id, amount, occurred_at, upto)
    SELECT x.id, b.beneficiary_id, x.amount, x.occurred_at,
           b.withdrawal_upto + sum(CASE WHEN (x.occurred_at, x.id) > (b.withdrawal_at, b.withdrawal_id)
                                        THEN x.amount ELSE 0 END)
               OVER (PARTITION BY b.beneficiary_id ORDER BY x.occurred_at, x.id)
      FROM allocation_base b
     CROSS JOIN LATERAL (
           SELECT w.id, w.amount, w.occurred_at FROM withdrawal w
            WHERE w.beneficiary_id = b.beneficiary_id AND {WITHDRAWAL_KEY} >= (b.withdrawal_at, b.withdrawal_id)
              AND {LIVE_WITHDRAWAL}
           OFFSET 0) x
     WHERE NOT b.noted_only
"""  # noqa: S608 - constant fragments only
_WITHDRAWALS_NOTED = f"""
    INSERT INTO allocation_withdrawals (withdrawal_id, beneficiary_id, amount, occurred_at, upto)
    SELECT w.id, w.beneficiary_id, w.amount, w.occurred_at,
           b.withdrawal_upto + sum(w.amount) OVER (PARTITION BY w.beneficiary_id ORDER BY w.occurred_at, w.id)
      FROM (SELECT DISTINCT beneficiary_id, occurred_at, id, amount FROM allocation_changed_withdrawal) w
      JOIN allocation_base b ON b.beneficiary_id = w.beneficiary_id AND b.noted_only
     WHERE {LIVE_WITHDRAWAL}
"""  # noqa: S608 - constant fragments only

_ALLOCATE = """
    WITH arrived AS (
        SELECT payout_id AS id, beneficiary_id, amount, arrived_at, serial, allocated, upto FROM allocation_arrivals
    ), withdrawn AS (
        SELECT withdrawal_id AS id, beneficiary_id, amount, occurred_at, upto FROM allocation_withdrawals
    )
    INSERT INTO allocation_new (withdrawal_id, payout_id, beneficiary_id, amount, effective_at, withdrawal_at,
                                withdrawal_upto, payout_at, payout_serial, payout_upto)
    SELECT w.id, a.id, a.beneficiary_id,
           least(a.upto, w.upto) - greatest(a.upto - a.amount, w.upto - w.amount, a.allocated),
           greatest(w.occurred_at, a.arrived_at), w.occurred_at, w.upto, a.arrived_at, a.serial, a.upto
      FROM arrived a JOIN withdrawn w ON w.beneficiary_id = a.beneficiary_id
       AND greatest(a.upto - a.amount, w.upto - w.amount, a.allocated) < least(a.upto, w.upto)
"""

_APPEND = (
    """INSERT INTO withdrawal_allocation (withdrawal_id, payout_id, beneficiary_id, amount, effective_at)
       SELECT withdrawal_id, payout_id, beneficiary_id, amount, effective_at FROM allocation_new
        ORDER BY payout_id, withdrawal_id""",
    # Each person's new frontier: the last pair on their scale holds both the last withdrawal and the last
    # payout allocated (overlaps follow each other along the scale); the count is of withdrawals now wholly
    # behind it that were not before.
    """INSERT INTO allocation_moved
       SELECT DISTINCT ON (n.beneficiary_id) n.beneficiary_id, NOT b.fresh, b.allocated + t.added,
              n.withdrawal_at, n.withdrawal_id, n.withdrawal_upto, b.withdrawal_count + t.withdrawals,
              n.payout_at, n.payout_serial, n.payout_upto, wt.withdrawn
         FROM allocation_new n JOIN allocation_base b ON b.beneficiary_id = n.beneficiary_id
         JOIN (SELECT beneficiary_id, max(upto) AS withdrawn FROM allocation_withdrawals GROUP BY beneficiary_id) wt
           ON wt.beneficiary_id = n.beneficiary_id
         JOIN (SELECT n.beneficiary_id, sum(n.amount) AS added,
                      count(DISTINCT n.withdrawal_id) FILTER (
                          WHERE (n.withdrawal_at, n.withdrawal_id) > (b.withdrawal_at, b.withdrawal_id)) AS withdrawals
                 FROM allocation_new n JOIN allocation_base b ON b.beneficiary_id = n.beneficiary_id
                GROUP BY n.beneficiary_id) t ON t.beneficiary_id = n.beneficiary_id
        ORDER BY n.beneficiary_id, least(n.withdrawal_upto, n.payout_upto) DESC""",
    "ANALYZE allocation_moved",
    # Payouts of people started again: re-derived below from all their allocations.
    """INSERT INTO allocation_changed
       SELECT DISTINCT n.payout_id FROM allocation_new n JOIN allocation_base b ON b.beneficiary_id = n.beneficiary_id
        WHERE b.fresh ON CONFLICT DO NOTHING""",
)

# Payouts whose allocation continued: allocations only ever come later in time along a payout, so its
# first withdrawal stays (or is the first new one) and it is used up when the allocated total passes it.
_UPDATE_CONTINUED = """
    UPDATE payout p SET first_withdrawal_at = least(p.first_withdrawal_at, u.first_at),
                        withdrawn_at = CASE WHEN u.upto <= u.allocated_now THEN u.last_at END
      FROM (SELECT n.payout_id, min(n.effective_at) AS first_at, max(n.effective_at) AS last_at,
                   max(n.payout_upto) AS upto, max(m.allocated) AS allocated_now
              FROM allocation_new n JOIN allocation_moved m ON m.beneficiary_id = n.beneficiary_id
             WHERE m.had_frontier GROUP BY n.payout_id) u
     WHERE p.id = u.payout_id
       AND (p.first_withdrawal_at, p.withdrawn_at) IS DISTINCT FROM
           (least(p.first_withdrawal_at, u.first_at), CASE WHEN u.upto <= u.allocated_now THEN u.last_at END)
"""

# Withdrawal times of the payouts of people started again, from all their allocations.
_UPDATE_PAYOUTS = """
    WITH wanted AS (
        SELECT p.id, min(a.effective_at) AS first_at,
               CASE WHEN sum(a.amount) = p.amount THEN max(a.effective_at) END AS done_at
          FROM allocation_changed c JOIN payout p ON p.id = c.payout_id
          LEFT JOIN withdrawal_allocation a ON a.payout_id = p.id
         GROUP BY p.id, p.amount
    )
    UPDATE payout p SET first_withdrawal_at = wanted.first_at, withdrawn_at = wanted.done_at
      FROM wanted
     WHERE p.id = wanted.id
       AND (p.first_withdrawal_at, p.withdrawn_at) IS DISTINCT FROM (wanted.first_at, wanted.done_at)
"""

# The new frontier of each person the continuation moved: rewritten in place (a feed moves a million;
# an UPDATE joined by hash is several times cheaper than as many INSERT ... ON CONFLICT), added for the
# others (their first allocation, or started again). Only reallocations write it, under their lock.
_SAVE_FRONTIER = (
    """UPDATE allocation_frontier f SET
           allocated = m.allocated, withdrawal_at = m.withdrawal_at, withdrawal_id = m.withdrawal_id,
           withdrawal_upto = m.withdrawal_upto, withdrawal_count = m.withdrawal_count, payout_at = m.payout_at,
           payout_serial = m.payout_serial, payout_upto = m.payout_upto, withdrawn = m.withdrawn
         FROM allocation_moved m WHERE m.had_frontier AND f.beneficiary_id = m.beneficiary_id""",
    """INSERT INTO allocation_frontier (beneficiary_id, allocated, withdrawal_at, withdrawal_id, withdrawal_upto,
                                        withdrawal_count, payout_at, payout_serial, payout_upto, withdrawn)
       SELECT beneficiary_id, allocated, withdrawal_at, withdrawal_id, withdrawal_upto, withdrawal_count, payout_at,
              payout_serial, payout_upto, withdrawn
         FROM allocation_moved WHERE NOT had_frontier""",
    # A frontier that did not move still learns the total withdrawn (money withdrawn before it arrived).
    """UPDATE allocation_frontier f SET withdrawn = t.withdrawn
         FROM (SELECT b.beneficiary_id, coalesce(w.withdrawn, b.withdrawal_upto) AS withdrawn
                 FROM allocation_base b
                 LEFT JOIN (SELECT beneficiary_id, max(upto) AS withdrawn FROM allocation_withdrawals
                             GROUP BY beneficiary_id) w ON w.beneficiary_id = b.beneficiary_id
                WHERE NOT b.fresh AND (b.withdrawn IS NULL OR w.withdrawn IS NOT NULL)
                  AND NOT EXISTS (SELECT 1 FROM allocation_moved m WHERE m.beneficiary_id = b.beneficiary_id)) t
        WHERE f.beneficiary_id = t.beneficiary_id AND f.withdrawn IS DISTINCT FROM t.withdrawn""",
)

# What reached each person in all is the end of their scale: the last arrival's, or the frontier's when
# nothing came after it (a person started again has no frontier: from zero).
_TARGETS = """
    INSERT INTO undrawn_target (beneficiary_id, credited, drawn, posted_credited, posted_drawn, has_position)
    SELECT b.beneficiary_id, c.total, c.drawn,
           coalesce(pos.credited, 0), coalesce(pos.drawn, 0), pos.beneficiary_id IS NOT NULL
      FROM allocation_base b
      LEFT JOIN (SELECT beneficiary_id, max(upto) AS upto FROM allocation_arrivals GROUP BY beneficiary_id) a
             ON a.beneficiary_id = b.beneficiary_id
      LEFT JOIN allocation_moved m ON m.beneficiary_id = b.beneficiary_id
      CROSS JOIN LATERAL (SELECT coalesce(a.upto, b.payout_upto) AS total, coalesce(m.allocated, b.allocated) AS drawn) c
      LEFT JOIN undrawn_position pos ON pos.beneficiary_id = b.beneficiary_id
     WHERE (c.total, c.drawn) IS DISTINCT FROM (coalesce(pos.credited, 0), coalesce(pos.drawn, 0))
"""

# Rewritten in place for people who have one (see _SAVE_FRONTIER), added for the others.
_SAVE_POSITIONS = (
    """UPDATE undrawn_position p SET credited = t.credited, drawn = t.drawn, updated_at = now()
         FROM undrawn_target t WHERE t.has_position AND p.beneficiary_id = t.beneficiary_id""",
    """INSERT INTO undrawn_position (beneficiary_id, credited, drawn)
       SELECT beneficiary_id, credited, drawn FROM undrawn_target WHERE NOT has_position""",
)


# The people of the noted changes (``reallocate_noted``).
NOTED_PEOPLE = "noted"


async def _fill_scope(driver: Any, beneficiary_ids: Sequence[UUID] | str | None) -> None:
    await driver.execute(_SCOPE_TABLE)
    await driver.execute(_CHANGES_TABLES)
    await driver.execute("TRUNCATE allocation_scope, allocation_base, allocation_new, allocation_changed, "
                         "allocation_arrivals, allocation_withdrawals, allocation_moved, undrawn_target")
    if beneficiary_ids == NOTED_PEOPLE:
        await driver.execute(
            """INSERT INTO allocation_scope
               SELECT beneficiary_id FROM allocation_changed_withdrawal
               UNION SELECT p.beneficiary_id FROM allocation_changed_payout c JOIN payout p ON p.id = c.id""")
    elif beneficiary_ids is None:
        await driver.execute(
            """INSERT INTO allocation_scope
               SELECT beneficiary_id FROM payout UNION SELECT beneficiary_id FROM withdrawal
                WHERE beneficiary_id IS NOT NULL UNION SELECT beneficiary_id FROM undrawn_position""")
    else:
        await driver.copy_records_to_table("allocation_scope", records=[(b,) for b in set(beneficiary_ids)])
    await driver.execute("ANALYZE allocation_scope")


_TARGETS_WITH_ACCOUNTS = (f"SELECT t.*, {_UNDRAWN_COLUMNS} FROM undrawn_target t {_UNDRAWN_JOIN} "  # noqa: S608
                          "ORDER BY t.beneficiary_id")


async def _post_memo_entries(session: AsyncSession, driver: Any, step: Callable[[str], None]) -> int:
    """Bring each changed person's undrawn:B to its new totals with new entries; returns how many."""
    if not await driver.fetchval("SELECT EXISTS (SELECT 1 FROM undrawn_target)"):
        return 0
    control = (await ensure_accounts(session, [UNDRAWN_CONTROL]))[UNDRAWN_CONTROL.code]
    # Every person's account id comes with their row: no code travels to the database and back (a million
    # after a monthly feed). Registration opens the account (migration 0020); one still missing (a row
    # written around that trigger) is created in one statement and the rows read again; a code taken by an
    # account of another type is refused below.
    rows = await driver.fetch(_TARGETS_WITH_ACCOUNTS, _UNDRAWN_PREFIX)
    if any(r["account_id"] is None for r in rows):
        await ensure_accounts_from_query(
            session, "SELECT CAST($1 || beneficiary_id AS text) FROM undrawn_target WHERE NOT has_position",
            [_UNDRAWN_PREFIX], AccountType.memo)
        rows = await driver.fetch(_TARGETS_WITH_ACCOUNTS, _UNDRAWN_PREFIX)
    conflicts = account_conflicts(rows, lambda r: _UNDRAWN_PREFIX + str(r["beneficiary_id"]), AccountType.memo,
                                  must_exist=True)
    if conflicts:  # an account of that code with another type or a limit (as ensure_accounts refuses it)
        raise AccountConflict(conflicts)
    step("memo_accounts")
    debits: list[int | None] = []
    credits: list[int | None] = []
    amounts: list[int | None] = []
    codes: list[str] = []
    for r in rows:
        person = r["account_id"]
        for delta, up, down, code in (
            (r["credited"] - r["posted_credited"], (person, control), (control, person), "undrawn.credit"),
            (r["drawn"] - r["posted_drawn"], (control, person), (person, control), "undrawn.draw"),
        ):
            if delta == 0:
                continue
            debit, credit = up if delta > 0 else down
            debits.append(debit)
            credits.append(credit)
            amounts.append(abs(delta))
            codes.append(code if delta > 0 else f"{code}.correction")
    transfer_ids = [new_transfer_id() for _ in amounts]
    results = await create_transfer_arrays(session, ids=transfer_ids, code=codes, kind=TransferKind.single,
                                           debit_account_ids=debits, credit_account_ids=credits, amounts=amounts,
                                           all_or_nothing=True)
    refused = {result for result in results if result not in APPLIED_RESULTS}
    if refused:
        raise RuntimeError(f"ledger refused undrawn memo entries: {sorted(refused)}")
    step("memo_entries")
    for statement in _SAVE_POSITIONS:
        await driver.execute(statement)
    return len(amounts)


async def prepare_changes(session: AsyncSession) -> Any:
    """Make the temporary tables ``note_changes`` and callers' own statements fill (``CHANGED_WITHDRAWALS``);
    returns the driver connection."""
    driver = await driver_connection(session)
    await driver.execute(_CHANGES_TABLES)
    return driver


async def note_changes(session: AsyncSession, *, withdrawal_ids: Sequence[int] = (),
                       payout_ids: Sequence[UUID] = ()) -> None:
    """Note withdrawals this transaction inserted or cancelled and payouts whose arrival it changed (credited,
    returned, cash sent or returned), for ``reallocate(..., changes_noted=True)``."""
    driver = await prepare_changes(session)
    if withdrawal_ids:
        await driver.execute(f"""{NOTE_WITHDRAWALS} SELECT beneficiary_id, occurred_at, id, amount FROM withdrawal
                                  WHERE id = ANY($1::bigint[]) AND beneficiary_id IS NOT NULL""",  # noqa: S608
                             list(withdrawal_ids))
    if payout_ids:
        await driver.execute(f"{NOTE_PAYOUTS} SELECT unnest($1::uuid[])", list(payout_ids))  # noqa: S608


async def reallocate_noted(session: AsyncSession) -> AllocationResult:
    """``reallocate`` the people of the changes this transaction noted (``note_changes``, ``NOTE_WITHDRAWALS``),
    checking their frontiers against those changes only; the people need not travel through Python."""
    return await reallocate(session, NOTED_PEOPLE, changes_noted=True)


async def reallocate(session: AsyncSession, beneficiary_ids: Sequence[UUID] | str | None = None, *,
                     changes_noted: bool = False) -> AllocationResult:
    """Bring the FIFO allocation, payout withdrawal times and undrawn memo entries of these people (None:
    everyone; ``NOTED_PEOPLE``: those of the noted changes) up to date, in the caller's transaction; serialised by a transaction advisory lock, taken
    after the ledger's lock (a statement import writes to the ledger, then reallocates: the same order).

    The result is the from-scratch FIFO of each person's whole history; a person whose history before
    their frontier is unchanged only gets the continuation appended (see ``allocation_frontier``).
    ``changes_noted``: the caller noted every withdrawal and payout of these people its transaction changed
    (``note_changes``), so the frontier check reads those rows instead of each person's whole history.
    (Another transaction's changes are checked by its own reallocation, which runs after this one's.)"""
    started = time.perf_counter()
    result = AllocationResult()
    await lock_ledger(session)
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:lock))"), {"lock": ALLOCATION_LOCK})
    driver = await driver_connection(session)
    step = StepClock(result.steps)  # (from here: the locks' wait is in ``seconds`` only)
    await _fill_scope(driver, beneficiary_ids)
    step("scope")
    result.resolved_unknown = int(await driver.fetchval(_RESOLVE_UNKNOWN))
    result.people = int(await driver.fetchval("SELECT count(*) FROM allocation_scope"))
    previous_work_mem = None
    if result.people >= LARGE_SCOPE:  # for this reallocation only (the caller's transaction goes on)
        previous_work_mem = await driver.fetchval("SELECT current_setting('work_mem')")
        await driver.execute("SELECT set_config('work_mem', $1, true)", LARGE_SCOPE_WORK_MEM)
    step("resolve")
    status = await driver.execute(_STANDING_NOTED if changes_noted else _STANDING)
    standing = int(status.split()[-1])
    if standing < result.people:  # someone starts again (a monthly feed: usually nobody)
        for statement in _START_AGAIN:
            await driver.execute(statement)
    await driver.execute("ANALYZE allocation_base")
    step("frontier")
    by_person = int(result.people < BY_PERSON_BELOW)
    nestloop = None
    if not by_person:
        nestloop = await driver.fetchval("SELECT current_setting('enable_nestloop')")
        # Many people: joined with the whole tables, by hash. The planner's statistics of payout cannot know
        # the payouts the caller's transaction just credited: taking them for a handful, it nested-looped
        # every arrived payout against every person of the scope (a statement crediting 100,000 payouts
        # ran for minutes in this one statement).
        await driver.execute("SELECT set_config('enable_nestloop', 'off', true)")
    await driver.execute(_ARRIVALS_CONTINUED[by_person])
    if standing < result.people:
        await driver.execute(_ARRIVALS_AGAIN[by_person])
    await driver.execute("ANALYZE allocation_arrivals")
    step("arrivals")
    if changes_noted:
        await driver.execute(_WITHDRAWALS_NOTED)
    await driver.execute(_WITHDRAWALS_FROM_TABLE_BY_PERSON if by_person else _WITHDRAWALS_FROM_TABLE)
    if not by_person:
        await driver.execute("SELECT set_config('enable_nestloop', $1, true)", nestloop)
    await driver.execute("ANALYZE allocation_withdrawals")
    # Most people a statement credits have never withdrawn: then there is nothing to allocate.
    if await driver.fetchval("SELECT EXISTS (SELECT 1 FROM allocation_withdrawals)"):
        status = await driver.execute(_ALLOCATE)
        result.allocations = int(status.split()[-1])
    await driver.execute("ANALYZE allocation_new")
    step("allocate")
    for statement in _APPEND:
        await driver.execute(statement)
    await driver.execute("ANALYZE allocation_changed")
    step("append")
    status = await driver.execute(_UPDATE_CONTINUED)
    result.payouts_changed = int(status.split()[-1])
    status = await driver.execute(_UPDATE_PAYOUTS)
    result.payouts_changed += int(status.split()[-1])
    step("payouts")
    for statement in _SAVE_FRONTIER:
        await driver.execute(statement)
    step("frontier_saved")
    await driver.execute(_TARGETS)
    step("targets")
    result.ledger_entries = await _post_memo_entries(session, driver, step)
    step("memo_positions")
    await driver.execute("TRUNCATE allocation_changed_withdrawal, allocation_changed_payout")
    if previous_work_mem is not None:
        await driver.execute("SELECT set_config('work_mem', $1, true)", previous_work_mem)
    result.seconds = round(time.perf_counter() - started, 3)
    log.info("withdrawals_reallocated", people=result.people, allocations=result.allocations,
             payouts_changed=result.payouts_changed, ledger_entries=result.ledger_entries,
             resolved_unknown=result.resolved_unknown, seconds=result.seconds, steps=result.steps)
    return result


# How many rows of the unknown accounts and of the conflicts an intake's answer lists (the first, by row
# number); the totals count every row, and every row is stored (an unknown account's
# withdrawal without a person, with its intake) as is the file itself (``withdrawal_intake.content``).
LISTED_ROWS = 1000
# A feed row whose reference was received before with other fields (i: the row, w: the stored withdrawal).
_DIFFERS = ("((w.account_number, w.occurred_at, w.amount, w.channel)"
            " IS DISTINCT FROM (i.account_number, i.occurred_at, i.amount, i.channel))")
# A feed of at least this many rows gets statistics for its staging table, for the planner's joins.
_ANALYZE_INPUT = 5000
_INPUT_TABLE = """
    DO $$ BEGIN
        IF to_regclass('pg_temp.withdrawal_input') IS NULL THEN
            CREATE TEMP TABLE withdrawal_input (row_number int NOT NULL, account_number text NOT NULL,
                occurred_at timestamptz NOT NULL, amount bigint NOT NULL, channel text NOT NULL,
                bank_reference text NOT NULL, beneficiary_id uuid) ON COMMIT DELETE ROWS;
        END IF;
    END $$
"""


async def record_bank_withdrawals(session: AsyncSession, *, bank_bin: str, rows: Sequence[WithdrawalRow],
                                  recorded_by: str, source_name: str = "", file_format: str = "json",
                                  sha256: bytes | None = None, content: bytes | None = None) -> IntakeResult:
    """Store a bank's withdrawal rows (idempotent by bank + reference), keep unknown accounts (reported),
    and reallocate the people concerned; rows must have been checked (``withdrawal_files``). ``content``:
    the upload as received, kept with the intake for audit (``sha256`` must be its hash)."""
    step = StepClock()
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtext(:lock))"),
                          {"lock": f"withdrawal_intake:{bank_bin}"})
    driver = await driver_connection(session)
    await driver.execute(_INPUT_TABLE)
    await driver.execute("TRUNCATE withdrawal_input")
    await driver.copy_records_to_table(
        "withdrawal_input",
        columns=["row_number", "account_number", "occurred_at", "amount", "channel", "bank_reference"],
        records=[(r.row, r.account_number, r.occurred_at, r.amount, r.channel, r.bank_ref) for r in rows])
    if len(rows) >= _ANALYZE_INPUT:
        await driver.execute("ANALYZE withdrawal_input")  # a temporary table has no statistics until then
    step("staged")
    # Each account's person: its open account, else the latest closed one. One set-based lookup of the
    # accounts the feed names (a few by their index; a million by one pass over the bank's accounts).
    await driver.execute(
        """UPDATE withdrawal_input i SET beneficiary_id = found.beneficiary_id
             FROM (SELECT DISTINCT ON (b.account_number) b.account_number, b.beneficiary_id
                     FROM bank_account b
                    WHERE b.bank_bin = $1 AND b.account_number IN (SELECT account_number FROM withdrawal_input)
                    ORDER BY b.account_number, (b.effective_to IS NULL) DESC, b.effective_from DESC, b.id DESC
                  ) found
            WHERE found.account_number = i.account_number""", bank_bin)
    step("accounts")
    # A reference already received is a duplicate when the row repeats it, a conflict when it differs:
    # each row is counted once, so rows = accepted + duplicates + conflicts. An unknown account is counted
    # among the accepted rows only (a repeated row was reported with the intake that brought it). Counted
    # in one pass of SQL; only the first rows of each list are read into Python, so a retry of a large file
    # costs what its first upload did and the answer stays small.
    counts = await driver.fetchrow(
        f"""SELECT count(*) FILTER (WHERE w.id IS NOT NULL AND NOT {_DIFFERS}) AS duplicates,
                   count(*) FILTER (WHERE w.id IS NOT NULL AND {_DIFFERS}) AS conflicts,
                   count(*) FILTER (WHERE w.id IS NULL AND i.beneficiary_id IS NULL) AS unknown,
                   count(DISTINCT i.account_number) FILTER (WHERE w.id IS NULL AND i.beneficiary_id IS NULL)
                       AS unknown_numbers
              FROM withdrawal_input i
              LEFT JOIN withdrawal w ON w.bank_bin = $1 AND w.bank_reference = i.bank_reference""",  # noqa: S608
        bank_bin)
    duplicates, conflicts_total = int(counts["duplicates"]), int(counts["conflicts"])
    accepted = len(rows) - duplicates - conflicts_total
    unknown = [] if not counts["unknown"] else await driver.fetch(
        """SELECT i.row_number, i.account_number, i.bank_reference, i.amount, i.occurred_at FROM withdrawal_input i
            WHERE i.beneficiary_id IS NULL
              AND NOT EXISTS (SELECT 1 FROM withdrawal w WHERE w.bank_bin = $1 AND w.bank_reference = i.bank_reference)
            ORDER BY i.row_number LIMIT $2""", bank_bin, LISTED_ROWS)
    unknown_accounts = [{"row": r["row_number"], "account_number": r["account_number"],
                         "bank_ref": r["bank_reference"], "amount": r["amount"],
                         "occurred_at": r["occurred_at"].isoformat()} for r in unknown]
    differing = [] if not conflicts_total else await driver.fetch(  # (a second join of the feed, when needed)
        f"""SELECT i.row_number, i.bank_reference FROM withdrawal_input i
              JOIN withdrawal w ON w.bank_bin = $1 AND w.bank_reference = i.bank_reference
             WHERE {_DIFFERS} ORDER BY i.row_number LIMIT $2""", bank_bin, LISTED_ROWS)  # noqa: S608
    conflicts = [{"row": r["row_number"], "bank_ref": r["bank_reference"],
                  "message": "Mã giao dịch đã có với nội dung khác; giữ bản đã nhận",
                  "message_en": "reference already received with other fields; the first one is kept"}
                 for r in differing]
    step("counted")
    intake_id = await driver.fetchval(
        """INSERT INTO withdrawal_intake (bank_bin, source_name, format, sha256, rows, accepted, duplicates,
                                          unknown_accounts, uploaded_by, content)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) RETURNING id""",
        bank_bin, source_name[:200], file_format, sha256, len(rows), accepted,
        duplicates, int(counts["unknown"]), recorded_by, content)
    await prepare_changes(session)
    inserted = await driver.fetchval(
        f"""WITH added AS (
               INSERT INTO withdrawal (source, intake_id, bank_bin, bank_reference, account_number, beneficiary_id,
                                       occurred_at, amount, channel, recorded_by)
               SELECT 'bank', $2, $1, bank_reference, account_number, beneficiary_id, occurred_at, amount, channel, $3
                 -- each person's rows in time order (ids then follow it: the allocation's tie-break); the
                 -- people one after the other, so the person index is written in its own order
                 FROM withdrawal_input ORDER BY beneficiary_id, occurred_at, row_number
               ON CONFLICT (bank_bin, bank_reference) DO NOTHING
               RETURNING id, beneficiary_id, occurred_at, amount
           ), noted AS (
               {NOTE_WITHDRAWALS} SELECT beneficiary_id, occurred_at, id, amount FROM added
                WHERE beneficiary_id IS NOT NULL
           )
           SELECT count(*) FROM added WHERE beneficiary_id IS NOT NULL""",  # noqa: S608 - a constant
        bank_bin, intake_id, recorded_by)
    step("inserted")
    confirmed = await _confirm_assisted(session, driver, intake_id, recorded_by) if inserted else 0
    await driver.execute("TRUNCATE withdrawal_input")
    step("confirmed")
    if inserted:
        await reallocate_noted(session)
    step("reallocated")
    log.info("withdrawals_received", bank=bank_bin, rows=len(rows), accepted=accepted, duplicates=duplicates,
             unknown_accounts=int(counts["unknown"]), conflicts=conflicts_total, assisted_confirmed=confirmed,
             seconds=step.seconds(), steps=step.steps)
    return IntakeResult(intake_id=intake_id, rows=len(rows), accepted=accepted, duplicates=duplicates,
                        unknown_accounts=unknown_accounts, conflicts=conflicts,
                        unknown_accounts_total=int(counts["unknown"]),
                        unknown_account_numbers=int(counts["unknown_numbers"]), conflicts_total=conflicts_total,
                        assisted_confirmed=confirmed)


# A bank's withdrawal and commune staff's assisted record of it: the same person and amount, this far apart
# at most (staff type the time they remember; the bank's clock is the bank's).
CONFIRM_WINDOW = "1 day"
# The live assisted records a feed's new withdrawals may confirm, closest in time first (migration 0042): the
# assisted records around the feed's times by their partial index, the feed's rows as noted by the intake.
_ASSISTED_CANDIDATES = f"""
    SELECT c.id AS assisted_id, n.id AS bank_id, w.bank_reference, n.occurred_at
      FROM withdrawal c
      JOIN allocation_changed_withdrawal n ON n.beneficiary_id = c.beneficiary_id AND n.amount = c.amount
      JOIN withdrawal w ON w.id = n.id AND w.source = 'bank' AND w.intake_id = $1
     WHERE c.source = 'commune' AND c.channel = 'assisted'
       AND c.occurred_at BETWEEN (SELECT min(occurred_at) FROM withdrawal_input) - interval '{CONFIRM_WINDOW}'
                             AND (SELECT max(occurred_at) FROM withdrawal_input) + interval '{CONFIRM_WINDOW}'
       AND n.occurred_at BETWEEN c.occurred_at - interval '{CONFIRM_WINDOW}'
                             AND c.occurred_at + interval '{CONFIRM_WINDOW}'
       AND NOT EXISTS (SELECT 1 FROM withdrawal_cancellation x WHERE x.withdrawal_id = c.id)
     ORDER BY abs(extract(epoch FROM n.occurred_at - c.occurred_at)), c.id, n.id
"""  # noqa: S608 - constants


async def _confirm_assisted(session: AsyncSession, driver: Any, intake_id: UUID, recorded_by: str) -> int:
    """Cancel each live assisted record that one of this intake's withdrawals reports (the same person and
    amount within ``CONFIRM_WINDOW``; each pairs with one, the closest first): the bank's row is the fact, the
    commune's would count the money twice. The cancellation names the bank's withdrawal (``superseded_by``)."""
    pairs: list[tuple[int, str, str, int]] = []
    assisted_taken: set[int] = set()
    bank_taken: set[int] = set()
    for row in await driver.fetch(_ASSISTED_CANDIDATES, intake_id):
        if row["assisted_id"] in assisted_taken or row["bank_id"] in bank_taken:
            continue
        assisted_taken.add(row["assisted_id"])
        bank_taken.add(row["bank_id"])
        when = row["occurred_at"].astimezone(LOCAL_TIMEZONE).strftime("%H:%M %d/%m/%Y")
        reason = (f"Ngân hàng đã báo chính lần rút này (mã giao dịch {row['bank_reference']}, lúc {when}): "
                  f"tính một lần theo ngân hàng / the bank reported this same withdrawal (reference "
                  f"{row['bank_reference']}, at {when}): counted once, as the bank's")
        pairs.append((row["assisted_id"], reason, recorded_by, row["bank_id"]))
    if not pairs:
        return 0
    await driver.executemany(
        """INSERT INTO withdrawal_cancellation (withdrawal_id, reason, cancelled_by, superseded_by)
           VALUES ($1, $2, $3, $4)""", pairs)
    await note_changes(session, withdrawal_ids=[pair[0] for pair in pairs])
    log.info("assisted_withdrawals_confirmed_by_bank", intake=str(intake_id), count=len(pairs))
    return len(pairs)


@dataclass(frozen=True)
class CommuneWithdrawal:
    """A withdrawal made with commune staff's help (``assisted``), or cash handed over (``cash_handover``)."""

    beneficiary_id: UUID
    occurred_at: datetime
    amount: int
    channel: str
    helper_name: str
    note: str
    recorded_by: str


async def record_commune_withdrawals(session: AsyncSession, items: Sequence[CommuneWithdrawal]) -> list[int]:
    """Store commune staff's withdrawals and reallocate the people concerned once; returns the ids."""
    for item in items:
        if item.channel not in COMMUNE_CHANNELS:
            raise ValueError(f"channel must be one of {COMMUNE_CHANNELS}")
        if isinstance(item.amount, bool) or not isinstance(item.amount, int) or item.amount <= 0:
            raise ValueError("amount must be a positive integer of đồng")
    if not items:
        return []
    rows = await session.execute(text(
        """INSERT INTO withdrawal (source, beneficiary_id, occurred_at, amount, channel, recorded_by, helper_name, note)
           SELECT 'commune', * FROM unnest(CAST(:people AS uuid[]), CAST(:ats AS timestamptz[]),
                                           CAST(:amounts AS bigint[]), CAST(:channels AS text[]),
                                           CAST(:bys AS text[]), CAST(:helpers AS text[]), CAST(:notes AS text[]))
           RETURNING id"""),
        {"people": [i.beneficiary_id for i in items], "ats": [i.occurred_at for i in items],
         "amounts": [i.amount for i in items], "channels": [i.channel for i in items],
         "bys": [i.recorded_by for i in items], "helpers": [i.helper_name for i in items],
         "notes": [i.note for i in items]})
    ids = [int(row.id) for row in rows]
    await note_changes(session, withdrawal_ids=ids)
    await reallocate_noted(session)
    return ids


async def record_commune_withdrawal(session: AsyncSession, *, beneficiary_id: UUID, occurred_at: datetime,
                                    amount: int, channel: str, helper_name: str, note: str,
                                    recorded_by: str) -> int:
    """Store one withdrawal made with commune staff's help, or cash handed over, and reallocate the person."""
    (withdrawal_id,) = await record_commune_withdrawals(session, [CommuneWithdrawal(
        beneficiary_id=beneficiary_id, occurred_at=occurred_at, amount=amount, channel=channel,
        helper_name=helper_name, note=note, recorded_by=recorded_by)])
    return withdrawal_id


class CancelRefused(ValueError):
    """A withdrawal that cannot be cancelled (a bank's, or cancelled already), with the reason in both languages."""

    def __init__(self, vi: str, en: str) -> None:
        super().__init__(en)
        self.vi, self.en = vi, en


async def cancel_commune_withdrawal(session: AsyncSession, *, beneficiary_id: UUID, withdrawal_id: int,
                                    reason: str, cancelled_by: str) -> None:
    """Cancel a withdrawal commune staff recorded by mistake (a new row; the withdrawal stays as typed) and
    reallocate the person. LookupError when the person has no such withdrawal, CancelRefused when it is a
    bank's or already cancelled."""
    source = await session.scalar(text(
        "SELECT source FROM withdrawal WHERE id = :id AND beneficiary_id = :b FOR UPDATE"),
        {"id": withdrawal_id, "b": beneficiary_id})
    if source is None:
        raise LookupError(withdrawal_id)
    if source != "commune":
        raise CancelRefused("Chỉ huỷ được giao dịch do cán bộ xã ghi; giao dịch của ngân hàng do ngân hàng điều chỉnh",
                            "only a withdrawal recorded by commune staff can be cancelled; the bank corrects its own")
    # Two taps at once: the second waits on the row lock, then finds the first one's row by its key.
    added = await session.execute(text(
        """INSERT INTO withdrawal_cancellation (withdrawal_id, reason, cancelled_by) VALUES (:id, :reason, :by)
           ON CONFLICT (withdrawal_id) DO NOTHING RETURNING withdrawal_id"""),
        {"id": withdrawal_id, "reason": reason, "by": cancelled_by})
    if added.first() is None:
        raise CancelRefused("Giao dịch đã được huỷ trước đó", "the withdrawal is already cancelled")
    await note_changes(session, withdrawal_ids=[withdrawal_id])
    await reallocate_noted(session)
