"""The exceptions queue: list unmatched or returned lines, and resolve them (each resolution audited).

Actions: ``manual_match`` (credit, or for a credit line return, the named payout), ``bank_fee`` (a debit
the bank charged: ``expense:bank_fee:K`` ← ``bank:K:disbursement``), ``ignore`` (a reason is
required), and for a returned payout either ``reissue`` (its months are released and its entitlement
reversed, so the next run pays them again, once, to the beneficiary's corrected account) or
``close_without_reissue`` (a reason is required: the months stay paid by the returned payout, so no run
pays them again, and the ledger is left as the return left it; see ``_close_without_reissue``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.http.paging import page_window
from app.payouts.accounts import bank_disbursement_account, expense_account, payable_account
from app.payouts.service.errors import Conflict, NotFound, PayoutError
from app.payouts.service.ledger_steps import payout_transfer_id
from app.reconciliation_api.blocks import NumberBlock, open_block_on_number
from app.reconciliation_api.importer import (
    PAYOUT_COLUMNS,
    apply_payout_effects,
    exception_message,
    payout_candidate,
)
from ledger.accounts import ensure_accounts
from ledger.schemas import APPLIED_RESULTS, AccountSpec, AccountType, TransferKind
from ledger.service import create_transfer_arrays
from reconciliation.matching import UNSTATED_RETURN_REASON, LineDecision
from reconciliation.parsers.amounts import amount_en, amount_vi
from reconciliation.parsers.model import StatementLine

ACTIONS = ("manual_match", "bank_fee", "ignore", "reissue", "close_without_reissue")
RETURN_ACTIONS = ("reissue", "close_without_reissue")
ORDERS = {"oldest": "l.booking_date, l.id", "newest": "l.booking_date DESC, l.id DESC"}
FEE_NAMESPACE = uuid.UUID("3c0f6a7e-52d4-4c1e-9d33-8b1f0e5a7c21")


def bank_fee_account(bank_bin: str) -> AccountSpec:
    """Fees a bank charged on its disbursement account."""
    return AccountSpec(code=f"expense:bank_fee:{bank_bin}", type=AccountType.expense)


_LINE_VIEW = """
    SELECT l.id, l.statement_id, s.statement_id AS bank_statement_id, l.line_no, l.bank_bin, l.booking_date,
           l.value_date, l.booked_at, l.amount, l.bank_reference, l.end_to_end_ref, l.counterparty_account,
           l.counterparty_name, l.description, l.return_reason, l.is_reversal, l.status, l.rule,
           l.exception_reason, l.payout_count, l.funding_id, l.resolution, l.resolution_note, l.resolved_by,
           l.resolved_at,
           (SELECT coalesce(jsonb_agg(jsonb_build_object(
                       'payout_id', m.payout_id, 'effect', m.effect, 'reference', p.reference,
                       'beneficiary_id', p.beneficiary_id, 'status', p.status, 'return_reason', p.return_reason,
                       'amount', p.amount) ORDER BY p.reference), '[]'::jsonb)
              FROM statement_match m JOIN payout p ON p.id = m.payout_id WHERE m.line_id = l.id) AS payouts,
           (SELECT jsonb_build_object('id', f.id, 'kind', f.kind, 'beneficiary_id', f.beneficiary_id,
                                      'resolution', f.resolution, 'resolved_at', f.resolved_at)
              FROM beneficiary_flag f WHERE f.line_id = l.id ORDER BY f.id LIMIT 1) AS flag
      FROM statement_line l JOIN bank_statement s ON s.id = l.statement_id
