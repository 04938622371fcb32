"""Withdrawals as the API takes them: bank intake, assisted withdrawals and cash handovers, follow-up notes."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.service import record
from app.auth.service import Principal
from app.http.problems import Problem, bilingual
from app.payouts.service.runs import FIRST_PAYABLE_PERIOD
from app.payouts.service.settlement import settle_runs_of_handovers, settle_runs_with_cash
from app.registry.scope import commune_in_scope
from app.registry.service.common import not_found
from app.vietnam_time import VIETNAM
from app.withdrawals_api.schemas import (
    AssistedWithdrawalIn,
    AssistedWithdrawalOut,
    FollowUpNoteIn,
    FollowUpNoteOut,
    IntakeOut,
    WithdrawalCancelIn,
    WithdrawalOut,
)
from app.withdrawals_api.timeline import MoneyEvent, arrival_covering, money_timeline, room_at, undrawn_at
from reconciliation.withdrawal_files import (
    MAX_AMOUNT,
    WithdrawalFileRejected,
    WithdrawalRow,
    rows_from_file,
    rows_from_json,
)
from reconciliation.withdrawals import (
    ARRIVED,
    CONFIRM_WINDOW,
    LIVE_WITHDRAWAL,
    CancelRefused,
    cancel_commune_withdrawal,
    record_bank_withdrawals,
    record_commune_withdrawal,
)

NOTE_KINDS = ("visit", "call", "note")
CLOCK_SKEW = timedelta(minutes=5)  # a phone's clock a little ahead is not a visit or withdrawal in the future
# Nothing to follow up, and no money of ansinh withdrawn, before ansinh paid its first month
# (``FIRST_PAYABLE_PERIOD``), midnight in Việt Nam: the floor of a follow-up note and of a bank's withdrawal.
EARLIEST_NOTE = datetime.combine(FIRST_PAYABLE_PERIOD, time(0), tzinfo=VIETNAM)
EARLIEST_WITHDRAWAL = EARLIEST_NOTE


def rejected(error: WithdrawalFileRejected) -> Problem:
    """422 listing every bad row; nothing was stored."""
    return Problem(422, bilingual(error.vi, error.en), errors=error.errors)


def read_withdrawals(content: bytes | None, json_items: Any | None) -> tuple[list[WithdrawalRow], str]:
    """Checked rows and the format ('json', 'csv', 'xlsx') of a JSON list or a file; 422 when bad."""
    try:
        if json_items is not None:
            return rows_from_json(json_items, earliest=EARLIEST_WITHDRAWAL), "json"
        assert content is not None
        from reconciliation.withdrawal_files import file_format

        return rows_from_file(content, earliest=EARLIEST_WITHDRAWAL), file_format(content)
    except WithdrawalFileRejected as error:
        raise rejected(error) from None


async def take_bank_withdrawals(session: AsyncSession, *, bank_bin: str, rows: list[WithdrawalRow], fmt: str,
                                recorded_by: str, role: str | None, source_name: str = "",
                                content: bytes | None = None) -> IntakeOut:
    """Store a bank's rows (all of its own BIN) and answer with accepted, duplicates, conflicts (each row
    counted once: rows = accepted + duplicates + conflicts) and unknown accounts (some of the accepted); the
    lists name their first rows only, with the totals (``IntakeOut``).
    ``content``: the upload as received (a file, or a JSON body), kept with the intake for audit."""
    foreign = sorted({r.bank_bin for r in rows if r.bank_bin is not None and r.bank_bin != bank_bin})
    if foreign:
        raise Problem(403, bilingual(f"Chỉ được gửi giao dịch của ngân hàng mình ({bank_bin}); có dòng của "
                                     f"{', '.join(foreign)}",
                                     f"only your own bank's ({bank_bin}) withdrawals; rows name {', '.join(foreign)}"))
    result = await record_bank_withdrawals(
        session, bank_bin=bank_bin, rows=rows, recorded_by=recorded_by, source_name=source_name, file_format=fmt,
        sha256=hashlib.sha256(content).digest() if content is not None else None, content=content)
    if result.accepted:  # a withdrawal of someone paid in cash too may have used up a cash payout
        await settle_runs_with_cash(session, actor=recorded_by, cause="bank_withdrawals")
    await record(session, actor=recorded_by, actor_role=role, action="withdrawals.receive",
                 object_type="withdrawal_intake", object_id=result.intake_id,
                 after={"bank_bin": bank_bin, "rows": result.rows, "accepted": result.accepted,
                        "duplicates": result.duplicates, "conflicts": result.conflicts_total,
                        "unknown_accounts": result.unknown_accounts_total,
                        "assisted_confirmed": result.assisted_confirmed})
    return IntakeOut(intake_id=result.intake_id, rows=result.rows, accepted=result.accepted,
                     duplicates=result.duplicates, unknown_accounts=result.unknown_accounts,
                     conflicts=result.conflicts, unknown_accounts_total=result.unknown_accounts_total,
                     unknown_account_numbers=result.unknown_account_numbers,
                     unknown_accounts_truncated=result.unknown_accounts_total > len(result.unknown_accounts),
                     conflicts_total=result.conflicts_total, assisted_confirmed=result.assisted_confirmed,
                     conflicts_truncated=result.conflicts_total > len(result.conflicts),
                     upload_url=f"/api/uploads/{result.intake_id}" if content is not None else None)


async def person_in_scope(session: AsyncSession, beneficiary_id: UUID, principal: Principal) -> Any:
    """The person's commune and channel; 404 when unknown or outside the caller's communes (the registry's
    answer: the same for both, so a person's id says nothing of where they live to staff of another commune)."""
    row = (await session.execute(text(
        """SELECT b.id, b.commune_code, b.channel, c.province_code FROM beneficiary b
             JOIN commune c ON c.code = b.commune_code WHERE b.id = :id"""), {"id": beneficiary_id})).first()
    if row is None or not commune_in_scope(principal, row.commune_code, row.province_code):
        raise not_found()
    return row


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=VIETNAM)


