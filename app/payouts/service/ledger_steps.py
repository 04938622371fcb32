"""Approve and send a run: the ledger postings of the payout chart, in committed chunks.

Approval recognises each entitlement (``expense:P`` → ``payable:beneficiary:B``, single); sending
reserves it for the bank (``payable:beneficiary:B`` → ``bank:K:disbursement``, pending until the bank's
statement) or hands a cash payout to its commune (``payable:beneficiary:B`` → ``cash:commune:C``, single:
the commune has it, as a bank has a credited payout; the handover to the person is a withdrawal). Transfer ids are derived from the payout id and the step, so a rerun after a
crash finds the transfers already made ("exists") and completes the rest exactly once.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from hashlib import sha1
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import record
from app.payouts.accounts import (
    PAYABLE_PREFIX,
    PAYABLE_TYPE,
    bank_disbursement_account,
    commune_cash_account,
    expense_account,
    payable_account,
)
from app.payouts.service.errors import Conflict
from app.payouts.service.recheck import changes_since, registry_reading, withhold_changed
from app.payouts.service.runs import check_approvable, check_sendable, get_run, run_work_lock, set_progress
from app.payouts.service.settlement import settle_runs
from app.payouts.service.usage import tracking_usage
from ledger.accounts import (
    AccountConflict,
    account_conflicts,
    account_of_row,
    ensure_accounts,
)
from ledger.schemas import APPLIED_RESULTS, AccountSpec, TransferKind, TransferResult
from ledger.service import create_transfer_arrays
from reconciliation.withdrawals import NOTE_PAYOUTS, prepare_changes, reallocate_noted

log = structlog.get_logger()

CHUNK_SIZE = 50_000
TRANSFER_NAMESPACE = uuid.UUID("6f1d3c1e-7a55-4d2b-9a59-1c2a3f4e5d60")


_NAMESPACE_BYTES = TRANSFER_NAMESPACE.bytes
_VERSION_5_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_VERSION_5_SET = (5 << 76) | (0x8000 << 48)
_new_object = object.__new__
_set_field = object.__setattr__
_UNKNOWN_SAFETY = uuid.SafeUUID.unknown

# Steps of a payout's life in the ledger, numbered for the ids derived from a computed payout's id.
TRANSFER_STEPS = {"approve": 1, "send": 2, "credit": 3, "return": 4, "release": 5}
_VERSION_SHIFT = 76
_STEP_SHIFT = 35  # the top four of the payout id's 39 random bits
_STEP_CLEAR = ~(0xF << _STEP_SHIFT)


def payout_transfer_id(payout_id: UUID, step: str) -> UUID:
    """The ledger transfer id of one step (approve, send, credit, return, release) of one payout.

    A payout id that compute wrote (version 8: time, then the payout's unique serial, then random bits)
    gives its transfers its own bits with the step number in four of the random ones: unique (the
    serial is), distinct from every other step and from random or time-ordered ids (version 4 or 7),
    and ordered like the payouts, so a run's transfers go into the ledger's id index at its right edge.
    Any other payout id (computed before, or made elsewhere) keeps the derivation its transfers were
    made with: ``uuid.uuid5(TRANSFER_NAMESPACE, f"{step}:{payout_id}")``, built without
    ``UUID.__init__``'s checks."""
    number = TRANSFER_STEPS[step]
    value = payout_id.int
    if (value >> _VERSION_SHIFT) & 0xF == 8:
        value = value & _STEP_CLEAR | (number << _STEP_SHIFT)
    else:
        digest = sha1(_NAMESPACE_BYTES + f"{step}:{payout_id}".encode()).digest()
        value = int.from_bytes(digest[:16], "big") & _VERSION_5_CLEAR | _VERSION_5_SET
    transfer_id = _new_object(UUID)
    _set_field(transfer_id, "int", value)
    _set_field(transfer_id, "is_safe", _UNKNOWN_SAFETY)
    return transfer_id


@dataclass(slots=True)
class _Chunk:
    """One chunk of a run's payouts with what its ledger step needs that takes no database (worked out on the
    reading task, while the previous chunk's transfers are written)."""

    rows: list[Any]
    transfer_ids: list[UUID]
    amounts: list[int]
    references: list[str]
    payable_ids: list[int | None]  # None: the account does not exist yet
    conflicts: list[str]  # payable codes taken by an account of another type or with a limit


_PREPARE_PIECE = 5_000


async def _prepare(rows: list[Any], step: str) -> _Chunk:
    """The chunk's transfer ids, amounts, references and payable accounts, in pieces (the event loop
    meanwhile serves the connection that writes the previous chunk)."""
    chunk = _Chunk(rows=rows, transfer_ids=[], amounts=[], references=[], payable_ids=[],
                   conflicts=account_conflicts(rows, lambda r: PAYABLE_PREFIX + str(r["beneficiary_id"]),
                                               PAYABLE_TYPE))
    for start in range(0, len(rows), _PREPARE_PIECE):
        piece = rows[start:start + _PREPARE_PIECE]
        chunk.transfer_ids.extend([payout_transfer_id(r["id"], step) for r in piece])
        chunk.amounts.extend([r["amount"] for r in piece])
        chunk.references.extend([r["reference"] for r in piece])
        chunk.payable_ids.extend([r["account_id"] for r in piece])
        await asyncio.sleep(0)
    return chunk


async def _payout_chunks(engine: AsyncEngine, run_id: UUID, where: str, chunk_size: int, step: str,  # type: ignore[no-untyped-def]
                         extra_columns: str = ""):
    """The run's payouts in id order (and ``extra_columns``, ending in a comma), ``chunk_size`` at a time,
    read and prepared (``_prepare``) on a task and connection of their own: the next chunk is read and
    prepared while the caller posts the current one (a chunk's rows do not depend on the postings of the
    chunks before it: the ranges are disjoint)."""
    async with engine.connect() as reader:
        # Read through the driver: asyncpg records, without SQLAlchemy's per-row result processing.
        driver = (await reader.get_raw_connection()).driver_connection

        async def read(last: UUID | None) -> _Chunk | None:
            # With each payout, its beneficiary's payable account if it exists (type and limits checked by
            # _prepare).
            rows = await driver.fetch(  # type: ignore[union-attr]
                f"""SELECT p.id, p.beneficiary_id, p.amount, p.reference, {extra_columns}{_PAYABLE_COLUMNS}
                      FROM payout p {_PAYABLE_JOIN}
                     WHERE p.run_id = $1 AND {where} AND {"true" if last is None else "p.id > $4"}
                     ORDER BY p.id LIMIT $2""",  # noqa: S608
                run_id, chunk_size, PAYABLE_PREFIX, *(() if last is None else (last,)))
            await reader.commit()
            return await _prepare(list(rows), step) if rows else None

        following = asyncio.ensure_future(read(None))
        try:
            while True:
                chunk = await following
                if chunk is None:
                    return
                following = asyncio.ensure_future(read(chunk.rows[-1]["id"]))
                yield chunk
        finally:
            if not following.done():
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)


