"""Bank accounts a bank returned money from with a reason saying they cannot receive it
(``bank_account_block``, migration 0021): as staff read them on a person's page, as registration and the
exceptions queue refuse them, and their release by an officer.

A block is recorded on the ``bank_account`` row the returned payout went to, but what the bank refused is the
account number at that bank: registering the same number again (a new row, another holder name, another
person) does not make it work. So every reader keys a block on (bank_bin, account_number) — the number's
open blocks are found through ``ix_bank_account_number`` and ``uq_bank_account_block_open`` — and the number
stays refused until an officer releases its block (the bank confirmed the account works again: ``release_block``,
reason required, audited) or, for a death the bank reported (MD07), dismisses that report.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.payouts.service.errors import Conflict, NotFound, PayoutError
from app.vietnam_time import VIETNAM
from reconciliation.matching import DECEASED_REASON, RETURN_REASON_MESSAGES, return_reason_text

# Every open block with the bank and number it refuses, one row per number (its oldest open block: a number
# registered again as a new row before blocks were keyed on the number may have two). Open blocks are few (one
# per account a bank refused): read through uq_bank_account_block_open, and each block's account row looked up
# by its primary key (``OFFSET 0`` keeps the lookup a lookup: joined, the planner hashes all of bank_account
# for a few thousand blocks). A compute hashes this set once and probes it per person
# (``app.payouts.service.compute``), so its cost follows the open blocks, not the registry.
OPEN_NUMBER_BLOCKS = """
    SELECT DISTINCT ON (ba.bank_bin, ba.account_number)
           k.id, ba.bank_bin, ba.account_number, k.reason, k.returned_at
      FROM bank_account_block k
     CROSS JOIN LATERAL (SELECT a.bank_bin, a.account_number FROM bank_account a
                          WHERE a.id = k.bank_account_id OFFSET 0) ba
     WHERE k.released_at IS NULL
     ORDER BY ba.bank_bin, ba.account_number, k.returned_at, k.id
"""
# Every account row, of anyone, whose number has an open block, with that block: the numbers above, each
# looked up in ix_bank_account_number (a row or two each). Compute left-joins this on the account row's id,
# a hash of the blocked rows as it was when blocks were keyed on the row.
BLOCKED_ACCOUNT_ROWS = f"""
    SELECT same.id AS bank_account_id, n.id, n.bank_bin, n.account_number, n.reason, n.returned_at
      FROM ({OPEN_NUMBER_BLOCKS}) n
     CROSS JOIN LATERAL (SELECT s.id FROM bank_account s
                          WHERE s.bank_bin = n.bank_bin AND s.account_number = n.account_number OFFSET 0) same
