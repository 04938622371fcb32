"""Payout runs: creation (within the payable periods), lookup, summaries, progress, the per-run work
lock, the state each step starts from, and cancelling a run before approval (settling and closing a sent
run: ``settlement``)."""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession

from app.audit.service import record
from app.payouts.models import PayoutRun
from app.payouts.service.errors import Conflict, NotFound, PayoutError, RunStateConflict
from app.vietnam_time import VIETNAM, month_text
from reconciliation.matching import RETURN_REASON_MESSAGES

log = structlog.get_logger()

ARREARS_MONTHS = 12
# The first month ansinh pays: the province's cashless payments start with 2025; earlier months were
# paid outside the system (and the demo and every test world start later).
FIRST_PAYABLE_PERIOD = date(2025, 1, 1)
# Statuses before approval: nothing of the run is in the ledger yet, so it can be recomputed or cancelled.
BEFORE_APPROVAL = ("draft", "computing", "computed")
# Statuses of a run not yet sent (nor cancelled): its months are still being worked out or paid.
UNFINISHED = (*BEFORE_APPROVAL, "approved", "sending")
# How each kind of run reads in a sentence (Vietnamese, English); the pages use ``runs.kind.*``.
KIND_WORDS = {"regular": ("thường kỳ", "regular"), "supplementary": ("bổ sung", "supplementary")}
# How each status reads in a Vietnamese sentence ("Đợt chi đã gửi ngân hàng, ...").
STATUS_VI = {"draft": "còn là nháp", "computing": "đang tính", "computed": "đã tính, chưa duyệt",
             "approved": "đã được duyệt", "sending": "đang gửi ngân hàng", "sent": "đã gửi ngân hàng",
             "settled": "đã đối soát", "closed": "đã đóng", "cancelled": "đã bị hủy"}


def in_provinces(commune_column: str, provinces: Sequence[str] | None) -> str:
    """An SQL condition, " AND …" bound to ``:provinces``, keeping the rows whose commune (``commune_column``) is
    in ``provinces``: a province-limited caller's share of a run. Empty without a limit (None)."""
    if provinces is None:
        return ""
    return f" AND {commune_column} IN (SELECT code FROM commune WHERE province_code = ANY(:provinces))"  # noqa: S608 - a column name of ours


async def province_names(session: AsyncSession, provinces: Sequence[str]) -> dict[str, str]:
    """Province code → name, for the codes given."""
    rows = await session.execute(text("SELECT code, name FROM province WHERE code = ANY(:codes)"),
                                 {"codes": list(provinces)})
    return {row.code: row.name for row in rows}


async def scope_line(session: AsyncSession, provinces: Sequence[str]) -> str:
    """How a list of a run says it holds a province-limited caller's share only, Vietnamese / English:
    "Trong phạm vi của bạn: Điện Biên (11) / Within your scope: Điện Biên (11)"."""
    rows = await session.execute(text("SELECT code, name FROM province WHERE code = ANY(:codes)"),
                                 {"codes": list(provinces)})
    names: dict[str, str] = {row.code: row.name for row in rows}
    places = ", ".join(f"{names.get(code, code)} ({code})" for code in provinces)
    return f"Trong phạm vi của bạn: {places} / Within your scope: {places}"


def parse_period(period: str) -> date:
    """'YYYY-MM' (the API's form), or 'MM/YYYY' as staff write a month on the pages → the first day of that month."""
    try:
        if "/" in period:
            month, year = period.strip().split("/")
        else:
            year, month = period.strip().split("-")
        if len(year) != 4 or len(month) != 2 or not (year.isdigit() and month.isdigit()):
            raise ValueError
        return date(int(year), int(month), 1)
    except ValueError:
        raise PayoutError(f"Kỳ chi trả phải có dạng MM/YYYY (ví dụ 03/2026) hoặc YYYY-MM, nhận được {period!r}",
                          f"period must be MM/YYYY (for example 03/2026) or YYYY-MM, got {period!r}") from None


def format_period(month: date) -> str:
    return f"{month.year:04d}-{month.month:02d}"


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def current_month(today: date | None = None) -> date:
    """The first day of the current month in Việt Nam (or of ``today``'s month)."""
    return (today or datetime.now(VIETNAM).date()).replace(day=1)