_PAYABLE_COLUMNS, _PAYABLE_JOIN = account_of_row("$3", "p.beneficiary_id")


async def _payable_ids(session: AsyncSession, chunk: _Chunk, extra: Sequence[AccountSpec] = ()) -> \
        tuple[list[int], dict[str, int]]:
    """Each row's payable account id (the missing ones created by ``ensure_accounts``), and code -> id of
    ``extra``. An existing payable account of another type or with a limit is a conflict, as there."""
    if chunk.conflicts:
        raise AccountConflict(chunk.conflicts)
    missing = [payable_account(r["beneficiary_id"]) for r, account_id in zip(chunk.rows, chunk.payable_ids,
                                                                             strict=True) if account_id is None]
    specs = list({s.code: s for s in [*extra, *missing]}.values())
    ids = await ensure_accounts(session, specs) if specs else {}
    if not missing:
        return chunk.payable_ids, ids  # type: ignore[return-value]
    payable_ids = [account_id if account_id is not None else ids[PAYABLE_PREFIX + str(r["beneficiary_id"])]
                   for r, account_id in zip(chunk.rows, chunk.payable_ids, strict=True)]
    return payable_ids, ids


def _counter_accounts(rows: Sequence[Any]) -> list[AccountSpec]:
    """Each payout's counter account: its bank's disbursement account, or its commune's cash (one spec each)."""
    specs: dict[tuple[str, str], AccountSpec] = {}
    counter = []
    for r in rows:
        key = ("bank", r["bank_bin"]) if r["channel"] == "bank" else ("cash", r["commune_code"])
        spec = specs.get(key)
        if spec is None:
            spec = specs[key] = bank_disbursement_account(key[1]) if key[0] == "bank" else commune_cash_account(key[1])
        counter.append(spec)
    return counter