async def undrawn_amount(session: AsyncSession, beneficiary_id: UUID) -> int:
    """What reached the person less everything they withdrew (money withdrawn before it arrived included) —
    what the FIFO allocation leaves undrawn, since it allocates min(withdrawn, arrived) — and so the most
    commune staff may record as withdrawn or handed over now."""
    value = await session.scalar(text(
        f"""SELECT (SELECT coalesce(sum(p.amount), 0) FROM payout p WHERE p.beneficiary_id = :b AND {ARRIVED})
                 - (SELECT coalesce(sum(w.amount), 0) FROM withdrawal w
                     WHERE w.beneficiary_id = :b AND {LIVE_WITHDRAWAL})"""),  # noqa: S608
        {"b": beneficiary_id})
    return max(int(value or 0), 0)


def _dong_vi(amount: int) -> str:
    return f"{amount:,} đ".replace(",", ".")


def _vietnam_time(moment: datetime) -> str:
    """dd/mm/yyyy HH:MM in Việt Nam; a moment at the edge of the calendar (year 1, 9999) is shown as given."""
    try:
        return moment.astimezone(VIETNAM).strftime("%d/%m/%Y %H:%M")
    except OverflowError:
        return moment.isoformat()


def _first_whole_minute(moment: datetime) -> datetime:
    """The first whole minute (Việt Nam) at or after ``moment``: the earliest time a form (no seconds) can give."""
    local = moment.astimezone(VIETNAM)
    whole = local.replace(second=0, microsecond=0)
    return whole if whole == local else whole + timedelta(minutes=1)