async def payable_periods(session: AsyncSession, programme: str, *,
                          today: date | None = None) -> tuple[date | None, date]:
    """The first and last period a run of ``programme`` may have (the first is None: no base amount yet).

    First: the later of 2025-01 (``FIRST_PAYABLE_PERIOD``) and the month of the programme's first base
    amount (a month without one has nothing to pay). Last: the month after the current one in Việt Nam
    (the schedule computes next month's run on the 20th); a later period would pay future months."""
    first_rate = await session.scalar(text(
        "SELECT min(effective_from) FROM programme_rate WHERE programme_code = :programme"), {"programme": programme})
    first = None if first_rate is None else max(FIRST_PAYABLE_PERIOD, first_rate.replace(day=1))
    return first, add_months(current_month(today), 1)


async def check_payable_period(session: AsyncSession, programme: str, month: date, *,
                               today: date | None = None) -> None:
    """Refuse (422) a period outside ``payable_periods``, saying which periods are allowed."""
    first, last = await payable_periods(session, programme, today=today)
    period = month_text(month)
    if first is None:
        raise PayoutError(f"Chương trình {programme} chưa có mức chuẩn nào nên chưa chi trả được",
                          f"programme {programme} has no base amount yet, so nothing can be paid")
    if month < first:
        raise PayoutError(
            f"Kỳ {period} quá sớm: {programme} chỉ chi trả được từ kỳ {month_text(first)} "
            f"(ansinh chi trả từ kỳ {month_text(FIRST_PAYABLE_PERIOD)} và từ khi chương trình có mức chuẩn)",
            f"period {period} is too early: {programme} can be paid from {month_text(first)} on "
            f"(ansinh pays from {month_text(FIRST_PAYABLE_PERIOD)}, and from the programme's first base amount)")
    if month > last:
        raise PayoutError(
            f"Kỳ {period} quá xa: chỉ lập được đợt chi đến kỳ {month_text(last)} (tháng sau của tháng hiện tại)",
            f"period {period} is too far ahead: runs can be prepared up to {month_text(last)} "
            "(the month after the current one)")


async def create_run(session: AsyncSession, *, programme: str, period: str, actor: str,
                     kind: str = "regular", today: date | None = None) -> PayoutRun:
    """A draft run for a payable period (``payable_periods``; ``today`` stands in for the clock). Arrears
    reach back at most 12 months and never before the programme's first run in ansinh (its go-live:
    earlier months were paid outside the system). Cancelled runs do not count."""
    month = parse_period(period)
    if kind not in ("regular", "supplementary"):
        raise PayoutError("Loại đợt chi phải là regular hoặc supplementary",
                          "kind must be regular or supplementary")
    exists = await session.scalar(text("SELECT 1 FROM programme WHERE code = :code"), {"code": programme})
    if not exists:
        raise NotFound(f"Không có chương trình {programme}", f"no programme {programme}")
    await check_payable_period(session, programme, month, today=today)
    live = PayoutRun.status != "cancelled"
    if kind == "supplementary":
        # One creation of a programme and period's runs at a time, so two requests cannot both pass the
        # check below (the database holds the one-regular-run rule, not this one).
        await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                              {"key": f"payout_run:{programme}:{period}"})
        regular = await session.scalar(select(PayoutRun.status).where(
            PayoutRun.programme_code == programme, PayoutRun.period == month, PayoutRun.kind == "regular", live))
        if regular is None:
            raise Conflict("Chưa có đợt chi thường kỳ cho kỳ này", "no regular run for this period yet")
        await check_no_unfinished_run(session, programme, month)
    arrears_from = await arrears_from_for(session, programme, month)
    run = PayoutRun(programme_code=programme, period=month, kind=kind, status="draft",
                    arrears_from=arrears_from, created_by=actor)
    session.add(run)
    try:
        async with session.begin_nested():
            await session.flush()
    except IntegrityError:
        raise Conflict(f"Đã có đợt chi thường kỳ {programme} {period}",
                       f"a regular run for {programme} {period} already exists") from None
    await record(session, actor=actor, action="payout_run.create", object_type="payout_run", object_id=run.id,
                 after={"programme": programme, "period": period, "kind": kind,
                        "arrears_from": format_period(run.arrears_from)})
    return run


