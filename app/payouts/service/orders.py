"""Payment order files from the payouts table: a bank's batches, and lists of a run's orders per bank.

An order (its EndToEndId) reaches its bank in one payment message only: the batch that took it, under the
batch's MsgId — whether the bank's key fetched it or an officer downloaded it to hand over. A run's xlsx and
CSV are lists for checking that name each order's batch; they carry no MsgId of their own."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from uuid import UUID

import structlog
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.payouts.order_files import (
    MESSAGE_ID,
    CashPayout,
    PaymentBatchHeader,
    PaymentOrder,
    write_cash_handover_xlsx,
    write_orders_csv,
    write_orders_xlsx,
    write_pain001,
)
from app.payouts.service.errors import NotFound, PayoutError
from app.payouts.service.runs import format_period, in_provinces
from app.registry.identity import mask_digits
from app.vietnam_time import vietnam_today

ORDER_FORMATS = {
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
    "csv": ("text/csv", "csv"),  # Litestar adds "; charset=utf-8" to text/* types
    "pain001": ("application/xml", "xml"),
}
log = structlog.get_logger()
# Shown as written in the workbooks; a bank file carries it in ISO 20022 Latin ("SO LAO DONG - THUONG BINH VA
# XA HOI / LABOUR DEPARTMENT", the same as before it had its accents: batches fetched again are unchanged).
DEBTOR_NAME = "Sở Lao động - Thương binh và Xã hội / Labour department"

_ORDER_ROWS = """
    SELECT p.id, p.reference, p.amount, p.bank_bin, p.account_number, p.holder_name, p.commune_code, p.status,
           p.channel, p.return_reason, p.withdrawn_at, c.name AS commune_name, b.full_name, b.national_id, b.address,
           b.deceased_on, bk.short_name AS bank_short_name,
           r.programme_code, pr.name_vi AS programme_name, r.period,
           (SELECT array_agg(to_char(pm.month, 'YYYY-MM') ORDER BY pm.month)
              FROM payout_month pm WHERE pm.payout_id = p.id) AS months
      FROM payout p
      JOIN payout_run r ON r.id = p.run_id
      JOIN programme pr ON pr.code = r.programme_code
      JOIN beneficiary b ON b.id = p.beneficiary_id
      JOIN commune c ON c.code = p.commune_code
      LEFT JOIN bank bk ON bk.bin = p.bank_bin
"""


def _order(row: Any) -> PaymentOrder:
    return PaymentOrder(
        reference=row.reference, payout_id=row.id, beneficiary_name=row.full_name, national_id=row.national_id,
        commune_code=row.commune_code, commune_name=row.commune_name, bank_bin=row.bank_bin,
        bank_short_name=row.bank_short_name, account_number=row.account_number, holder_name=row.holder_name or "",
        amount=int(row.amount), months=tuple(row.months or ()), programme_code=row.programme_code,
        programme_name=row.programme_name, period=format_period(row.period), return_reason=row.return_reason)


def deceased_note(deceased_on: date) -> str:
    """The mark of cash not to hand over: the person's death is recorded (Vietnamese / English)."""
    died = f"{deceased_on:%d/%m/%Y}"
    return (f"Đã mất (ngày {died}) — không giao tiền, báo cán bộ để thu hồi / "
            f"Deceased on {died} — do not hand over; tell the officer")


def _cash(row: Any, *, mask_ids: bool = False) -> CashPayout:
    # Cash still at the commune of a person whose death is recorded is not handed over (the officer recovers it)
    not_to_hand_over = row.deceased_on is not None and row.status == "sent" and row.withdrawn_at is None
    return CashPayout(
        reference=row.reference, payout_id=row.id, beneficiary_name=row.full_name,
        national_id=(mask_digits(row.national_id) or "") if mask_ids else row.national_id,
        commune_code=row.commune_code, commune_name=row.commune_name, amount=int(row.amount),
        months=tuple(row.months or ()), programme_code=row.programme_code, programme_name=row.programme_name,
        period=format_period(row.period), address=row.address or "",
        note=deceased_note(row.deceased_on) if not_to_hand_over else "", not_to_hand_over=not_to_hand_over)