def _before_arrival(events: list[MoneyEvent], moment: datetime, amount: int, room: int) -> Problem:
    """422 on ``occurred_at``: at that time the money the withdrawal would take had not arrived yet, or was what
    withdrawals after that time take; names the day and time (Việt Nam) from which it would fit, and how that
    money arrived."""
    when = _vietnam_time(moment)
    there = undrawn_at(events, moment)
    if room < there:  # the money had arrived, but withdrawals made after that time take it (first in, first out)
        had_vi = (f"lúc {when} người hưởng có {_dong_vi(there)} đã về mà chưa rút, nhưng các lần rút sau thời điểm "
                  f"đó lấy {_dong_vi(there - room)} trong số này (tiền về trước được rút trước), chỉ còn "
                  f"{_dong_vi(room)}")
        had_en = (f"at {when} {there:,} đồng had arrived and were not withdrawn, but withdrawals made after that "
                  f"time take {there - room:,} đồng of them (first in, first out), leaving {room:,} đồng")
    else:
        had_vi = f"lúc {when} người hưởng chỉ có {_dong_vi(room)} đã về mà chưa rút"
        had_en = f"at {when} only {room:,} đồng had arrived and were not withdrawn"
    arrival = arrival_covering(events, moment, amount)
    if arrival is None:  # the undrawn check before makes this unreachable; said plainly all the same
        since_vi = since_en = "—"
        how_vi = how_en = ""
    else:
        earliest = _first_whole_minute(arrival.at)
        since_vi, since_en = f"{earliest:%H:%M} ngày {earliest:%d/%m/%Y}", f"{earliest:%H:%M} on {earliest:%d/%m/%Y}"
        how_vi, how_en = ((" (ngân hàng báo có vào tài khoản)", " (credited to the account)") if arrival.channel == "bank"
                          else (" (tiền mặt chuyển về xã)", " (the cash reached the commune)"))
    return Problem(422, bilingual(
        f"Thời gian rút không thể trước khi tiền về: {had_vi}; số tiền {_dong_vi(amount)} chỉ có đủ từ "
        f"{since_vi}{how_vi}. Hãy kiểm tra lại thời gian rút",
        f"a withdrawal cannot be earlier than the money it takes: {had_en}; {amount:,} đồng were there only from "
        f"{since_en}{how_en}. Check the time of the withdrawal"),
        errors=[{"row": None, "column": "occurred_at", "message": f"Sớm nhất là {since_vi}, khi tiền đã về",
                 "message_en": f"no earlier than {since_en}, when the money had arrived"}],
        extra={"arrived_on": None if arrival is None else arrival.at.astimezone(VIETNAM).date().isoformat(),
               "arrived_at": None if arrival is None else arrival.at.isoformat(),
               "available_at_that_time": room})


def _after_death(deceased_on: date, channel: str) -> Problem:
    """409: nothing commune staff record after a person's death is the person's own withdrawal. Cash is not
    handed over: the commune gives it back (the officer records a cash return) and until then it stays the
    person's undrawn money. Money taken from the account after the death is recovered by the labour
    department, so staff report it there instead. A withdrawal or handover made before the death is recorded
    with its own time."""
    died = f"{deceased_on:%d/%m/%Y}"
    if channel == "cash_handover":
        vi = (f"Người hưởng đã mất ngày {died}: không giao tiền mặt cho người đã mất. Không giao số tiền này; nộp "
              "lại tiền mặt cho cán bộ để ghi nhận hoàn trả tiền mặt (thu hồi về quỹ). Nếu tiền đã giao trước khi "
              "mất, ghi thời gian giao đúng ngày đã giao")
        en = (f"the beneficiary died on {died}: cash cannot be handed over to a deceased person. Do not hand it "
              "over; return the cash to the officer, who records a cash return (back to the fund). If it was "
              "handed over before the death, give the time it was handed over")
    else:
        vi = (f"Người hưởng đã mất ngày {died}: không ghi nhận rút tiền hộ người đã mất. Tiền rút sau ngày mất "
              "không phải người hưởng rút và phải được thu hồi; hãy báo cho Phòng Lao động - Thương binh và Xã hội "
              "(cán bộ phụ trách) để thu hồi, không ghi vào đây. Nếu người hưởng đã rút trước khi mất, ghi thời "
              "gian rút đúng ngày đã rút")
        en = (f"the beneficiary died on {died}: a withdrawal after the death cannot be recorded as the person's. "
              "Money taken after a death was not withdrawn by the person and is recovered; report it to the labour "
              "department (the officer in charge) instead of recording it here. If the person withdrew before the "
              "death, give the time of that withdrawal")
    return Problem(409, bilingual(vi, en),
                   errors=[{"row": None, "column": "occurred_at", "message": f"Người hưởng đã mất ngày {died}",
                            "message_en": f"the beneficiary died on {died}"}],
                   extra={"deceased_on": deceased_on.isoformat()})