async def arrears_from_for(session: AsyncSession, programme: str, month: date) -> date:
    """The first month a run of ``programme`` for ``month`` pays a never-paid month from: 12 months back
    (``ARREARS_MONTHS``), never before the programme's go-live (its first run not cancelled). Months ansinh
    already found due and left unpaid are paid whatever their age (``compute.older_months_owed``)."""
    go_live = await session.scalar(select(func.min(PayoutRun.period)).where(
        PayoutRun.programme_code == programme, PayoutRun.status != "cancelled"))
    return min(max(add_months(month, -(ARREARS_MONTHS - 1)), go_live or month), month)


async def check_no_unfinished_run(session: AsyncSession, programme: str, month: date) -> None:
    """409 for a new supplementary run while another run of the programme and period is not yet sent or
    cancelled: two unfinished runs would compete for the same months."""
    unfinished = (await session.execute(
        select(PayoutRun.kind, PayoutRun.status).where(
            PayoutRun.programme_code == programme, PayoutRun.period == month, PayoutRun.status.in_(UNFINISHED))
        .order_by(PayoutRun.created_at).limit(1))).first()
    if unfinished is not None:
        kind_vi, kind_en = KIND_WORDS[unfinished.kind]
        period = format_period(month)
        raise Conflict(
            f"Đợt chi {kind_vi} {programme} {period} {STATUS_VI[unfinished.status]}: hãy gửi hoặc hủy "
            "đợt đó trước khi lập đợt bổ sung",
            f"the {kind_en} run for {programme} {period} is {unfinished.status}: send or cancel it before "
            "creating a supplementary run")


async def get_run(session: AsyncSession | AsyncConnection, run_id: UUID) -> PayoutRun:
    run = (await session.execute(select(PayoutRun).where(PayoutRun.id == run_id))).scalar_one_or_none()
    if run is None:
        raise NotFound("Không tìm thấy đợt chi", "payout run not found")
    return run


async def list_runs(session: AsyncSession, *, programme: str | None = None, period: str | None = None,
                    status: str | None = None, limit: int | None = None) -> list[PayoutRun]:
    """Runs, newest period first, in one query."""
    query = select(PayoutRun).order_by(PayoutRun.period.desc(), PayoutRun.created_at.desc())
    if programme:
        query = query.where(PayoutRun.programme_code == programme)
    if period:
        query = query.where(func.to_char(PayoutRun.period, "YYYY-MM") == period)
    if status:
        query = query.where(PayoutRun.status == status)
    if limit is not None:
        query = query.limit(limit)
    return list((await session.scalars(query)).all())


# Why a run did not pay someone. The first two are holds: the person is owed the money, and the first run
# after an officer fixes the cause pays the held months as arrears.
SKIP_REASON_MESSAGES = {
    "deceased_reported": ("Ngân hàng báo người hưởng đã mất (MD07), chờ cán bộ xác minh",
                          "the bank reports the person deceased (MD07); waiting for an officer to check"),
    "bank_account_unusable": ("Ngân hàng hoàn trả vì tài khoản không nhận được tiền, cần đăng ký tài khoản đã sửa",
                              "the bank returned a payout because the account cannot receive money; "
                              "register a corrected account"),
    "no_bank_account": ("Chưa có tài khoản ngân hàng", "no bank account"),
    "bank_account_closed": ("Tài khoản ngân hàng đã đóng", "the bank account is closed"),
    "bank_account_name_mismatch": ("Tên chủ tài khoản không khớp", "the account holder name does not match"),
}
HOLD_REASONS = ("deceased_reported", "bank_account_unusable")
LISTED_SKIPS = 1000


def skip_texts(reason: str, detail: str | None) -> tuple[str, str]:
    """Why a person was not paid (Vietnamese, English), with the bank's return code when there is one."""
    vi, en = SKIP_REASON_MESSAGES.get(reason, (reason, reason))
    if detail:
        code_vi, code_en = RETURN_REASON_MESSAGES.get(detail, (detail, detail))
        vi, en = f"{vi} ({detail}: {code_vi})", f"{en} ({detail}: {code_en})"
    return vi, en