def _send_kinds(rows: Sequence[Any]) -> list[TransferKind]:
    """Each payout's send transfer: pending at its bank until the statement, posted at once to its commune."""
    return [PENDING if r["channel"] == "bank" else SINGLE for r in rows]


PENDING, SINGLE = TransferKind.pending, TransferKind.single


def _lap(marks: list[float]) -> dict[str, float]:
    """Seconds spent on the accounts, the transfers and (send) the status update of one chunk."""
    marks.append(time.perf_counter())
    return {f"seconds_{name}": round(b - a, 3)
            for name, a, b in zip(("accounts", "transfers", "mark"), marks, marks[1:], strict=False)}


def _check_results(results: Sequence[TransferResult], step: str) -> list[int]:
    """Indexes of transfers that did not apply; raises for anything but a funding limit."""
    failed = [i for i, result in enumerate(results) if result not in APPLIED_RESULTS]
    unexpected = {results[i] for i in failed} - {TransferResult.exceeds_debits, TransferResult.exceeds_credits,
                                                   TransferResult.batch_failed}
    if unexpected:
        raise RuntimeError(f"ledger refused {step} transfers: {sorted(unexpected)}")
    return failed


async def approve_run(engine: AsyncEngine, run_id: UUID, *, actor: str, chunk_size: int = CHUNK_SIZE,
                      after_chunk: Callable[[int], Awaitable[None]] | None = None) -> None:
    """Approve a computed run (not by its preparer) and post expense → payable for every payout."""
    async with run_work_lock(engine, run_id) as conn:
        async with AsyncSession(bind=conn, expire_on_commit=False) as session:
            run = await get_run(session, run_id)
            resuming = check_approvable(run, actor)
            if not resuming:
                # Registry changes recorded after compute (a death, a suspension, ...): their payouts are
                # withheld, in the transaction that approves the rest (a resumed approval finds them done).
                assert run.computed_at is not None
                # What send will re-check: writes of transactions still running now (before this reads).
                reading = await registry_reading(session)
                withheld = await withhold_changed(session, run_id=run_id, programme=run.programme_code,
                                                  since=changes_since(run.computed_at, run.computed_oldest),
                                                  actor=actor, step="approve", xmin=run.computed_xmin)
                # Approved and still approving in one commit: a crash before the postings are done leaves a
                # run that send refuses and approve resumes (never an approved run without its postings).
                await session.execute(text(
                    """UPDATE payout_run SET status = 'approved', approved_by = :actor, approved_at = now(),
                              approved_xmin = :xmin, approved_oldest = :oldest, phase = 'approving'
                        WHERE id = :run"""),
                    {"actor": actor, "run": run_id, "xmin": reading.xmin, "oldest": reading.oldest})
                await record(session, actor=actor, action="payout_run.approve", object_type="payout_run",
                             object_id=run_id,
                             after={"payouts": run.payout_count - len(withheld),
                                    "total": run.total_amount - sum(w.amount for w in withheld),
                                    "withheld": len(withheld)})
                total = run.payout_count - len(withheld)
            else:
                total = int(await session.scalar(text(
                    "SELECT count(*) FROM payout WHERE run_id = :run AND status = 'scheduled'"), {"run": run_id}) or 0)
            await session.commit()
            programme = run.programme_code
        await set_progress(conn, run_id, phase="approving", total=total)
        await conn.commit()
        done = 0
        async for chunk in _payout_chunks(engine, run_id, "p.status = 'scheduled'", chunk_size, "approve"):
            rows = chunk.rows
            async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                expense = expense_account(programme)
                started = [time.perf_counter()]
                payable_ids, ids = await _payable_ids(session, chunk, [expense])
                expense_id = ids[expense.code]
                started.append(time.perf_counter())
                results = await create_transfer_arrays(
                    session,
                    ids=chunk.transfer_ids,
                    code="payout.approve",
                    kind=TransferKind.single,
                    debit_account_ids=[expense_id] * len(rows),
                    credit_account_ids=payable_ids,
                    amounts=chunk.amounts,
                    references=chunk.references,
                )
                if _check_results(results, "approve"):
                    raise RuntimeError("approval transfers refused by a limit")
                done += len(rows)
                await set_progress(conn, run_id, done=done)
                log.debug("payout_approve_chunk", rows=len(rows), **_lap(started))
                await session.commit()
            if after_chunk is not None:
                await after_chunk(done)
        await conn.execute(text("UPDATE payout_run SET phase = NULL, last_error = NULL WHERE id = :run"),
                           {"run": run_id})
        await conn.commit()
    log.info("payout_run_approved", run=str(run_id), payouts=done)


