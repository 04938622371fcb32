"""Registry changes recorded after a run was computed (or approved): withhold the payouts they end.

Compute applies the entitlement rules once. A death, a suspension, a move or an enrolment change
recorded later is not in the run's payouts, so approval and sending look again — only at the people
whose registry rows changed since (one query when nobody did), never at the whole run:

1. ``changed_payouts``: the run's scheduled payouts of people with a ``beneficiary_event`` recorded, or
   an enrolment of the programme's benefit group written, after the step's time (set-based).
2. ``payouts_not_owed``: each of their unreleased months checked against the registry's own rules,
   ``entitlements_for_month(month)`` restricted to those people (the function compute's programme
   variant mirrors: tests/app/registry/test_sql_rules.py). A month not owed any more — or owed through
   another enrolment or at another amount — makes the whole payout wrong; so does, for a cash payout, its
   latest month owed through another commune (a move within the province at the same rate: ``moved``,
   the next run pays the months through the new commune).
3. ``withhold``: such a payout is cancelled with its reason and its months are released, so a later run
   pays the months still owed, exactly once (``uq_payout_month_enrolment``). At send the payout's
   approval (``expense:P`` → ``payable:beneficiary:B``) is already posted: the ``release`` step posts
   the reversing ``payable:beneficiary:B`` → ``expense:P``, as a reissue does.

A return imported after compute (an AC04 closed account, an MD07 deceased holder) is looked at the same
way: people whose bank account was blocked, or whom a bank reported deceased, since the step's time are
among the changed ones, and ``payouts_held`` withholds their bank payouts while the block or flag is open
(``bank_account_unusable``, ``deceased_reported``, compute's holds).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from app.audit.service import record
from app.payouts.accounts import expense_account, payable_account
from app.payouts.service.errors import Conflict
from app.payouts.service.runs import HOLD_REASONS, format_period, in_provinces
from ledger.accounts import ensure_accounts
from ledger.schemas import APPLIED_RESULTS, TransferKind
from ledger.service import create_transfer_arrays

log = structlog.get_logger()

# What payout.return_reason says of a payout withheld because of a registry change (the prefix tells it
# from a bank's return code), and how staff read it.
WITHHELD_PREFIX = "withheld:"
WITHHOLD_REASONS = {
    "deceased": ("Người hưởng đã qua đời", "the beneficiary has died"),
    "suspended": ("Người hưởng đang bị tạm dừng trợ cấp", "the beneficiary's allowance is suspended"),
    "moved": ("Người hưởng đã chuyển nơi cư trú", "the beneficiary has moved"),
    "enrolment_changed": ("Quyết định hưởng trợ cấp đã thay đổi", "the enrolment has changed"),
    "bank_account_unusable": ("Ngân hàng hoàn trả vì tài khoản không nhận được tiền",
                              "the bank returned a payout because the account cannot receive money"),
    "deceased_reported": ("Ngân hàng báo người hưởng đã mất (MD07)", "the bank reports the beneficiary deceased (MD07)"),
}
# HOLD_REASONS (compute's holds: a return imported after compute blocked the account, or the bank reported
# the person deceased) withhold a bank payout without ending an entitlement: its months stay owed, paid
# once an officer has fixed the cause (compute holds the person until then).
STEP_VI = {"approve": "khi duyệt", "send": "khi gửi ngân hàng"}
# Changes are looked for from before the step's time: an event's recorded_at is its transaction's start, so
# one that began before compute read the registry (or before approval) but committed after it is still
# found. The window opens at the start of the oldest transaction then open in the database (``oldest``,
# ``pg_stat_activity``), and at least this long before the step.
REGISTRY_MARGIN = timedelta(minutes=10)
# ... but a row within the window is a change only when its transaction had not finished when the step read
# the registry: its id is at or above the oldest transaction then running (migration 0025), stored on the
# run as computed_xmin / approved_xmin. Both are read before the step's first read of the registry: earlier
# values only widen the check.
_READING = text(
    """SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint AS xmin,
              (SELECT min(xact_start) FROM pg_stat_activity
                WHERE datname = current_database() AND backend_type = 'client backend'
                  AND xact_start IS NOT NULL) AS oldest""")


@dataclass(frozen=True, slots=True)
class RegistryReading:
    """Where a step's reading of the registry stood: what a later re-check must look at again."""

    xmin: int
    oldest: datetime | None  # the start of the oldest transaction then open (None: not visible)


