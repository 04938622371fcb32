"""Cash payouts after send: the commune holds the cash as a bank holds a credited payout.

Send posts a cash payout at once (``payable:beneficiary:B`` → ``cash:commune:C``, single). Before that, send
left it pending and nothing resolved it: ``settle_cash_pendings`` posts each such pending once. A commune
that could not hand the cash over (the person died, moved, could not be found) gives it back:
``return_cash`` reverses the transfer (``cash:commune:C`` → ``payable:beneficiary:B``), marks the payout
returned and releases its months, as a bank return that an officer reissues does, so the next run pays them
again (once: the "each (enrolment, month) paid at most once" index).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.audit.service import record
from app.database import session_scope
from app.payouts.accounts import commune_cash_account, expense_account, payable_account
from app.payouts.service.errors import Conflict, NotFound, PayoutError
from app.payouts.service.ledger_steps import payout_transfer_id
from app.payouts.service.settlement import settle_runs
from app.payouts.service.usage import tracking_usage
from ledger.accounts import ensure_accounts
from ledger.driver import driver_connection
from ledger.schemas import APPLIED_RESULTS, TransferKind, TransferResult
from ledger.service import create_transfer_arrays, lock_ledger
from reconciliation.withdrawals import reallocate

log = structlog.get_logger()

SETTLE_CHUNK = 20_000


@dataclass(slots=True)
class Settled:
    """What ``settle_cash_pendings`` posted: how many transfers and their total (đồng)."""

    transfers: int = 0
    amount: int = 0


# Unresolved pending send transfers among ids (the resolution index finds a post or void of each).
_UNRESOLVED = """SELECT t.id, t.amount FROM ledger_transfer t
                  WHERE t.id = ANY($1::uuid[]) AND t.kind = 'pending'
                    AND NOT EXISTS (SELECT 1 FROM ledger_transfer r WHERE r.pending_id = t.id)"""


async def _unresolved_sends(session: AsyncSession, payout_ids: list[UUID]) -> dict[UUID, int]:
    """send transfer id -> amount of the payouts' send transfers still pending."""
    driver = await driver_connection(session)
    rows = await driver.fetch(_UNRESOLVED, [payout_transfer_id(p, "send") for p in payout_ids])
    return {row["id"]: int(row["amount"]) for row in rows}


async def settle_cash_pendings(engine: AsyncEngine, *, actor: str, chunk_size: int = SETTLE_CHUNK) -> Settled:
    """Post every cash send transfer that is still pending (written before send posted cash at once), with a
    ``post`` whose id is the payout's "credit" step, dated when the cash went to the commune. Idempotent: a
    rerun finds nothing pending and posts nothing. Commits chunk by chunk (a crash leaves the rest to a rerun)."""
    settled = Settled()
    last: UUID | None = None
    while True:
        async with session_scope(engine) as session:
            driver = await driver_connection(session)
            rows = await driver.fetch(
                """SELECT id, reference, sent_at FROM payout
                    WHERE channel = 'cash' AND status = 'sent' AND ($2::uuid IS NULL OR id > $2)
                    ORDER BY id LIMIT $1""", chunk_size, last)
            if not rows:
                break
            last = rows[-1]["id"]
            pending = await _unresolved_sends(session, [r["id"] for r in rows])
            todo = [r for r in rows if payout_transfer_id(r["id"], "send") in pending]
            if not todo:
                continue
            results = await create_transfer_arrays(
                session, ids=[payout_transfer_id(r["id"], "credit") for r in todo], code="payout.cash_settle",
                kind=TransferKind.post, pending_ids=[payout_transfer_id(r["id"], "send") for r in todo],
                references=[r["reference"] for r in todo], event_at=[r["sent_at"] for r in todo],
                all_or_nothing=True)
            refused = sorted({str(result) for result in results if result not in APPLIED_RESULTS})
            if refused:
                raise RuntimeError(f"ledger refused cash settlements: {refused}")
            posted = [r for r, result in zip(todo, results, strict=True) if result is TransferResult.ok]
            amount = sum(pending[payout_transfer_id(r["id"], "send")] for r in posted)
            if posted:
                await record(session, actor=actor, action="payout.cash_settle", object_type="payout",
                             object_id=posted[0]["id"],
                             after={"transfers": len(posted), "amount": amount,
                                    "first": str(posted[0]["id"]), "last": str(posted[-1]["id"])})
            settled.transfers += len(posted)
            settled.amount += amount
    log.info("cash_pendings_settled", transfers=settled.transfers, amount=settled.amount)
    return settled


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise PayoutError("Cần ghi lý do xã trả lại tiền mặt (người hưởng mất, chuyển đi, không tìm thấy...)",
                          "a reason is required (the person died, moved, could not be found, ...)")
    return reason


# The answer for a payout the run does not have, and for one of a person outside the caller's scope alike.
NO_SUCH_PAYOUT = ("Không có khoản chi này trong đợt chi", "no such payout in this run")