"""


def line_output(row: Any) -> dict[str, Any]:
    """A statement line as the API returns it."""
    return {
        "id": row.id, "statement_id": str(row.statement_id), "bank_statement_id": row.bank_statement_id,
        "line_no": row.line_no, "bank_bin": row.bank_bin, "booking_date": row.booking_date,
        "value_date": row.value_date, "booked_at": row.booked_at, "amount": row.amount,
        "bank_reference": row.bank_reference, "end_to_end_ref": row.end_to_end_ref,
        "counterparty_account": row.counterparty_account, "counterparty_name": row.counterparty_name,
        "description": row.description, "return_reason": row.return_reason, "is_reversal": row.is_reversal,
        "status": row.status, "rule": row.rule, "exception_reason": row.exception_reason,
        "exception_message": exception_message(row.exception_reason), "payout_count": row.payout_count,
        "funding_id": str(row.funding_id) if row.funding_id else None, "payouts": row.payouts, "flag": row.flag,
        "resolution": row.resolution, "resolution_note": row.resolution_note, "resolved_by": row.resolved_by,
        "resolved_at": row.resolved_at,
    }


async def statement_lines(session: AsyncSession, statement_id: UUID) -> list[dict[str, Any]]:
    """Every line of a statement with its match status, rule and payouts."""
    rows = await session.execute(text(_LINE_VIEW + " WHERE l.statement_id = :sid ORDER BY l.line_no"),
                                 {"sid": statement_id})
    return [line_output(r) for r in rows]


async def list_exceptions(session: AsyncSession, *, status: str = "open", bank: str | None = None,
                          order: str = "oldest", page: int = 1, page_size: int = 100) -> dict[str, Any]:
    """Lines needing an officer (exceptions and returns not yet resolved), or the resolved ones, or all;
    ``order`` oldest (booked first: the longest waiting, the default) or newest first."""
    conditions = {"open": "l.resolved_at IS NULL AND l.status IN ('exception', 'returned')",
                  "resolved": "l.resolved_at IS NOT NULL",
                  "all": "(l.resolved_at IS NOT NULL OR l.status IN ('exception', 'returned'))"}
    if status not in conditions:
        raise PayoutError("Trạng thái phải là open, resolved hoặc all", "status must be open, resolved or all")
    if order not in ORDERS:
        raise PayoutError("Thứ tự phải là oldest hoặc newest", "order must be oldest or newest")
    page, page_size = page_window(page, page_size)
    where = conditions[status] + (" AND l.bank_bin = :bank" if bank else "")
    params: dict[str, Any] = {"bank": bank, "limit": page_size, "offset": (page - 1) * page_size}
    total = await session.scalar(text(f"SELECT count(*) FROM statement_line l WHERE {where}"), params)  # noqa: S608
    rows = await session.execute(text(
        _LINE_VIEW + f" WHERE {where} ORDER BY {ORDERS[order]} LIMIT :limit OFFSET :offset"), params)  # noqa: S608
    return {"items": [line_output(r) for r in rows], "total": int(total or 0), "page": page, "page_size": page_size}


async def _locked_line(session: AsyncSession, line_id: int) -> Any:
    row = (await session.execute(text(
        "SELECT * FROM statement_line WHERE id = :id FOR UPDATE"), {"id": line_id})).first()
    if row is None:
        raise NotFound("Không tìm thấy dòng sao kê", "statement line not found")
    if row.resolved_at is not None:
        raise Conflict("Dòng sao kê này đã được xử lý", "this statement line is already resolved")
    return row


def _as_statement_line(row: Any) -> StatementLine:
    return StatementLine(
        account="", booking_date=row.booking_date, value_date=row.value_date, booked_at=row.booked_at,
        amount=row.amount, currency="VND", bank_reference=row.bank_reference, end_to_end_ref=row.end_to_end_ref,
        counterparty_account=row.counterparty_account, counterparty_name=row.counterparty_name,
        description=row.description, return_reason=row.return_reason, is_reversal=row.is_reversal,
        line_no=row.line_no)


async def _finish(session: AsyncSession, line: Any, *, status: str, rule: str, resolution: str, note: str | None,
                  actor: str, payout_count: int | None = None, extra: dict[str, Any] | None = None) -> None:
    await session.execute(text(
        """UPDATE statement_line SET status = :status, rule = :rule, resolution = :resolution,
                  resolution_note = :note, resolved_by = :actor, resolved_at = now(),
                  payout_count = coalesce(:count, payout_count)
            WHERE id = :id"""),
        {"status": status, "rule": rule, "resolution": resolution, "note": note, "actor": actor,
         "count": payout_count, "id": line.id})
    await record(session, actor=actor, action=f"reconciliation.{resolution}", object_type="statement_line",
                 object_id=line.id, before={"status": line.status, "exception_reason": line.exception_reason},
                 after={"status": status, "rule": rule, "note": note, **(extra or {})})


async def resolve_line(session: AsyncSession, line_id: int, *, action: str, actor: str, note: str | None = None,
                       payout_id: UUID | None = None, bank_account_id: int | None = None) -> dict[str, Any]:
    """Resolve one open line with an action; raises PayoutError (bilingual) when it does not fit."""
    note = (note or "").strip() or None
    if action not in ACTIONS:
        raise PayoutError("Hành động phải là manual_match, bank_fee, ignore, reissue hoặc close_without_reissue",
                          "action must be manual_match, bank_fee, ignore, reissue or close_without_reissue")
    line = await _locked_line(session, line_id)
    if action == "reissue":
        await _reissue(session, line, bank_account_id=bank_account_id, actor=actor, note=note)
    elif action == "close_without_reissue":
        await _close_without_reissue(session, line, actor=actor, reason=note)
    else:
        if line.status != "exception":
            raise Conflict("Chỉ xử lý được dòng đang là ngoại lệ; khoản hoàn trả thì chi lại hoặc đóng",
                           "only an exception line can be resolved this way; a return is reissued or closed")
        if action == "ignore":
            if note is None:
                raise PayoutError("Cần ghi lý do bỏ qua", "a reason is required to ignore a line")
            await _finish(session, line, status="ignored", rule="ignore", resolution="ignore", note=note, actor=actor)
        elif action == "bank_fee":
            await _bank_fee(session, line, actor=actor, note=note)
        else:
            await _manual_match(session, line, payout_id=payout_id, actor=actor, note=note)
    row = (await session.execute(text(_LINE_VIEW + " WHERE l.id = :id"), {"id": line_id})).one()
    return line_output(row)


async def _manual_match(session: AsyncSession, line: Any, *, payout_id: UUID | None, actor: str,
                        note: str | None) -> None:
    if payout_id is None:
        raise PayoutError("Cần chọn lệnh chi (payout_id)", "payout_id is required for a manual match")
    row = (await session.execute(text(
        f"SELECT {PAYOUT_COLUMNS} FROM payout p WHERE p.id = :id FOR UPDATE"), {"id": payout_id})).first()  # noqa: S608
    if row is None:
        raise NotFound("Không tìm thấy lệnh chi", "payout not found")
    payout = payout_candidate(row)
    if payout.bank_bin != line.bank_bin:
        raise Conflict("Lệnh chi thuộc ngân hàng khác", "the payout is another bank's")
    if payout.amount != abs(line.amount):
        raise Conflict(f"Số tiền lệnh chi {amount_vi(payout.amount)} khác số tiền dòng sao kê "
                       f"{amount_vi(abs(line.amount))}",
                       f"payout amount {amount_en(payout.amount)} differs from the line's {amount_en(abs(line.amount))}")
    if line.amount < 0:
        if payout.state != "sent":
            raise Conflict(f"Lệnh chi đang ở trạng thái {payout.state}, không ghi nhận chuyển được",
                           f"the payout is {payout.state}; it cannot be credited")
        decision = LineDecision(line.line_no, "matched", "manual_match", credits=[payout.id])
        status = "matched"
    else:
        if payout.state not in ("sent", "credited"):
            raise Conflict(f"Lệnh chi đang ở trạng thái {payout.state}, không hoàn trả được",
                           f"the payout is {payout.state}; it cannot be returned")
        decision = LineDecision(line.line_no, "returned", "manual_match",
                                returns=[(payout.id, payout.state == "credited")],
                                return_reason=(line.return_reason or UNSTATED_RETURN_REASON).upper())
        status = "returned"
    await apply_payout_effects(session, line.bank_bin, [(line.id, _as_statement_line(line), decision)],
                               {payout.id: payout}, actor=actor, cause="manual_match")
    await _finish(session, line, status=status, rule="manual_match", resolution="manual_match", note=note,
                  actor=actor, payout_count=1, extra={"payout_id": payout.id, "reference": payout.reference})


async def _bank_fee(session: AsyncSession, line: Any, *, actor: str, note: str | None) -> None:
    if line.amount >= 0:
        raise PayoutError("Phí ngân hàng phải là một khoản ghi nợ", "a bank fee must be a debit line")
    bank, fee = bank_disbursement_account(line.bank_bin), bank_fee_account(line.bank_bin)
    ids = await ensure_accounts(session, [bank, fee])
    transfer_id = uuid.uuid5(FEE_NAMESPACE, f"fee:{line.id}")
    (result,) = await create_transfer_arrays(
        session, ids=[transfer_id], code="reconciliation.bank_fee", kind=TransferKind.single,
        debit_account_ids=[ids[fee.code]], credit_account_ids=[ids[bank.code]], amounts=[-line.amount],
        references=[(line.bank_reference or f"line {line.id}")[:64]])
    if result not in APPLIED_RESULTS:
        raise Conflict(f"Sổ cái từ chối ghi phí: {result}", f"the ledger refused the fee: {result}")
    await _finish(session, line, status="fee", rule="bank_fee", resolution="bank_fee", note=note, actor=actor,
                  extra={"transfer_id": transfer_id, "amount": -line.amount})


async def _returned_payout(session: AsyncSession, line: Any) -> Any:
    """The payout a return line brought back, locked (a reissue and a closure of it wait for each other)."""
    payout = (await session.execute(text(
        """SELECT p.id, p.beneficiary_id, p.amount, p.reference, p.status, p.bank_account_id, p.bank_bin,
                  p.account_number, p.return_reason, p.returned_at, r.programme_code
             FROM statement_match m JOIN payout p ON p.id = m.payout_id JOIN payout_run r ON r.id = p.run_id
            WHERE m.line_id = :line AND m.effect = 'return' FOR UPDATE OF p"""), {"line": line.id})).first()
    if payout is None or payout.status != "returned":
        raise Conflict("Không tìm thấy lệnh chi bị hoàn trả của dòng này", "no returned payout on this line")
    return payout


async def _close_without_reissue(session: AsyncSession, line: Any, *, actor: str, reason: str | None) -> None:
    """Close a returned payout for good: nobody is paid again for its months (e.g. MD07, the holder died).

    The ledger is not touched, because the return already settled where the money stands: a return of a
    payout still pending voided its pending ``payable:beneficiary:B`` → ``bank:K:disbursement`` transfer,
    and a return of a credited payout posted the reversing ``bank:K:disbursement`` → ``payable:beneficiary:B``.
    Either way the amount is back on ``bank:K:disbursement`` (the bank holds it and later runs can send it;
    it counts in the funding check), and ``payable:beneficiary:B`` still holds it as owed to the person, the
    entitlement recognised at approval (``expense:P``) standing. Closing changes neither: paying heirs or
    writing the entitlement off is a separate decision outside the queue. The payout's months stay
    unreleased, so the "each (enrolment, month) paid at most once" index keeps every later run from paying
    them; the database refuses a reissue or a release of a closed payout's months (migration 0014).
    """
    if line.status != "returned":
        raise Conflict("Chỉ đóng được khoản đã bị hoàn trả", "only a returned payout can be closed")
    if reason is None:
        raise PayoutError("Cần ghi lý do đóng khoản hoàn trả (không chi lại)",
                          "a reason is required to close a return without reissue")
    payout = await _returned_payout(session, line)
    await session.execute(text(
        """INSERT INTO payout_return_closure (returned_payout_id, line_id, reason, closed_by)
           VALUES (:payout, :line, :reason, :actor)"""),
        {"payout": payout.id, "line": line.id, "reason": reason, "actor": actor})
    await _finish(session, line, status="returned", rule=line.rule, resolution="close_without_reissue", note=reason,
                  actor=actor, extra={"payout_id": payout.id, "reference": payout.reference, "amount": payout.amount,
                                      "return_reason": payout.return_reason,
                                      "money_at": bank_disbursement_account(payout.bank_bin).code,
                                      "owed_on": payable_account(payout.beneficiary_id).code})


async def _account_cleared(session: AsyncSession, payout: Any) -> bool:
    """The money may go again to the account number it came back from: the return said the holder died and an
    officer dismissed that (the person is alive, the account was never the problem), or an officer released
    the number's block since the return (the bank confirmed the account can receive money again)."""
    return bool(await session.scalar(text(
        """SELECT EXISTS (SELECT 1 FROM beneficiary_flag WHERE payout_id = :payout
                             AND kind = 'deceased_reported_by_bank' AND resolution = 'dismissed')
                  OR EXISTS (SELECT 1 FROM bank_account ba JOIN bank_account_block k ON k.bank_account_id = ba.id
                              WHERE ba.bank_bin = :bin AND ba.account_number = :number
                                AND k.released_at >= :returned_at)"""),
        {"payout": payout.id, "bin": payout.bank_bin, "number": payout.account_number,
         "returned_at": payout.returned_at}))