async def registry_reading(session: AsyncSession | AsyncConnection) -> RegistryReading:
    """Read (before the step's first read of the registry) what its re-check will need."""
    row = (await session.execute(_READING)).one()
    return RegistryReading(xmin=int(row.xmin), oldest=row.oldest)


def changes_since(step_at: datetime, oldest: datetime | None) -> datetime:
    """Where a re-check's time window opens for a step taken at ``step_at``."""
    return min(step_at, oldest or step_at) - REGISTRY_MARGIN

# The run's scheduled payouts of people whose registry rows changed after :since (by a transaction at or
# after :xmin, when known), or whose bank account a
# return blocked (bank_account_block.recorded_at) or whom a bank reported deceased (beneficiary_flag.
# raised_at) since. Events and enrolments carry when they were written (beneficiary_event.recorded_at,
# enrolment.updated_at, which every change of an enrolment sets); each payout is then found through
# uq_payout_run_beneficiary, so a run of a million people costs only the scan for changes, not a read of
# its payouts. Blocks and flags have no index on their times: the two branches read the open ones, a
# small table each (one row per account a bank refused, per death a bank reported), sequentially.
_CHANGED_PAYOUTS = text(
    """
    WITH changed AS (
        SELECT e.beneficiary_id FROM beneficiary_event e
         WHERE e.recorded_at > :since AND (CAST(:xmin AS bigint) IS NULL OR xid_full(e.xmin) >= :xmin)
        UNION
        SELECT n.beneficiary_id FROM enrolment n
         WHERE (n.updated_at > :since OR n.created_at > :since)
           AND (CAST(:xmin AS bigint) IS NULL OR xid_full(n.xmin) >= :xmin)
           AND n.programme_code IN (SELECT g.code FROM programme g
                                     WHERE g.benefit_group = (SELECT q.benefit_group FROM programme q
                                                               WHERE q.code = :programme))
        UNION
        -- a block refuses the number at its bank: everyone with an account row of that number
        SELECT same.beneficiary_id FROM bank_account_block k JOIN bank_account a ON a.id = k.bank_account_id
          JOIN bank_account same ON same.bank_bin = a.bank_bin AND same.account_number = a.account_number
         WHERE k.recorded_at > :since AND k.released_at IS NULL
           AND (CAST(:xmin AS bigint) IS NULL OR xid_full(k.xmin) >= :xmin)
        UNION
        SELECT f.beneficiary_id FROM beneficiary_flag f
         WHERE f.kind = 'deceased_reported_by_bank' AND f.raised_at > :since AND f.resolved_at IS NULL
           AND (CAST(:xmin AS bigint) IS NULL OR xid_full(f.xmin) >= :xmin)
    )
    SELECT p.id, p.beneficiary_id FROM changed c
      JOIN payout p ON p.run_id = :run AND p.beneficiary_id = c.beneficiary_id
     WHERE p.status = 'scheduled'
    """
)


@dataclass(frozen=True, slots=True)
class Withheld:
    """One payout withheld, with what staff need to follow it up."""

    payout_id: UUID
    reference: str
    beneficiary_id: UUID
    full_name: str
    amount: int
    reason: str
    months_not_owed: tuple[date, ...]

    def as_dict(self) -> dict[str, Any]:
        vi, en = WITHHOLD_REASONS[self.reason]
        months = ", ".join(format_period(m) for m in self.months_not_owed)
        if self.reason in HOLD_REASONS:
            vi, en = (f"{vi}: giữ lại tháng {months}, chờ cán bộ xử lý",
                      f"{en}: {months} held until an officer resolves it")
        else:
            vi, en = f"{vi}: không còn được hưởng tháng {months}", f"{en}: no longer entitled for {months}"
        return {"payout_id": str(self.payout_id), "reference": self.reference,
                "beneficiary_id": str(self.beneficiary_id), "full_name": self.full_name, "amount": self.amount,
                "reason": self.reason, "months_not_owed": [format_period(m) for m in self.months_not_owed],
                "reason_vi": vi, "reason_en": en}