# What a run needs at each of its banks and communes, and what its programme may still use there. Each
# programme's budget is its own appropriation: what programme P may use at bank K is the funding recorded for P
# at K minus what P's payouts have taken at K — sent or credited (the pending reservation or its post), and the
# scheduled payouts of P's other runs that are being sent (their check passed; their chunks are still going
# out). Returned payouts (voided, or reversed after the credit) and payouts never sent take nothing. A commune
# plays the bank's part for cash payouts: what P may use at commune C is the funding recorded for P at C
# (``cash:commune:C`` ← ``funding:P``) minus what P's cash payouts took there (sent; a cash return gives it
# back), counted the same way. One aggregate query: the run's scheduled payouts by bank and by commune (one
# pass); what P's payouts took at those banks and communes, as ``programme_usage`` keeps it (migration 0027:
# not summed again from every payout P ever sent), plus the scheduled payouts of P's other runs being sent,
# read run by run (payout's run index), keyed the same way; the bank's pooled disbursement account
# (all programmes, pending included) must hold the money as well. The commune's cash account carries no
# limit (accounts made before this check had paid out unfunded cash, and limits never change): this check is
# what keeps it from paying out more than it was given.
# A payout's place: its bank, or for cash its commune (``by_bank`` tells which).
_PLACE = "CASE p.channel WHEN 'bank' THEN p.bank_bin ELSE p.commune_code END"
# A programme's budget at some places: CTEs over ``budget_of`` (run_id — whose own unsent payouts are not
# counted; NULL for none — and programme_code) and ``places`` (by_bank, place), ending in ``budget`` (by_bank,
# place, funded, used, pooled). Send's check and a funding reversal read the same figures through it.
_BUDGET = f"""
            -- given: the programme's funding there, entries reversed since left out
            funded AS (SELECT f.bank_bin IS NOT NULL AS by_bank, coalesce(f.bank_bin, f.commune_code) AS place,
                              sum(f.amount)::bigint AS funded
                         FROM funding f JOIN budget_of t ON f.programme_code = t.programme_code
                        WHERE (f.bank_bin IS NOT NULL, coalesce(f.bank_bin, f.commune_code))
                              IN (SELECT by_bank, place FROM places)
                          AND NOT EXISTS (SELECT 1 FROM funding_reversal v WHERE v.funding_id = f.id)
                        GROUP BY 1, 2),
            -- taken: sent or credited, as the statements that send and return payouts keep it (migration 0027)
            taken AS (SELECT u.by_bank, u.place, u.used
                        FROM programme_usage u JOIN budget_of t ON u.programme_code = t.programme_code
                       WHERE (u.by_bank, u.place) IN (SELECT by_bank, place FROM places)),
            -- and what the programme's other runs being sent still have to send (few runs, while they send)
            sending AS (SELECT p.channel = 'bank' AS by_bank, {_PLACE} AS place, sum(p.amount)::bigint AS used
                          FROM payout_run r JOIN budget_of t ON r.programme_code = t.programme_code
                          JOIN payout p ON p.run_id = r.id
                         WHERE r.status = 'sending' AND r.id IS DISTINCT FROM t.run_id AND p.status = 'scheduled'
                           AND p.channel IN ('bank', 'cash')
                           AND (p.channel = 'bank', {_PLACE}) IN (SELECT by_bank, place FROM places)
                         GROUP BY 1, 2),
            used AS (SELECT by_bank, place, sum(used)::bigint AS used
                       FROM (SELECT * FROM taken UNION ALL SELECT * FROM sending) x GROUP BY 1, 2),
            budget AS (
                SELECT s.by_bank, s.place, coalesce(f.funded, 0)::bigint AS funded, coalesce(u.used, 0)::bigint AS used,
                       CASE WHEN s.by_bank THEN coalesce(a.debits_posted - a.credits_posted - a.credits_pending, 0)
                       END::bigint AS pooled
                  FROM places s
                  LEFT JOIN funded f ON (f.by_bank, f.place) = (s.by_bank, s.place)
                  LEFT JOIN used u ON (u.by_bank, u.place) = (s.by_bank, s.place)
                  -- one lookup by code per bank (a join would hash every ledger account)
                  LEFT JOIN LATERAL (SELECT a.debits_posted, a.credits_posted, a.credits_pending FROM ledger_account a
                                      WHERE s.by_bank AND a.code = :account_prefix || s.place || :account_suffix
                                     OFFSET 0) a ON true)"""  # noqa: S608 - a constant fragment
