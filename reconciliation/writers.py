"""Real statement files (camt.053.001.08, MT940, Vietnamese "sao kê" xlsx and CSV) from a Statement.

Used by the tests, the demo and the benchmarks to produce the files a bank would send; every
writer's output reads back through ``reconciliation.parsers.parse_statement_file`` to the same
statement (round trip). Amounts stay integers until they are formatted as text.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from reconciliation.parsers.amounts import currency_exponent, minor_to_decimal_text
from reconciliation.parsers.model import LOCAL_TIMEZONE, Statement, StatementLine

CAMT053_NAMESPACE = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"

_XML_UNSAFE = re.compile(r"[&<>\"\x00-\x08\x0b\x0c\x0e-\x1f]")
_XML_ESCAPES = {"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;"}
_IBAN = re.compile(r"[A-Z]{2}\d{2}[A-Z0-9]{11,30}")
_RETURN_CODE = re.compile(r"[A-Z0-9]{1,4}")


def _escape(text: str) -> str:
    if _XML_UNSAFE.search(text) is None:
        return text
    return _XML_UNSAFE.sub(lambda m: _XML_ESCAPES.get(m.group(0), " "), text)


def _limit(text: str, length: int, what: str) -> str:
    if len(text) > length:
        raise ValueError(f"{what} {text!r} is longer than {length} characters")
    return _escape(text)


def _chunks(text: str, size: int) -> list[str]:
    """Split remittance text into ``size``-character pieces at spaces (joined back with one space)."""
    pieces: list[str] = []
    while len(text) > size:
        cut = text.rfind(" ", 1, size + 1)
        if cut <= 0:
            raise ValueError(f"remittance text has a word longer than {size} characters: {text[:40]!r}")
        pieces.append(text[:cut])
        text = text[cut + 1:]
    pieces.append(text)
    return pieces


def _iso_datetime(moment: datetime) -> str:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TIMEZONE)
    return aware.isoformat(timespec="seconds")


# --- camt.053 -------------------------------------------------------------------------------
def write_camt053(statement: Statement, *, message_id: str | None = None,
                  created_at: datetime | None = None) -> bytes:
    """An ISO 20022 camt.053.001.08 document with one ``Stmt`` (entries with TxDtls, returns, reversals)."""
    return "".join(_camt053_parts(statement, message_id, created_at)).encode("utf-8")


def _account_xml(account: str) -> str:
    if _IBAN.fullmatch(account):
        return f"<Id><IBAN>{account}</IBAN></Id>"
    return f"<Id><Othr><Id>{_limit(account, 34, 'account')}</Id></Othr></Id>"


def _camt053_parts(statement: Statement, message_id: str | None, created_at: datetime | None) -> Iterator[str]:
    created = _iso_datetime(created_at or datetime.now(LOCAL_TIMEZONE).replace(microsecond=0))
    statement_id = statement.statement_id or f"STMT-{statement.account}"[:35]
    currency = statement.currency or (statement.lines[0].currency if statement.lines else "VND")
    yield (f'<?xml version="1.0" encoding="UTF-8"?>\n<Document xmlns="{CAMT053_NAMESPACE}">'
           f"<BkToCstmrStmt><GrpHdr><MsgId>{_limit(message_id or statement_id, 35, 'message id')}</MsgId>"
           f"<CreDtTm>{created}</CreDtTm></GrpHdr>"
           f"<Stmt><Id>{_limit(statement_id, 35, 'statement id')}</Id><CreDtTm>{created}</CreDtTm>"
           f"<Acct>{_account_xml(statement.account)}<Ccy>{currency}</Ccy></Acct>")
    for code, balance, when in (("OPBD", statement.opening_balance, statement.opening_date),
                                ("CLBD", statement.closing_balance, statement.closing_date)):
        if balance is None:
            continue
        balance_date = when or (statement.lines[0].booking_date if statement.lines and code == "OPBD"
                                else statement.lines[-1].booking_date if statement.lines else date.today())
        yield (f"<Bal><Tp><CdOrPrtry><Cd>{code}</Cd></CdOrPrtry></Tp>"
               f'<Amt Ccy="{currency}">{minor_to_decimal_text(abs(balance), currency)}</Amt>'
               f"<CdtDbtInd>{'DBIT' if balance < 0 else 'CRDT'}</CdtDbtInd>"
               f"<Dt><Dt>{balance_date.isoformat()}</Dt></Dt></Bal>")
    entries: list[str] = []
    for line in statement.lines:
        entries.append(_camt_entry(line))
        if len(entries) >= 10_000:
            yield "".join(entries)
            entries.clear()
    yield "".join(entries)
    yield "</Stmt></BkToCstmrStmt></Document>\n"


def _camt_entry(line: StatementLine) -> str:
    amount = f'<Amt Ccy="{line.currency}">{minor_to_decimal_text(abs(line.amount), line.currency)}</Amt>'
    indicator = "DBIT" if line.amount < 0 else "CRDT"
    booking = (f"<DtTm>{_iso_datetime(line.booked_at)}</DtTm>" if line.booked_at is not None
               else f"<Dt>{line.booking_date.isoformat()}</Dt>")
    value = f"<ValDt><Dt>{line.value_date.isoformat()}</Dt></ValDt>" if line.value_date else ""
    servicer_ref = (f"<AcctSvcrRef>{_limit(line.bank_reference, 35, 'bank reference')}</AcctSvcrRef>"
                    if line.bank_reference else "")
    if line.return_reason is not None:
        family, sub_family = ("ICDT", "RRTN") if line.amount > 0 else ("RCDT", "RRTN")
    else:
        family, sub_family = ("ICDT", "DMCT") if line.amount < 0 else ("RCDT", "DMCT")
    end_to_end = _limit(line.end_to_end_ref, 35, "end-to-end reference") if line.end_to_end_ref else "NOTPROVIDED"
    party_role = "Cdtr" if line.amount < 0 else "Dbtr"
    parties = ""
    if line.counterparty_name or line.counterparty_account:
        name = (f"<{party_role}><Pty><Nm>{_limit(line.counterparty_name, 140, 'name')}</Nm></Pty></{party_role}>"
                if line.counterparty_name else "")
        account = (f"<{party_role}Acct>{_account_xml(line.counterparty_account)}</{party_role}Acct>"
                   if line.counterparty_account else "")
        parties = f"<RltdPties>{name}{account}</RltdPties>"
    remittance = ""
    if line.description:
        remittance = "<RmtInf>" + "".join(f"<Ustrd>{_escape(piece)}</Ustrd>"
                                          for piece in _chunks(line.description, 140)) + "</RmtInf>"
    return_info = ""
    if line.return_reason is not None:
        reason = (f"<Cd>{line.return_reason}</Cd>" if _RETURN_CODE.fullmatch(line.return_reason)
                  else f"<Prtry>{_limit(line.return_reason, 35, 'return reason')}</Prtry>")
        return_info = f"<RtrInf><Rsn>{reason}</Rsn></RtrInf>"
    return (f"<Ntry>{amount}<CdtDbtInd>{indicator}</CdtDbtInd>"
            f"{'<RvslInd>true</RvslInd>' if line.is_reversal else ''}<Sts><Cd>BOOK</Cd></Sts>"
            f"<BookgDt>{booking}</BookgDt>{value}{servicer_ref}"
            f"<BkTxCd><Domn><Cd>PMNT</Cd><Fmly><Cd>{family}</Cd><SubFmlyCd>{sub_family}</SubFmlyCd></Fmly></Domn>"
            f"</BkTxCd><NtryDtls><TxDtls><Refs>{servicer_ref}<EndToEndId>{end_to_end}</EndToEndId></Refs>"
            f"{amount}<CdtDbtInd>{indicator}</CdtDbtInd>{parties}{remittance}{return_info}</TxDtls></NtryDtls>"
            f"</Ntry>")


# --- MT940 ----------------------------------------------------------------------------------
_MT940_WIDTH = 65
_STATEMENT_ID = re.compile(r"(?P<reference>[^/\n]{1,16})/(?P<number>\d{1,5})(?:/(?P<sequence>\d{1,5}))?")
_TAG_LIKE = re.compile(r"^(?::(?:\d{2}[A-Z]?|NS):|-\}?$|\{[1-5]:)")


def _mt940_amount(amount: int, currency: str) -> str:
    return minor_to_decimal_text(abs(amount), currency, decimal_mark=",") + ("," if currency_exponent(currency) == 0
                                                                               else "")


def _mt940_balance(tag: str, balance: int, when: date, currency: str) -> str:
    return f":{tag}:{'D' if balance < 0 else 'C'}{when:%y%m%d}{currency}{_mt940_amount(balance, currency)}"


def _mt940_details(line: StatementLine) -> list[str]:
    fields = []
    if line.end_to_end_ref:
        fields.append(f"/EREF/{line.end_to_end_ref}")
    if line.return_reason:
        fields.append(f"/RTRN/{line.return_reason}")
    if line.counterparty_account:
        fields.append(f"/IBAN/{line.counterparty_account}")
    if line.counterparty_name:
        fields.append(f"/NAME/{line.counterparty_name}")
    if line.description:
        fields.append(f"/REMI/{line.description}")
    text = "".join(fields)
    if not text:
        return []
    if "\n" in text:
        raise ValueError("MT940 details cannot contain line breaks")
    # Where each field starts: a line may end early there (the reader strips a field's value, so the
    # space it puts after a short line changes nothing), not inside a value (the space would stay).
    starts, at = set(), 0
    for field in fields:
        starts.add(at)
        at += len(field)
    lines, width, offset = [], _MT940_WIDTH - len(":86:"), 0
    while text:
        cut = width
        # A wrapped line must not look like a new tag or a statement separator.
        if len(text) > cut and _TAG_LIKE.match(text[cut:]):
            earlier = [start - offset for start in starts if 0 < start - offset < cut]
            if earlier:
                cut = max(earlier)
            else:
                while cut > 1 and _TAG_LIKE.match(text[cut:]):
                    cut -= 1
        lines.append(text[:cut])
        text = text[cut:]
        offset += cut
        width = _MT940_WIDTH
    lines[0] = ":86:" + lines[0]
    return lines


def write_mt940(statement: Statement) -> bytes:
    """One SWIFT MT940 message (UTF-8; ``/EREF/…/RTRN/…/IBAN/…/NAME/…/REMI/…`` details, RC/RD reversals)."""
    currency = statement.currency or (statement.lines[0].currency if statement.lines else None)
    if currency is None or statement.opening_balance is None:
        raise ValueError("an MT940 statement needs a currency and an opening balance")
    identifier = _STATEMENT_ID.fullmatch(statement.statement_id or "")
    reference = identifier.group("reference") if identifier else (statement.statement_id or "STATEMENT")[:16]
    number = identifier.group("number") if identifier else "1"
    if identifier and identifier.group("sequence"):
        number += "/" + identifier.group("sequence")
    first_date = statement.opening_date or (statement.lines[0].booking_date if statement.lines else date.today())
    out = [f":20:{reference}", f":25:{statement.account}", f":28C:{number}",
           _mt940_balance("60F", statement.opening_balance, first_date, currency)]
    for line in statement.lines:
        value_date = line.value_date or line.booking_date
        if line.is_reversal:  # RC takes money out (reversal of a credit), RD puts it back
            mark = "RC" if line.amount < 0 else "RD"
        else:
            mark = "D" if line.amount < 0 else "C"
        customer_reference = line.end_to_end_ref if (
            line.end_to_end_ref and len(line.end_to_end_ref) <= 16 and "//" not in line.end_to_end_ref) else "NONREF"
        bank_reference = ""
        if line.bank_reference:
            if len(line.bank_reference) > 23 or "\n" in line.bank_reference:
                raise ValueError(f"bank reference {line.bank_reference!r} does not fit MT940 (23 characters)")
            bank_reference = "//" + line.bank_reference
        code = "NRTI" if line.return_reason else "NTRF"
        out.append(f":61:{value_date:%y%m%d}{line.booking_date:%m%d}{mark}{_mt940_amount(line.amount, currency)}"
                   f"{code}{customer_reference}{bank_reference}")
        out.extend(_mt940_details(line))
    if statement.closing_balance is not None:
        last_date = statement.closing_date or (statement.lines[-1].booking_date if statement.lines else first_date)
        out.append(_mt940_balance("62F", statement.closing_balance, last_date, currency))
    out.append("-")
    return ("\r\n".join(out) + "\r\n").encode("utf-8")


# --- Vietnamese "sao kê" (xlsx, CSV) ---------------------------------------------------------
HEADER = (
    "STT/No.", "Ngày giao dịch/Transaction date", "Ngày hiệu lực/Effective date", "Số tham chiếu/Reference",
    "Số tiền ghi nợ/Debit", "Số tiền ghi có/Credit", "Số dư/Balance", "Nội dung chi tiết/Transactions in detail",
    "Mã tham chiếu đầu cuối/End-to-end ID", "Tài khoản đối ứng/Counterparty account",
    "Tên đối ứng/Counterparty name", "Mã lý do trả lại/Return reason", "Giao dịch hủy/Reversal",
)
_BALANCE_COLUMN = HEADER.index("Số dư/Balance")


def _period(statement: Statement) -> tuple[date | None, date | None]:
    first = statement.opening_date or (statement.lines[0].booking_date if statement.lines else None)
    last = statement.closing_date or (statement.lines[-1].booking_date if statement.lines else None)
    return first, last


def _local(moment: datetime) -> datetime:
    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=LOCAL_TIMEZONE)
    return aware.astimezone(LOCAL_TIMEZONE).replace(tzinfo=None)


def _sao_ke_rows(statement: Statement, bank_name: str, format_amount: Callable[[int], object],
                 format_date: Callable[[date], object],
                 format_moment: Callable[[datetime], object]) -> Iterator[list[object]]:
    """The rows of a sao kê, with the cell formatting left to the caller (numbers or text)."""
    currency = statement.currency or "VND"
    first, last = _period(statement)
    yield [bank_name]
    yield ["SAO KÊ TÀI KHOẢN / ACCOUNT STATEMENT"]
    yield ["Số tài khoản/Account number:", statement.account]
    yield ["Loại tiền/Currency:", currency]
    yield ["Từ ngày/From:", format_date(first) if first else "", "Đến ngày/To:", format_date(last) if last else ""]
    yield []
    yield list(HEADER)
    balance = statement.opening_balance
    if balance is not None:
        row: list[object] = [None] * len(HEADER)
        row[_BALANCE_COLUMN], row[-6] = format_amount(balance), "Số dư đầu kỳ/Opening balance"
        yield row
    debit_total = credit_total = 0
    for number, line in enumerate(statement.lines, start=1):
        if balance is not None:
            balance += line.amount
        debit = -line.amount if line.amount < 0 else None
        credit = line.amount if line.amount > 0 else None
        debit_total += debit or 0
        credit_total += credit or 0
        yield [
            number,
            format_moment(line.booked_at) if line.booked_at is not None else format_date(line.booking_date),
            format_date(line.value_date) if line.value_date else None,
            line.bank_reference,
            format_amount(debit) if debit is not None else None,
            format_amount(credit) if credit is not None else None,
            format_amount(balance) if balance is not None else None,
            line.description, line.end_to_end_ref, line.counterparty_account, line.counterparty_name,
            line.return_reason, "x" if line.is_reversal else None,
        ]
    if statement.closing_balance is not None:
        row = [None] * len(HEADER)
        row[_BALANCE_COLUMN], row[-6] = format_amount(statement.closing_balance), "Số dư cuối kỳ/Closing balance"
        yield row
    total: list[object] = [None] * len(HEADER)
    total[0], total[4], total[5] = "Tổng/Total", format_amount(debit_total), format_amount(credit_total)
    yield total
    yield []
    yield ["Người lập biểu/Prepared by", None, None, None, "Kế toán trưởng/Chief accountant"]


def write_statement_xlsx(statement: Statement, *, bank_name: str = "NGÂN HÀNG / BANK") -> bytes:
    """A Vietnamese bank "sao kê" workbook: info rows, bilingual header, balance rows, Tổng total row."""
    currency = statement.currency or "VND"
    whole_units = currency_exponent(currency) == 0
    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet("Sao ke")
    bold = Font(bold=True)

    def amount_cell(value: int) -> object:
        if whole_units:
            cell = WriteOnlyCell(sheet, value=value)
            cell.number_format = "#,##0"
            return cell
        return minor_to_decimal_text(abs(value), currency) if value >= 0 else \
            "-" + minor_to_decimal_text(-value, currency)

    def date_cell(value: date) -> object:
        cell = WriteOnlyCell(sheet, value=value)
        cell.number_format = "DD/MM/YYYY"
        return cell

    def moment_cell(value: datetime) -> object:
        cell = WriteOnlyCell(sheet, value=_local(value))
        cell.number_format = "DD/MM/YYYY HH:MM:SS"
        return cell

    for row in _sao_ke_rows(statement, bank_name, amount_cell, date_cell, moment_cell):
        if row and row[0] == HEADER[0]:
            styled = []
            for title in row:
                cell = WriteOnlyCell(sheet, value=title)
                cell.font = bold
                styled.append(cell)
            sheet.append(styled)
        else:
            sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def _text_amount(value: int, currency: str, thousands: str) -> str:
    exponent = currency_exponent(currency)
    whole, fraction = divmod(abs(value), 10**exponent)
    grouped = f"{whole:,}".replace(",", thousands)
    text = grouped if exponent == 0 else f"{grouped}{',' if thousands == '.' else '.'}{fraction:0{exponent}d}"
    return "-" + text if value < 0 else text


def write_statement_csv(statement: Statement, *, thousands: str = ".", delimiter: str = ",",
                        bank_name: str = "NGÂN HÀNG / BANK") -> bytes:
    """The same sao kê as CSV (UTF-8 with BOM): amounts as text with "." or "," thousands, dd/mm/yyyy dates."""
    if thousands not in (".", ","):
        raise ValueError("thousands separator must be '.' or ','")
    currency = statement.currency or "VND"
    buffer = io.StringIO()
    writer = csv.writer(buffer, delimiter=delimiter, lineterminator="\r\n")
    rows = _sao_ke_rows(
        statement, bank_name, lambda value: _text_amount(value, currency, thousands),
        lambda value: f"{value:%d/%m/%Y}", lambda value: f"{_local(value):%d/%m/%Y %H:%M:%S}")
    writer.writerows(rows)
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")