async def cash_payout(session: AsyncSession, run_id: UUID, payout_id: UUID) -> Any:
    """The payout of this run, locked, with its programme and commune's province; 404 if there is none.

    Takes the ledger's lock first: the caller then writes to the ledger (``return_cash``), and every
    transaction that locks rows and writes to the ledger takes the two in that order."""
    await lock_ledger(session)
    payout = (await session.execute(text(
        """SELECT p.id, p.run_id, p.beneficiary_id, p.commune_code, p.channel, p.status, p.amount, p.reference,
                  p.first_withdrawal_at, r.programme_code, c.province_code
             FROM payout p JOIN payout_run r ON r.id = p.run_id JOIN commune c ON c.code = p.commune_code
            WHERE p.id = :payout AND p.run_id = :run FOR UPDATE OF p"""),
        {"payout": payout_id, "run": run_id})).first()
    if payout is None:
        raise NotFound(*NO_SUCH_PAYOUT)
    return payout


async def return_cash(session: AsyncSession, payout: Any, *, reason: str | None, actor: str) -> dict[str, Any]:
    """The commune gave back the cash of a sent cash payout it could not hand over: reverse the send
    (``cash:commune:C`` → ``payable:beneficiary:B``), mark the payout returned with the reason, release its
    months and take the entitlement back (``payable:beneficiary:B`` → ``expense:P``) so the next run pays them
    again. 409 if it is not a sent cash payout or any of it was handed over. ``payout`` from ``cash_payout``
    (locked, after the ledger's lock)."""
    reason = _reason(reason)
    if payout.channel != "cash" or payout.status != "sent":
        raise Conflict(f"Chỉ ghi nhận xã trả lại được với khoản chi tiền mặt đã gửi về xã (khoản này: "
                       f"{'tiền mặt' if payout.channel == 'cash' else 'qua ngân hàng'}, trạng thái {payout.status})",
                       f"only a sent cash payout can be returned by its commune (this one: {payout.channel}, "
                       f"{payout.status})")
    handed = payout.first_withdrawal_at is not None or await session.scalar(text(
        "SELECT EXISTS (SELECT 1 FROM withdrawal_allocation WHERE payout_id = :payout)"), {"payout": payout.id})
    if handed:
        raise Conflict("Khoản chi này đã được giao (một phần hoặc toàn bộ) cho người hưởng: xã không thể trả lại",
                       "this payout was already handed over (in part or in full): the commune cannot return it")
    cash = commune_cash_account(payout.commune_code)
    payable, expense = payable_account(payout.beneficiary_id), expense_account(payout.programme_code)
    ids = await ensure_accounts(session, [cash, payable, expense])
    send_id = payout_transfer_id(payout.id, "send")
    # A send made before cash was posted at once, and not settled yet: post it first (as settle-cash would).
    settle = bool(await _unresolved_sends(session, [payout.id]))
    transfer_ids = [payout_transfer_id(payout.id, "return"), payout_transfer_id(payout.id, "release")]
    kinds = [TransferKind.single, TransferKind.single]
    debits: list[int | None] = [ids[cash.code], ids[payable.code]]
    credits: list[int | None] = [ids[payable.code], ids[expense.code]]
    amounts: list[int | None] = [payout.amount, payout.amount]
    pendings: list[UUID | None] = [None, None]
    codes = ["payout.cash_return", "payout.release"]
    if settle:
        transfer_ids.insert(0, payout_transfer_id(payout.id, "credit"))
        kinds.insert(0, TransferKind.post)
        debits.insert(0, None)
        credits.insert(0, None)
        amounts.insert(0, None)
        pendings.insert(0, send_id)
        codes.insert(0, "payout.cash_settle")
    results = await create_transfer_arrays(
        session, ids=transfer_ids, code=codes, kind=kinds, debit_account_ids=debits, credit_account_ids=credits,
        amounts=amounts, pending_ids=pendings, references=[payout.reference] * len(transfer_ids),
        all_or_nothing=True)
    refused = sorted({str(result) for result in results if result not in APPLIED_RESULTS})
    if refused:
        raise Conflict(f"Sổ cái từ chối: {', '.join(refused)}", f"the ledger refused the cash return: {refused}")
    # The cash gives its amount back to the programme's funding at the commune (programme_usage).
    await session.execute(text(tracking_usage(
        """UPDATE payout p SET status = 'returned', returned_at = now(), return_reason = :reason
            WHERE p.id = :payout AND p.status = 'sent'""", "gave_back")), {"reason": reason, "payout": payout.id})
    released = await session.execute(text(
        """UPDATE payout_month SET released_at = now(), released_by = :actor
            WHERE payout_id = :payout AND released_at IS NULL"""), {"actor": actor, "payout": payout.id})
    months = released.rowcount  # type: ignore[attr-defined]
    # The payout no longer counts as arrived: the person's withdrawals are allocated again without it.
    await reallocate(session, [payout.beneficiary_id])
    # A returned payout is final: its run may have nothing in flight any more.
    run_settled = bool(await settle_runs(session, [payout.run_id], actor=actor, cause="cash_return"))
    outcome = {"payout_id": str(payout.id), "run_id": str(payout.run_id), "reference": payout.reference,
               "commune_code": payout.commune_code, "amount": payout.amount, "status": "returned",
               "return_reason": reason, "months_released": months, "settled_pending": settle,
               "transfer_id": str(transfer_ids[-2]), "run_settled": run_settled}
    await record(session, actor=actor, action="payout.cash_return", object_type="payout", object_id=payout.id,
                 before={"status": "sent", "money_at": cash.code},
                 after={**outcome, "money_at": cash.code, "owed_on": payable.code})
    return outcome
