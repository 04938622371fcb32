"""Compute a payout run: one payout per payable person, every unpaid month up to the period.

Which months: those of the run's window [arrears_from, period] (12 months back: ``runs.ARREARS_MONTHS``)
that are owed and not paid, and, whatever their age, the months ansinh already found due and left unpaid —
released for payment again (a return reissued, a payout withheld, a cash return) or held by an earlier run
until an officer fixed the cause (``older_months_owed``). Every month is paid by the registry's rules for
that month, and at most once (``payout_month``'s unique indexes).

Set-based: the registry's ``entitlements_for_month`` (rate in force for the province, status in the
month, highest-amount rule) fills a staging table once per month that still has unpaid entitlements;
payouts are then written in chunks, each chunk committed with the run's progress. A crash leaves
committed chunks whose months are recorded in ``payout_month``; a rerun recomputes the staging table
without them and carries on, so every (enrolment, month) is paid exactly once.

The staging tables are unlogged tables of the run (not temporary ones) so that a large run is written
by two connections at once, each its half of the people in beneficiary order: writing payouts is all
database work (indexes, checks, triggers), and one backend uses one of the machine's cores.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from datetime import date
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.audit.service import record
from app.payouts.models import PayoutRun
from app.payouts.service.recheck import registry_reading
from app.payouts.service.runs import (
    HOLD_REASONS,
    add_months,
    check_computable,
    format_period,
    get_run,
    remove_run_payouts,
    run_work_lock,
    set_progress,
    staging_tables,
)
from app.reconciliation_api.blocks import BLOCKED_ACCOUNT_ROWS

log = structlog.get_logger()

CHUNK_SIZE = 50_000
ANALYZE_AFTER = 5_000  # payouts written by one run
WRITERS = 2  # connections writing a run of more than one chunk (one per core of the reference machine)

# Months with at least one enrolment of the programme still unpaid (for the enrolment and its group).
# The run's own month is unpaid as soon as one enrolment has no payment for it (found at the first such
# one). For the months before it, each enrolment's paid months are counted in one range of payout_month's
# unique (enrolment, month) index, and only an enrolment with fewer paid months than active ones is looked
# at month by month: one probe per enrolment and month of the arrears window would be twelve million
# probes a run at a million people, almost all of them finding the month paid.
_MONTHS_WITH_UNPAID = text(
    """
    WITH active AS (
        SELECT e.id, greatest(e.start_month, CAST(:arrears_from AS date)) AS first_month,
               least(coalesce(e.end_month, CAST(:before AS date)), CAST(:before AS date)) AS last_month
          FROM enrolment e
         WHERE e.programme_code = :programme AND e.start_month <= CAST(:before AS date)
           AND (e.end_month IS NULL OR e.end_month >= CAST(:arrears_from AS date))
    ), incomplete AS (
        SELECT a.* FROM active a
         WHERE (SELECT count(*) FROM payout_month pm
                 WHERE pm.enrolment_id = a.id AND pm.month BETWEEN a.first_month AND a.last_month
                   AND pm.released_at IS NULL)
               < (extract(year FROM a.last_month) * 12 + extract(month FROM a.last_month))
                 - (extract(year FROM a.first_month) * 12 + extract(month FROM a.first_month)) + 1
    )
    SELECT DISTINCT m::date AS month
      FROM incomplete i CROSS JOIN LATERAL generate_series(i.first_month, i.last_month, interval '1 month') m
     WHERE NOT EXISTS (SELECT 1 FROM payout_month pm
                        WHERE pm.enrolment_id = i.id AND pm.month = m::date AND pm.released_at IS NULL OFFSET 0)
    UNION
    SELECT CAST(:period AS date)
     WHERE CAST(:arrears_from AS date) <= CAST(:period AS date)
       AND EXISTS (SELECT 1 FROM enrolment e
                    WHERE e.programme_code = :programme AND e.start_month <= CAST(:period AS date)
                      AND (e.end_month IS NULL OR e.end_month >= CAST(:period AS date))
                      AND NOT EXISTS (SELECT 1 FROM payout_month pm
                                       WHERE pm.enrolment_id = e.id AND pm.month = CAST(:period AS date)
                                         AND pm.released_at IS NULL OFFSET 0))
     ORDER BY 1
    """
)

# Each entitlement is looked up in payout_month's two unique indexes (``OFFSET 0`` keeps each NOT EXISTS
# a per-row index probe): as an anti join, the planner — whose statistics cannot know the rows the
# month's first run just wrote — took a month's payout_month rows for one and nested-looped over all of
# them for every entitlement (7 s for the demo's second programme of a month instead of 0.1 s).
_STAGE_MONTH = (
    """
    INSERT INTO {entitlement}
    SELECT e.beneficiary_id, e.enrolment_id, e.benefit_group, e.commune_code, CAST(:month AS date),
           e.base_amount, e.coefficient, e.amount
      FROM entitlements_for_month(CAST(:month AS date), CAST(:programme AS text)) e
     WHERE NOT EXISTS (SELECT 1 FROM payout_month pm
                        WHERE pm.enrolment_id = e.enrolment_id AND pm.month = CAST(:month AS date)
                          AND pm.released_at IS NULL OFFSET 0)
       AND NOT EXISTS (SELECT 1 FROM payout_month pm
                        WHERE pm.beneficiary_id = e.beneficiary_id AND pm.benefit_group = e.benefit_group
                          AND pm.month = CAST(:month AS date) AND pm.released_at IS NULL OFFSET 0)
    """
)

# Months before the run's window [arrears_from, period] still unpaid for people the system already found
# them due for, with those people: the arrears window limits back pay for a late enrolment, it does not take
# away a month that was due and that ansinh left unpaid. Two kinds, each read through a partial index of a
# few rows (migration 0034), so a run where nothing of the kind happened pays one index probe for them:
# - released: a payout_month row of the benefit group released for payment again (a bank return reissued,
#   a payout withheld at approval or send, a commune's cash return);
# - held: a month of an earlier run's window in which that run held the person (``HOLD_REASONS``: an
#   account a return blocked, a death a bank reported), i.e. what the run page calls "paid after the fix".
# A month paid again since (an unreleased row of the person's benefit group, through uq_payout_month_group)
# is left out. Whether the month is owed at all is the registry's word, when it is staged.
# The hold reasons as SQL literals: the planner then sees that the query implies ix_payout_run_skip_held's
# predicate (a bound parameter would hide it).
_HELD = ", ".join(f"'{reason}'" for reason in HOLD_REASONS)
_OLDER_MONTHS_OWED = text(
    f"""
    WITH candidate AS (
        SELECT pm.beneficiary_id, pm.month FROM payout_month pm
         WHERE pm.released_at IS NOT NULL AND pm.benefit_group = :group
           AND pm.month < CAST(:arrears_from AS date)
        UNION
        SELECT s.beneficiary_id, CAST(m AS date)
          FROM payout_run r
          JOIN payout_run_skip s ON s.run_id = r.id AND s.reason IN ({_HELD})
         CROSS JOIN LATERAL generate_series(r.arrears_from,
                                            least(r.period, CAST(:arrears_from AS date) - interval '1 month'),
                                            interval '1 month') m
         WHERE r.programme_code = :programme AND r.status <> 'cancelled'
           AND r.arrears_from < CAST(:arrears_from AS date)
    )
    SELECT c.month, array_agg(c.beneficiary_id ORDER BY c.beneficiary_id) AS people
      FROM candidate c
     WHERE NOT EXISTS (SELECT 1 FROM payout_month pm
                        WHERE pm.beneficiary_id = c.beneficiary_id AND pm.benefit_group = :group
                          AND pm.month = c.month AND pm.released_at IS NULL OFFSET 0)
     GROUP BY c.month ORDER BY c.month
    """  # noqa: S608 (constants)
)

# Such a month is paid by the registry's rules for that month, as any arrears: the person active in it
# (nothing after death, during a suspension or after moving away), the enrolment covering it, the rate in
# force then for the commune's province, the highest amount of the benefit group. The one-argument
# ``entitlements_for_month`` is an inlinable SQL function (the programme variant is not: its SET options),
# so the filter on the people reaches the status history through its index instead of computing the
# month for the whole programme.
_STAGE_OLDER_MONTH = (
    """
    INSERT INTO {entitlement}
    SELECT e.beneficiary_id, e.enrolment_id, e.benefit_group, e.commune_code, CAST(:month AS date),
           e.base_amount, e.coefficient, e.amount
      FROM entitlements_for_month(CAST(:month AS date)) e
     WHERE e.beneficiary_id = ANY(CAST(:people AS uuid[])) AND e.programme_code = :programme
       AND NOT EXISTS (SELECT 1 FROM payout_month pm
                        WHERE pm.enrolment_id = e.enrolment_id AND pm.month = CAST(:month AS date)
                          AND pm.released_at IS NULL OFFSET 0)
       AND NOT EXISTS (SELECT 1 FROM payout_month pm
                        WHERE pm.beneficiary_id = e.beneficiary_id AND pm.benefit_group = e.benefit_group
                          AND pm.month = CAST(:month AS date) AND pm.released_at IS NULL OFFSET 0)
    """
)

# One row per person: total, commune of the latest month, channel and active account, or a skip reason.
# A person on the bank channel is held (skipped, months left unpaid for a later run's arrears) while a bank
# reported them deceased and no officer resolved it (an open MD07 flag), or while their active account
# is blocked by a return saying it cannot receive money (``bank_account_block``). A block refuses the account
# number at its bank, not the row it was recorded on: the same number registered again as a new row (another
# holder name, another person) is held all the same. Both are left joins against small sets — the open flags
# (at most one per person, a partial unique index) and the account rows whose number has an open block
# (``BLOCKED_ACCOUNT_ROWS``: a few index probes per open block) — hashed once and probed once per person, next
# to the account join already here.
# The reasons and their messages: ``runs.SKIP_REASON_MESSAGES``.
_PLAN = (
    """
    CREATE UNLOGGED TABLE {plan} AS
    SELECT t.beneficiary_id, t.amount, t.commune_code, b.channel,
           a.id AS bank_account_id, a.bank_bin, a.account_number, a.holder_name,
           CASE WHEN b.channel <> 'bank' THEN NULL
                WHEN f.raised_at IS NOT NULL THEN 'deceased_reported'
                WHEN a.id IS NULL THEN 'no_bank_account'
                WHEN k.returned_at IS NOT NULL THEN 'bank_account_unusable'
                WHEN a.verification_status = 'closed' THEN 'bank_account_closed'
                WHEN a.verification_status = 'name_mismatch' THEN 'bank_account_name_mismatch'
           END AS skip_reason,
           CASE WHEN b.channel <> 'bank' THEN NULL
                WHEN f.raised_at IS NOT NULL THEN f.raised_at
                WHEN a.id IS NOT NULL THEN k.returned_at
           END AS skip_since,
           CASE WHEN b.channel <> 'bank' THEN NULL
                WHEN f.raised_at IS NOT NULL THEN 'MD07'
                WHEN a.id IS NOT NULL THEN k.reason
           END AS skip_detail
      FROM (SELECT beneficiary_id, sum(amount)::bigint AS amount,
                   (array_agg(commune_code ORDER BY month DESC))[1] AS commune_code
              FROM {entitlement} GROUP BY beneficiary_id) t
      JOIN beneficiary b ON b.id = t.beneficiary_id
      LEFT JOIN bank_account a ON a.beneficiary_id = t.beneficiary_id AND a.effective_to IS NULL
      LEFT JOIN (SELECT beneficiary_id, raised_at FROM beneficiary_flag
                  WHERE kind = 'deceased_reported_by_bank' AND resolved_at IS NULL) f
        ON f.beneficiary_id = t.beneficiary_id
      LEFT JOIN ({blocked_rows}) k ON k.bank_account_id = a.id
    """
)


# How many enrolments of the programme have a month in the run's window [arrears_from, period] not paid
# yet: one count (the ``incomplete`` test above, one range of payout_month's index per enrolment), an
# upper bound on the payouts a compute writes (people suspended or skipped are counted too).
_UNPAID_ENROLMENTS = text(
    """
    SELECT count(*) FROM (
        SELECT e.id, greatest(e.start_month, CAST(:arrears_from AS date)) AS first_month,
               least(coalesce(e.end_month, CAST(:period AS date)), CAST(:period AS date)) AS last_month
          FROM enrolment e
         WHERE e.programme_code = :programme AND e.start_month <= CAST(:period AS date)
           AND (e.end_month IS NULL OR e.end_month >= CAST(:arrears_from AS date))
    ) a
     WHERE (SELECT count(*) FROM payout_month pm
             WHERE pm.enrolment_id = a.id AND pm.month BETWEEN a.first_month AND a.last_month
               AND pm.released_at IS NULL)
           < (extract(year FROM a.last_month) * 12 + extract(month FROM a.last_month))
             - (extract(year FROM a.first_month) * 12 + extract(month FROM a.first_month)) + 1
    """
)


async def compute_size(session: AsyncSession, run: PayoutRun) -> int:
    """The size of a compute, to choose between answering in the request (200) and after it (202).

    A regular run pays the programme's people: its enrolments are counted (cheap). A supplementary run
    pays only the months still owed, often to a handful of people: the enrolments with an unpaid month in
    its window are counted, and the people owed a month from before it (``older_months_owed``), plus the
    payouts of its previous result (a recompute removes them first)."""
    if run.kind == "regular":
        return int(await session.scalar(text("SELECT count(*) FROM enrolment WHERE programme_code = :p"),
                                        {"p": run.programme_code}) or 0)
    unpaid = await session.scalar(_UNPAID_ENROLMENTS, {"programme": run.programme_code,
                                                       "arrears_from": run.arrears_from, "period": run.period})
    older = {person for _, people in await older_months_owed(session, run.programme_code, run.arrears_from)
             for person in people}
    return int(unpaid or 0) + len(older) + (run.payout_count if run.status == "computed" else 0)


async def _months_to_stage(conn: AsyncConnection, programme: str, arrears_from: date, period: date) -> list[date]:
    rows = await conn.execute(_MONTHS_WITH_UNPAID, {"programme": programme, "arrears_from": arrears_from,
                                                    "period": period, "before": add_months(period, -1)})
    return [r.month for r in rows]


async def older_months_owed(conn: AsyncConnection | AsyncSession, programme: str,
                            arrears_from: date) -> list[tuple[date, list[UUID]]]:
    """(month, people) of the months before ``arrears_from`` a run of ``programme`` pays regardless of the
    arrears window: released for payment again, or held by an earlier run, and not paid since."""
    group = await conn.scalar(text("SELECT benefit_group FROM programme WHERE code = :programme"),
                              {"programme": programme})
    rows = await conn.execute(_OLDER_MONTHS_OWED, {"programme": programme, "group": group,
                                                   "arrears_from": arrears_from})
    return [(r.month, list(r.people)) for r in rows]


async def _start(conn: AsyncConnection, run_id: UUID, actor: str) -> tuple[str, date, date]:
    async with AsyncSession(bind=conn, expire_on_commit=False) as session:
        run = await get_run(session, run_id)
        check_computable(run)
        if run.status == "computed":
            # Recompute before approval: forget the previous result entirely.
            await remove_run_payouts(session, run_id)
        # computed_at is when the registry was read (``_stage``); a resumed compute keeps its first reading,
        # which the payouts written before the crash came from. A new compute starts without one.
        await session.execute(text(
            """UPDATE payout_run SET status = 'computing', prepared_by = :actor,
                      computed_at = CASE WHEN status = 'computing' THEN computed_at END,
                      computed_xmin = CASE WHEN status = 'computing' THEN computed_xmin END,
                      computed_oldest = CASE WHEN status = 'computing' THEN computed_oldest END
                WHERE id = :run"""),
            {"actor": actor, "run": run_id})
        await record(session, actor=actor, action="payout_run.compute", object_type="payout_run", object_id=run_id,
                     before={"status": run.status})
        await session.commit()
        return run.programme_code, run.arrears_from, run.period


@dataclass(frozen=True)
class _Staging:
    """The run's staging tables (unlogged, named after the run: every writer connection reads them)."""

    entitlement: str
    plan: str

    @classmethod
    def of(cls, run_id: UUID) -> _Staging:
        entitlement, plan = staging_tables(run_id)
        return cls(entitlement=entitlement, plan=plan)

    def sql(self, template: str, **fragments: str) -> str:
        """``template`` with the tables' names and the other ``fragments`` filled in."""
        return template.format(entitlement=self.entitlement, plan=self.plan, **fragments)

    async def drop(self, conn: AsyncConnection) -> None:
        await conn.execute(text(f"DROP TABLE IF EXISTS {self.entitlement}, {self.plan}"))