async def _refuse_twice_recorded(session: AsyncSession, beneficiary_id: UUID, *, channel: str, amount: int,
                                 occurred_at: datetime) -> None:
    """409 for a record that would count money twice or money the commune never held: the same record again
    (a form sent twice), an assisted withdrawal the bank has already reported (the bank's record is the fact;
    ``reconciliation.withdrawals._confirm_assisted`` does the same the other way round), or cash handed over to
    a person the commune holds no cash for (paid into a bank account only)."""
    again = await session.scalar(text(
        f"""SELECT w.id FROM withdrawal w
             WHERE w.beneficiary_id = :b AND w.source = 'commune' AND w.channel = :channel AND w.amount = :amount
               AND w.occurred_at = :at AND {LIVE_WITHDRAWAL} LIMIT 1"""),  # noqa: S608 - constants
        {"b": beneficiary_id, "channel": channel, "amount": amount, "at": occurred_at})
    when = _vietnam_time(occurred_at)
    if again is not None:
        raise Problem(409, bilingual(
            f"Đã ghi nhận lần này rồi (số {again}: {_dong_vi(amount)} lúc {when}); không ghi hai lần. Nếu thật sự có "
            "hai lần, ghi lần sau với đúng thời gian của nó",
            f"already recorded (no. {again}: {amount:,} đồng at {when}); not recorded twice. If there really were "
            "two, record the second with its own time"), extra={"withdrawal_id": again})
    if channel == "assisted":
        bank = (await session.execute(text(
            f"""SELECT w.id, w.occurred_at, w.channel, w.bank_reference FROM withdrawal w
                 WHERE w.beneficiary_id = :b AND w.source = 'bank' AND w.amount = :amount
                   AND w.occurred_at BETWEEN CAST(:at AS timestamptz) - interval '{CONFIRM_WINDOW}'
                                         AND CAST(:at AS timestamptz) + interval '{CONFIRM_WINDOW}'
                   AND NOT EXISTS (SELECT 1 FROM withdrawal_cancellation x WHERE x.superseded_by = w.id)
                 ORDER BY abs(extract(epoch FROM w.occurred_at - CAST(:at AS timestamptz))), w.id LIMIT 1"""),  # noqa: S608
            {"b": beneficiary_id, "amount": amount, "at": occurred_at})).first()
        if bank is not None:
            reported = _vietnam_time(bank.occurred_at)
            raise Problem(409, bilingual(
                f"Ngân hàng đã báo lần rút {_dong_vi(amount)} lúc {reported} (kênh {bank.channel}, mã "
                f"{bank.bank_reference}) của người này: đã được tính. Nếu đó là lần cán bộ đã giúp rút, không cần ghi "
                "lại; ghi việc hỗ trợ bằng ghi chú thăm hỏi (Ghi chú liên hệ)",
                f"the bank has reported a withdrawal of {amount:,} đồng at {reported} (channel {bank.channel}, "
                f"reference {bank.bank_reference}) for this person: it is counted. If that is the withdrawal staff "
                "helped with, do not record it again; record the help as a follow-up note"),
                extra={"bank_withdrawal_id": bank.id})
    elif not await session.scalar(text(
            f"""SELECT EXISTS (SELECT 1 FROM payout p WHERE p.beneficiary_id = :b AND p.channel = 'cash'
                                  AND {ARRIVED})"""), {"b": beneficiary_id}):  # noqa: S608 - a constant
        raise Problem(409, bilingual(
            "Người hưởng này nhận tiền qua tài khoản ngân hàng: xã không giữ tiền mặt của họ để giao. Nếu cán bộ đã "
            "giúp họ rút tiền ở ngân hàng, chọn kênh 'assisted' (rút có hỗ trợ)",
            "this beneficiary is paid into a bank account: the commune holds no cash of theirs to hand over. If "
            "staff helped them withdraw at the bank, use the channel 'assisted'"),
            errors=[{"row": None, "column": "channel", "message": "Không có khoản chi tiền mặt nào đã về xã",
                     "message_en": "no cash payout has reached the commune"}])