async def _header(session: AsyncSession, bank_bin: str, message_id: str | None,
                  now: datetime) -> PaymentBatchHeader:
    """The file's header made at ``now``: requested for execution on that day in Việt Nam (not in UTC, still
    the day before until 07:00 there)."""
    row = (await session.execute(text(
        """SELECT b.short_name, d.account_number FROM bank b
             LEFT JOIN disbursement_account d ON d.bank_bin = b.bin AND d.closed_at IS NULL
            WHERE b.bin = :bin"""), {"bin": bank_bin})).first()
    if row is None:
        raise NotFound(f"Không có ngân hàng {bank_bin}", f"no bank {bank_bin}")
    if row.account_number is None:
        raise PayoutError("Ngân hàng chưa có tài khoản chi được đăng ký",
                          "the bank has no registered disbursement account")
    return PaymentBatchHeader(message_id=message_id[:35] if message_id else None, created_at=now,
                              requested_execution_date=vietnam_today(now), debtor_name=DEBTOR_NAME,
                              debtor_account_number=row.account_number, debtor_bank_bin=bank_bin,
                              debtor_bank_name=row.short_name)


def render_orders(header: PaymentBatchHeader, orders: Sequence[PaymentOrder], file_format: str,
                  batch_of: Mapping[UUID, str] | None = None, scope: str | None = None) -> bytes:
    """The order file in one of ``ORDER_FORMATS``; ``batch_of`` (payout id → MsgId): the batches a list names;
    ``scope``: whose orders a list holds (a province-limited caller's), said in the Excel workbook."""
    if file_format == "xlsx":
        return write_orders_xlsx(header, orders, batch_of, scope)
    if file_format == "csv":
        return write_orders_csv(header, orders, batch_of)
    if file_format == "pain001":
        return write_pain001(header, orders)
    raise PayoutError(f"Định dạng không hỗ trợ: {file_format}", f"unsupported format: {file_format}")


async def run_orders(session: AsyncSession, run_id: UUID, bank_bin: str, now: datetime | None = None, *,
                     provinces: Sequence[str] | None = None) -> tuple[PaymentBatchHeader, list[PaymentOrder]]:
    """The sent (or later) bank payouts of one run at one bank, as a list for checking: under a header made at
    ``now`` (default: the current moment) without a MsgId of its own (``run_order_batches`` names each
    order's batch). ``provinces``: a province-limited caller's, the orders of those provinces only."""
    rows = list(await session.execute(text(
        _ORDER_ROWS + f""" WHERE p.run_id = :run AND p.bank_bin = :bin AND p.status NOT IN ('scheduled', 'cancelled')
                         {in_provinces("p.commune_code", provinces)} ORDER BY p.serial"""),  # noqa: S608 - constant
        {"run": run_id, "bin": bank_bin, "provinces": list(provinces or ())}))
    if not rows and provinces is not None:
        raise NotFound("Không có lệnh chi nào cho ngân hàng này trong đợt chi thuộc phạm vi của bạn",
                       "no payment orders for this bank in this run within your scope")
    if not rows:
        raise NotFound("Không có lệnh chi nào cho ngân hàng này trong đợt chi (đợt chi đã gửi chưa?)",
                       "no payment orders for this bank in this run (has the run been sent?)")
    header = await _header(session, bank_bin, None, now or datetime.now(UTC))
    return header, [_order(r) for r in rows]


async def run_order_batches(session: AsyncSession, run_id: UUID, bank_bin: str) -> dict[UUID, str]:
    """The MsgId of the batch of each of the run's orders at the bank that a batch took (payout id → MsgId)."""
    rows = await session.execute(text(
        """SELECT i.payout_id, b.message_id FROM payout p
             JOIN payment_order_batch_item i ON i.payout_id = p.id
             JOIN payment_order_batch b ON b.id = i.batch_id
            WHERE p.run_id = :run AND p.bank_bin = :bin"""), {"run": run_id, "bin": bank_bin})
    return {row.payout_id: row.message_id for row in rows}