def skip_message(reason: str, detail: str | None) -> str:
    """Why a person was not paid, Vietnamese / English, with the bank's return code when there is one."""
    return " / ".join(skip_texts(reason, detail))


@dataclass
class RunSummary:
    run: PayoutRun
    by_bank: list[dict[str, Any]]
    by_commune: list[dict[str, Any]]
    by_status: dict[str, int]
    # Skipped for good (no usable account, a name mismatch …); the held are a list of their own, never in both.
    skipped: list[dict[str, Any]]
    held: list[dict[str, Any]]
    held_count: int
    skipped_count: int = 0
    # Payouts withheld at approval or send because of registry changes recorded after compute.
    withheld: list[dict[str, Any]] = dataclasses.field(default_factory=list)
    withheld_count: int = 0
    # Of a settled or closed run: what is still open for an officer (``settlement.open_items``).
    open_items: dict[str, Any] | None = None
    # Of a province-limited caller: their provinces and the run's payouts there (count, total); the lists above
    # hold only those provinces' people. None: the whole run.
    scope: dict[str, Any] | None = None


async def run_summary(session: AsyncSession, run_id: UUID, *, provinces: Sequence[str] | None = None) -> RunSummary:
    """Counts and totals of a run by bank, by commune and by status, and who was skipped. By bank and by
    commune count what is to be paid: cancelled (withheld) payouts are left out; by status keeps them.
    ``provinces``: a province-limited caller's, every list and count over those provinces' people only."""
    run = await get_run(session, run_id)
    params: dict[str, Any] = {"run": run_id, "provinces": list(provinces or ())}
    of_payout, of_person = in_provinces("p.commune_code", provinces), in_provinces("b.commune_code", provinces)
    # Once sent: how many of the bank's orders a payment order batch took (the bank's fetch or an officer's
    # pain.001 download), how many sent ones none took yet, and the batches (MsgIds) that hold them.
    sent = run.status in ("sending", "sent", "settled", "closed")
    fetched = ("count(i.payout_id)", "count(*) FILTER (WHERE i.payout_id IS NULL AND p.status = 'sent')",
               "LEFT JOIN payment_order_batch_item i ON i.payout_id = p.id") if sent else ("0", "0", "")
    by_bank = [dict(r._mapping) for r in await session.execute(text(
        f"""SELECT coalesce(p.bank_bin, 'cash') AS bank_bin, coalesce(b.short_name, 'Tiền mặt/Cash') AS bank_name,
                   count(*) AS count, sum(p.amount)::bigint AS amount, {fetched[0]} AS fetched,
                   {fetched[1]} AS not_in_a_batch
              FROM payout p LEFT JOIN bank b ON b.bin = p.bank_bin {fetched[2]}
             WHERE p.run_id = :run AND p.status <> 'cancelled'{of_payout} GROUP BY 1, 2 ORDER BY 1"""),  # noqa: S608
        params)]
    if run.status in ("sent", "settled", "closed"):  # not while sending: its progress is polled every second
        from app.payouts.service.orders import run_batches  # orders imports this module

        batches = await run_batches(session, run_id, provinces=provinces)
        for row in by_bank:
            row["batches"] = [batch for batch in batches if batch["bank_bin"] == row["bank_bin"]]
    by_commune = [dict(r._mapping) for r in await session.execute(text(
        f"""SELECT p.commune_code, c.name AS commune_name, count(*) AS count, sum(p.amount)::bigint AS amount
              FROM payout p JOIN commune c ON c.code = p.commune_code
             WHERE p.run_id = :run AND p.status <> 'cancelled'{of_payout} GROUP BY 1, 2 ORDER BY 1"""),  # noqa: S608
        params)]
    by_status = {r.status: int(r.n) for r in await session.execute(text(
        f"SELECT status, count(*) AS n FROM payout p WHERE run_id = :run{of_payout} GROUP BY status"),  # noqa: S608
        params)}
    skipped = [_skip_output(r) for r in await session.execute(text(
        f"""SELECT s.beneficiary_id, b.full_name, b.commune_code, c.name AS commune_name, s.reason, s.detail,
                   s.since, s.amount
              FROM payout_run_skip s JOIN beneficiary b ON b.id = s.beneficiary_id
              JOIN commune c ON c.code = b.commune_code
             WHERE s.run_id = :run AND s.reason <> ALL(:holds){of_person}
             ORDER BY b.commune_code, b.name_sort_key LIMIT :limit"""),  # noqa: S608
        {**params, "holds": list(HOLD_REASONS), "limit": LISTED_SKIPS})]
    skipped_count, held_count = (int(n) for n in (await session.execute(text(
        f"""SELECT count(*) FILTER (WHERE reason <> ALL(:holds)), count(*) FILTER (WHERE reason = ANY(:holds))
              FROM payout_run_skip s{' JOIN beneficiary b ON b.id = s.beneficiary_id' if provinces is not None else ''}
             WHERE s.run_id = :run{of_person}"""),  # noqa: S608
        {**params, "holds": list(HOLD_REASONS)})).one())
    held = [_skip_output(r) for r in await session.execute(text(
        f"""SELECT s.beneficiary_id, b.full_name, b.commune_code, c.name AS commune_name, s.reason, s.detail,
                   s.since, s.amount
              FROM payout_run_skip s JOIN beneficiary b ON b.id = s.beneficiary_id
              JOIN commune c ON c.code = b.commune_code
             WHERE s.run_id = :run AND s.reason = ANY(:holds){of_person}
             ORDER BY s.since NULLS LAST, b.commune_code, b.name_sort_key LIMIT :limit"""),  # noqa: S608
        {**params, "holds": list(HOLD_REASONS), "limit": LISTED_SKIPS})] if held_count else []
    withheld: list[dict[str, Any]] = []
    withheld_count = 0
    if by_status.get("cancelled"):
        from app.payouts.service.recheck import withheld_in_run  # recheck imports this module

        withheld, withheld_count = await withheld_in_run(session, run_id, provinces=provinces)
    open_items = None
    if run.status in ("settled", "closed"):
        from app.payouts.service import settlement  # settlement imports this module

        open_items = (await settlement.open_items(session, run, provinces=provinces)).as_dict()
    scope = None
    if provinces is not None:
        scope = {"provinces": list(provinces), "count": sum(int(row["count"]) for row in by_bank),
                 "total_amount": sum(int(row["amount"]) for row in by_bank)}
    return RunSummary(run=run, by_bank=by_bank, by_commune=by_commune, by_status=by_status, skipped=skipped,
                      held=held, held_count=held_count, skipped_count=skipped_count, withheld=withheld,
                      withheld_count=withheld_count, open_items=open_items, scope=scope)