# Why a returned payout cannot be paid again to an account: (error class, Vietnamese, English).
REISSUE_REFUSALS: dict[str, tuple[type[PayoutError], str, str]] = {
    "no_account": (PayoutError, "Người hưởng chưa có tài khoản ngân hàng đang dùng: hãy đăng ký tài khoản đã sửa",
                   "the beneficiary has no active bank account: register a corrected account"),
    "not_theirs": (PayoutError, "Tài khoản ngân hàng không thuộc người hưởng này",
                   "the bank account does not belong to this beneficiary"),
    "not_usable": (Conflict, "Tài khoản ngân hàng không còn hiệu lực hoặc sai tên",
                   "the bank account is no longer active or its name does not match"),
    "same_account": (Conflict, "Phải chọn tài khoản đã sửa, khác tài khoản bị hoàn trả",
                     "choose the corrected account, not the one the money came back from"),
    "blocked": (Conflict, "Ngân hàng đã từ chối số tài khoản này: hãy đăng ký tài khoản đã sửa",
                "the bank refused this account number: register a corrected account"),
}


@dataclass(frozen=True, slots=True)
class ReissueRefusal:
    """Why a reissue to an account is refused: a code of ``REISSUE_REFUSALS`` (and the open block of a blocked
    account number)."""

    code: str
    block: NumberBlock | None = None

    @property
    def block_reason(self) -> str | None:
        """The bank's return code of a blocked number."""
        return self.block.reason if self.block is not None else None

    def error(self) -> PayoutError:
        """The refusal as the API answers it (bilingual; a blocked number names the block and how to release it)."""
        if self.block is not None:
            vi, en = self.block.messages()
            return Conflict(vi, en, block=self.block.as_dict())
        error_class, vi, en = REISSUE_REFUSALS[self.code]
        return error_class(vi, en)


