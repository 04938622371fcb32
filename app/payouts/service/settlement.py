"""The end of a payout run: ``settled`` once nothing of it is in flight, ``closed`` by an officer once nothing of
it is left open.

**Settled** (automatic). A payout is in flight while it waits for an outcome: a bank payout sent and neither
credited nor returned; a cash payout at its commune neither handed over in full (``withdrawn_at``: the
handovers recorded by commune staff are withdrawals) nor given back (``returned``). Credited, returned and
withheld (``cancelled``) payouts are final. A sent run none of whose payouts is in flight becomes settled
(``settled_at``), checked by ``payout_run_in_flight`` (migration 0033: two probes of the run's payouts through
the (run, bank) index, cash first, each stopping at the first payout in flight; the database refuses to
settle a run that has one). ``settle_runs`` looks only at the runs it is given, where payouts leave flight:
the statement import and a manual match (``apply_payout_effects``), a cash return, commune staff's cash
handovers and a bank's withdrawal feed (a withdrawal may use up a cash payout), the end of a send (a run
whose payouts were all withheld), ``ansinh withdrawals reallocate`` and an officer closing the run.

Every change that takes a payout out of flight writes to the ledger first (credit, return, cash return, the
reallocation's memo entries), and the ledger's lock is held to the end of the transaction: the settle check,
made after, sees every earlier such change committed, so two imports completing a run at once cannot both
miss that it is settled.

A run stays settled. A bank's late return of one of its payouts is applied as always (money facts from banks
are never refused because of a run's status): a returned payout is final too, and its return waits in the
exceptions queue, which keeps the run from being closed until it is reissued or closed. A cash handover
recorded by mistake and cancelled puts its payout back in flight: that payout is then open, and the run
cannot be closed until the commune hands the cash over or gives it back.

**Closed** (an officer's decision, audited): only a settled run with nothing left open for an officer — no
payout in flight, no return waiting to be reissued or closed, no unresolved reconciliation exception naming
one of its payouts, no bank report of a death (MD07) from its returns not yet checked. A closed run stays
closed and keeps what it is for: withdrawals are still allocated to its payouts (time to withdrawal is
measured after payment), and banks' late credits and returns still apply; they show as open items of the run.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import select, text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.http.problems import counted
from app.payouts.models import PayoutRun
from app.payouts.references import parse_reference
from app.payouts.service.errors import Conflict, NotFound, RunStateConflict
from app.payouts.service.runs import STATUS_VI, format_period, in_provinces

log = structlog.get_logger()

# A payout waiting for an outcome (as ``payout_run_in_flight`` of migration 0033 decides it for a run).
IN_FLIGHT = "(p.status IN ('scheduled', 'sent') AND (p.channel = 'bank' OR p.withdrawn_at IS NULL))"
LISTED = 10  # references (or lines, people) named per kind of open item in a message

_SETTLE = """UPDATE payout_run r SET status = 'settled', settled_at = now()
              WHERE {which} AND r.status = 'sent' AND NOT payout_run_in_flight(r.id)
              RETURNING r.id, r.programme_code, r.period, r.payout_count, r.sent_at, r.settled_at"""


async def settle_runs(session: AsyncSession, run_ids: Iterable[UUID] | None, *, actor: str,
                      cause: str) -> list[UUID]:
    """Settle those of the runs (None: every sent run) that are sent and have nothing in flight; each one
    audited (``payout_run.settle``, with what settled it: ``cause``). Returns the runs settled."""
    if run_ids is None:
        which, params = "TRUE", {}
    else:
        runs = sorted(set(run_ids))
        if not runs:
            return []
        which, params = "r.id = ANY(:runs)", {"runs": runs}
    settled = (await session.execute(text(_SETTLE.format(which=which)), params)).all()
    for run in settled:
        await record(session, actor=actor, action="payout_run.settle", object_type="payout_run", object_id=run.id,
                     before={"status": "sent"},
                     after={"status": "settled", "settled_at": run.settled_at, "cause": cause,
                            "payouts": run.payout_count})
        log.info("payout_run_settled", run=str(run.id), programme=run.programme_code,
                 period=format_period(run.period), cause=cause)
    return [run.id for run in settled]


async def settle_runs_of_handovers(session: AsyncSession, beneficiary_ids: Iterable[UUID], *, actor: str,
                                   cause: str = "cash_handover") -> list[UUID]:
    """After withdrawals of these people were recorded: settle the sent runs whose cash payouts of theirs are
    now handed over in full (their other payouts permitting)."""
    people = sorted(set(beneficiary_ids))
    if not people:
        return []
    runs = (await session.scalars(text(
        """SELECT DISTINCT p.run_id FROM payout p JOIN payout_run r ON r.id = p.run_id
            WHERE p.beneficiary_id = ANY(:people) AND p.channel = 'cash' AND p.status = 'sent'
              AND p.withdrawn_at IS NOT NULL AND r.status = 'sent'"""), {"people": people})).all()
    return await settle_runs(session, runs, actor=actor, cause=cause)


async def settle_runs_with_cash(session: AsyncSession, *, actor: str, cause: str) -> list[UUID]:
    """After a bank's withdrawal feed (which may use up a cash payout of someone who has both): settle the sent
    runs that have cash payouts. The check probes cash first: a run whose commune still holds any cash of it
    costs one short index scan."""
    runs = (await session.scalars(text(  # ordered LIMIT 1, not EXISTS: kept on the (run, bank) index (0033)
        """SELECT r.id FROM payout_run r
            WHERE r.status = 'sent'
              AND (SELECT 1 FROM payout p WHERE p.run_id = r.id AND p.bank_bin IS NULL
                    ORDER BY p.run_id, p.bank_bin LIMIT 1) IS NOT NULL"""))).all()
    return await settle_runs(session, runs, actor=actor, cause=cause)


@dataclass
class OpenItems:
    """What of a run is still open for an officer; empty when the run can be closed."""

    bank_in_flight: int = 0
    cash_in_flight: int = 0
    in_flight: list[dict[str, Any]] = field(default_factory=list)  # the first ``LISTED``
    returns: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    flags: list[dict[str, Any]] = field(default_factory=list)

    def __bool__(self) -> bool:
        return bool(self.bank_in_flight or self.cash_in_flight or self.returns or self.exceptions or self.flags)

    def as_dict(self) -> dict[str, Any]:
        return {"bank_in_flight": self.bank_in_flight, "cash_in_flight": self.cash_in_flight,
                "in_flight": self.in_flight, "returns": self.returns, "exceptions": self.exceptions,
                "flags": self.flags}

    def describe(self) -> tuple[str, str]:
        """Every kind of open item, Vietnamese and English, naming the first few of each."""
        vi: list[str] = []
        en: list[str] = []
        if self.bank_in_flight:
            vi.append(f"{self.bank_in_flight} khoản chi qua ngân hàng chưa có kết quả (chưa báo có, chưa hoàn trả)")
            en.append(f"{counted(self.bank_in_flight, 'bank payout', 'bank payouts')} with no outcome yet "
                      "(neither credited nor returned)")
        if self.cash_in_flight:
            vi.append(f"{self.cash_in_flight} khoản tiền mặt xã chưa giao đủ cho người hưởng và chưa trả lại")
            en.append(f"{counted(self.cash_in_flight, 'cash payout', 'cash payouts')} the commune has neither "
                      "handed over in full "
                      "nor given back")
        if self.bank_in_flight or self.cash_in_flight:
            named = _named([item["reference"] for item in self.in_flight], self.bank_in_flight + self.cash_in_flight)
            vi[-1] += f": {named}"
            en[-1] += f": {named}"
        if self.returns:
            named = _named([item["reference"] for item in self.returns], len(self.returns))
            vi.append(f"{len(self.returns)} khoản bị hoàn trả chưa chi lại hoặc đóng: {named}")
            en.append(f"{counted(len(self.returns), 'returned payout', 'returned payouts')} neither reissued nor "
                      f"closed: {named}")
        if self.exceptions:
            named = _named([f"{item['line_id']} ({item['reference']})" for item in self.exceptions],
                           len(self.exceptions))
            vi.append(f"{len(self.exceptions)} dòng sao kê ngoại lệ chưa xử lý, mã dòng {named}")
            en.append(f"{counted(len(self.exceptions), 'open reconciliation exception', 'open reconciliation exceptions')}"
                      f", {'line' if len(self.exceptions) == 1 else 'lines'} {named}")
        if self.flags:
            named = _named([f"{item['full_name']} ({item['reference']})" for item in self.flags], len(self.flags))
            vi.append(f"{len(self.flags)} người được ngân hàng báo đã mất chưa được xác minh: {named}")
            en.append(f"{counted(len(self.flags), 'person', 'people')} reported deceased by the bank, not checked "
                      f"yet: {named}")
        return "; ".join(vi), "; ".join(en)


def _named(names: list[str], total: int) -> str:
    shown = ", ".join(names[:LISTED])
    return shown + (f", … (+{total - LISTED})" if total > LISTED else "")


async def open_items(session: AsyncSession, run: PayoutRun, *, provinces: Sequence[str] | None = None) -> OpenItems:
    """What keeps ``run`` from being closed: payouts in flight (of a settled or closed run only cash can be:
    a bank payout never goes back in flight, so only its cash is read), returns not reissued nor closed,
    unresolved exception lines naming its payouts, and open MD07 flags its returns raised. ``provinces``: what
    of it a province-limited caller sees (their provinces' payouts only)."""
    items = OpenItems()
    only_cash = " AND p.bank_bin IS NULL" if run.status in ("settled", "closed") else ""
    of_scope = in_provinces("p.commune_code", provinces)
    params: dict[str, Any] = {"run": run.id, "provinces": list(provinces or ())}
    counts = (await session.execute(text(
        f"""SELECT count(*) FILTER (WHERE p.bank_bin IS NOT NULL) AS bank, count(*) FILTER (WHERE p.bank_bin IS NULL) AS cash
              FROM payout p WHERE p.run_id = :run AND {IN_FLIGHT}{only_cash}{of_scope}"""),  # noqa: S608 - constants
        params)).one()
    items.bank_in_flight, items.cash_in_flight = int(counts.bank), int(counts.cash)
    if counts.bank or counts.cash:
        items.in_flight = [dict(r._mapping) for r in await session.execute(text(
            f"""SELECT p.id AS payout_id, p.reference, p.channel, p.bank_bin, p.commune_code, p.amount
                  FROM payout p WHERE p.run_id = :run AND {IN_FLIGHT}{only_cash}{of_scope}
                 ORDER BY p.serial LIMIT :limit"""), {**params, "limit": LISTED})]  # noqa: S608
    items.returns = [dict(r._mapping) for r in await session.execute(text(
        f"""SELECT l.id AS line_id, p.id AS payout_id, p.reference, l.bank_bin, p.return_reason, p.amount
              FROM statement_line l JOIN statement_match m ON m.line_id = l.id AND m.effect = 'return'
              JOIN payout p ON p.id = m.payout_id
             WHERE l.resolved_at IS NULL AND l.status = 'returned' AND p.run_id = :run{of_scope}
             ORDER BY l.id"""), params)]  # noqa: S608 - a constant condition
    items.exceptions = await _open_exceptions(session, run.id, provinces)
    items.flags = [dict(r._mapping) for r in await session.execute(text(
        f"""SELECT f.id AS flag_id, f.beneficiary_id, b.full_name, p.reference, f.raised_at
              FROM beneficiary_flag f JOIN payout p ON p.id = f.payout_id JOIN beneficiary b ON b.id = f.beneficiary_id
             WHERE f.resolved_at IS NULL AND p.run_id = :run{of_scope}
             ORDER BY f.id"""), params)]  # noqa: S608 - a constant condition
    return items


async def _open_exceptions(session: AsyncSession, run_id: UUID,
                           provinces: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """Unresolved exception lines (a duplicate, an amount that differs, ...) whose payout reference — found as
    the matcher finds it: the end-to-end id, else the text — names a payout of the run (in ``provinces``)."""
    lines = (await session.execute(text(
        """SELECT id, bank_bin, amount, exception_reason, end_to_end_ref, description, bank_reference
             FROM statement_line WHERE resolved_at IS NULL AND status = 'exception' ORDER BY id"""))).all()
    referenced: dict[int, str] = {}
    for line in lines:
        for clue in (line.end_to_end_ref and line.end_to_end_ref.strip().upper(), line.description,
                     line.bank_reference):
            reference = parse_reference(clue) if clue else None
            if reference:
                referenced[line.id] = reference
                break
    if not referenced:
        return []
    of_run = set((await session.scalars(text(
        f"""SELECT p.reference FROM payout p WHERE p.reference = ANY(:refs) AND p.run_id = :run
                   {in_provinces("p.commune_code", provinces)}"""),  # noqa: S608 - a constant condition
        {"refs": sorted(set(referenced.values())), "run": run_id, "provinces": list(provinces or ())})).all())
    return [{"line_id": line.id, "reference": referenced[line.id], "bank_bin": line.bank_bin, "amount": line.amount,
             "exception_reason": line.exception_reason}
            for line in lines if referenced.get(line.id) in of_run]


def check_closable(run: PayoutRun) -> None:
    """Only a settled run is closed; the others are told why not (409)."""
    if run.status == "closed":
        raise RunStateConflict("Đợt chi đã được đóng trước đó", "the run is already closed")
    if run.status != "settled":
        raise RunStateConflict(
            f"Chỉ đóng được đợt chi đã đối soát (đợt chi này {STATUS_VI[run.status]})",
            f"only a settled run can be closed (this one is {run.status})")


async def close_run(session: AsyncSession, run_id: UUID, *, actor: str) -> PayoutRun:
    """Close a settled run with nothing left open (409 listing what is, in both languages), recording who and
    when (audited ``payout_run.close``). Callers first ``settle_runs`` the run and commit that: a run with
    nothing in flight is settled whatever the close's outcome."""
    run = (await session.execute(select(PayoutRun).where(PayoutRun.id == run_id).with_for_update())
           ).scalar_one_or_none()
    if run is None:
        raise NotFound("Không tìm thấy đợt chi", "payout run not found")
    if run.status == "sent":
        pending = await open_items(session, run)
        vi, en = pending.describe()
        raise RunStateConflict(f"Đợt chi chưa đối soát xong nên chưa đóng được, còn: {vi}",
                               f"the run is not settled yet, so it cannot be closed; still open: {en}",
                               open_items=pending.as_dict())
    check_closable(run)
    items = await open_items(session, run)
    if items:
        vi, en = items.describe()
        raise Conflict(f"Chưa đóng được đợt chi, còn việc chưa xong: {vi}",
                       f"the run cannot be closed yet; still open: {en}", open_items=items.as_dict())
    await session.execute(text(
        """UPDATE payout_run SET status = 'closed', closed_at = now(), closed_by = :actor
            WHERE id = :run AND status = 'settled'"""), {"actor": actor, "run": run_id})
    await session.refresh(run)
    await record(session, actor=actor, action="payout_run.close", object_type="payout_run", object_id=run_id,
                 before={"status": "settled", "settled_at": run.settled_at},
                 after={"status": "closed", "closed_at": run.closed_at, "payouts": run.payout_count,
                        "total": run.total_amount})
    log.info("payout_run_closed", run=str(run_id), actor=actor)
    return run
