"""SWIFT MT940 (and MT942) statements, read with the maintained ``mt-940`` library.

The file is first split into statements at each ``:20:`` and every tag is checked against the
library's own patterns, so that a bad file is rejected with every bad line listed (the library
itself stops at the first). Each statement block is then parsed by ``mt940.models.Transactions``.

Structured ``:86:`` details are read for the end-to-end reference, the return reason, the
counterparty and the remittance text: the German ``?20``/``?31``/``EREF+``/``SVWZ+`` layout (through
the library), the SWIFT keyword layout (``/EREF/…/RTRN/…/IBAN/…/NAME/…/REMI/…``) and ``EREF+`` or
``/RTRN/`` inside free text.
"""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any

import mt940
import structlog
from mt940.tags import TAG_BY_ID, Tag

from reconciliation.parsers.amounts import AmountError, decimal_to_minor
from reconciliation.parsers.detect import decode_text
from reconciliation.parsers.errors import RowErrors, StatementParseError
from reconciliation.parsers.model import NO_REFERENCE, Statement, StatementLine

log = structlog.get_logger()

OPTIONS = mt940.Options.all()

_TAG_LINE = re.compile(r"^:(?P<full>(?P<id>[0-9]{2}|NS)(?P<sub>[A-Z])?):")
_SEPARATOR_LINE = re.compile(r"^(?:-\}?|\{[1-5]:.*)$")
_BALANCE_IDS = {60, 62, 64, 65}
# German GVC codes of returned payments: 109 SEPA direct debit returned, 159 SEPA credit transfer returned.
_RETURN_GVC = {"109", "159"}
_SWIFT_KEYS = ("EREF", "RTRN", "IBAN", "BIC", "NAME", "REMI", "CNTP", "BENM", "ORDP", "TRTP", "MARF", "CSID",
               "ADDR", "ISDT", "PREF", "KREF", "PURP", "SVCL", "ULTC", "ULTD", "ULTB", "OCMT", "CHGS",
               "EXCH", "ID", "CDTRREF", "CDTRREFTP", "SEPA", "NREF")
_SWIFT_KEYWORD = re.compile("/(" + "|".join(sorted(_SWIFT_KEYS, key=len, reverse=True)) + ")/")
_FREE_EREF = re.compile(r"(?:EREF\+|/EREF/)\s*([^\s/][^/\n]*?)\s*(?=/|\s[A-Z]{4}\+|$)")
_FREE_RTRN = re.compile(r"(?:/RTRN/|RTRN\+)\s*([A-Z0-9]{2,4})")
_DETAIL_LINE_WIDTH = 65


@dataclass(slots=True)
class _TagLine:
    full_tag: str
    tag: Tag
    value: str
    line: int


@dataclass(slots=True)
class _Block:
    start_line: int
    lines: list[str] = field(default_factory=list)
    tags: list[_TagLine] = field(default_factory=list)


def parse_mt940(data: bytes, filename: str | None = None) -> list[Statement]:
    """Every statement of an MT940/MT942 file; a file with a bad line is rejected whole."""
    text = decode_text(data, filename)
    errors = RowErrors()
    blocks = _split_statements(text, errors)
    for block in blocks:
        for tag_line in block.tags:
            _check_tag(tag_line, errors)
    errors.raise_if_any("Sao kê MT940 có dòng sai định dạng", "The MT940 statement has malformed lines")
    if not blocks:
        raise StatementParseError(
            "Không tìm thấy sao kê MT940 nào trong tệp (thiếu thẻ :20:)",
            "No MT940 statement found in the file (no :20: tag)")
    statements = [statement for block in blocks if (statement := _build_statement(block, errors)) is not None]
    errors.raise_if_any("Sao kê MT940 có dòng không đọc được", "The MT940 statement has unreadable lines")
    log.info("mt940_parsed", statements=len(statements), lines=sum(len(s.lines) for s in statements))
    return statements


def _known_tag(match: re.Match[str]) -> Tag | None:
    tag_id = match.group("id")
    return TAG_BY_ID.get(match.group("full")) or TAG_BY_ID.get(int(tag_id) if tag_id.isdigit() else tag_id)