_SHORTFALL_QUERY = text(
    f"""WITH budget_of AS (SELECT id AS run_id, programme_code FROM payout_run WHERE id = :run),
            run_needs AS MATERIALIZED (
                      SELECT p.channel = 'bank' AS by_bank, {_PLACE} AS place, sum(p.amount)::bigint AS needed
                        FROM payout p
                       WHERE p.run_id = :run AND p.channel IN ('bank', 'cash') AND p.status = 'scheduled'
                       GROUP BY 1, 2),
            places AS (SELECT by_bank, place FROM run_needs),{_BUDGET}
     SELECT n.by_bank, n.place, coalesce(b.short_name, c.name) AS name, t.programme_code, n.needed,
            g.funded, g.used, g.pooled
       FROM run_needs n CROSS JOIN budget_of t
       JOIN budget g ON (g.by_bank, g.place) = (n.by_bank, n.place)
       LEFT JOIN bank b ON n.by_bank AND b.bin = n.place
       LEFT JOIN commune c ON NOT n.by_bank AND c.code = n.place
      ORDER BY 1 DESC, 2""")  # noqa: S608 - constant fragments
_BUDGET_AT = text(
    f"""WITH budget_of AS (SELECT CAST(NULL AS uuid) AS run_id, CAST(:programme AS text) AS programme_code),
            places AS (SELECT CAST(:by_bank AS boolean) AS by_bank, CAST(:place AS text) AS place),{_BUDGET}
     SELECT funded, used, pooled FROM budget""")  # noqa: S608 - constant fragments
_ACCOUNT_PREFIX, _ACCOUNT_SUFFIX = bank_disbursement_account("{bin}").code.split("{bin}")