async def changed_payouts(session: AsyncSession, run_id: UUID, programme: str, since: datetime,
                          xmin: int | None = None) -> dict[UUID, UUID]:
    """payout id -> person, of the run's scheduled payouts whose person's registry rows changed after
    ``since`` by a transaction not finished before ``xmin`` (None: any; one query)."""
    rows = await session.execute(_CHANGED_PAYOUTS, {"run": run_id, "programme": programme, "since": since,
                                                    "xmin": xmin})
    return {r.id: r.beneficiary_id for r in rows}


async def payouts_not_owed(session: AsyncSession, payouts: dict[UUID, UUID]) -> dict[UUID, list[date]]:
    """payout id -> its unreleased months the person is no longer entitled to (as paid: same enrolment and
    amount), by the registry's rules now; payouts still right are left out. See ``payouts_moved`` for cash
    payouts whose commune changed."""
    return (await _check_months(session, payouts))[0]


async def _check_months(session: AsyncSession,
                        payouts: dict[UUID, UUID]) -> tuple[dict[UUID, list[date]], dict[UUID, list[date]]]:
    """(payouts with months not owed -> those months, cash payouts whose latest month is owed through another
    commune -> all their unreleased months). A cash payout is handed over by its commune (``commune_code``,
    the commune's cash list): a move within the province at the same rate leaves every month owed, but the
    payout would still be paid where the person no longer lives."""
    months = await session.execute(text(
        """SELECT pm.payout_id, pm.enrolment_id, pm.month, pm.amount, p.channel, p.commune_code
             FROM payout_month pm JOIN payout p ON p.id = pm.payout_id
            WHERE pm.payout_id = ANY(:payouts) AND pm.released_at IS NULL"""), {"payouts": list(payouts)})
    by_month: dict[date, list[Any]] = defaultdict(list)
    latest: dict[UUID, date] = {}
    all_months: dict[UUID, list[date]] = defaultdict(list)
    for row in months:
        by_month[row.month].append(row)
        all_months[row.payout_id].append(row.month)
        if row.channel == "cash":
            latest[row.payout_id] = max(latest.get(row.payout_id, row.month), row.month)
    people = sorted(set(payouts.values()))
    wrong: dict[UUID, list[date]] = defaultdict(list)
    moved: dict[UUID, list[date]] = {}
    for month, rows in sorted(by_month.items()):
        # entitlements_for_month(month) is an inlinable SQL function: the filter on the person reaches the
        # status history through its index, so this reads only these people's rows.
        owed = {(r.beneficiary_id, r.enrolment_id, int(r.amount)): r.commune_code for r in await session.execute(text(
            """SELECT beneficiary_id, enrolment_id, amount, commune_code FROM entitlements_for_month(CAST(:month AS date))
                WHERE beneficiary_id = ANY(:people)"""), {"month": month, "people": people})}
        for row in rows:
            key = (payouts[row.payout_id], row.enrolment_id, int(row.amount))
            if key not in owed:
                wrong[row.payout_id].append(month)
            elif latest.get(row.payout_id) == month and owed[key] != row.commune_code:
                moved[row.payout_id] = sorted(all_months[row.payout_id])
    return dict(wrong), {p: m for p, m in moved.items() if p not in wrong}