def _split_statements(text: str, errors: RowErrors) -> list[_Block]:
    """Blocks from each ``:20:`` to the next; tags before the first ``:20:`` are errors."""
    blocks: list[_Block] = []
    current: _Block | None = None
    open_tag: _TagLine | None = None
    for number, raw in enumerate(text.split("\n"), start=1):
        line = raw.replace("\r", "").rstrip()
        if not line.strip() or line.strip() == "-" or _SEPARATOR_LINE.match(line):
            continue
        match = _TAG_LINE.match(line)
        tag = _known_tag(match) if match else None
        if match and tag is not None:
            assert match is not None
            if match.group("full") == "20":
                current = _Block(start_line=number)
                blocks.append(current)
            if current is None:
                errors.add(number, f":{match.group('full')}:",
                           f"thẻ :{match.group('full')}: nằm ngoài sao kê (không có thẻ :20: đứng trước)",
                           f"tag :{match.group('full')}: is outside a statement (no :20: before it)")
                open_tag = None
                continue
            open_tag = _TagLine(match.group("full"), tag, line[match.end():], number)
            current.tags.append(open_tag)
            current.lines.append(line)
        elif current is not None:
            current.lines.append(line)
            if open_tag is not None:
                open_tag.value += "\n" + line
    return blocks


def _check_tag(tag_line: _TagLine, errors: RowErrors) -> None:
    """The same check the library makes, plus real dates and amounts, with the line number."""
    value = tag_line.value.strip()
    match = tag_line.tag.re.match(value)
    column = f":{tag_line.full_tag}:"
    if match is None:
        errors.add(tag_line.line, column, f"thẻ {column} sai định dạng: {value[:80]!r}",
                   f"tag {column} is malformed: {value[:80]!r}")
        return
    fields = match.groupdict()
    tag_id = tag_line.tag.id
    if tag_id == 61 or tag_id in _BALANCE_IDS:
        if not _valid_date(fields.get("year"), fields.get("month"), fields.get("day")):
            errors.add(tag_line.line, column, f"ngày không hợp lệ trong thẻ {column}: {value[:6]!r}",
                       f"invalid date in tag {column}: {value[:6]!r}")
        amount = fields.get("amount") or ""
        if not re.fullmatch(r"\d+(,\d*)?|,\d+", amount):
            errors.add(tag_line.line, column, f"số tiền không hợp lệ trong thẻ {column}: {amount!r}",
                       f"invalid amount in tag {column}: {amount!r}")
    if tag_id == 61:
        entry_month, entry_day = (fields.get("entry_month") or "").strip(), (fields.get("entry_day") or "").strip()
        if entry_month and entry_day and not _valid_date("2000", entry_month, entry_day):
            errors.add(tag_line.line, column, f"ngày hạch toán không hợp lệ: {entry_month}{entry_day}",
                       f"invalid entry date {entry_month}{entry_day}")
        if not fields.get("id"):
            errors.add(tag_line.line, column, "thiếu mã loại giao dịch (ví dụ NTRF) trong thẻ :61:",
                       "missing transaction type code (e.g. NTRF) in tag :61:")
    if tag_id in _BALANCE_IDS and not re.fullmatch(r"[A-Z]{3}", (fields.get("currency") or "").upper()):
        errors.add(tag_line.line, column, f"mã tiền tệ không hợp lệ trong thẻ {column}",
                   f"invalid currency code in tag {column}")


def _valid_date(year: str | None, month: str | None, day: str | None) -> bool:
    try:
        year_number, month_number, day_number = int(year or ""), int(month or ""), int(day or "")
        if month_number == 2 and 28 < day_number <= 31:  # the library moves 30 Feb to month end
            day_number = calendar.monthrange(2000 + year_number % 100, 2)[1]
        date(2000 + year_number % 100, month_number, day_number)
    except ValueError:
        return False
    return True


