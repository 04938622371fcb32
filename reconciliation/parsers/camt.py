"""ISO 20022 camt.052 / camt.053 / camt.054 (versions 001.02 to 001.08 and later), streamed.

The XML is read with lxml's ``iterparse`` and a hardened parser: no DTD (a document that declares
one is refused before parsing), no entity resolution, no network, libxml2's default size limits
(``huge_tree`` off). Each ``Ntry`` is turned into statement lines as soon as it is complete and
then dropped from the tree, so memory stays flat for a million entries.

One line per booked entry; a batch entry whose ``TxDtls`` carry their own amounts gives one line
per ``TxDtls`` (sign from the entry). Entries whose status is not ``BOOK`` (pending, information)
are not booked movements and are skipped.
"""

from __future__ import annotations

import io
import re
from datetime import date, datetime
from typing import Any

import structlog
from lxml import etree

from reconciliation.parsers.amounts import AmountError, decimal_text_to_minor
from reconciliation.parsers.camt_entries import (
    CamtTags,
    TransactionDetails,
    account_id,
    merge_details,
    read_entry,
    text_of,
)
from reconciliation.parsers.errors import RowErrors, StatementParseError
from reconciliation.parsers.model import LOCAL_TIMEZONE, Statement, StatementLine

log = structlog.get_logger()


_CONTAINERS = ("Stmt", "Ntfctn", "Rpt")
_DECLARED_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*\bencoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")
_ACCEPTED_ENCODINGS = {"utf-8", "utf8", "us-ascii", "ascii"}


def parse_camt(data: bytes, filename: str | None = None) -> list[Statement]:
    """Every statement (``Stmt``, ``Ntfctn`` or ``Rpt``) of a camt.052/053/054 file."""
    _refuse_unsafe_xml(data)
    source, stripped_namespace = _without_default_namespace(data)
    reader = _CamtReader(stripped_namespace)
    etree.clear_error_log()
    context = etree.iterparse(
        source, events=("end",),
        tag=("{*}GrpHdr", "{*}Ntry", *(f"{{*}}{name}" for name in _CONTAINERS)),
        resolve_entities=False, no_network=True, load_dtd=False, dtd_validation=False,
        huge_tree=False, remove_comments=True, remove_pis=True,
    )
    try:
        for _event, element in context:
            reader.handle(element)
    except etree.XMLSyntaxError as exc:
        line, column, message = _syntax_error_location(exc)
        raise StatementParseError(
            f"Tệp XML không hợp lệ ở dòng {line}, cột {column}: {message}",
            f"Malformed XML at line {line}, column {column}: {message}") from None
    reader.errors.raise_if_any("Sao kê camt có dòng không đọc được", "The camt statement has unreadable entries")
    if not reader.statements:
        raise StatementParseError(
            "Tệp camt không có sao kê nào (thiếu phần tử Stmt/Ntfctn/Rpt)",
            "The camt file holds no statement (no Stmt, Ntfctn or Rpt element)")
    log.info("camt_parsed", message_type=reader.message_type, statements=len(reader.statements),
             lines=sum(len(s.lines) for s in reader.statements), skipped_not_booked=reader.skipped_not_booked)
    return reader.statements


_ROOT_DEFAULT_NAMESPACE = re.compile(
    rb"<Document(?:\s[^>]*?)?(\sxmlns\s*=\s*[\"'](urn:iso:std:iso:20022:tech:xsd:camt\.05[234]\.001\.\d\d)[\"'])")


class _SplicedReader:
    """A file-like view of ``data`` without the bytes in ``[cut_start, cut_end)`` (no full copy)."""

    def __init__(self, data: bytes, cut_start: int, cut_end: int) -> None:
        view = memoryview(data)
        self._parts = [view[:cut_start], view[cut_end:]]
        self._part = 0
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        while self._part < len(self._parts):
            part = self._parts[self._part]
            remaining = len(part) - self._position
            if remaining > 0:
                count = remaining if size is None or size < 0 else min(size, remaining)
                chunk = part[self._position:self._position + count].tobytes()
                self._position += count
                return chunk
            self._part += 1
            self._position = 0
        return b""