@dataclass(slots=True)
class Shortfalls:
    """Where a run's unsent payouts are not covered: banks (bank payouts) and communes (cash payouts)."""

    banks: list[dict[str, Any]]
    communes: list[dict[str, Any]]

    def __bool__(self) -> bool:
        return bool(self.banks or self.communes)


async def funding_shortfalls(session: AsyncSession, run_id: UUID) -> Shortfalls:
    """Banks and communes where this run's unsent payouts are not covered (one aggregate query).

    A bank: by its programme's funding at the bank (funded minus what the programme's payouts took there), or
    by the bank's disbursement account (pending counts). Each entry keeps ``needed``, ``available`` (the
    smaller of the two) and ``shortfall`` (what funding the programme at the bank must add), and says which
    limit binds: ``programme_budget`` and ``disbursement_account``.

    A commune (cash payouts): by its programme's funding at the commune minus what the programme's cash
    payouts took there; ``commune_code``, ``commune_name``, ``needed``, ``available``, ``shortfall``,
    ``programme`` and ``programme_budget``."""
    shortfalls = Shortfalls(banks=[], communes=[])
    for row in await session.execute(_SHORTFALL_QUERY, {"run": run_id, "account_prefix": _ACCOUNT_PREFIX,
                                                                "account_suffix": _ACCOUNT_SUFFIX}):
        needed, funded, used = int(row.needed), int(row.funded), int(row.used)
        budget = funded - used
        programme_budget = {"programme": row.programme_code, "funded": funded, "used": used,
                            "available": budget, "needed": needed, "shortfall": max(needed - budget, 0)}
        if not row.by_bank:
            if budget < needed:
                shortfalls.communes.append({
                    "commune_code": row.place, "commune_name": row.name, "needed": needed, "available": budget,
                    "shortfall": needed - budget, "programme": row.programme_code,
                    "programme_budget": programme_budget, "cash_account": commune_cash_account(row.place).code})
            continue
        pooled = int(row.pooled)
        available = min(budget, pooled)
        if available < needed:
            shortfalls.banks.append({
                "bank_bin": row.place, "bank_name": row.name, "needed": needed,
                "available": available, "shortfall": needed - available,
                "programme": row.programme_code,
                "programme_budget": programme_budget,
                "disbursement_account": {"account": bank_disbursement_account(row.place).code,
                                         "available": pooled, "needed": needed,
                                         "shortfall": max(needed - pooled, 0)},
            })
    return shortfalls


async def budget_left(session: AsyncSession, programme: str, *, bank_bin: str | None = None,
                      commune_code: str | None = None) -> int:
    """What ``programme`` has not used at a bank (``bank_bin``) or a commune's cash (``commune_code``), counted
    as send's check counts it: its funding there less what its payouts took and its runs being sent still
    send; at a bank, no more than the pooled disbursement account holds (pending included)."""
    row = (await session.execute(_BUDGET_AT, {
        "programme": programme, "by_bank": bank_bin is not None, "place": bank_bin or commune_code,
        "account_prefix": _ACCOUNT_PREFIX, "account_suffix": _ACCOUNT_SUFFIX})).one()
    left = int(row.funded) - int(row.used)
    return min(left, int(row.pooled)) if row.pooled is not None else left


async def bank_shortfalls(session: AsyncSession, run_id: UUID) -> list[dict[str, Any]]:
    """The banks of ``funding_shortfalls``."""
    return (await funding_shortfalls(session, run_id)).banks


def _vnd(amount: int) -> str:
    return f"{amount:,}".replace(",", ".") + " đ"


def _dong_en(amount: int) -> str:
    return f"{amount:,} đồng"