async def payouts_held(session: AsyncSession, payouts: dict[UUID, UUID]) -> dict[UUID, tuple[str, list[date]]]:
    """payout id -> (hold reason, its unreleased months), of the bank payouts whose account number has an open
    block (on any account row of that number at that bank: ix_bank_account_number, then each row's open block)
    or whose person an open MD07 flag (looked up through its open-row unique index)."""
    rows = await session.execute(text(
        """SELECT p.id,
                  CASE WHEN EXISTS (SELECT 1 FROM beneficiary_flag f
                                     WHERE f.beneficiary_id = p.beneficiary_id AND f.kind = 'deceased_reported_by_bank'
                                       AND f.resolved_at IS NULL)
                       THEN 'deceased_reported' ELSE 'bank_account_unusable' END AS reason,
                  ARRAY(SELECT pm.month FROM payout_month pm
                         WHERE pm.payout_id = p.id AND pm.released_at IS NULL ORDER BY pm.month) AS months
             FROM payout p
            WHERE p.id = ANY(:payouts) AND p.channel = 'bank' AND p.status = 'scheduled'
              AND (EXISTS (SELECT 1 FROM bank_account a
                             JOIN bank_account_block k ON k.bank_account_id = a.id AND k.released_at IS NULL
                            WHERE a.bank_bin = p.bank_bin AND a.account_number = p.account_number)
                   OR EXISTS (SELECT 1 FROM beneficiary_flag f
                               WHERE f.beneficiary_id = p.beneficiary_id AND f.kind = 'deceased_reported_by_bank'
                                 AND f.resolved_at IS NULL))"""), {"payouts": list(payouts)})
    return {r.id: (r.reason, list(r.months)) for r in rows}


async def _reasons(session: AsyncSession, people: list[UUID], since: datetime) -> dict[UUID, tuple[str, str]]:
    """person -> (reason code, full name): their status now, else a move recorded since, else the enrolment."""
    rows = await session.execute(text(
        """SELECT b.id, b.full_name,
                  CASE WHEN b.status IN ('deceased', 'suspended') THEN b.status
                       WHEN EXISTS (SELECT 1 FROM beneficiary_event e
                                     WHERE e.beneficiary_id = b.id AND e.kind = 'moved' AND e.recorded_at > :since)
                            THEN 'moved'
                       ELSE 'enrolment_changed' END AS reason
             FROM beneficiary b WHERE b.id = ANY(:people)"""), {"people": people, "since": since})
    return {r.id: (r.reason, r.full_name) for r in rows}


async def withhold_changed(session: AsyncSession, *, run_id: UUID, programme: str, since: datetime, actor: str,
                           step: str, xmin: int | None = None) -> list[Withheld]:
    """Withhold (cancel, with the reason; months released) the run's scheduled payouts that registry changes
    recorded after ``since`` (by transactions at or after ``xmin``) made wrong, and audit it; at ``step``
    "send" also post each one's release (payable → expense), undoing its approval. In the caller's
    transaction; the withheld payouts."""
    changed = await changed_payouts(session, run_id, programme, since, xmin)
    if not changed:
        return []
    wrong, moved = await _check_months(session, changed)
    held = await payouts_held(session, changed)
    if not wrong and not moved and not held:
        log.info("payout_recheck_clean", run=str(run_id), step=step, people_changed=len(changed))
        return []
    people = await _reasons(session, sorted({changed[p] for p in {*wrong, *moved, *held}}), since)
    # A month no longer owed is the registry's word (death, suspension, move, enrolment), then a cash payout
    # owed through another commune (a move), then the bank's hold.
    why = {p: (people[changed[p]][0], months) for p, months in wrong.items()}
    why.update({p: ("moved", months) for p, months in moved.items()})
    why.update({p: hold for p, hold in held.items() if p not in why})
    # A withheld reissue lets go of the returned payout (no trigger guards reissue_of): the payout that later
    # pays the released months is linked by compute instead (uq_payout_reissue_of allows one).
    rows = await session.execute(text(
        """UPDATE payout p SET status = 'cancelled', return_reason = :prefix || r.reason, reissue_of = NULL
             FROM unnest(CAST(:ids AS uuid[]), CAST(:reasons AS text[])) AS r(id, reason)
            WHERE p.id = r.id AND p.status = 'scheduled'
        RETURNING p.id, p.reference, p.beneficiary_id, p.amount"""),
        {"prefix": WITHHELD_PREFIX, "ids": list(why), "reasons": [why[p][0] for p in why]})
    withheld = sorted((Withheld(payout_id=r.id, reference=r.reference, beneficiary_id=r.beneficiary_id,
                                full_name=people[r.beneficiary_id][1], amount=int(r.amount),
                                reason=why[r.id][0], months_not_owed=tuple(why[r.id][1]))
                       for r in rows), key=lambda w: w.reference)
    ids = [w.payout_id for w in withheld]
    await session.execute(text(
        """UPDATE payout_month SET released_at = now(), released_by = :actor
            WHERE payout_id = ANY(:ids) AND released_at IS NULL"""), {"actor": actor, "ids": ids})
    if step == "send":
        await _release(session, programme, withheld)
    # The run's count and total are of the payouts it pays: a withheld one no longer counts.
    await session.execute(text(
        """UPDATE payout_run SET payout_count = payout_count - :count, total_amount = total_amount - :amount
            WHERE id = :run"""),
        {"run": run_id, "count": len(withheld), "amount": sum(w.amount for w in withheld)})
    await record(session, actor=actor, action="payout_run.withhold", object_type="payout_run", object_id=run_id,
                 after={"step": step, "since": since, "withheld": [w.as_dict() for w in withheld],
                        "count": len(withheld), "amount": sum(w.amount for w in withheld)})
    log.info("payout_recheck_withheld", run=str(run_id), step=step, people_changed=len(changed),
             withheld=len(withheld))
    return withheld