async def add_assisted_withdrawal(session: AsyncSession, beneficiary_id: UUID, data: AssistedWithdrawalIn,
                                  principal: Principal) -> AssistedWithdrawalOut:
    """Record a withdrawal made with staff help, or cash handed over (the cash channel's withdrawal): no more than
    the person has not withdrawn, and not before that money arrived (``timeline.room_at``)."""
    person = await person_in_scope(session, beneficiary_id, principal)
    amount = int(data.amount)  # a plain int from here on (the ledger takes nothing else)
    channel = data.channel or ("cash_handover" if person.channel == "cash" else "assisted")
    errors = []
    if channel not in ("assisted", "cash_handover"):
        errors.append({"row": None, "column": "channel", "message": "Kênh phải là assisted hoặc cash_handover",
                       "message_en": "channel must be assisted or cash_handover"})
    if not 0 < amount <= MAX_AMOUNT:
        errors.append({"row": None, "column": "amount", "message": "Số tiền phải là số đồng nguyên dương",
                       "message_en": "amount must be a positive whole number of đồng"})
    occurred_at = _aware(data.occurred_at)
    now = datetime.now(UTC)
    detail = None
    if occurred_at > now + CLOCK_SKEW:  # the current minute typed on a phone whose clock runs a little ahead is now
        when, current = _vietnam_time(occurred_at), _vietnam_time(now)
        errors.append({"row": None, "column": "occurred_at",
                       "message": f"Thời gian ở tương lai: {when} (bây giờ là {current})",
                       "message_en": f"time is in the future: {when} (it is now {current})"})
        detail = bilingual(f"Thời gian rút tiền ở tương lai: {when} (bây giờ là {current}); hãy ghi lúc đã rút hoặc "
                           "giao tiền",
                           f"the withdrawal's time is in the future: {when} (it is now {current}); give the time the "
                           "money was withdrawn or handed over")
    if errors:
        raise Problem(422, detail or bilingual("Dữ liệu chưa hợp lệ", "Invalid input"), errors=errors)
    # One person's records one after the other, so two staff cannot both hand over the same money (nor hand it
    # over while an officer records the death: the event locks the person too).
    deceased_on = await session.scalar(text("SELECT deceased_on FROM beneficiary WHERE id = :b FOR UPDATE"),
                                       {"b": beneficiary_id})
    if deceased_on is not None and occurred_at.astimezone(VIETNAM).date() > deceased_on:
        # Nothing a commune records after the death is the person's own withdrawal: cash goes back to the fund,
        # money taken from the account is reported to the labour department for recovery.
        raise _after_death(deceased_on, channel)
    if occurred_at >= EARLIEST_NOTE:  # before ansinh's first month nothing was paid (refused below by the timeline)
        await _refuse_twice_recorded(session, beneficiary_id, channel=channel, amount=amount, occurred_at=occurred_at)
    # The person's money over time (two lookups by person); what it leaves is ``undrawn_amount``.
    events = await money_timeline(session, beneficiary_id)
    available = max(sum(event.amount for event in events), 0)
    if amount > available:
        raise Problem(422, bilingual(
            f"Số tiền {amount:,} đ lớn hơn số tiền người hưởng còn chưa rút ({available:,} đ)".replace(",", "."),
            f"amount {amount:,} đồng is more than the person's undrawn money ({available:,} đồng)"),
            errors=[{"row": None, "column": "amount",
                     "message": f"Tối đa {available:,} đ".replace(",", "."),
                     "message_en": f"at most {available:,} đồng"}])
    # Not before the money it takes arrived (nor pushing a later withdrawal before its money).
    room = room_at(events, occurred_at)
    if amount > room:
        raise _before_arrival(events, occurred_at, amount, room)
    helper = (data.helper_name or principal.full_name or principal.name).strip()[:200]
    note = data.note.strip()[:2000]
    withdrawal_id = await record_commune_withdrawal(
        session, beneficiary_id=beneficiary_id, occurred_at=occurred_at, amount=amount, channel=channel,
        helper_name=helper, note=note, recorded_by=principal.name)
    # Cash handed over in full is the cash payout's outcome: its run may have nothing in flight any more.
    await settle_runs_of_handovers(session, [beneficiary_id], actor=principal.name, cause=f"withdrawal:{channel}")
    await record(session, actor=principal.name, actor_role=principal.role.value, action="withdrawal.assisted",
                 object_type="beneficiary", object_id=beneficiary_id,
                 after={"withdrawal_id": withdrawal_id, "amount": amount, "channel": channel,
                        "occurred_at": occurred_at, "helper_name": helper})
    return AssistedWithdrawalOut(id=withdrawal_id, beneficiary_id=beneficiary_id, occurred_at=occurred_at,
                                 amount=amount, channel=channel, helper_name=helper, note=note,
                                 recorded_by=principal.name,
                                 undrawn_amount=await undrawn_amount(session, beneficiary_id))


