"""Payment order files for banks (xlsx, CSV, ISO 20022 pain.001.001.09) and the commune cash
handover list. Pure functions over plain dataclasses: no database, no I/O besides the returned bytes."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from itertools import groupby
from uuid import UUID
from xml.sax.saxutils import escape

import structlog
from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.worksheet._write_only import WriteOnlyWorksheet

from app.spreadsheets import (
    Column,
    add_autofilter,
    csv_bytes,
    money_cell,
    neutralise,
    print_landscape_fit_width,
    sheet_title,
    start_table,
    sum_cell,
    text_cell,
    workbook_bytes,
    wrapped_text_cells,
)
from app.vietnam_time import month_text, wall_clock

log = structlog.get_logger()

PAIN001_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:pain.001.001.09"
PURPOSE_SOCIAL_SECURITY_BENEFIT = "SSBE"
CLEARING_SYSTEM = "NAPAS"  # Vietnam's interbank switch; its member id is the bank's 6-digit BIN
CURRENCY = "VND"
DATE_TIME_FORMAT = "dd/mm/yyyy hh:mm"


MAX_REMITTANCE = 140
MAX_NAME = 140
MAX_XLSX_ROWS = 1_048_576  # Excel's row limit per sheet

_MONTH = re.compile(r"20\d\d-(0[1-9]|1[0-2])")
_REFERENCE = re.compile(r"[A-Z0-9]{1,35}")
_ACCOUNT = re.compile(r"[0-9A-Za-z]{1,34}")
_BIN = re.compile(r"[0-9]{6}")
MESSAGE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,34}")
# ISO 20022 / SWIFT "Latin" character set, the one every bank accepts in names and remittance text.
_ISO20022_LATIN = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/-?:().,'+ ")
_LETTERS_WITHOUT_DECOMPOSITION = str.maketrans({"đ": "d", "Đ": "D", "ð": "d", "Ð": "D"})


@dataclass(frozen=True)
class PaymentBatchHeader:
    """Who pays, from which account, and the identity of one order file.

    ``message_id`` None: the file is a list of orders for people to check (a run's orders at a bank), not a
    payment message: it has no MsgId of its own, names the batch of each order instead, and cannot be written
    as pain.001 (an EndToEndId goes to the bank under its batch's MsgId only)."""

    message_id: str | None  # ≤ 35 characters, [A-Za-z0-9-]; the same for the same orders, another for others
    created_at: datetime  # timezone-aware
    requested_execution_date: date
    debtor_name: str  # e.g. "Sở Y tế tỉnh Hà Tĩnh"
    debtor_account_number: str  # the programme's disbursement account at the bank
    debtor_bank_bin: str  # NAPAS BIN of the bank holding the disbursement account
    debtor_bank_name: str

    def __post_init__(self) -> None:
        if self.message_id is not None and not MESSAGE_ID.fullmatch(self.message_id):
            raise ValueError(f"message_id must be 1-35 characters of A-Z, a-z, 0-9 and '-', got {self.message_id!r}")
        if self.created_at.tzinfo is None or self.created_at.utcoffset() is None:
            raise ValueError("created_at must be timezone-aware")
        if not _ACCOUNT.fullmatch(self.debtor_account_number):
            raise ValueError(f"debtor_account_number must be 1-34 letters or digits, got {self.debtor_account_number!r}")
        if not _BIN.fullmatch(self.debtor_bank_bin):
            raise ValueError(f"debtor_bank_bin must be a 6-digit BIN, got {self.debtor_bank_bin!r}")
        if not to_iso20022_latin(self.debtor_name):
            raise ValueError("debtor_name must not be empty")


def _check_payout_fields(reference: str, amount: int, months: Sequence[str], period: str) -> None:
    if not _REFERENCE.fullmatch(reference):
        raise ValueError(f"reference must be 1-35 characters of A-Z and 0-9, got {reference!r}")
    if isinstance(amount, bool) or not isinstance(amount, int) or amount <= 0:
        raise ValueError(f"amount must be a positive integer number of đồng, got {amount!r} ({reference})")
    if not months or any(not _MONTH.fullmatch(month) for month in months):
        raise ValueError(f"months must be a non-empty list of 'YYYY-MM', got {months!r} ({reference})")
    if not _MONTH.fullmatch(period):
        raise ValueError(f"period must be 'YYYY-MM', got {period!r} ({reference})")


@dataclass(frozen=True)
class PaymentOrder:
    """One payout to a beneficiary's bank account, as it goes into the bank's order file."""

    reference: str  # end-to-end reference, ≤ 35, [A-Z0-9] (see app.payouts.references)
    payout_id: UUID
    beneficiary_name: str
    national_id: str
    commune_code: str
    commune_name: str
    bank_bin: str
    bank_short_name: str
    account_number: str
    holder_name: str  # name on the account as the bank knows it; "" falls back to beneficiary_name
    amount: int  # đồng
    months: tuple[str, ...]  # the 'YYYY-MM' months this payout covers (arrears give several)
    programme_code: str
    programme_name: str
    period: str  # 'YYYY-MM' of the payout run
    return_reason: str | None = None  # a returned payout's ISO 20022 reason code (AC04…), as the bank gave it

    def __post_init__(self) -> None:
        object.__setattr__(self, "months", tuple(self.months))
        _check_payout_fields(self.reference, self.amount, self.months, self.period)
        if not _BIN.fullmatch(self.bank_bin):
            raise ValueError(f"bank_bin must be a 6-digit BIN, got {self.bank_bin!r} ({self.reference})")
        if not _ACCOUNT.fullmatch(self.account_number):
            raise ValueError(f"account_number must be 1-34 letters or digits, got {self.account_number!r} "
                             f"({self.reference})")
        if not creditor_name(self):
            raise ValueError(f"holder_name and beneficiary_name are both empty in Latin letters ({self.reference})")


@dataclass(frozen=True)
class CashPayout:
    """One payout handed over in cash at the commune."""

    reference: str
    payout_id: UUID
    beneficiary_name: str
    national_id: str
    commune_code: str
    commune_name: str
    amount: int  # đồng
    months: tuple[str, ...]
    programme_code: str
    programme_name: str
    period: str
    address: str = ""  # village / hamlet, to find the person at the handover
    note: str = ""  # printed in the notes column (e.g. the person died: not to hand over)
    not_to_hand_over: bool = False  # the person died with this cash still at the commune: the officer recovers it

    def __post_init__(self) -> None:
        object.__setattr__(self, "months", tuple(self.months))
        _check_payout_fields(self.reference, self.amount, self.months, self.period)


def to_iso20022_latin(text: str) -> str:
    """Text reduced to the ISO 20022 Latin character set: Vietnamese accents stripped, đ→d, any other
    character outside the set replaced by a space, runs of spaces collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_LETTERS_WITHOUT_DECOMPOSITION))
    kept = "".join(
        character if character in _ISO20022_LATIN else " "
        for character in decomposed
        if not unicodedata.combining(character)
    )
    return " ".join(kept.split())


def _latin_name(text: str) -> str:
    return to_iso20022_latin(text).upper()[:MAX_NAME].rstrip()


def creditor_name(order: PaymentOrder) -> str:
    """The account holder's name for the bank in upper-case ISO 20022 Latin, ≤ 140 characters; the
    beneficiary's name when the holder's is unknown or has no Latin letters."""
    for name in (order.holder_name, order.beneficiary_name):
        latin = _latin_name(name)
        if latin:
            return latin
    return ""


def months_label(months: Sequence[str]) -> str:
    """'2026-01' for one month, '2025-11..2026-01' for consecutive months, else a comma list."""
    ordered = sorted(set(months))
    if len(ordered) == 1:
        return ordered[0]
    indexes = [int(month[:4]) * 12 + int(month[5:7]) for month in ordered]
    if indexes[-1] - indexes[0] == len(indexes) - 1:
        return f"{ordered[0]}..{ordered[-1]}"
    return ",".join(ordered)


def staff_months_label(months: Sequence[str]) -> str:
    """The months of a payout as staff read them on a sheet they sign: '01/2026' for one month,
    '11/2025 – 01/2026' for consecutive months, else a comma list (payment messages keep ``months_label``)."""
    label = months_label(months)
    return " – ".join(", ".join(month_text(month) for month in part.split(",")) for part in label.split(".."))


def remittance_text(order: PaymentOrder | CashPayout) -> str:
    """Remittance text '<reference> <programme> <months>' in the ISO 20022 Latin set, ≤ 140 characters.

    The reference comes first so that a bank that cuts the text at 35 characters still keeps it."""
    text = to_iso20022_latin(f"{order.reference} {order.programme_code} {months_label(order.months)}")
    if len(text) > MAX_REMITTANCE:
        first, last = min(order.months), max(order.months)
        text = to_iso20022_latin(f"{order.reference} {order.programme_code} {first}..{last}")
    return text[:MAX_REMITTANCE]


def _check_batch(payouts: Sequence[PaymentOrder] | Sequence[CashPayout]) -> int:
    """Refuse an empty batch or a repeated reference; return the total in đồng."""
    if not payouts:
        raise ValueError("no payouts to write")
    counts = Counter(payout.reference for payout in payouts)
    repeated = sorted(reference for reference, count in counts.items() if count > 1)
    if repeated:
        raise ValueError(f"references repeated within one file: {repeated}")
    return sum(payout.amount for payout in payouts)


# --- bank order file: xlsx and CSV ----------------------------------------------------------------

# The columns, their order and headers are the banks' (README "Payment orders"); only how the sheet prints is
# ours. Codes that must read in one piece (reference, citizen ID, BIN, amount) get their full width; names, words
# and the remittance text wrap in narrower columns, so the sheet prints on A4 landscape at about 80 %, not 45 %
# (the widths once summed to 264 characters). An account number longer than its column wraps, never cut.
ORDER_COLUMNS = (
    Column("STT/No.", 6),
    Column("Mã tham chiếu/Reference", 15),
    Column("Họ và tên/Full name", 17, wrap=True),
    Column("Số CCCD/National ID", 13),
    Column("Mã xã/Commune code", 8),
    Column("Xã, phường/Commune", 13, wrap=True),
    Column("Mã ngân hàng (BIN)/Bank BIN", 9),
    Column("Ngân hàng/Bank", 11, wrap=True),
    Column("Số tài khoản/Account number", 16, wrap=True),
    Column("Chủ tài khoản/Account holder", 17, wrap=True),
    Column("Số tiền (đồng)/Amount (VND)", 12, money=True),
    Column("Các tháng/Months", 11, wrap=True),
    Column("Chương trình/Programme", 9),
    Column("Nội dung/Remittance", 22, wrap=True),
)
ORDER_AMOUNT_COLUMN = 1 + next(index for index, column in enumerate(ORDER_COLUMNS) if column.money)
# A list of orders (a header without MsgId) says which batch — which payment message — holds each order.
BATCH_COLUMN = Column("Lô lệnh (MsgId)/Batch (MsgId)", 21, wrap=True)  # ANSINH-970436- / 20 hex digits
NOT_IN_A_BATCH = "Chưa vào lô/Not in a batch yet"
LIST_TITLE = ("BẢNG KÊ LỆNH CHI ĐỂ ĐỐI CHIẾU — KHÔNG PHẢI LỆNH THANH TOÁN / "
              "PAYMENT ORDER LIST FOR CHECKING — NOT A PAYMENT INSTRUCTION")
LIST_KIND = ("Bảng kê để đối chiếu, không phải lệnh thanh toán: ngân hàng chỉ thực hiện tệp pain.001 của từng lô, "
             "theo mã lô (MsgId) / A list for checking, not a payment instruction: the bank executes each "
             "batch's pain.001 only, under the batch's MsgId")


def _batch_label(order: PaymentOrder, batch_of: Mapping[UUID, str]) -> str:
    return batch_of.get(order.payout_id, NOT_IN_A_BATCH)


def batches_summary(orders: Sequence[PaymentOrder], batch_of: Mapping[UUID, str]) -> str:
    """'<MsgId> (n lệnh/orders); …; Chưa vào lô/Not in a batch yet: n lệnh/orders' for a list's orders."""
    counts = Counter(batch_of.get(order.payout_id) for order in orders)
    parts = [f"{message_id} ({count} lệnh/orders)" for message_id, count in counts.items() if message_id]
    if counts.get(None):
        parts.append(f"{NOT_IN_A_BATCH}: {counts[None]} lệnh/orders")
    return "; ".join(parts)


def _order_values(number: int, order: PaymentOrder) -> list[str | int]:
    return [
        number, order.reference, order.beneficiary_name, order.national_id, order.commune_code,
        order.commune_name, order.bank_bin, order.bank_short_name, order.account_number,
        order.holder_name or order.beneficiary_name, order.amount, months_label(order.months),
        order.programme_code, remittance_text(order),
    ]


def _order_cell(sheet: WriteOnlyWorksheet, column: Column, value: str | int,
                wrapped: Callable[[str], WriteOnlyCell]) -> WriteOnlyCell | str | int:
    # Plain values are enough for text: once neutralised it cannot turn into a formula.
    if isinstance(value, str):
        return wrapped(value) if column.wrap else neutralise(value)
    return money_cell(sheet, value) if column.money else value


def _distinct(values: Iterable[str]) -> str:
    return "; ".join(dict.fromkeys(values))


def write_orders_xlsx(header: PaymentBatchHeader, orders: Sequence[PaymentOrder],
                      batch_of: Mapping[UUID, str] | None = None, scope: str | None = None) -> bytes:
    """The bank's order file as an Excel workbook: an orders sheet with totals and a batch sheet. A header
    without MsgId makes a list for checking: titled so, with each order's batch (``batch_of``: payout id →
    MsgId) in a last column; ``scope`` (a list of a province-limited caller's orders) says whose orders it holds,
    under the title and on the batch sheet."""
    total = _check_batch(orders)
    is_list = header.message_id is None
    batches = batch_of or {}
    columns = (*ORDER_COLUMNS, BATCH_COLUMN) if is_list else ORDER_COLUMNS
    title_lines = ((LIST_TITLE, scope) if scope else (LIST_TITLE,)) if is_list else ()
    if len(orders) + 3 + len(title_lines) > MAX_XLSX_ROWS:
        raise ValueError(f"{len(orders)} orders do not fit in one Excel sheet; send CSV or pain.001 instead")
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Lệnh chi - Orders")
    print_landscape_fit_width(sheet, narrow_margins=True)
    header_row_number = start_table(sheet, columns, title_lines=title_lines)
    wrapped = wrapped_text_cells(sheet)
    for number, order in enumerate(orders, start=1):
        values = _order_values(number, order) + ([_batch_label(order, batches)] if is_list else [])
        sheet.append([_order_cell(sheet, column, value, wrapped)
                      for column, value in zip(columns, values, strict=True)])
    last_row_number = header_row_number + len(orders)
    add_autofilter(sheet, len(columns), header_row_number, last_row_number)
    sheet.append(_totals_row(sheet, len(columns), ORDER_AMOUNT_COLUMN,
                             label="Tổng cộng/Total", count_text=f"{len(orders)} lệnh/orders",
                             amount=sum_cell(sheet, ORDER_AMOUNT_COLUMN, header_row_number + 1, last_row_number)))
    sheet.append(_totals_row(sheet, len(columns), ORDER_AMOUNT_COLUMN,
                             label="Tổng kiểm tra/Control total", count_text=None,
                             amount=money_cell(sheet, total, bold=True)))
    _write_batch_sheet(workbook, header, orders, total, batches, scope if is_list else None)
    log.info("order_file_written", format="xlsx", message_id=header.message_id, orders=len(orders), total=total)
    return workbook_bytes(workbook)


def _totals_row(sheet: WriteOnlyWorksheet, width: int, amount_column: int, *, label: str,
                count_text: str | None, amount: WriteOnlyCell) -> list[WriteOnlyCell | None]:
    row: list[WriteOnlyCell | None] = [None] * width
    row[1] = text_cell(sheet, label, bold=True)
    if count_text is not None:
        row[2] = text_cell(sheet, count_text, bold=True)
    row[amount_column - 1] = amount
    return row


def _write_batch_sheet(workbook: Workbook, header: PaymentBatchHeader, orders: Sequence[PaymentOrder],
                       total: int, batch_of: Mapping[UUID, str], scope: str | None) -> None:
    sheet = workbook.create_sheet("Thông tin lô - Batch")
    print_landscape_fit_width(sheet)  # printed with the orders: the same page
    start_table(sheet, (Column("Mục/Item", 36), Column("Giá trị/Value", 60)))
    execution_date = WriteOnlyCell(sheet, value=header.requested_execution_date)
    execution_date.number_format = "DD/MM/YYYY"
    created_at = WriteOnlyCell(sheet, value=wall_clock(header.created_at))
    created_at.number_format = DATE_TIME_FORMAT
    identity: list[tuple[str, str | int | WriteOnlyCell]]
    if header.message_id is not None:
        identity = [("Mã lô lệnh/Message ID", header.message_id), ("Thời điểm lập/Created at", created_at),
                    ("Ngày thực hiện/Requested execution date", execution_date)]
    else:  # a list asks nothing of the bank: no MsgId of its own, no execution date
        identity = [("Loại tệp/Kind", LIST_KIND), ("Lô lệnh/Batches (MsgId)", batches_summary(orders, batch_of)),
                    ("Thời điểm lập/Created at", created_at)]
        if scope:
            identity.append(("Phạm vi/Scope", scope))
    rows: list[tuple[str, str | int | WriteOnlyCell]] = [
        *identity,
        ("Đơn vị chi trả/Debtor", header.debtor_name),
        ("Tài khoản chi/Disbursement account", header.debtor_account_number),
        ("Ngân hàng/Bank", f"{header.debtor_bank_bin} {header.debtor_bank_name}"),
        ("Chương trình/Programme", _distinct(f"{o.programme_code} - {o.programme_name}" for o in orders)),
        ("Kỳ chi trả/Period", _distinct(order.period for order in orders)),
        ("Số lệnh/Number of orders", len(orders)),
        ("Tổng số tiền (đồng)/Total amount (VND)", money_cell(sheet, total, bold=True)),
    ]
    for label, value in rows:
        sheet.append([text_cell(sheet, label, bold=True),
                      text_cell(sheet, value) if isinstance(value, str) else value])


def write_orders_csv(header: PaymentBatchHeader, orders: Sequence[PaymentOrder],
                     batch_of: Mapping[UUID, str] | None = None) -> bytes:
    """The bank's order file as CSV (UTF-8 with BOM, CRLF): a header row and one row per order. A header
    without MsgId makes a list for checking, with each order's batch (``batch_of``) in a last column."""
    total = _check_batch(orders)
    if header.message_id is None:
        batches = batch_of or {}
        content = csv_bytes([*(column.header for column in ORDER_COLUMNS), BATCH_COLUMN.header],
                            ([*_order_values(number, order), _batch_label(order, batches)]
                             for number, order in enumerate(orders, start=1)))
    else:
        content = csv_bytes([column.header for column in ORDER_COLUMNS],
                            (_order_values(number, order) for number, order in enumerate(orders, start=1)))
    log.info("order_file_written", format="csv", message_id=header.message_id, orders=len(orders), total=total)
    return content


# --- bank order file: ISO 20022 pain.001.001.09 -------------------------------------------------

def _agent(bank_bin: str, bank_name: str) -> str:
    name = _latin_name(bank_name)
    return (
        "<FinInstnId><ClrSysMmbId>"
        f"<ClrSysId><Prtry>{CLEARING_SYSTEM}</Prtry></ClrSysId><MmbId>{bank_bin}</MmbId>"
        "</ClrSysMmbId>" + (f"<Nm>{escape(name)}</Nm>" if name else "") + "</FinInstnId>"
    )


def _credit_transfer(order: PaymentOrder) -> str:
    return (
        "\n      <CdtTrfTxInf>"
        f"<PmtId><InstrId>{order.payout_id.hex}</InstrId><EndToEndId>{order.reference}</EndToEndId></PmtId>"
        f'<Amt><InstdAmt Ccy="{CURRENCY}">{order.amount}</InstdAmt></Amt>'
        f"<CdtrAgt>{_agent(order.bank_bin, order.bank_short_name)}</CdtrAgt>"
        f"<Cdtr><Nm>{escape(creditor_name(order))}</Nm></Cdtr>"
        f"<CdtrAcct><Id><Othr><Id>{order.account_number}</Id></Othr></Id></CdtrAcct>"
        f"<Purp><Cd>{PURPOSE_SOCIAL_SECURITY_BENEFIT}</Cd></Purp>"
        f"<RmtInf><Ustrd>{escape(remittance_text(order))}</Ustrd></RmtInf>"
        "</CdtTrfTxInf>"
    )


def write_pain001(header: PaymentBatchHeader, orders: Sequence[PaymentOrder]) -> bytes:
    """The bank's order file as an ISO 20022 pain.001.001.09 credit transfer initiation (one PmtInf)."""
    if header.message_id is None:
        raise ValueError("a list of orders has no MsgId: a payment message is written for a batch only")
    total = _check_batch(orders)
    debtor = escape(_latin_name(header.debtor_name))
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>\n',
        f'<Document xmlns="{PAIN001_NAMESPACE}">\n',
        "  <CstmrCdtTrfInitn>\n",
        "    <GrpHdr>",
        f"<MsgId>{header.message_id}</MsgId>",
        f"<CreDtTm>{header.created_at.isoformat(timespec='seconds')}</CreDtTm>",
        f"<NbOfTxs>{len(orders)}</NbOfTxs><CtrlSum>{total}</CtrlSum>",
        f"<InitgPty><Nm>{debtor}</Nm></InitgPty>",
        "</GrpHdr>\n",
        "    <PmtInf>\n      ",
        f"<PmtInfId>{header.message_id}</PmtInfId><PmtMtd>TRF</PmtMtd>",
        # One debit per payout on the disbursement account's statement, so each can be reconciled.
        "<BtchBookg>false</BtchBookg>",
        f"<NbOfTxs>{len(orders)}</NbOfTxs><CtrlSum>{total}</CtrlSum>",
        f"<PmtTpInf><CtgyPurp><Cd>{PURPOSE_SOCIAL_SECURITY_BENEFIT}</Cd></CtgyPurp></PmtTpInf>",
        f"<ReqdExctnDt><Dt>{header.requested_execution_date.isoformat()}</Dt></ReqdExctnDt>",
        f"<Dbtr><Nm>{debtor}</Nm></Dbtr>",
        f"<DbtrAcct><Id><Othr><Id>{header.debtor_account_number}</Id></Othr></Id><Ccy>{CURRENCY}</Ccy></DbtrAcct>",
        f"<DbtrAgt>{_agent(header.debtor_bank_bin, header.debtor_bank_name)}</DbtrAgt>",
        # The programme bears the charges: the beneficiary receives the whole allowance.
        "<ChrgBr>DEBT</ChrgBr>",
    ]
    parts.extend(_credit_transfer(order) for order in orders)
    parts.append("\n    </PmtInf>\n  </CstmrCdtTrfInitn>\n</Document>\n")
    content = "".join(parts).encode("utf-8")
    log.info("order_file_written", format="pain.001.001.09", message_id=header.message_id,
             orders=len(orders), total=total)
    return content


# --- commune cash handover ------------------------------------------------------------------------

CASH_COLUMNS = (
    Column("STT/No.", 6),
    Column("Mã tham chiếu/Reference", 17),
    Column("Họ và tên/Full name", 26),
    Column("Số CCCD/National ID", 15),
    Column("Địa chỉ/Address", 22),
    Column("Các tháng/Months", 17),
    Column("Số tiền (đồng)/Amount (VND)", 15, money=True),
    Column("Ký nhận/Signature", 22),
    Column("Ghi chú/Notes", 16),
)
CASH_AMOUNT_COLUMN = 1 + next(index for index, column in enumerate(CASH_COLUMNS) if column.money)
SIGNATURE_ROW_HEIGHT = 32
DECEASED_LABEL = "Trong đó đã mất, không giao (cán bộ thu hồi)/Of which deceased, not to hand over (recovered)"
TO_HAND_OVER_LABEL = "Giao tiền mặt (không kể người đã mất)/To hand over in cash (the deceased excluded)"
SUMMARY_COLUMNS = (
    Column("STT/No.", 6),
    Column("Mã xã/Commune code", 12),
    Column("Xã, phường/Commune", 30),
    Column("Số người/Beneficiaries", 14),
    Column("Số tiền (đồng)/Amount (VND)", 18, money=True),
)


def write_cash_handover_xlsx(payouts: Sequence[CashPayout], *, issuer_name: str, created_at: datetime) -> bytes:
    """Cash handover lists: a summary sheet, then one sheet per commune (ordered by commune code, rows in
    the order given) with a signature column, totals and the signature block."""
    total = _check_batch(payouts)
    by_commune = [
        (commune_code, list(rows))
        for commune_code, rows in groupby(sorted(payouts, key=lambda payout: payout.commune_code),
                                          key=lambda payout: payout.commune_code)
    ]
    workbook = Workbook(write_only=True)
    _write_cash_summary(workbook, by_commune, issuer_name=issuer_name, created_at=created_at, total=total)
    titles = ["Tổng hợp - Summary"]
    for commune_code, rows in by_commune:
        title = sheet_title(f"{commune_code} {rows[0].commune_name}", titles)
        titles.append(title)
        _write_commune_cash_sheet(workbook.create_sheet(title), rows, issuer_name=issuer_name,
                                  created_at=created_at)
    log.info("cash_handover_written", communes=len(by_commune), payouts=len(payouts), total=total)
    return workbook_bytes(workbook)


def _write_cash_summary(workbook: Workbook, by_commune: list[tuple[str, list[CashPayout]]], *,
                        issuer_name: str, created_at: datetime, total: int) -> None:
    sheet = workbook.create_sheet("Tổng hợp - Summary")
    print_landscape_fit_width(sheet)
    programmes = _distinct(f"{p.programme_name} ({p.programme_code}), {month_text(p.period)}"
                           for _, rows in by_commune for p in rows)
    header_row_number = start_table(sheet, SUMMARY_COLUMNS, title_lines=(
        "TỔNG HỢP CHI TRẢ TIỀN MẶT THEO XÃ / CASH HANDOVER SUMMARY BY COMMUNE",
        f"Chương trình, kỳ/Programme, period: {programmes}",
        f"Đơn vị lập/Issued by: {issuer_name} — Ngày lập/Created on: {wall_clock(created_at):%d/%m/%Y}",
    ))
    for number, (commune_code, rows) in enumerate(by_commune, start=1):
        sheet.append([number, text_cell(sheet, commune_code), text_cell(sheet, rows[0].commune_name), len(rows),
                      money_cell(sheet, sum(row.amount for row in rows))])
    last_row_number = header_row_number + len(by_commune)
    add_autofilter(sheet, len(SUMMARY_COLUMNS), header_row_number, last_row_number)
    people = sum(len(rows) for _, rows in by_commune)
    sheet.append([None, text_cell(sheet, "Tổng cộng/Total", bold=True), None, people,
                  sum_cell(sheet, len(SUMMARY_COLUMNS), header_row_number + 1, last_row_number)])
    sheet.append([None, text_cell(sheet, "Tổng kiểm tra/Control total", bold=True), None, people,
                  money_cell(sheet, total, bold=True)])
    kept = [row for _, rows in by_commune for row in rows if row.not_to_hand_over]
    if kept:  # the deceased are listed (marked) but are nobody to hand cash to: counted apart
        sheet.append([None, text_cell(sheet, DECEASED_LABEL, bold=True), None, len(kept),
                      money_cell(sheet, sum(row.amount for row in kept))])
        sheet.append([None, text_cell(sheet, TO_HAND_OVER_LABEL, bold=True), None, people - len(kept),
                      money_cell(sheet, total - sum(row.amount for row in kept), bold=True)])


def _write_commune_cash_sheet(sheet: WriteOnlyWorksheet, rows: list[CashPayout], *, issuer_name: str,
                              created_at: datetime) -> None:
    print_landscape_fit_width(sheet, gridlines=True)
    commune_total = sum(row.amount for row in rows)
    title_lines = (
        "DANH SÁCH CHI TRẢ TIỀN MẶT / CASH HANDOVER LIST",
        f"Xã, phường/Commune: {rows[0].commune_name} ({rows[0].commune_code})",
        "Chương trình, kỳ/Programme, period: "
        + _distinct(f"{row.programme_name} ({row.programme_code}), {month_text(row.period)}" for row in rows),
        f"Đơn vị lập/Issued by: {issuer_name} — Ngày lập/Created on: {wall_clock(created_at):%d/%m/%Y}",
    )
    header_row_number = len(title_lines) + 1
    for offset in range(1, len(rows) + 1):  # room to sign; row heights must be known before writing
        sheet.row_dimensions[header_row_number + offset].height = SIGNATURE_ROW_HEIGHT
    start_table(sheet, CASH_COLUMNS, title_lines=title_lines)
    for number, row in enumerate(rows, start=1):
        sheet.append([
            number, text_cell(sheet, row.reference), text_cell(sheet, row.beneficiary_name),
            text_cell(sheet, row.national_id), text_cell(sheet, row.address),
            text_cell(sheet, staff_months_label(row.months)), money_cell(sheet, row.amount), None,
            text_cell(sheet, row.note) if row.note else None,
        ])
    last_row_number = header_row_number + len(rows)
    add_autofilter(sheet, len(CASH_COLUMNS), header_row_number, last_row_number)
    sheet.append(_totals_row(sheet, len(CASH_COLUMNS), CASH_AMOUNT_COLUMN, label="Tổng cộng/Total",
                             count_text=f"{len(rows)} người/people",
                             amount=sum_cell(sheet, CASH_AMOUNT_COLUMN, header_row_number + 1, last_row_number)))
    sheet.append(_totals_row(sheet, len(CASH_COLUMNS), CASH_AMOUNT_COLUMN, label="Tổng kiểm tra/Control total",
                             count_text=None, amount=money_cell(sheet, commune_total, bold=True)))
    kept = [row for row in rows if row.not_to_hand_over]
    if kept:  # the deceased are listed (marked in the notes) but are nobody to hand cash to: counted apart
        kept_total = sum(row.amount for row in kept)
        sheet.append(_totals_row(sheet, len(CASH_COLUMNS), CASH_AMOUNT_COLUMN, label=DECEASED_LABEL,
                                 count_text=f"{len(kept)} người/people", amount=money_cell(sheet, kept_total)))
        sheet.append(_totals_row(sheet, len(CASH_COLUMNS), CASH_AMOUNT_COLUMN, label=TO_HAND_OVER_LABEL,
                                 count_text=f"{len(rows) - len(kept)} người/people",
                                 amount=money_cell(sheet, commune_total - kept_total, bold=True)))
    sheet.append([])
    sheet.append([None, text_cell(sheet, "Người lập biểu/Prepared by", bold=True), None, None,
                  text_cell(sheet, "Người chi tiền/Paying officer", bold=True), None, None,
                  text_cell(sheet, "Chủ tịch UBND xã/Commune chairperson", bold=True)])
    hint = "(Ký, ghi rõ họ tên)/(Signature, full name)"
    sheet.append([None, text_cell(sheet, hint), None, None, text_cell(sheet, hint), None, None,
                  text_cell(sheet, hint)])