async def _release(session: AsyncSession, programme: str, withheld: list[Withheld]) -> None:
    """Undo the approval of payouts withheld at send: payable:beneficiary:B → expense:P, the release step."""
    from app.payouts.service.ledger_steps import payout_transfer_id  # ledger_steps imports this module

    expense = expense_account(programme)
    payables = [payable_account(w.beneficiary_id) for w in withheld]
    ids = await ensure_accounts(session, list({s.code: s for s in [expense, *payables]}.values()))
    results = await create_transfer_arrays(
        session, ids=[payout_transfer_id(w.payout_id, "release") for w in withheld], code="payout.release",
        kind=TransferKind.single, debit_account_ids=[ids[p.code] for p in payables],
        credit_account_ids=[ids[expense.code]] * len(withheld), amounts=[w.amount for w in withheld],
        references=[w.reference for w in withheld], all_or_nothing=True)
    refused = sorted({str(r) for r in results if r not in APPLIED_RESULTS})
    if refused:
        raise Conflict(f"Sổ cái từ chối hoàn tác duyệt các khoản bị giữ lại: {', '.join(refused)}",
                       f"the ledger refused releasing the withheld payouts: {', '.join(refused)}")


def withheld_text(reason_code: str | None) -> tuple[str, str] | None:
    """The (Vietnamese, English) reason of a payout withheld by the re-check; None for any other payout."""
    if not reason_code or not reason_code.startswith(WITHHELD_PREFIX):
        return None
    return WITHHOLD_REASONS.get(reason_code.removeprefix(WITHHELD_PREFIX))


async def withheld_in_run(session: AsyncSession, run_id: UUID, limit: int = 1000, *,
                          provinces: Sequence[str] | None = None) -> tuple[list[dict[str, Any]], int]:
    """The run's first ``limit`` payouts withheld by the re-check, by reference, and how many there are in all
    (read only when the run has cancelled ones); ``provinces``: of those provinces only."""
    rows = list(await session.execute(text(
        f"""SELECT p.id, p.reference, p.beneficiary_id, b.full_name, p.amount, p.return_reason, count(*) OVER () AS n
              FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id
             WHERE p.run_id = :run AND p.status = 'cancelled' AND p.return_reason LIKE :prefix
                   {in_provinces("p.commune_code", provinces)}
             ORDER BY p.reference LIMIT :limit"""),  # noqa: S608 - a constant condition
        {"run": run_id, "prefix": WITHHELD_PREFIX + "%", "limit": limit, "provinces": list(provinces or ())}))
    items = []
    for r in rows:
        vi, en = withheld_text(r.return_reason) or ("", "")
        items.append({"payout_id": str(r.id), "reference": r.reference, "beneficiary_id": str(r.beneficiary_id),
                      "full_name": r.full_name, "amount": int(r.amount),
                      "reason": r.return_reason.removeprefix(WITHHELD_PREFIX), "reason_vi": vi, "reason_en": en})
    return items, int(rows[0].n) if rows else 0