async def add_follow_up_note(session: AsyncSession, beneficiary_id: UUID, data: FollowUpNoteIn,
                             principal: Principal) -> FollowUpNoteOut:
    """Record a visit, call or note about a person who has not withdrawn, at ``at`` (default now): not later
    than now (a few minutes of clock skew allowed), not before ansinh's first paid month."""
    await person_in_scope(session, beneficiary_id, principal)
    now = datetime.now(UTC)
    at = _aware(data.at) if data.at is not None else now
    problems = []  # (Vietnamese detail, English detail, field error)
    if data.kind not in NOTE_KINDS:
        problems.append(("Loại ghi chú phải là visit (thăm nhà), call (gọi điện) hoặc note",
                         "kind must be visit, call or note",
                         {"row": None, "column": "kind", "message": "visit / call / note",
                          "message_en": "visit / call / note"}))
    when = _vietnam_time(at)
    if at > now + CLOCK_SKEW:
        problems.append((f"Thời gian liên hệ ở tương lai: {when} (bây giờ là {_vietnam_time(now)}); hãy ghi lúc "
                         "đã thăm hoặc gọi",
                         f"the contact's time is in the future: {when} (it is now {_vietnam_time(now)}); "
                         "give the time of the visit or call",
                         {"row": None, "column": "at", "message": "Không được sau thời điểm hiện tại",
                          "message_en": "cannot be later than now"}))
    elif at < EARLIEST_NOTE:
        first = f"{EARLIEST_NOTE:%d/%m/%Y}"
        problems.append((f"Thời gian liên hệ trước {first}, khi ansinh bắt đầu chi trả: {when}; hãy kiểm tra lại năm",
                         f"the contact's time is before {first}, when ansinh began paying: {when}; check the year",
                         {"row": None, "column": "at", "message": f"Không được trước {first}",
                          "message_en": f"cannot be before {first}"}))
    if problems:
        raise Problem(422, bilingual("; ".join(p[0] for p in problems), "; ".join(p[1] for p in problems)),
                      errors=[p[2] for p in problems])
    row = (await session.execute(text(
        """INSERT INTO follow_up_note (beneficiary_id, kind, at, recorded_by, text)
           VALUES (:b, :kind, :at, :by, :text) RETURNING id, at"""),
        {"b": beneficiary_id, "kind": data.kind, "at": at, "by": principal.name, "text": data.text.strip()[:2000]})
    ).one()
    await record(session, actor=principal.name, actor_role=principal.role.value, action="follow_up.note",
                 object_type="beneficiary", object_id=beneficiary_id, after={"kind": data.kind, "note_id": row.id})
    return FollowUpNoteOut(id=row.id, beneficiary_id=beneficiary_id, kind=data.kind, at=row.at,
                           recorded_by=principal.name, text=data.text.strip()[:2000])