def _skip_output(row: Any) -> dict[str, Any]:
    vi, en = skip_texts(row.reason, row.detail)
    return {"beneficiary_id": row.beneficiary_id, "full_name": row.full_name, "commune_code": row.commune_code,
            "commune_name": row.commune_name, "reason": row.reason, "return_reason": row.detail,
            "message": f"{vi} / {en}", "reason_vi": vi, "reason_en": en, "since": row.since, "amount": row.amount}


async def set_progress(conn: AsyncConnection, run_id: UUID, *, phase: str | None = None,
                       done: int | None = None, total: int | None = None) -> None:
    """Record progress of the current phase (committed by the caller with its chunk)."""
    values: dict[str, Any] = {"run": run_id}
    sets = []
    if phase is not None:
        sets += ["phase = :phase", "progress_started_at = now()", "progress_done = 0"]
        values["phase"] = phase
    if done is not None:
        sets.append("progress_done = :done")
        values["done"] = done
    if total is not None:
        sets.append("progress_total = :total")
        values["total"] = total
    await conn.execute(text(f"UPDATE payout_run SET {', '.join(sets)} WHERE id = :run"), values)  # noqa: S608


def busy_conflict() -> RunStateConflict:
    """409: another step holds the run's work lock."""
    return RunStateConflict("Đợt chi đang được xử lý, hãy chờ", "this run is being processed; wait for it")