async def _stage(conn: AsyncConnection, run_id: UUID, programme: str, arrears_from: date,
                 period: date) -> tuple[int, int]:
    """Fill the run's staging tables; (payouts already written by an earlier attempt, payouts to write)."""
    staging = _Staging.of(run_id)
    await set_progress(conn, run_id, phase="entitlements", total=0)
    await conn.commit()
    await staging.drop(conn)
    # The registry as of now is what this run pays: approval re-checks the changes written since
    # (``recheck``): the time, and the oldest transaction still running (whose writes compute cannot see).
    # Stamped before the first read, kept from a first attempt when compute resumes.
    reading = await registry_reading(conn)
    await conn.execute(text(
        """UPDATE payout_run SET computed_at = coalesce(computed_at, statement_timestamp()),
                  computed_xmin = CASE WHEN computed_at IS NULL THEN :xmin ELSE computed_xmin END,
                  computed_oldest = CASE WHEN computed_at IS NULL THEN :oldest ELSE computed_oldest END
            WHERE id = :run"""),
        {"run": run_id, "xmin": reading.xmin, "oldest": reading.oldest})
    await conn.execute(text(staging.sql(
        """CREATE UNLOGGED TABLE {entitlement} (
               beneficiary_id uuid, enrolment_id bigint, benefit_group text, commune_code varchar(5),
               month date, base_amount bigint, coefficient numeric(4, 2), amount bigint
           )""")))
    started = time.perf_counter()
    months = await _months_to_stage(conn, programme, arrears_from, period)
    older = await older_months_owed(conn, programme, arrears_from)
    timings = {"months": time.perf_counter() - started}
    for month in months:
        await conn.execute(text(staging.sql(_STAGE_MONTH)), {"month": month, "programme": programme})
    for month, people in older:
        await conn.execute(text(staging.sql(_STAGE_OLDER_MONTH)),
                           {"month": month, "programme": programme, "people": people})
    timings["entitlements"] = time.perf_counter() - started - timings["months"]
    await conn.execute(text(staging.sql("CREATE INDEX ON {entitlement} (beneficiary_id)")))
    await conn.execute(text(staging.sql("ANALYZE {entitlement}")))  # no statistics until analysed
    await conn.execute(text(staging.sql(_PLAN, blocked_rows=BLOCKED_ACCOUNT_ROWS)))
    await conn.execute(text(staging.sql("CREATE INDEX ON {plan} (beneficiary_id)")))
    await conn.execute(text(staging.sql("ANALYZE {plan}")))
    # Who is skipped follows this staging alone (a resumed compute may find a cause fixed meanwhile).
    await conn.execute(text("DELETE FROM payout_run_skip WHERE run_id = :run"), {"run": run_id})
    await conn.execute(text(staging.sql(
        """INSERT INTO payout_run_skip (run_id, beneficiary_id, reason, amount, since, detail)
           SELECT :run, beneficiary_id, skip_reason, amount, skip_since, skip_detail FROM {plan}
            WHERE skip_reason IS NOT NULL""")),
        {"run": run_id})
    total = (await conn.execute(text(staging.sql("SELECT count(*) FROM {plan} WHERE skip_reason IS NULL")))).scalar_one()
    already = (await conn.execute(text("SELECT count(*) FROM payout WHERE run_id = :run"), {"run": run_id})).scalar_one()
    await set_progress(conn, run_id, phase="payouts", total=total + already)
    await set_progress(conn, run_id, done=already)
    await conn.commit()
    timings["plan"] = time.perf_counter() - started - timings["months"] - timings["entitlements"]
    log.info("payout_compute_staged", run=str(run_id), months=[format_period(m) for m in months], payouts=total,
             older_months={format_period(m): len(people) for m, people in older},
             seconds={k: round(v, 2) for k, v in timings.items()})
    return int(already), int(total)