"""  # noqa: S608

# The open blocks of one number (a few index probes).
_NUMBER_BLOCK = text(
    """SELECT k.id, ba.bank_bin, ba.account_number, k.reason, k.returned_at, p.reference AS payout_reference,
              ba.beneficiary_id, b.short_name AS bank_short_name
         FROM bank_account ba
         JOIN bank_account_block k ON k.bank_account_id = ba.id AND k.released_at IS NULL
         JOIN bank b ON b.bin = ba.bank_bin
         LEFT JOIN payout p ON p.id = k.payout_id
        WHERE ba.bank_bin = :bin AND ba.account_number = :number
        ORDER BY k.returned_at, k.id
        LIMIT 1"""
)


@dataclass(frozen=True, slots=True)
class AccountBlock:
    """An open block on one of a person's bank accounts (by its bank and number): payout runs hold the person
    while it is on their active account."""

    id: int  # the block (what an officer releases)
    bank_account_id: int  # the person's account row with the blocked number
    active: bool  # the person's current account (a corrected account registered since ends the hold)
    reason: str  # the bank's return code (AC04, MD07, ...)
    reason_message: str  # "Vietnamese / English"
    returned_at: datetime  # when the bank booked the return: the account is blocked since then
    payout_reference: str | None  # the returned payout

    @property
    def deceased_reported(self) -> bool:
        """The bank says the holder died (MD07): an officer checks it (exceptions queue) rather than
        registering another account."""
        return self.reason == DECEASED_REASON


@dataclass(frozen=True, slots=True)
class NumberBlock:
    """The open block of an account number at a bank, whichever account row it was recorded on."""

    id: int
    bank_bin: str
    bank_short_name: str
    account_number: str
    reason: str
    returned_at: datetime
    payout_reference: str | None
    beneficiary_id: UUID  # whose account row the return was recorded on

    def shown_number(self, *, masked: bool) -> str:
        """The account number, or (commune staff) all but its last 4 digits hidden."""
        return "*" * max(len(self.account_number) - 4, 0) + self.account_number[-4:] if masked else self.account_number

    def messages(self, *, masked: bool = False) -> tuple[str, str]:
        """(Vietnamese, English): the account is blocked, since when, the bank's reason, and how to go on."""
        number = self.shown_number(masked=masked)
        since = self.returned_at.astimezone(VIETNAM).strftime("%d/%m/%Y")
        reason_vi, reason_en = RETURN_REASON_MESSAGES.get(self.reason, (self.reason, self.reason))
        vi = (f"Tài khoản {self.bank_short_name} {number} bị chặn từ {since}: ngân hàng đã trả lại tiền với mã "
              f"{self.reason} ({reason_vi}).")
        en = (f"Account {self.bank_short_name} {number} has been blocked since {since}: the bank returned money "
              f"with code {self.reason} ({reason_en}).")
        if self.reason == DECEASED_REASON:
            vi += (" Cán bộ xác minh ở hàng đợi ngoại lệ: ghi nhận người hưởng đã mất, hoặc bác bỏ báo cáo nếu "
                   "ngân hàng báo nhầm (việc này gỡ chặn tài khoản).")
            en += (" An officer checks it in the exceptions queue: record the death, or dismiss the report if the "
                   "bank was wrong (which releases the block).")
        else:
            vi += (" Hãy dùng một tài khoản khác; nếu ngân hàng xác nhận tài khoản này đã nhận tiền được trở lại, "
                   "cán bộ gỡ chặn trước (ghi rõ lý do).")
            en += (" Use a different account; if the bank confirms this account can receive money again, an "
                   "officer first releases the block (with the reason).")
        return vi, en

    def as_dict(self, *, masked: bool = False) -> dict[str, Any]:
        """The block as a refusal's ``block`` member: enough to find and release it."""
        return {"id": self.id, "bank_bin": self.bank_bin,
                "account_number": self.shown_number(masked=masked),
                "reason": self.reason, "reason_message": return_reason_text(self.reason),
                "returned_at": self.returned_at.isoformat(), "payout_reference": self.payout_reference,
                "release_url": f"/api/bank-account-blocks/{self.id}/release"}


async def open_block_on_number(session: AsyncSession, bank_bin: str, account_number: str) -> NumberBlock | None:
    """The oldest open block of this account number at this bank (on any account row, of anyone), or None."""
    row = (await session.execute(_NUMBER_BLOCK, {"bin": bank_bin, "number": account_number})).first()
    if row is None:
        return None
    return NumberBlock(id=row.id, bank_bin=row.bank_bin, bank_short_name=row.bank_short_name,
                       account_number=row.account_number, reason=row.reason, returned_at=row.returned_at,
                       payout_reference=row.payout_reference, beneficiary_id=row.beneficiary_id)