async def list_follow_up_notes(session: AsyncSession, beneficiary_id: UUID,
                               principal: Principal) -> list[FollowUpNoteOut]:
    """The person's notes, newest first."""
    await person_in_scope(session, beneficiary_id, principal)
    rows = await session.execute(text(
        """SELECT id, kind, at, recorded_by, text FROM follow_up_note WHERE beneficiary_id = :b
            ORDER BY at DESC, id DESC"""), {"b": beneficiary_id})
    return [FollowUpNoteOut(id=r.id, beneficiary_id=beneficiary_id, kind=r.kind, at=r.at, recorded_by=r.recorded_by,
                            text=r.text) for r in rows]


async def list_withdrawals(session: AsyncSession, beneficiary_id: UUID, principal: Principal) -> list[WithdrawalOut]:
    """The person's withdrawals, newest first, cancelled ones marked."""
    await person_in_scope(session, beneficiary_id, principal)
    return await _withdrawals(session, beneficiary_id)


async def _withdrawals(session: AsyncSession, beneficiary_id: UUID,
                       withdrawal_id: int | None = None) -> list[WithdrawalOut]:
    rows = await session.execute(text(
        """SELECT w.id, w.occurred_at, w.amount, w.channel, w.source, w.bank_bin, k.short_name AS bank_name,
                  w.bank_reference, w.recorded_by, w.helper_name, w.note, c.cancelled_at, c.cancelled_by,
                  c.reason AS cancel_reason
             FROM withdrawal w LEFT JOIN withdrawal_cancellation c ON c.withdrawal_id = w.id
             LEFT JOIN bank k ON k.bin = w.bank_bin
            WHERE w.beneficiary_id = :b AND (CAST(:id AS bigint) IS NULL OR w.id = :id)
            ORDER BY w.occurred_at DESC, w.id DESC"""), {"b": beneficiary_id, "id": withdrawal_id})
    return [WithdrawalOut(beneficiary_id=beneficiary_id, **row._mapping) for row in rows]


async def cancel_assisted_withdrawal(session: AsyncSession, beneficiary_id: UUID, withdrawal_id: int,
                                     data: WithdrawalCancelIn, principal: Principal) -> WithdrawalOut:
    """Cancel an assisted withdrawal or cash handover recorded by mistake (reason required, audited); the
    person's allocation and undrawn balance are recomputed without it."""
    await person_in_scope(session, beneficiary_id, principal)
    reason = data.reason.strip()
    if not 3 <= len(reason) <= 2000:
        raise Problem(422, bilingual("Cần ghi lý do huỷ (ít nhất 3 ký tự)", "a reason is required (3 characters or more)"),
                      errors=[{"row": None, "column": "reason", "message": "Cần ghi lý do huỷ",
                               "message_en": "reason required"}])
    try:
        await cancel_commune_withdrawal(session, beneficiary_id=beneficiary_id, withdrawal_id=withdrawal_id,
                                        reason=reason, cancelled_by=principal.name)
    except LookupError:
        raise Problem(404, bilingual("Không tìm thấy giao dịch rút tiền của người này",
                                     "no such withdrawal for this person")) from None
    except CancelRefused as refused:
        raise Problem(409, bilingual(refused.vi, refused.en)) from None
    await record(session, actor=principal.name, actor_role=principal.role.value, action="withdrawal.cancel",
                 object_type="beneficiary", object_id=beneficiary_id,
                 after={"withdrawal_id": withdrawal_id, "reason": reason})
    (item,) = await _withdrawals(session, beneficiary_id, withdrawal_id)
    return item