def _lock_key(run_id: UUID) -> int:
    return int.from_bytes(hashlib.sha256(b"payout_run:" + run_id.bytes).digest()[:8], "big", signed=True)


@contextlib.asynccontextmanager
async def run_work_lock(engine: AsyncEngine, run_id: UUID) -> AsyncIterator[AsyncConnection]:
    """A connection holding the run's advisory lock: one compute/approve/send of a run at a time.

    The lock dies with the process, so a run left half-way by a crash can be resumed at once.
    """
    conn = await engine.connect()
    try:
        got = (await conn.execute(text("SELECT pg_try_advisory_lock(:key)"), {"key": _lock_key(run_id)})).scalar()
        await conn.commit()
        if not got:
            raise busy_conflict()
        try:
            yield conn
        finally:
            await conn.rollback()
            await conn.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key(run_id)})
            await conn.commit()
    finally:
        await conn.close()


def utcnow() -> datetime:
    return datetime.now(UTC)


async def run_is_busy(session: AsyncSession, run_id: UUID) -> bool:
    """Whether a compute, approve, send or cancel holds the run's work lock right now."""
    key = {"key": _lock_key(run_id)}
    if await session.scalar(text("SELECT pg_try_advisory_lock(:key)"), key):
        await session.scalar(text("SELECT pg_advisory_unlock(:key)"), key)
        return False
    return True


# The state each step starts from. Each check runs twice: in the request, before it answers (a clear 409
# whatever the run's size), and in the step itself under the run's work lock (the state may have moved
# on in between: a ``RunStateConflict`` there means another request got there first).

def _refuse_cancelled(run: PayoutRun) -> None:
    if run.status == "cancelled":
        raise RunStateConflict("Đợt chi đã bị hủy", "the run is cancelled")


def check_computable(run: PayoutRun) -> None:
    """A run can be computed, and computed again, until it is approved."""
    _refuse_cancelled(run)
    if run.status not in BEFORE_APPROVAL:
        raise RunStateConflict(f"Đợt chi {STATUS_VI[run.status]}, không tính lại được nữa",
                               f"run is {run.status}; it can no longer be computed")


def check_approvable(run: PayoutRun, actor: str) -> bool:
    """A computed run, approved by someone other than its preparer; True when an approval that stopped
    half-way is resumed."""
    _refuse_cancelled(run)
    resuming = run.status == "approved" and run.phase == "approving"
    if not resuming and run.status in ("approved", "sending", "sent", "settled", "closed"):
        raise RunStateConflict("Đợt chi đã được duyệt", "the run is already approved")
    if not resuming and run.status != "computed":
        raise RunStateConflict(f"Chỉ duyệt được đợt chi đã tính (đợt chi này {STATUS_VI[run.status]})",
                               f"only a computed run can be approved (it is {run.status})")
    # Usernames are one name whatever their case (sign-in and --as find them so): the preparer spelled otherwise
    # is still the preparer.
    if run.prepared_by is not None and run.prepared_by.lower() == actor.lower():
        raise Conflict("Người lập không được tự duyệt đợt chi (nguyên tắc hai người)",
                       "the preparer cannot approve their own run (maker-checker)")
    return resuming


def check_sendable(run: PayoutRun) -> None:
    """An approved run whose approval finished (or a send that stopped half-way)."""
    _refuse_cancelled(run)
    if run.status == "approved" and run.phase == "approving":
        raise RunStateConflict("Việc duyệt chưa xong, hãy chạy duyệt lại", "approval did not finish; approve again")
    if run.status in ("sent", "settled", "closed"):
        raise RunStateConflict(f"Đợt chi {STATUS_VI[run.status]}, không gửi lại được",
                               f"run is {run.status}; it cannot be sent again")
    if run.status not in ("approved", "sending"):
        raise RunStateConflict(f"Chỉ gửi được đợt chi đã duyệt (đợt chi này {STATUS_VI[run.status]})",
                               f"only an approved run can be sent (it is {run.status})")