async def reissue_refusal(session: AsyncSession, payout: Any, account: Any) -> ReissueRefusal | None:
    """Why the returned ``payout`` (id, beneficiary_id, bank_bin, account_number, returned_at) cannot be paid
    again to ``account`` (id, beneficiary_id, effective_to, verification_status, bank_bin, account_number;
    None: the person has no active account), or None when it can: the person's own account, active, its holder
    name matching, its number not blocked at the bank (whichever row holds it: a number registered again keeps
    its block), and not the number the money came back from, unless that number was cleared since
    (``_account_cleared``: a dismissed report of death, a released block)."""
    if account is None:
        return ReissueRefusal("no_account")
    if account.beneficiary_id != payout.beneficiary_id:
        return ReissueRefusal("not_theirs")
    if account.effective_to is not None or account.verification_status in ("closed", "name_mismatch"):
        return ReissueRefusal("not_usable")
    blocked = await open_block_on_number(session, account.bank_bin, account.account_number)
    if (account.bank_bin, account.account_number) == (payout.bank_bin, payout.account_number) \
            and not await _account_cleared(session, payout):
        return ReissueRefusal("same_account", blocked)  # the money came back from it (named by its block)
    if blocked is not None:
        return ReissueRefusal("blocked", blocked)
    return None


@dataclass(frozen=True, slots=True)
class ReissueChoice:
    """An open returned line as an officer decides it: whose payout came back, the account a reissue would
    pay (the person's active account), or why no reissue is possible yet."""

    line_id: int
    payout_reference: str
    beneficiary_id: UUID
    beneficiary_status: str
    account_id: int | None
    bank_short_name: str | None
    account_number: str | None
    refusal: ReissueRefusal | None
    pending_request_id: int | None  # commune staff asked for a new account; an officer has not decided yet