async def run_batches(session: AsyncSession, run_id: UUID, bank_bin: str | None = None, *,
                      provinces: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """The batches holding the run's orders (at one bank, or at each), oldest first: MsgId, bank, when, who
    took it (a bank's key ``bank:<BIN>`` or an officer), its orders in all and the run's among them;
    ``provinces``: the batches holding orders of those provinces, ``run_orders`` counting those only."""
    rows = await session.execute(text(
        f"""SELECT b.bank_bin, b.message_id, b.created_at, b.fetched_by, b.order_count, b.total_amount,
                   count(*) AS run_orders, sum(p.amount)::bigint AS run_amount
              FROM payout p
              JOIN payment_order_batch_item i ON i.payout_id = p.id
              JOIN payment_order_batch b ON b.id = i.batch_id
             WHERE p.run_id = :run AND (CAST(:bin AS text) IS NULL OR p.bank_bin = :bin)
                   {in_provinces("p.commune_code", provinces)}
             GROUP BY b.id ORDER BY b.created_at, b.id"""),  # noqa: S608 - a constant condition
        {"run": run_id, "bin": bank_bin, "provinces": list(provinces or ())})
    return [{"bank_bin": r.bank_bin, "message_id": r.message_id, "created_at": r.created_at,
             "fetched_by": r.fetched_by, "orders": int(r.order_count), "total_amount": int(r.total_amount),
             "run_orders": int(r.run_orders), "run_amount": int(r.run_amount)} for r in rows]


async def run_orders_settled_unbatched(session: AsyncSession, run_id: UUID, bank_bin: str) -> bool:
    """Whether some of the run's orders at the bank were credited or returned without a batch (sent before
    batches existed): they are paid or back, and go in no payment message any more."""
    return bool(await session.scalar(text(
        """SELECT EXISTS (SELECT 1 FROM payout p WHERE p.run_id = :run AND p.bank_bin = :bin
                             AND p.status IN ('credited', 'returned')
                             AND NOT EXISTS (SELECT 1 FROM payment_order_batch_item i WHERE i.payout_id = p.id))"""),
        {"run": run_id, "bin": bank_bin}))


async def run_orders_not_batched(session: AsyncSession, run_id: UUID, bank_bin: str) -> int:
    """How many of the run's sent orders at the bank no batch has taken yet."""
    return int(await session.scalar(text(
        """SELECT count(*) FROM payout p WHERE p.run_id = :run AND p.bank_bin = :bin AND p.status = 'sent'
              AND NOT EXISTS (SELECT 1 FROM payment_order_batch_item i WHERE i.payout_id = p.id)"""),
        {"run": run_id, "bin": bank_bin}) or 0)


def bank_message_id(bank_bin: str, orders: Sequence[PaymentOrder]) -> str:
    """The MsgId of a bank's fetched order file: ``ANSINH-<BIN>-`` and 20 hex digits of a SHA-256 of the
    orders' sorted payout ids (34 characters). The same orders fetched again give the same MsgId, so a bank
    that de-duplicates on it does not execute them twice; any other set of orders gives another."""
    digest = hashlib.sha256(b"".join(sorted(order.payout_id.bytes for order in orders))).hexdigest()
    return f"ANSINH-{bank_bin}-{digest[:20].upper()}"


async def bank_orders(session: AsyncSession, bank_bin: str, status: str,
                      limit: int) -> tuple[list[PaymentOrder], int]:
    """A bank's latest ``limit`` payouts in one status (credited, returned; sent: see ``take_new_orders``),
    across runs, newest first; and how many the bank has in that status in all."""
    rows = await session.execute(text(
        _ORDER_ROWS + " WHERE p.bank_bin = :bin AND p.status = :status ORDER BY p.serial DESC LIMIT :limit"),
        {"bin": bank_bin, "status": status, "limit": limit})
    total = await session.scalar(text("SELECT count(*) FROM payout WHERE bank_bin = :bin AND status = :status"),
                                 {"bin": bank_bin, "status": status})
    return [_order(r) for r in rows], int(total or 0)


async def orders_not_batched(session: AsyncSession, bank_bin: str, run_id: UUID | None = None) -> bool:
    """Whether the bank has sent orders (of ``run_id`` only, if given) that no batch has taken yet."""
    return bool(await session.scalar(text(
        """SELECT EXISTS (SELECT 1 FROM payout p WHERE p.bank_bin = :bin AND p.status = 'sent'
                             AND (CAST(:run AS uuid) IS NULL OR p.run_id = :run)
                             AND NOT EXISTS (SELECT 1 FROM payment_order_batch_item i WHERE i.payout_id = p.id))"""),
        {"bin": bank_bin, "run": run_id}))


@dataclass(frozen=True, slots=True)
class OrderBatch:
    """Orders handed to a bank in one file (``payment_order_batch``), and the file's header."""

    header: PaymentBatchHeader
    orders: list[PaymentOrder]
    more: bool = False  # the bank has sent orders no batch has taken yet (as the batch is handed): fetch again
    taken: bool = False  # a new batch, taken by this fetch (not one fetched before and handed again)


# Orders in one batch, by default and at most: a file a bank's system takes in one go, built in memory here.
BATCH_ORDERS, MAX_BATCH_ORDERS = 50_000, 100_000


async def take_new_orders(session: AsyncSession, bank_bin: str, actor: str, request_id: str | None = None,
                          limit: int = BATCH_ORDERS, now: datetime | None = None,
                          run_id: UUID | None = None) -> OrderBatch | None:
    """The bank's first ``limit`` sent orders (by serial) that no earlier fetch took, taken into a new batch
    (None: there are none); ``run_id``: of that run only (an officer's download of the run's pain.001).

    In the caller's transaction. Fetches of one bank take turns (an advisory lock), so two at once split the
    orders; the batch item's primary key (the payout) refuses an order in two batches whatever happens.
    ``request_id`` (the bank's id of this fetch): a fetch repeated with it gets its batch again. ``now``
    (default: the current moment) dates the batch."""
    await session.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                          {"key": f"payment_order_batch:{bank_bin}"})
    if request_id is not None:
        done = await session.scalar(text(
            "SELECT message_id FROM payment_order_batch WHERE bank_bin = :bin AND request_id = :request"),
            {"bin": bank_bin, "request": request_id})
        if done is not None:
            return await batch_again(session, bank_bin, done)
    of_run = " AND p.run_id = :run" if run_id is not None else ""
    rows = await session.execute(text(
        _ORDER_ROWS + f""" WHERE p.bank_bin = :bin AND p.status = 'sent'{of_run}
                            AND NOT EXISTS (SELECT 1 FROM payment_order_batch_item i WHERE i.payout_id = p.id)
                          ORDER BY p.serial LIMIT :limit"""),  # noqa: S608 - constant fragments
        {"bin": bank_bin, "limit": limit + 1, "run": run_id})
    orders = [_order(r) for r in rows]
    if not orders:
        return None
    more = len(orders) > limit
    del orders[limit:]
    header = await _header(session, bank_bin, bank_message_id(bank_bin, orders), now or datetime.now(UTC))
    batch_id = await session.scalar(text(
        """INSERT INTO payment_order_batch (bank_bin, message_id, fetched_by, request_id, created_at, order_count,
                                            total_amount, debtor_account_number, debtor_bank_name,
                                            requested_execution_date)
           VALUES (:bin, :message_id, :actor, :request, :created_at, :count, :total, :account, :bank_name,
                   :execution) RETURNING id"""),
        {"bin": bank_bin, "message_id": header.message_id, "actor": actor, "request": request_id,
         "created_at": header.created_at, "count": len(orders), "total": sum(o.amount for o in orders),
         "account": header.debtor_account_number, "bank_name": header.debtor_bank_name,
         "execution": header.requested_execution_date})
    await session.execute(text(
        """INSERT INTO payment_order_batch_item (payout_id, batch_id)
           SELECT id, :batch FROM unnest(CAST(:ids AS uuid[])) AS t(id)"""),
        {"batch": batch_id, "ids": [o.payout_id for o in orders]})
    log.info("payment_order_batch_taken", bank=bank_bin, message_id=header.message_id, orders=len(orders),
             actor=actor, more=more, run=str(run_id) if run_id else None)
    return OrderBatch(header=header, orders=orders, more=more, taken=True)