def _without_default_namespace(data: bytes) -> tuple[Any, str | None]:
    """Drop the root's default camt namespace declaration when it is the only use of it.

    Tags then come back as plain local names, which makes walking a million entries markedly
    cheaper. Prefixed documents (``<ns2:Document xmlns:ns2=…>``) are read as they are.
    """
    head = data[:4096]
    found = _ROOT_DEFAULT_NAMESPACE.search(head)
    if found is None:
        return io.BytesIO(data), None
    namespace = found.group(2)
    declarations = data.count(b'xmlns="' + namespace + b'"') + data.count(b"xmlns='" + namespace + b"'")
    if declarations != 1 or re.search(rb"xmlns:[\w.-]+\s*=\s*[\"']" + re.escape(namespace), data):
        return io.BytesIO(data), None  # declared again further down, or under a prefix: keep it
    return _SplicedReader(data, found.start(1), found.end(1)), found.group(2).decode("ascii")


def _syntax_error_location(exc: etree.XMLSyntaxError) -> tuple[int, int, str]:
    """libxml2's first error (the exception's own text is sometimes a generic "no element found")."""
    entries = list(exc.error_log)
    if entries:
        last = entries[-1]
        return last.line, last.column, last.message
    line, column = exc.position if exc.position else (exc.lineno, 0)
    return line, column, str(exc.msg)