def shortfall_conflict(shortfalls: Shortfalls | list[dict[str, Any]]) -> Conflict:
    """409 naming each bank and each commune short of funds for the run's programme and by how much
    (``shortfall``: the banks, ``commune_shortfall``: the communes)."""
    if isinstance(shortfalls, list):
        shortfalls = Shortfalls(banks=shortfalls, communes=[])
    banks, communes = shortfalls.banks, shortfalls.communes
    vi_parts = [
        f"{s['bank_name']} thiếu {_vnd(s['shortfall'])} (cần {_vnd(s['needed'])}; kinh phí {s['programme']} "
        f"tại ngân hàng còn {_vnd(s['programme_budget']['available'])}, tài khoản chi còn "
        f"{_vnd(s['disbursement_account']['available'])})" for s in banks]
    vi_parts += [
        f"xã/phường {s['commune_name']} ({s['commune_code']}) thiếu {_vnd(s['shortfall'])} tiền mặt (cần "
        f"{_vnd(s['needed'])}; kinh phí {s['programme']} tại xã còn {_vnd(s['available'])})" for s in communes]
    en_parts = [
        f"{s['bank_name']} short {_dong_en(s['shortfall'])} (needed {_dong_en(s['needed'])}; {s['programme']} "
        f"budget available at the bank {_dong_en(s['programme_budget']['available'])}, disbursement account "
        f"available {_dong_en(s['disbursement_account']['available'])})" for s in banks]
    en_parts += [
        f"commune {s['commune_name']} ({s['commune_code']}) short {_dong_en(s['shortfall'])} of cash (needed "
        f"{_dong_en(s['needed'])}; {s['programme']} budget available at the commune {_dong_en(s['available'])})"
        for s in communes]
    first = banks[0] if banks else communes[0] if communes else None
    programme = first["programme"] if first else ""
    where_vi = "ngân hàng" if not communes else "xã/phường" if not banks else "ngân hàng và xã/phường"
    extra: dict[str, Any] = {"shortfall": banks}
    if communes:
        extra["commune_shortfall"] = communes
    return Conflict(f"Chưa đủ kinh phí của chương trình {programme} tại {where_vi} để chi: {'; '.join(vi_parts)}",
                    f"insufficient funding for programme {programme} at: {'; '.join(en_parts)}", **extra)


def funding_lock_key(programme: str) -> int:
    return int.from_bytes(sha1(b"programme_funding:" + programme.encode()).digest()[:8], "big", signed=True)