async def open_account_blocks(session: AsyncSession, beneficiary_id: UUID) -> list[AccountBlock]:
    """The person's accounts whose number is blocked now (not released), the active account first; one row per
    account row, with the number's oldest open block."""
    rows = await session.execute(text(
        """SELECT DISTINCT ON (a.effective_to IS NULL, a.id)
                  k.id, a.id AS bank_account_id, a.effective_to IS NULL AS active, k.reason, k.returned_at,
                  p.reference
             FROM bank_account a
             JOIN bank_account ba ON ba.bank_bin = a.bank_bin AND ba.account_number = a.account_number
             JOIN bank_account_block k ON k.bank_account_id = ba.id AND k.released_at IS NULL
             LEFT JOIN payout p ON p.id = k.payout_id
            WHERE a.beneficiary_id = :person
            ORDER BY a.effective_to IS NULL DESC, a.id DESC, k.returned_at, k.id"""), {"person": beneficiary_id})
    blocks = [AccountBlock(id=row.id, bank_account_id=row.bank_account_id, active=row.active, reason=row.reason,
                           reason_message=return_reason_text(row.reason), returned_at=row.returned_at,
                           payout_reference=row.reference) for row in rows]
    return blocks


_BLOCK_VIEW = """
    SELECT k.id, k.bank_account_id, ba.beneficiary_id, b.full_name, b.commune_code, ba.bank_bin,
           bk.short_name AS bank_short_name, ba.account_number, k.reason, k.payout_id, p.reference AS payout_reference,
           k.line_id, k.returned_at, k.recorded_at, k.released_at, k.released_by, k.release_note
      FROM bank_account_block k
      JOIN bank_account ba ON ba.id = k.bank_account_id
      JOIN beneficiary b ON b.id = ba.beneficiary_id
      JOIN bank bk ON bk.bin = ba.bank_bin
      LEFT JOIN payout p ON p.id = k.payout_id
"""
BLOCK_STATUSES = {"open": "k.released_at IS NULL", "released": "k.released_at IS NOT NULL", "all": "true"}


def block_output(row: Any) -> dict[str, Any]:
    """A block as the API returns it."""
    return {"id": row.id, "bank_account_id": row.bank_account_id, "beneficiary_id": str(row.beneficiary_id),
            "full_name": row.full_name, "commune_code": row.commune_code, "bank_bin": row.bank_bin,
            "bank_short_name": row.bank_short_name, "account_number": row.account_number, "reason": row.reason,
            "reason_message": return_reason_text(row.reason),
            "payout_id": str(row.payout_id) if row.payout_id else None, "payout_reference": row.payout_reference,
            "line_id": row.line_id, "returned_at": row.returned_at, "recorded_at": row.recorded_at,
            "status": "open" if row.released_at is None else "released", "released_at": row.released_at,
            "released_by": row.released_by, "release_note": row.release_note}


async def list_blocks(session: AsyncSession, *, status: str = "open", beneficiary_id: UUID | None = None,
                      bank: str | None = None, page: int = 1, page_size: int = 100) -> dict[str, Any]:
    """Blocks, the oldest return first: the open ones (default), the released ones or all; of one person or bank."""
    if status not in BLOCK_STATUSES:
        raise PayoutError("Trạng thái phải là open, released hoặc all", "status must be open, released or all")
    page, page_size = max(page, 1), min(max(page_size, 1), 1000)
    where = BLOCK_STATUSES[status]
    if beneficiary_id is not None:
        where += " AND ba.beneficiary_id = :person"
    if bank:
        where += " AND ba.bank_bin = :bank"
    params = {"person": beneficiary_id, "bank": bank, "limit": page_size, "offset": (page - 1) * page_size}
    total = await session.scalar(text(
        f"""SELECT count(*) FROM bank_account_block k JOIN bank_account ba ON ba.id = k.bank_account_id
             WHERE {where}"""), params)  # noqa: S608
    rows = await session.execute(text(
        _BLOCK_VIEW + f" WHERE {where} ORDER BY k.returned_at, k.id LIMIT :limit OFFSET :offset"), params)  # noqa: S608
    return {"items": [block_output(r) for r in rows], "total": int(total or 0), "page": page, "page_size": page_size}