async def reissue_choices(session: AsyncSession, line_ids: list[int]) -> dict[int, ReissueChoice]:
    """For open returned lines: the person's active account and whether the returned payout may be reissued
    to it (the rules of ``resolve_line``'s reissue)."""
    if not line_ids:
        return {}
    rows = await session.execute(text(
        """SELECT m.line_id, p.id, p.reference, p.beneficiary_id, p.bank_account_id, p.bank_bin,
                  p.account_number AS returned_number, p.returned_at, b.status AS beneficiary_status,
                  a.id AS account_id, a.beneficiary_id AS account_owner, a.effective_to, a.verification_status,
                  a.bank_bin AS account_bin, a.account_number, k.short_name,
                  (SELECT min(r.id) FROM bank_account_request r
                    WHERE r.beneficiary_id = p.beneficiary_id AND r.status = 'pending') AS pending_request_id
             FROM statement_match m JOIN payout p ON p.id = m.payout_id
             JOIN beneficiary b ON b.id = p.beneficiary_id
             LEFT JOIN bank_account a ON a.beneficiary_id = p.beneficiary_id AND a.effective_to IS NULL
             LEFT JOIN bank k ON k.bin = a.bank_bin
            WHERE m.line_id = ANY(:lines) AND m.effect = 'return' AND p.status = 'returned'"""), {"lines": line_ids})
    choices = {}
    for row in rows.all():
        account = None if row.account_id is None else SimpleNamespace(
            id=row.account_id, beneficiary_id=row.account_owner, effective_to=row.effective_to,
            verification_status=row.verification_status, bank_bin=row.account_bin, account_number=row.account_number)
        payout = SimpleNamespace(id=row.id, beneficiary_id=row.beneficiary_id, bank_bin=row.bank_bin,
                                 account_number=row.returned_number, returned_at=row.returned_at)
        choices[row.line_id] = ReissueChoice(
            line_id=row.line_id, payout_reference=row.reference, beneficiary_id=row.beneficiary_id,
            beneficiary_status=row.beneficiary_status, account_id=row.account_id, bank_short_name=row.short_name,
            account_number=row.account_number, refusal=await reissue_refusal(session, payout, account),
            pending_request_id=row.pending_request_id)
    return choices