async def bank_batches(session: AsyncSession, bank_bin: str, limit: int = 100) -> tuple[list[dict[str, Any]], int]:
    """The bank's latest ``limit`` batches, newest first, with how many of their orders are still open (sent);
    and how many batches the bank has in all."""
    rows = await session.execute(text(
        """SELECT b.message_id, b.created_at, b.fetched_by, b.request_id, b.order_count, b.total_amount,
                  (SELECT count(*) FROM payment_order_batch_item i JOIN payout p ON p.id = i.payout_id
                    WHERE i.batch_id = b.id AND p.status = 'sent') AS still_open
             FROM payment_order_batch b WHERE b.bank_bin = :bin ORDER BY b.created_at DESC, b.id DESC
            LIMIT :limit"""), {"bin": bank_bin, "limit": limit})
    items = [{"message_id": r.message_id, "created_at": r.created_at.isoformat(), "fetched_by": r.fetched_by,
              "request_id": r.request_id, "orders": r.order_count, "total_amount": int(r.total_amount),
              "still_open": int(r.still_open)} for r in rows]
    total = await session.scalar(text("SELECT count(*) FROM payment_order_batch WHERE bank_bin = :bin"),
                                 {"bin": bank_bin})
    return items, int(total or 0)


async def batch_again(session: AsyncSession, bank_bin: str, message_id: str,
                      run_id: UUID | None = None) -> OrderBatch:
    """A batch fetched before, again: the same orders under the same header (MsgId, creation time, debtor
    account, execution date) as handed out; only the bank's own (another bank's is not found). ``more``
    says whether the bank (``run_id``: the run at the bank) has orders no batch has taken yet, now: a bank
    repeating a lost fetch goes on fetching the rest."""
    batch = None
    if MESSAGE_ID.fullmatch(message_id):
        batch = (await session.execute(text(
            """SELECT b.id, b.created_at, b.requested_execution_date, b.debtor_account_number, b.debtor_bank_name
                 FROM payment_order_batch b WHERE b.message_id = :message_id AND b.bank_bin = :bin"""),
            {"message_id": message_id, "bin": bank_bin})).first()
    if batch is None:  # the id is not echoed: it may be anything a client sent
        raise NotFound("Không có lô lệnh chi với mã này của ngân hàng", "no payment order batch of this bank with this id")
    rows = await session.execute(text(
        _ORDER_ROWS + """ JOIN payment_order_batch_item i ON i.payout_id = p.id
                          WHERE i.batch_id = :batch ORDER BY p.serial"""), {"batch": batch.id})
    header = PaymentBatchHeader(message_id=message_id, created_at=batch.created_at,
                                requested_execution_date=batch.requested_execution_date, debtor_name=DEBTOR_NAME,
                                debtor_account_number=batch.debtor_account_number, debtor_bank_bin=bank_bin,
                                debtor_bank_name=batch.debtor_bank_name)
    return OrderBatch(header=header, orders=[_order(r) for r in rows],
                      more=await orders_not_batched(session, bank_bin, run_id))


