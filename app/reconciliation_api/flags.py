"""People a bank reported deceased (a return with reason MD07), for an officer to check.

A flag is raised by the statement import and resolved once, in one of two ways:
- ``death_recorded``: the officer records the death (``POST /api/beneficiaries/{id}/events`` with kind
  ``deceased``); the database closes the person's open flag in the same transaction and audits it
  (migration 0014, ``beneficiary_flag_close_on_death``). A bank reporting a death already on record
  raises the flag closed.
- ``dismissed``: the officer checked and the person is alive (the bank was wrong); a reason is required
  and the dismissal is audited (``dismiss_flag``). The block the same MD07 return put on the account is
  released with it, so the next run pays the person again (with the months it held back).
While a flag is open, payout runs hold the person (``app.payouts.service.compute``).
The returned payout of the flag stays in the exceptions queue either way: reissue or close it there.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.http.paging import page_window
from app.payouts.service.errors import Conflict, NotFound, PayoutError
from reconciliation.matching import DECEASED_REASON

FLAG_STATUSES = {"open": "f.resolved_at IS NULL", "resolved": "f.resolved_at IS NOT NULL", "all": "true"}
KIND_MESSAGES = {
    "deceased_reported_by_bank": ("Ngân hàng báo chủ tài khoản đã mất (MD07)",
                                  "the bank reports the holder deceased (MD07)"),
}
RESOLUTION_MESSAGES = {
    "death_recorded": ("Đã ghi nhận người hưởng mất", "the death is recorded"),
    "dismissed": ("Đã bác bỏ (ngân hàng báo nhầm)", "dismissed (the bank was wrong)"),
}

_FLAG_VIEW = """
    SELECT f.id, f.beneficiary_id, b.full_name, b.commune_code, b.status AS beneficiary_status, b.deceased_on,
           f.kind, f.payout_id, p.reference AS payout_reference, f.line_id, f.raised_at, f.resolution,
           f.resolved_at, f.resolved_by, f.event_id, f.note, l.booking_date AS reported_on
      FROM beneficiary_flag f JOIN beneficiary b ON b.id = f.beneficiary_id
      LEFT JOIN payout p ON p.id = f.payout_id
      LEFT JOIN statement_line l ON l.id = f.line_id
"""


def _bilingual(messages: dict[str, tuple[str, str]], key: str | None) -> str | None:
    if key is None:
        return None
    vi, en = messages.get(key, (key, key))
    return f"{vi} / {en}"


def flag_output(row: Any) -> dict[str, Any]:
    """A flag as the API returns it."""
    return {"id": row.id, "beneficiary_id": str(row.beneficiary_id), "full_name": row.full_name,
            "commune_code": row.commune_code, "beneficiary_status": row.beneficiary_status,
            "deceased_on": row.deceased_on, "kind": row.kind, "message": _bilingual(KIND_MESSAGES, row.kind),
            "payout_id": str(row.payout_id) if row.payout_id else None, "payout_reference": row.payout_reference,
            "line_id": row.line_id, "reported_on": row.reported_on, "raised_at": row.raised_at, "status": "open" if row.resolved_at is None
            else "resolved", "resolution": row.resolution,
            "resolution_message": _bilingual(RESOLUTION_MESSAGES, row.resolution), "resolved_at": row.resolved_at,
            "resolved_by": row.resolved_by, "event_id": row.event_id, "note": row.note}


async def list_flags(session: AsyncSession, *, status: str = "open", page: int = 1,
                     page_size: int = 100) -> dict[str, Any]:
    """Flags, oldest first: the open ones (default), the resolved ones (newest resolution first) or all."""
    if status not in FLAG_STATUSES:
        raise PayoutError("Trạng thái phải là open, resolved hoặc all", "status must be open, resolved or all")
    page, page_size = page_window(page, page_size)
    where = FLAG_STATUSES[status]
    order = "f.resolved_at DESC, f.id DESC" if status == "resolved" else "f.id"
    params = {"limit": page_size, "offset": (page - 1) * page_size}
    total = await session.scalar(text(f"SELECT count(*) FROM beneficiary_flag f WHERE {where}"))  # noqa: S608
    rows = await session.execute(text(
        _FLAG_VIEW + f" WHERE {where} ORDER BY {order} LIMIT :limit OFFSET :offset"), params)  # noqa: S608
    return {"items": [flag_output(r) for r in rows], "total": int(total or 0), "page": page, "page_size": page_size}


async def get_flag(session: AsyncSession, flag_id: int) -> dict[str, Any]:
    """One flag; NotFound if there is none."""
    row = (await session.execute(text(_FLAG_VIEW + " WHERE f.id = :id"), {"id": flag_id})).first()
    if row is None:
        raise NotFound("Không tìm thấy cờ cảnh báo", "flag not found")
    return flag_output(row)


async def open_flag(session: AsyncSession, flag_id: int) -> Any:
    """An open flag, locked; NotFound or Conflict (already resolved) otherwise."""
    row = (await session.execute(text(
        "SELECT * FROM beneficiary_flag WHERE id = :id FOR UPDATE"), {"id": flag_id})).first()
    if row is None:
        raise NotFound("Không tìm thấy cờ cảnh báo", "flag not found")
    if row.resolved_at is not None:
        raise Conflict("Cờ cảnh báo này đã được xử lý", "this flag is already resolved")
    return row


async def dismiss_flag(session: AsyncSession, flag_id: int, *, actor: str, reason: str | None) -> dict[str, Any]:
    """Dismiss an open flag: the officer checked and the bank was wrong (reason required, audited)."""
    reason = (reason or "").strip() or None
    flag = await open_flag(session, flag_id)
    if reason is None:
        raise PayoutError("Cần ghi lý do bác bỏ (ví dụ: ngân hàng báo nhầm)",
                          "a reason is required to dismiss a flag (e.g. the bank was wrong)")
    await session.execute(text(
        """UPDATE beneficiary_flag SET resolution = 'dismissed', resolved_at = now(), resolved_by = :actor,
                  note = :reason
            WHERE id = :id"""), {"actor": actor, "reason": reason, "id": flag.id})
    released = (await session.execute(text(
        """UPDATE bank_account_block SET released_at = now(), released_by = :actor, release_note = :reason
            WHERE reason = :code AND released_at IS NULL
              AND bank_account_id IN (SELECT a.id FROM bank_account a WHERE a.beneficiary_id = :person)
           RETURNING id, bank_account_id"""),
        # The person is alive: every "deceased" block on their accounts goes, not only the one from the
        # flag's own return (two MD07 returns of one statement open one flag but may block from either).
        {"actor": actor, "reason": reason, "person": flag.beneficiary_id, "code": DECEASED_REASON})).all()
    await record(session, actor=actor, action="reconciliation.flag_dismissed", object_type="beneficiary_flag",
                 object_id=flag.id, before={"resolved_at": None},
                 after={"resolution": "dismissed", "note": reason, "beneficiary_id": flag.beneficiary_id,
                        "kind": flag.kind, "payout_id": flag.payout_id, "line_id": flag.line_id,
                        "bank_account_blocks_released": [{"id": r.id, "bank_account_id": r.bank_account_id}
                                                         for r in released]})
    return await get_flag(session, flag.id)