# One chunk of the plan, in beneficiary order, written by the database: ids, serials and references
# (``payout_reference`` is ``make_reference`` in SQL) are made there, so no row travels through Python.
_WRITE_PAYOUTS = (
    """
    WITH numbered AS (
        SELECT c.*, nextval('payout_serial') AS serial
          FROM (SELECT * FROM {plan}
                 WHERE skip_reason IS NULL AND {after} AND {upto}
                 ORDER BY beneficiary_id LIMIT :limit) c
    ), chunk AS (
        -- Payout ids are laid out as UUID version 7 (RFC 9562): the statement's Unix milliseconds, then the
        -- serial as the monotonic counter (12 + 23 bits), then 39 random bits; but marked version 8 (custom
        -- layout), which tells ``payout_transfer_id`` that the id is unique by its serial and that its
        -- ledger transfers take ids derived bit by bit, in the same order. Ids grow with the serial, so the
        -- payout index (and the ledger's) takes them at its right edge and approve/send walk the run in order.
        SELECT n.*,
               (CAST(extract(epoch FROM statement_timestamp()) * 1000 AS bigint) << 16) | (8 << 12)
                   | ((n.serial >> 23) & 4095) AS id_high,
               CAST(-9223372036854775808 AS bigint) | ((n.serial & 8388607) << 39)
                   | CAST(floor(random() * 549755813888) AS bigint) AS id_low
          FROM numbered n
    ), written AS (
        INSERT INTO payout (id, run_id, serial, reference, beneficiary_id, commune_code, channel, bank_account_id,
                            bank_bin, account_number, holder_name, amount, status)
        SELECT CAST(encode(int8send(c.id_high) || int8send(c.id_low), 'hex') AS uuid), :run, c.serial,
               payout_reference(CAST(:period AS date), c.serial), c.beneficiary_id, c.commune_code, c.channel,
               c.bank_account_id, c.bank_bin, c.account_number, c.holder_name, c.amount, 'scheduled'
          FROM chunk c
        RETURNING beneficiary_id
    )
    SELECT count(*) AS written, (SELECT beneficiary_id FROM written ORDER BY 1 DESC LIMIT 1) AS last FROM written
    """
)