async def open_returns_of(session: AsyncSession, beneficiary_id: UUID) -> int:
    """How many of the person's returned payouts wait in the exceptions queue (to reissue or close)."""
    return int(await session.scalar(text(
        """SELECT count(*) FROM statement_line l JOIN statement_match m ON m.line_id = l.id AND m.effect = 'return'
             JOIN payout p ON p.id = m.payout_id
            WHERE p.beneficiary_id = :person AND l.status = 'returned' AND l.resolved_at IS NULL"""),
        {"person": beneficiary_id}) or 0)


async def _reissue(session: AsyncSession, line: Any, *, bank_account_id: int | None, actor: str,
                   note: str | None) -> None:
    if line.status != "returned":
        raise Conflict("Chỉ chi lại được khoản đã bị hoàn trả", "only a returned payout can be reissued")
    if bank_account_id is None:
        raise PayoutError("Cần chọn tài khoản ngân hàng mới (bank_account_id)",
                          "bank_account_id (the corrected account) is required")
    payout = await _returned_payout(session, line)
    account = (await session.execute(text(
        """SELECT id, beneficiary_id, effective_to, verification_status, bank_bin, account_number
             FROM bank_account WHERE id = :id"""), {"id": bank_account_id})).first()
    refusal = (ReissueRefusal("not_theirs") if account is None
               else await reissue_refusal(session, payout, account))
    if refusal is not None:
        raise refusal.error()
    assert account is not None
    released = await session.execute(text(
        """UPDATE payout_month SET released_at = now(), released_by = :actor
            WHERE payout_id = :payout AND released_at IS NULL"""), {"actor": actor, "payout": payout.id})
    # The next run recognises the entitlement again; take this one back so it is not counted twice.
    expense, payable = expense_account(payout.programme_code), payable_account(payout.beneficiary_id)
    ids = await ensure_accounts(session, [expense, payable])
    (result,) = await create_transfer_arrays(
        session, ids=[payout_transfer_id(payout.id, "release")], code="payout.release", kind=TransferKind.single,
        debit_account_ids=[ids[payable.code]], credit_account_ids=[ids[expense.code]], amounts=[payout.amount],
        references=[payout.reference])
    if result not in APPLIED_RESULTS:
        raise Conflict(f"Sổ cái từ chối: {result}", f"the ledger refused the release: {result}")
    await session.execute(text(
        """INSERT INTO payout_reissue (returned_payout_id, bank_account_id, line_id, requested_by)
           VALUES (:payout, :account, :line, :actor)"""),
        {"payout": payout.id, "account": account.id, "line": line.id, "actor": actor})
    await _finish(session, line, status="returned", rule=line.rule, resolution="reissue", note=note, actor=actor,
                  extra={"payout_id": payout.id, "bank_account_id": account.id,
                         "months_released": released.rowcount})  # type: ignore[attr-defined]