async def send_run(engine: AsyncEngine, run_id: UUID, *, actor: str, chunk_size: int = CHUNK_SIZE,
                   after_chunk: Callable[[int], Awaitable[None]] | None = None,
                   sent_at: datetime | None = None) -> None:
    """Reserve every bank payout at its bank (pending transfers, posted by the bank's statement), hand every
    cash payout to its commune (posted at once: the commune plays the bank's part, and the handover to the
    person is a withdrawal), and mark them sent; 409 with the shortfall per bank and per commune when the
    run's programme has not been funded enough at a bank or a commune (its own funding there, less what its
    payouts took) or the bank's disbursement account lacks the funds. Safe to call again after a crash.

    ``sent_at`` (default: now) is when the orders left — for cash, when the money went to the commune,
    which is when it counts as having reached the person; the demo replays past months with it."""
    async with run_work_lock(engine, run_id) as conn:
        async with AsyncSession(bind=conn, expire_on_commit=False) as session:
            run = await get_run(session, run_id)
            check_sendable(run)
            # Registry changes recorded after approval: those payouts are not sent, and their approval is
            # undone (release transfers), before the funding check counts what is left to send.
            assert run.approved_at is not None
            await withhold_changed(session, run_id=run_id, programme=run.programme_code,
                                   since=changes_since(run.approved_at, run.approved_oldest), actor=actor, step="send",
                                   xmin=run.approved_xmin)
            # One send of a programme's runs checks its budget at a time, until its run is marked sending (from
            # then on its unsent payouts count as taken): two runs cannot both spend the same funding.
            await session.execute(text("SELECT pg_advisory_xact_lock(:key)"),
                                  {"key": funding_lock_key(run.programme_code)})
            shortfalls = await funding_shortfalls(session, run_id)
            if shortfalls:
                raise shortfall_conflict(shortfalls)
            if run.status == "approved":
                await session.execute(text(
                    "UPDATE payout_run SET status = 'sending', sent_by = :actor WHERE id = :run"),
                    {"actor": actor, "run": run_id})
                await record(session, actor=actor, action="payout_run.send", object_type="payout_run",
                             object_id=run_id)
            remaining = await session.scalar(text(
                "SELECT count(*) FROM payout WHERE run_id = :run AND status = 'scheduled'"), {"run": run_id})
            await session.commit()
        await set_progress(conn, run_id, phase="sending", total=int(remaining or 0))
        await conn.commit()
        done = 0
        counter_ids: dict[str, int] = {}
        async for chunk in _payout_chunks(engine, run_id, "p.status = 'scheduled'", chunk_size, "send",
                                             "p.channel, p.bank_bin, p.commune_code, "):
            rows = chunk.rows
            async with AsyncSession(bind=conn, expire_on_commit=False) as session:
                counter = _counter_accounts(rows)
                started = [time.perf_counter()]
                # Counter accounts are ensured (created, type and limits checked) once per send.
                new = list({c.code: c for c in counter if c.code not in counter_ids}.values())
                payable_ids, ids = await _payable_ids(session, chunk, new)
                counter_ids.update((c.code, ids[c.code]) for c in new)
                started.append(time.perf_counter())
                results = await create_transfer_arrays(
                    session,
                    ids=chunk.transfer_ids,
                    code="payout.send",
                    kind=_send_kinds(rows),
                    debit_account_ids=payable_ids,
                    credit_account_ids=[counter_ids[c.code] for c in counter],
                    amounts=chunk.amounts,
                    references=chunk.references,
                    all_or_nothing=True,
                )
                if _check_results(results, "send"):
                    await session.rollback()
                    raise shortfall_conflict(await funding_shortfalls(session, run_id))
                # The chunk is every scheduled payout of the run with an id in (previous chunk's last, this
                # chunk's last]: a range, not an id list (a list is compared element by element per row).
                started.append(time.perf_counter())
                chunk_range = {"run": run_id, "low": rows[0]["id"], "high": rows[-1]["id"]}
                # What the payouts take from their programme's funding is kept with them (programme_usage).
                await session.execute(text(tracking_usage(
                    """UPDATE payout p SET status = 'sent', sent_at = coalesce(:sent_at, now())
                        WHERE p.run_id = :run AND p.status = 'scheduled' AND p.id BETWEEN :low AND :high""",
                    "took")), {**chunk_range, "sent_at": sent_at})
                # Cash sent to the commune has reached the person: their withdrawals (handovers recorded,
                # even before) are allocated to it now, in the same transaction, like a bank's credit.
                await prepare_changes(session)
                noted = await session.execute(text(
                    f"""{NOTE_PAYOUTS} SELECT id FROM payout WHERE run_id = :run AND channel = 'cash'
                          AND status = 'sent' AND id BETWEEN :low AND :high"""), chunk_range)  # noqa: S608
                if noted.rowcount:  # type: ignore[attr-defined]
                    await reallocate_noted(session)
                done += len(rows)
                await set_progress(conn, run_id, done=done)
                log.debug("payout_send_chunk", rows=len(rows), **_lap(started))
                await session.commit()
            if after_chunk is not None:
                await after_chunk(done)
        await conn.execute(text(
            """UPDATE payout_run SET status = 'sent', sent_at = coalesce(:sent_at, now()), phase = NULL,
                                        last_error = NULL WHERE id = :run"""),
            {"run": run_id, "sent_at": sent_at})
        await conn.commit()
        log.info("payout_run_sent", run=str(run_id), payouts=done)
        # A run whose payouts were all withheld, or whose cash was all handed over already (handovers can be
        # recorded before the send), has nothing in flight: settled at once.
        async with AsyncSession(bind=conn, expire_on_commit=False) as session:
            await settle_runs(session, [run_id], actor=actor, cause="send")
            await session.commit()