_WRITE_MONTHS = (
    """
    INSERT INTO payout_month (payout_id, enrolment_id, beneficiary_id, benefit_group, month, base_amount,
                              coefficient, amount)
    SELECT p.id, e.enrolment_id, e.beneficiary_id, e.benefit_group, e.month, e.base_amount, e.coefficient, e.amount
      FROM {entitlement} e
      JOIN payout p ON p.run_id = :run AND p.beneficiary_id = e.beneficiary_id
     WHERE e.beneficiary_id <= :high AND {after_e}
       -- the same range on the payout side (the planner does not carry ranges across the join)
       AND p.beneficiary_id <= :high AND {after_p}
    """
)


async def _write_chunk(conn: AsyncConnection, staging: _Staging, run_id: UUID, period: date, last: UUID | None,
                       end: UUID | None, limit: int) -> tuple[int, UUID | None]:
    """Write the next chunk of payouts after beneficiary ``last`` (up to ``end``, None: to the last one) and
    their months; (count, new last)."""
    if not 2000 <= period.year <= 2099:  # the references' YYMM (make_reference refuses the same periods)
        raise ValueError(f"period must be between 2000-01 and 2099-12, got {period}")
    # A plain range once there is a bound: an "IS NULL OR" would keep a generic plan off the index.
    def after(column: str) -> str:
        return "true" if last is None else f"{column} > :last"

    upto = "true" if end is None else "beneficiary_id <= :end"
    row = (await conn.execute(text(staging.sql(_WRITE_PAYOUTS, after=after("beneficiary_id"), upto=upto)),
                              {"run": run_id, "period": period, "last": last, "end": end, "limit": limit})).one()
    if not row.written:
        return 0, last
    await conn.execute(text(staging.sql(_WRITE_MONTHS, after_e=after("e.beneficiary_id"),
                                        after_p=after("p.beneficiary_id"))),
                       {"run": run_id, "last": last, "high": row.last})
    return int(row.written), row.last