def _build_statement(block: _Block, errors: RowErrors) -> Statement | None:
    transactions = mt940.models.Transactions(options=OPTIONS)
    try:
        transactions.parse("\n".join(block.lines))
    except Exception as exc:  # the library's own failures become a row error, never a traceback
        errors.add(block.start_line, None, f"không đọc được sao kê bắt đầu ở dòng này: {exc}",
                   f"cannot read the statement that starts on this line: {exc}")
        return None
    data = transactions.data
    statement_lines = [t for t in block.tags if t.tag.id == 61]
    if len(statement_lines) != len(transactions.transactions):
        errors.add(block.start_line, ":61:", "số giao dịch đọc được khác số thẻ :61:",
                   "the number of transactions read differs from the number of :61: tags")
        return None
    account = (data.get("account_identification") or "").strip()
    if not account:
        errors.add(block.start_line, ":25:", "sao kê thiếu thẻ :25: (số tài khoản)",
                   "the statement has no :25: tag (account number)")
        return None
    currency = transactions.currency.upper() if transactions.currency else None
    opening, opening_date = _balance(data, ("final_opening_balance", "opening_balance",
                                            "intermediate_opening_balance"), currency, block, errors)
    closing, closing_date = _balance(data, ("final_closing_balance", "closing_balance",
                                            "intermediate_closing_balance"), currency, block, errors)
    details_texts = _details_per_transaction(block)
    lines: list[StatementLine] = []
    for tag_line, transaction in zip(statement_lines, transactions.transactions, strict=True):
        line = _statement_line(transaction.data, details_texts.get(tag_line.line, []), account, currency,
                               tag_line.line, len(lines) + 1, errors)
        if line is not None:
            lines.append(line)
    return Statement(
        statement_id=_statement_id(data), account=account, currency=currency,
        opening_balance=opening, closing_balance=closing, opening_date=opening_date, closing_date=closing_date,
        lines=tuple(lines), source_format="mt940", reference_column=":61:",
    )


def _details_per_transaction(block: _Block) -> dict[int, list[str]]:
    """The raw ``:86:`` values that follow each ``:61:`` (keyed by the ``:61:`` line number).

    A ``:86:`` after the closing balance is statement information, not part of the last line.
    """
    found: dict[int, list[str]] = {}
    current: list[str] | None = None
    for tag_line in block.tags:
        if tag_line.tag.id == 61:
            current = found.setdefault(tag_line.line, [])
        elif tag_line.tag.id == 86 and current is not None:
            current.append(tag_line.value)
        elif tag_line.tag.id != "NS":
            current = None
    return found


def _statement_id(data: dict[str, Any]) -> str | None:
    reference = (data.get("transaction_reference") or "").strip()
    number = data.get("statement_number")
    sequence = data.get("sequence_number")
    parts = [reference] + ([str(number)] if number else []) + ([str(sequence)] if sequence else [])
    joined = "/".join(part for part in parts if part)
    return joined or None


_BALANCE_TAGS = {"final_opening_balance": "60F", "opening_balance": "60", "intermediate_opening_balance": "60M",
                 "final_closing_balance": "62F", "closing_balance": "62", "intermediate_closing_balance": "62M"}


def _balance(data: dict[str, Any], keys: tuple[str, ...], currency: str | None, block: _Block,
             errors: RowErrors) -> tuple[int | None, date | None]:
    for key in keys:
        balance = data.get(key)
        if balance is None or not hasattr(balance.amount, "amount"):
            continue
        balance_currency = (balance.amount.currency or currency or "").upper()
        try:
            value = decimal_to_minor(balance.amount.amount, balance_currency)
        except AmountError as exc:
            tag = _BALANCE_TAGS[key]
            line = next((t.line for t in reversed(block.tags) if t.full_tag == tag), block.start_line)
            errors.add(line, f":{tag}:", exc.message_vi, exc.message_en)
            return None, None
        when = balance.date
        return value, date(when.year, when.month, when.day) if when is not None else None
    return None, None


def _statement_line(data: dict[str, Any], details_texts: list[str], account: str, statement_currency: str | None, source_line: int,
                    line_no: int, errors: RowErrors) -> StatementLine | None:
    status = str(data.get("status") or "").upper()
    currency = str(data.get("currency") or statement_currency or "").upper()
    if not currency:
        errors.add(source_line, ":61:", "không xác định được loại tiền (không có số dư :60F: trước thẻ :61:)",
                   "cannot tell the currency (no :60F: balance before the :61: tag)")
        return None
    amount_value: Decimal = abs(data["amount"].amount)
    try:
        amount = decimal_to_minor(amount_value, currency)
    except AmountError as exc:
        errors.add(source_line, ":61:", exc.message_vi, exc.message_en)
        return None
    # C and RD put money in; D and RC take it out.
    signed = -amount if status in ("D", "RC") else amount
    value_date = _plain_date(data.get("date"))
    booking_date = _plain_date(data.get("entry_date")) or value_date
    assert booking_date is not None
    details = _details(data, details_texts)
    end_to_end = details.end_to_end
    customer_reference = (data.get("customer_reference") or "").strip()
    if end_to_end is None and not details.german and customer_reference.upper() not in NO_REFERENCE:
        # Subfield 7 of :61: is the account owner's reference: for a payment we ordered, ours.
        end_to_end = customer_reference
    bank_reference = _reference(data.get("bank_reference"))
    return StatementLine(
        account=account, booking_date=booking_date, value_date=value_date, booked_at=None, amount=signed,
        currency=currency, bank_reference=bank_reference, end_to_end_ref=end_to_end,
        counterparty_account=details.counterparty_account, counterparty_name=details.counterparty_name,
        description=details.description, return_reason=details.return_reason,
        is_reversal=status.startswith("R"), line_no=line_no, file_row=source_line,
    )