# A run's cash has left for the communes once it is sent: only then do commune staff get the list.
SENT_STATUSES = ("sent", "settled", "closed")
HANDED_OVER = "(" + ", ".join(f"'{status}'" for status in SENT_STATUSES) + ")"  # the same, for SQL
# Why a run not sent has no cash at the communes yet, in the words of its state (Vietnamese, English).
NO_CASH_YET = {
    "draft": ("Đợt chi còn là nháp, chưa được tính và duyệt: chưa có tiền mặt để giao",
              "the run is a draft, not computed nor approved yet: there is no cash to hand over"),
    "computing": ("Đợt chi đang được tính, chưa được duyệt: chưa có tiền mặt để giao",
                  "the run is being computed and is not approved yet: there is no cash to hand over"),
    "computed": ("Đợt chi đã tính, đang chờ duyệt: chưa có tiền mặt để giao",
                 "the run is computed and waiting for approval: there is no cash to hand over"),
    "approved": ("Đợt chi đã được duyệt, đang chờ gửi đi: tiền mặt chưa về xã/phường để giao",
                 "the run is approved and waiting to be sent: its cash has not reached the communes to hand over"),
    "sending": ("Đợt chi đã được duyệt và đang được gửi đi: tiền mặt chưa về xã/phường, hãy tải lại sau ít phút",
                "the run is approved and being sent: its cash has not reached the communes yet; reload in a few "
                "minutes"),
    "cancelled": ("Đợt chi đã bị hủy: không có tiền mặt để giao",
                  "the run was cancelled: there is no cash to hand over"),
}


def no_cash_yet(status: str) -> tuple[str, str]:
    """Why the cash of a run in ``status`` (not sent) cannot be handed over yet, Vietnamese and English."""
    return NO_CASH_YET.get(status, (f"Đợt chi chưa được gửi đi ({status}): chưa có tiền mặt để giao",
                                    f"the run is not sent ({status}): there is no cash to hand over"))


async def cash_handover(session: AsyncSession, run_id: UUID, commune: str | None = None,
                        communes: Sequence[str] | None = None, provinces: Sequence[str] | None = None,
                        now: datetime | None = None, mask_ids: bool = False) -> bytes:
    """The cash handover list of a run, a sheet per commune; ``communes`` / ``provinces`` (None: all) is
    the caller's scope (commune staff hand over the cash of their own communes); made at ``now`` (default:
    the current moment), dated that day in Việt Nam. ``mask_ids``: citizen IDs to their last 4 digits, as
    commune staff see them everywhere (a printed list of a commune's elderly with their whole IDs is a leak
    waiting to happen; the last digits, the name and the card itself identify the person at the handover)."""
    query = _ORDER_ROWS + " WHERE p.run_id = :run AND p.channel = 'cash' AND p.status <> 'cancelled'"
    if commune:
        query += " AND p.commune_code = :commune"
    if communes is not None:
        query += " AND p.commune_code = ANY(:communes)"
    if provinces is not None:
        query += " AND c.province_code = ANY(:provinces)"
    rows = list(await session.execute(text(query + " ORDER BY p.commune_code, b.name_sort_key"),
                                      {"run": run_id, "commune": commune, "communes": list(communes or ()),
                                       "provinces": list(provinces or ())}))
    if not rows:
        raise NotFound("Đợt chi không có khoản chi tiền mặt", "the run has no cash payouts")
    return write_cash_handover_xlsx([_cash(r, mask_ids=mask_ids) for r in rows], issuer_name=DEBTOR_NAME,
                                    created_at=now or datetime.now(UTC))