async def get_block(session: AsyncSession, block_id: int) -> dict[str, Any]:
    """One block; NotFound if there is none."""
    row = (await session.execute(text(_BLOCK_VIEW + " WHERE k.id = :id"), {"id": block_id})).first()
    if row is None:
        raise NotFound("Không tìm thấy khoá tài khoản", "block not found")
    return block_output(row)


async def release_block(session: AsyncSession, block_id: int, *, actor: str, actor_role: str | None,
                        reason: str | None) -> dict[str, Any]:
    """Release a block: the bank confirmed the account number can receive money again (officer, reason required,
    audited). Every open block of the same number goes with it, so the number is usable again and the next run
    pays its holder, with the months held back. A death the bank reported (MD07) is not released here while its
    flag is open: the officer dismisses the report (or records the death) in the exceptions queue."""
    reason = (reason or "").strip()
    block = (await session.execute(text(
        """SELECT k.id, k.reason, k.released_at, k.released_by, k.returned_at, ba.bank_bin, ba.account_number,
                  ba.beneficiary_id
             FROM bank_account_block k JOIN bank_account ba ON ba.id = k.bank_account_id
            WHERE k.id = :id FOR UPDATE OF k"""), {"id": block_id})).first()
    if block is None:
        raise NotFound("Không tìm thấy khoá tài khoản", "block not found")
    if block.released_at is not None:
        released_on = block.released_at.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
        raise Conflict(f"Khoá này đã được gỡ bởi {block.released_by} lúc {released_on}",
                       f"this block was already released by {block.released_by} at {released_on}")
    if len(reason) < 3:
        raise PayoutError("Cần ghi lý do gỡ chặn (ví dụ: ngân hàng xác nhận tài khoản đã mở lại)",
                          "a reason is required to release a block (e.g. the bank confirms the account is open again)",
                          errors=[{"row": None, "column": "reason", "message": "Cần ghi lý do gỡ chặn",
                                   "message_en": "reason required"}])
    if block.reason == DECEASED_REASON and await session.scalar(text(
            """SELECT 1 FROM beneficiary_flag WHERE beneficiary_id = :person AND kind = 'deceased_reported_by_bank'
                  AND resolved_at IS NULL"""), {"person": block.beneficiary_id}):
        raise Conflict("Ngân hàng báo chủ tài khoản đã mất (MD07): hãy xác minh ở hàng đợi ngoại lệ — ghi nhận "
                       "người hưởng mất, hoặc bác bỏ báo cáo nếu ngân hàng báo nhầm (việc này gỡ chặn tài khoản)",
                       "the bank reported the holder deceased (MD07): check it in the exceptions queue — record the "
                       "death, or dismiss the report if the bank was wrong (which releases the block)")
    # The number's open blocks, locked in id order (two releases of one number wait for each other).
    released = (await session.execute(text(
        """UPDATE bank_account_block k SET released_at = now(), released_by = :actor, release_note = :reason
             FROM (SELECT k2.id FROM bank_account_block k2 JOIN bank_account ba ON ba.id = k2.bank_account_id
                    WHERE ba.bank_bin = :bin AND ba.account_number = :number AND k2.released_at IS NULL
                    ORDER BY k2.id FOR UPDATE OF k2) open_ones
            WHERE k.id = open_ones.id
           RETURNING k.id, k.bank_account_id"""),
        {"actor": actor, "reason": reason, "bin": block.bank_bin, "number": block.account_number})).all()
    await record(session, actor=actor, actor_role=actor_role, action="bank_account_block.release",
                 object_type="bank_account_block", object_id=block.id,
                 before={"released_at": None, "reason": block.reason, "returned_at": block.returned_at},
                 after={"note": reason, "beneficiary_id": block.beneficiary_id, "bank_bin": block.bank_bin,
                        "account_number": block.account_number,
                        "blocks_released": [{"id": r.id, "bank_account_id": r.bank_account_id}
                                            for r in sorted(released)]})
    return await get_block(session, block.id)