def _plain_date(value: Any) -> date | None:
    return date(value.year, value.month, value.day) if value is not None else None


@dataclass(slots=True)
class _Details:
    end_to_end: str | None = None
    return_reason: str | None = None
    counterparty_account: str | None = None
    counterparty_name: str | None = None
    description: str | None = None
    german: bool = False


def _clean(value: Any) -> str | None:
    if not isinstance(value, str):
        return None
    cleaned = " ".join(value.split())
    return cleaned or None


def _reference(value: Any) -> str | None:
    cleaned = _clean(value)
    return None if cleaned is None or cleaned.upper() in NO_REFERENCE else cleaned


def _details(data: dict[str, Any], details_texts: list[str]) -> _Details:
    """End-to-end reference, return reason, counterparty and text out of the ``:86:`` field."""
    if "transaction_details" not in data and ("posting_text" in data or "transaction_code" in data):
        return _german_details(data)
    text = " ".join(_unwrap(value) for value in details_texts if value.strip())
    if not text:
        return _Details(description=_clean(data.get("extra_details")))
    if _SWIFT_KEYWORD.match(text):
        return _swift_keyword_details(text)
    found = _Details(description=_clean(text))
    eref = _FREE_EREF.search(text)
    found.end_to_end = _reference(eref.group(1)) if eref else None
    rtrn = _FREE_RTRN.search(text)
    found.return_reason = rtrn.group(1) if rtrn else None
    return found


def _german_details(data: dict[str, Any]) -> _Details:
    code = str(data.get("transaction_code") or "").strip()
    purpose = _clean(data.get("purpose"))
    end_to_end = _clean(data.get("end_to_end_reference"))
    message = None
    if end_to_end and "MTLG:" in end_to_end:
        # Return notices put a free-text "MTLG:" message right after the reference (no keyword between).
        end_to_end, message = (part.strip() for part in end_to_end.split("MTLG:", 1))
    description = " ".join(p for p in (purpose or _clean(data.get("posting_text")), message) if p)
    found = _Details(
        end_to_end=_reference(end_to_end),
        counterparty_account=_clean(data.get("applicant_iban")) or _clean(data.get("gvc_applicant_iban")),
        counterparty_name=_clean(data.get("applicant_name")),
        description=description or None,
        german=True,
    )
    rtrn = _FREE_RTRN.search(purpose or "")
    if rtrn:
        found.return_reason = rtrn.group(1)
    elif code in _RETURN_GVC:
        found.return_reason = _clean(data.get("return_debit_notes")) or f"GVC{code}"
    return found


def _unwrap(value: str) -> str:
    """Join one ``:86:`` value's lines: a full-width line was cut mid-word, a shorter one ended a phrase."""
    parts = value.strip("\n").split("\n")
    joined = parts[0]
    width = _DETAIL_LINE_WIDTH - len(":86:")
    for previous, part in zip(parts, parts[1:], strict=False):
        joined += part if len(previous) >= width else " " + part
        width = _DETAIL_LINE_WIDTH
    return joined


def _swift_keyword_details(text: str) -> _Details:
    pieces = _SWIFT_KEYWORD.split(text)
    fields: dict[str, str] = {}
    for key, value in zip(pieces[1::2], pieces[2::2], strict=True):
        fields.setdefault(key, value.strip().strip("/").strip())
    counterparty = fields.get("CNTP", "").split("/")
    remittance = fields.get("REMI", "")
    if remittance.startswith("USTD//"):
        remittance = remittance[len("USTD//"):]
    elif remittance.startswith("STRD/"):
        remittance = remittance.split("/", 3)[-1]
    return_code = fields.get("RTRN")
    return _Details(
        end_to_end=_reference(fields.get("EREF")),
        return_reason=_clean(return_code.split("/")[0]) if return_code else None,
        counterparty_account=_clean(fields.get("IBAN")) or (_clean(counterparty[0]) if counterparty[0] else None),
        counterparty_name=_clean(fields.get("NAME")) or (_clean(counterparty[2]) if len(counterparty) > 2 else None),
        description=_clean(remittance.strip("/")),
    )