async def _range_ends(conn: AsyncConnection, staging: _Staging, total: int, writers: int) -> list[UUID]:
    """The last beneficiary of each of the first ``writers - 1`` ranges of about equal size of the plan."""
    ends: list[UUID] = []
    for share in range(1, writers):
        end = await conn.scalar(text(staging.sql(
            """SELECT beneficiary_id FROM {plan} WHERE skip_reason IS NULL ORDER BY beneficiary_id
                OFFSET :offset LIMIT 1""")), {"offset": total * share // writers - 1})
        if end is not None and end not in ends:
            ends.append(end)
    await conn.commit()
    return ends


async def _statistics_stale(conn: AsyncConnection) -> bool:
    """Whether payout_month's statistics miss more than half of its rows (or it was never analysed)."""
    stale = await conn.scalar(text(
        """SELECT coalesce(s.n_mod_since_analyze > 0.5 * greatest(c.reltuples, 0), true)
                  OR (s.last_analyze IS NULL AND s.last_autoanalyze IS NULL)
             FROM pg_class c LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid
            WHERE c.oid = 'payout_month'::regclass"""))
    return bool(stale)


async def compute_run(engine: AsyncEngine, run_id: UUID, *, actor: str, chunk_size: int = CHUNK_SIZE,
                      writers: int = WRITERS, after_chunk: Callable[[int], Awaitable[None]] | None = None) -> None:
    """Compute (or resume computing) a run; safe to call again after a crash.

    A run of more than one chunk is written by ``writers`` connections at once, each a range of people.
    ``after_chunk(done)`` is awaited after each committed chunk (progress reporting, crash tests)."""
    staging = _Staging.of(run_id)
    async with run_work_lock(engine, run_id) as conn:
        try:
            programme, arrears_from, period = await _start(conn, run_id, actor)
            already, total = await _stage(conn, run_id, programme, arrears_from, period)
            ends = await _range_ends(conn, staging, total, writers if total > chunk_size else 1)
            done = already

            async def write_range(after: UUID | None, end: UUID | None) -> None:
                nonlocal done
                async with engine.connect() as writer:
                    last = after
                    while True:
                        chunk_started = time.perf_counter()
                        written, last = await _write_chunk(writer, staging, run_id, period, last, end, chunk_size)
                        if not written:
                            return
                        await writer.execute(text(
                            "UPDATE payout_run SET progress_done = progress_done + :n WHERE id = :run"),
                            {"n": written, "run": run_id})
                        await writer.commit()
                        done += written
                        log.debug("payout_compute_chunk", rows=written,
                                  seconds=round(time.perf_counter() - chunk_started, 2))
                        if after_chunk is not None:
                            await after_chunk(done)

            # Range i runs from after the previous range's end to its own end (the last one to the plan's end).
            await _all_or_none([write_range(after, end) for after, end in zip([None, *ends], [*ends, None],
                                                                                strict=True)])
            await _finish(conn, run_id)
        finally:
            await conn.rollback()
            await staging.drop(conn)
            await conn.commit()
        if done >= ANALYZE_AFTER and await _statistics_stale(conn):
            # Fresh statistics: the next run's plans must not take a just-filled payout_month for empty
            # (autovacuum keeps them up to date later, but not within the minute of a first big run).
            await conn.execute(text("ANALYZE payout, payout_month"))
            await conn.commit()
    log.info("payout_run_computed", run=str(run_id), payouts=done)


async def _all_or_none(jobs: list[Coroutine[Any, Any, None]]) -> None:
    """Run the jobs at once; when one fails, cancel the others and raise its exception (not a group)."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


async def _finish(conn: AsyncConnection, run_id: UUID) -> None:
    """Link reissues to their payouts and mark the run computed with its totals (one transaction)."""
    # A payout paying the released months of a returned payout (reconciliation "reissue") says so
    # (looked for only when a reissue is still waiting for its payout).
    waiting = await conn.scalar(text(
        """SELECT EXISTS (SELECT 1 FROM payout_reissue r
                           WHERE NOT EXISTS (SELECT 1 FROM payout q WHERE q.reissue_of = r.returned_payout_id))"""))
    if waiting:
        await conn.execute(text(
            """UPDATE payout p SET reissue_of = r.returned_payout_id
                 FROM payout_reissue r JOIN payout old ON old.id = r.returned_payout_id
                WHERE p.run_id = :run AND p.beneficiary_id = old.beneficiary_id AND p.reissue_of IS NULL
                  AND NOT EXISTS (SELECT 1 FROM payout q WHERE q.reissue_of = r.returned_payout_id)
                  AND EXISTS (SELECT 1 FROM payout_month pm JOIN payout_month om
                                ON om.enrolment_id = pm.enrolment_id AND om.month = pm.month
                               WHERE pm.payout_id = p.id AND om.payout_id = old.id)"""), {"run": run_id})
    await conn.execute(text(
        """UPDATE payout_run r SET status = 'computed', computed_at = coalesce(r.computed_at, now()), phase = NULL, last_error = NULL,
                  payout_count = t.count, total_amount = t.amount
             FROM (SELECT count(*) AS count, coalesce(sum(amount), 0)::bigint AS amount
                     FROM payout WHERE run_id = :run) t
            WHERE r.id = :run"""), {"run": run_id})
    await conn.commit()