def _refuse_unsafe_xml(data: bytes) -> None:
    """ISO 20022 files never need a DTD: a declared one (entity bombs, external entities) is refused."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise StatementParseError("Tệp camt phải mã hoá UTF-8 (tệp này là UTF-16)",
                                  "camt files must be UTF-8 encoded (this one is UTF-16)")
    declared = _DECLARED_ENCODING.match(data[:512])
    if declared and declared.group(1).decode("ascii").lower() not in _ACCEPTED_ENCODINGS:
        name = declared.group(1).decode("ascii")
        raise StatementParseError(f"Tệp camt phải mã hoá UTF-8 (tệp khai báo {name})",
                                  f"camt files must be UTF-8 encoded (this one declares {name})")
    if b"<!DOCTYPE" in data or b"<!ENTITY" in data:
        raise StatementParseError(
            "Tệp XML có khai báo DOCTYPE/ENTITY, không được phép trong sao kê ISO 20022",
            "The XML declares a DOCTYPE or ENTITY, which ISO 20022 statements never do; refused")


def _local(tag: Any) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


class _CamtReader:
    """State across iterparse events: the current statement and everything collected so far."""

    def __init__(self, stripped_namespace: str | None = None) -> None:
        self.stripped_namespace = stripped_namespace
        self.statements: list[Statement] = []
        self.errors = RowErrors()
        self.tags: CamtTags | None = None
        self.ntry_tag = ""
        self.group_header_tag = ""
        self.container_tags: frozenset[str] = frozenset()
        self.message_type = ""
        self.message_created: datetime | None = None
        self.current: _StatementBuilder | None = None
        self.skipped_not_booked = 0
        self.entries = 0  # Ntry elements seen: an entry's row in errors is its number in the file

    def handle(self, element: Any) -> None:
        if self.tags is None:
            self._check_document(element)
        tag = element.tag
        if tag == self.ntry_tag:
            parent = element.getparent()
            if self.current is None or self.current.element is not parent:
                self.current = _StatementBuilder(parent, self)
            self.entries += 1
            self.current.add_entry(element)
            element.clear(keep_tail=False)
            parent.remove(element)
        elif tag == self.group_header_tag:
            assert self.tags is not None
            self.message_created = _parse_datetime(text_of(element.find(self.tags.CreDtTm)))
        elif tag in self.container_tags:  # a statement ends
            if self.current is None or self.current.element is not element:
                self.current = _StatementBuilder(element, self)
            statement = self.current.finish()
            if statement is not None:
                self.statements.append(statement)
            self.current = None
            parent = element.getparent()
            element.clear(keep_tail=False)
            if parent is not None:
                parent.remove(element)

    def _check_document(self, element: Any) -> None:
        tree = element.getroottree()
        if tree.docinfo.internalDTD is not None or tree.docinfo.doctype:
            raise StatementParseError("Tệp XML có khai báo DOCTYPE, không được phép",
                                      "The XML declares a DOCTYPE; refused")
        root = tree.getroot()
        namespace = root.tag[1:].split("}", 1)[0] if root.tag.startswith("{") else ""
        message = root[0] if len(root) else None
        self.message_type = _camt_message_type(self.stripped_namespace or namespace,
                                               _local(message.tag) if message is not None else "")
        if _local(root.tag) != "Document" or not self.message_type:
            raise StatementParseError(
                "Tệp XML không phải sao kê ISO 20022 camt.052/053/054 (phần tử gốc không phải Document)",
                "The XML is not an ISO 20022 camt.052/053/054 statement (root element is not Document)")
        self.tags = CamtTags(namespace)
        self.ntry_tag, self.group_header_tag = self.tags.Ntry, self.tags.GrpHdr
        # Same-named elements in another namespace (inside SplmtryData, say) are not ours.
        self.container_tags = frozenset(getattr(self.tags, name) for name in _CONTAINERS)


def _camt_message_type(namespace: str, message_element: str) -> str:
    found = re.search(r"camt\.05[234]\.001\.\d\d", namespace)
    if found:
        return found.group(0)
    by_element = {"BkToCstmrStmt": "camt.053", "BkToCstmrDbtCdtNtfctn": "camt.054",
                  "BkToCstmrAcctRpt": "camt.052"}
    return by_element.get(message_element, "") if not namespace else ""


def _parse_date(value: str | None) -> date | None:
    if value is None:
        return None
    return date.fromisoformat(value[:10])


def _parse_datetime(value: str | None) -> datetime | None:
    if value is None:
        return None
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TIMEZONE)


class _StatementBuilder:
    """Reads a statement's header once, then turns each ``Ntry`` into lines."""

    def __init__(self, element: Any, reader: _CamtReader) -> None:
        assert reader.tags is not None
        self.element = element
        self.reader = reader
        self.t = reader.tags
        self.lines: list[StatementLine] = []
        self.statement_id: str | None = None
        self.account: str | None = None
        self.currency: str | None = None
        self.created: datetime | None = None
        self.balances: dict[str, tuple[int, str, date | None]] = {}
        self.account_reported = False
        self.dates: dict[str, date] = {}
        self.entry_line: int | None = None  # the XML line of the entry being read
        self._read_header()

    def _read_header(self) -> None:
        t = self.t
        raw_balances: list[Any] = []
        for child in self.element:
            tag = child.tag
            if tag == t.Id:
                self.statement_id = text_of(child)
            elif tag == t.CreDtTm:
                self.created = _parse_datetime(text_of(child))
            elif tag == t.Acct:
                identification = child.find(t.Id)
                if identification is not None:
                    self.account = account_id(identification, t.code)
                self.currency = text_of(child.find(t.Ccy))
            elif tag == t.Bal:
                raw_balances.append(child)
            elif tag == t.Ntry:
                break
        first_currency = None
        for balance in raw_balances:
            code = text_of(balance.find(f"{t.Tp}/{t.CdOrPrtry}/{t.Cd}")) or \
                text_of(balance.find(f"{t.Tp}/{t.CdOrPrtry}/{t.Prtry}"))
            amount_element = balance.find(t.Amt)
            if code is None or amount_element is None:
                continue
            currency = amount_element.get("Ccy")
            first_currency = first_currency or currency
            sign_text = text_of(balance.find(t.CdtDbtInd))
            when = balance.find(t.Dt)
            when_text = (text_of(when.find(t.Dt)) or text_of(when.find(t.DtTm))) if when is not None else None
            try:
                value = decimal_text_to_minor(text_of(amount_element) or "", currency or "")
                balance_date = _parse_date(when_text)
            except (AmountError, ValueError) as exc:
                self._error(None, "Bal", exc, balance.sourceline)
                continue
            if sign_text not in ("CRDT", "DBIT"):
                self._fail(None, "Bal/CdtDbtInd", "thiếu hoặc sai CdtDbtInd (CRDT/DBIT)",
                           "missing or invalid CdtDbtInd (CRDT/DBIT)", balance.sourceline)
                continue
            self.balances.setdefault(code, (-value if sign_text == "DBIT" else value, currency or "", balance_date))
        if self.currency is None:
            opening = self.balances.get("OPBD") or self.balances.get("PRCD")
            self.currency = opening[1] if opening else first_currency

    def _date(self, value: str | None) -> date | None:
        """ISO date (or the date part of a date-time), cached: a statement has few distinct days."""
        if value is None:
            return None
        cached = self.dates.get(value)
        if cached is None:
            cached = date.fromisoformat(value[:10])
            if len(self.dates) < 10_000:
                self.dates[value] = cached
        return cached

    def _balance(self, *codes: str) -> tuple[int | None, date | None]:
        for code in codes:
            found = self.balances.get(code)
            if found is not None and (self.currency is None or found[1] == self.currency):
                return found[0], found[2]
        return None, None

    def _fail(self, row: int | None, column: str, message: str, message_en: str, line: int | None = None) -> None:
        """One bad part: ``row`` the entry's number in the file (None outside entries), ``line`` where it is."""
        self.reader.errors.add(row, column, message, message_en,
                               line if line is not None else self.entry_line if row is not None else None)

    def _error(self, row: int | None, column: str, exc: Exception, line: int | None = None) -> None:
        if isinstance(exc, AmountError):
            self._fail(row, column, exc.message_vi, exc.message_en, line)
        else:
            self._fail(row, column, f"giá trị không hợp lệ: {exc}", f"invalid value: {exc}", line)

    def add_entry(self, entry: Any) -> None:
        """Turn one ``Ntry`` into one line, or one line per ``TxDtls`` of a batch."""
        row = self.reader.entries
        self.entry_line = entry.sourceline
        (amount_text, currency, indicator, status, booking, booking_time, value_date, account_servicer_ref,
         entry_ref, additional, reversal, details) = read_entry(entry, self.t.lookup)
        if status is not None and status != "BOOK":
            self.reader.skipped_not_booked += 1
            return
        errors_before = self.reader.errors.count
        if indicator not in ("CRDT", "DBIT"):
            self._fail(row, "Ntry/CdtDbtInd", "thiếu hoặc sai CdtDbtInd (phải là CRDT hoặc DBIT)",
                       "missing or invalid CdtDbtInd (must be CRDT or DBIT)")
        currency = currency or self.currency
        if amount_text is None or not currency:
            self._fail(row, "Ntry/Amt", "thiếu số tiền hoặc loại tiền (Amt/@Ccy)",
                       "missing amount or currency (Amt/@Ccy)")
            entry_amount = 0
        else:
            try:
                entry_amount = decimal_text_to_minor(amount_text, currency)
            except AmountError as exc:
                self._error(row, "Ntry/Amt", exc)
                entry_amount = 0
        try:
            booked_at = _parse_datetime(booking_time)
            if booking_time is not None and booked_at is None:
                raise ValueError(f"BookgDt/DtTm {booking_time!r}")
            booking_date = self._date(booking) or (booked_at.date() if booked_at else None)
            value = self._date(value_date)
        except ValueError as exc:
            self._error(row, "Ntry/BookgDt", exc)
            return
        if booking_date is None:
            # camt.054 notifications may omit both dates: the booking is then dated by the message.
            fallback = self.created or self.reader.message_created
            booking_date = value or (fallback.date() if fallback else None)
        if booking_date is None:
            self._fail(row, "Ntry/BookgDt", "thiếu ngày hạch toán (BookgDt) và ngày giá trị (ValDt)",
                       "missing booking date (BookgDt) and value date (ValDt)")
        if self.account is None:
            self._missing_account()
            return
        if self.reader.errors.count != errors_before:
            return
        assert booking_date is not None and currency is not None and indicator is not None
        sign = -1 if indicator == "DBIT" else 1
        entry_reference = account_servicer_ref or entry_ref
        if len(details) > 1 and any(d.amount_text is not None for d in details):
            self._add_batch(details, entry_amount, currency, sign, row, booking_date, value, booked_at,
                            entry_reference, reversal, additional)
            return
        merged = merge_details(details) if details else TransactionDetails()
        self._append(merged, sign * entry_amount, currency, sign, booking_date, value, booked_at,
                     entry_reference or merged.bank_reference or merged.other_reference, reversal, additional,
                     row, self.entry_line)

    def _add_batch(self, details: list[TransactionDetails], entry_amount: int, currency: str, sign: int, row: int | None,
                   booking_date: date, value: date | None, booked_at: datetime | None,
                   entry_reference: str | None, reversal: bool, additional: str | None) -> None:
        amounts: list[tuple[int, str]] = []
        for index, detail in enumerate(details, start=1):
            detail_currency = detail.currency or currency
            if detail.amount_text is None:
                self._fail(row, "TxDtls/Amt",
                           f"giao dịch thứ {index} của bút toán gộp không có số tiền",
                           f"transaction {index} of the batch entry has no amount", detail.source_line)
                return
            try:
                amounts.append((decimal_text_to_minor(detail.amount_text, detail_currency), detail_currency))
            except AmountError as exc:
                self._error(row, "TxDtls/Amt", exc, detail.source_line)
                return
        if all(c == currency for _, c in amounts) and sum(a for a, _ in amounts) != entry_amount:
            self._fail(row, "NtryDtls", "tổng các giao dịch chi tiết (TxDtls) khác số tiền bút toán",
                       "the TxDtls amounts of the batch entry do not add up to the entry amount")
            return
        for detail, (amount, detail_currency) in zip(details, amounts, strict=True):
            self._append(detail, sign * amount, detail_currency, sign, booking_date, value, booked_at,
                         detail.bank_reference or entry_reference or detail.other_reference, reversal, additional,
                         row, detail.source_line or self.entry_line)

    def _append(self, detail: TransactionDetails, amount: int, currency: str, sign: int, booking_date: date,
                value: date | None, booked_at: datetime | None, bank_reference: str | None,
                reversal: bool, additional: str | None, row: int | None, line: int | None) -> None:
        assert self.account is not None
        if sign < 0:
            counterparty_account, counterparty_name = detail.creditor_account, detail.creditor_name
        else:
            counterparty_account, counterparty_name = detail.debtor_account, detail.debtor_name
        self.lines.append(StatementLine(  # positional: a million of these are built per file
            self.account, booking_date, value, booked_at, amount, currency, bank_reference, detail.end_to_end,
            counterparty_account, counterparty_name, detail.description or additional, detail.return_reason,
            reversal, len(self.lines) + 1, row, line,
        ))

    def _missing_account(self) -> None:
        if not self.account_reported:
            self.account_reported = True
            self._fail(None, "Acct", "sao kê thiếu số tài khoản (Acct/Id)",
                       "the statement has no account number (Acct/Id)", self.element.sourceline)

    def finish(self) -> Statement | None:
        """The statement once its container has ended (``None`` if it had errors)."""
        if self.account is None:
            self._missing_account()
            return None
        if self.reader.errors:
            return None
        opening, opening_date = self._balance("OPBD", "PRCD")
        closing, closing_date = self._balance("CLBD")
        return Statement(
            statement_id=self.statement_id, account=self.account,
            currency=self.currency or (self.lines[0].currency if self.lines else None),
            opening_balance=opening, closing_balance=closing, opening_date=opening_date,
            closing_date=closing_date, lines=tuple(self.lines), source_format=self.reader.message_type,
            reference_column="Ntry/AcctSvcrRef",
        )