def check_cancellable(run: PayoutRun) -> None:
    """Only before approval: afterwards the run's money is in the ledger (entitlements posted, orders sent)."""
    if run.status == "cancelled":
        raise RunStateConflict("Đợt chi đã bị hủy trước đó", "the run is already cancelled")
    if run.status not in BEFORE_APPROVAL:
        raise RunStateConflict(
            f"Đợt chi {STATUS_VI[run.status]}: tiền đã được ghi sổ kế toán nên không hủy được",
            f"the run is {run.status}: its money has already moved through the ledger, so it cannot be cancelled")


async def check_no_live_supplementary(session: AsyncSession, run: PayoutRun) -> None:
    """A regular run is cancelled only after the period's supplementary runs: one left alive would hold the
    months and pay them as if it were the regular run (a supplementary run needs a regular one)."""
    if run.kind != "regular":
        return
    live = await session.scalar(text(
        """SELECT count(*) FROM payout_run WHERE programme_code = :programme AND period = :period
              AND kind = 'supplementary' AND status <> 'cancelled'"""),
        {"programme": run.programme_code, "period": run.period})
    if live:
        raise Conflict(f"Đợt chi có {live} đợt bổ sung chưa hủy: hãy hủy các đợt bổ sung trước",
                       f"the period has {live} supplementary run(s) not cancelled: cancel them first")


def cancel_reason(reason: str | None) -> str:
    """The reason given for cancelling, trimmed; required, at most 500 characters."""
    cleaned = (reason or "").strip()
    if not cleaned:
        raise PayoutError("Cần ghi lý do hủy đợt chi", "a reason is required to cancel a run")
    if len(cleaned) > 500:
        raise PayoutError("Lý do hủy đợt chi dài quá 500 ký tự", "the reason must be at most 500 characters")
    return cleaned


def staging_tables(run_id: UUID) -> tuple[str, str]:
    """The unlogged staging tables of a run's compute (entitlements, plan); gone once a compute ends."""
    return f"compute_entitlement_{run_id.hex}", f"compute_plan_{run_id.hex}"


async def remove_run_payouts(session: AsyncSession, run_id: UUID) -> int:
    """Delete a run's payouts, the (enrolment, month) rows they paid and its skipped people, so another
    run can pay those months; returns how many payouts went. The database refuses it once the run is
    approved (``payout_guard``, ``payout_month_guard``)."""
    await session.execute(text("DELETE FROM payout_month pm USING payout p WHERE pm.payout_id = p.id AND p.run_id = :run"),
                          {"run": run_id})
    deleted = await session.execute(text("DELETE FROM payout WHERE run_id = :run"), {"run": run_id})
    await session.execute(text("DELETE FROM payout_run_skip WHERE run_id = :run"), {"run": run_id})
    return int(deleted.rowcount or 0)  # type: ignore[attr-defined]


async def cancel_run(engine: AsyncEngine, run_id: UUID, *, actor: str, reason: str) -> None:
    """Cancel a run before approval, in one transaction: its payouts and paid months are removed (the
    months can be paid by another run, and a new regular run of the period can be made) and the run
    stays, cancelled, with who, when and why."""
    reason = cancel_reason(reason)
    async with run_work_lock(engine, run_id) as conn:
        async with AsyncSession(bind=conn, expire_on_commit=False) as session:
            run = await get_run(session, run_id)
            check_cancellable(run)
            await check_no_live_supplementary(session, run)
            removed = await remove_run_payouts(session, run_id)
            # A compute killed half-way left its staging tables behind (a rerun would have dropped them).
            await session.execute(text(f"DROP TABLE IF EXISTS {', '.join(staging_tables(run_id))}"))
            await session.execute(text(
                """UPDATE payout_run SET status = 'cancelled', cancelled_by = :actor, cancelled_at = now(),
                          cancel_reason = :reason, phase = NULL, last_error = NULL, payout_count = 0,
                          total_amount = 0, progress_done = 0, progress_total = 0
                    WHERE id = :run"""), {"actor": actor, "reason": reason, "run": run_id})
            await record(session, actor=actor, action="payout_run.cancel", object_type="payout_run",
                         object_id=run_id,
                         before={"status": run.status, "payouts": run.payout_count, "total": run.total_amount},
                         after={"status": "cancelled", "reason": reason, "payouts_removed": removed})
            await session.commit()
    log.info("payout_run_cancelled", run=str(run_id), payouts_removed=removed)
