"""Recognise a statement file from its content (never from its name alone)."""

from __future__ import annotations

import codecs
import io
import re
import zipfile

from reconciliation.parsers.errors import StatementParseError

HEAD_BYTES = 64 * 1024

_CAMT_NAMESPACE = re.compile(r"urn:iso:std:iso:20022:tech:xsd:(camt\.05[234])\.001\.(\d\d)")
_CAMT_ROOTS = {"BkToCstmrStmt": "camt.053", "BkToCstmrDbtCdtNtfctn": "camt.054", "BkToCstmrAcctRpt": "camt.052"}
_CAMT_ROOT_ELEMENT = re.compile(r"<(?:\w+:)?(BkToCstmrStmt|BkToCstmrDbtCdtNtfctn|BkToCstmrAcctRpt)[\s>]")
_MT940_TAG = re.compile(r"^(?::(?:\d{2}[A-Z]?|NS):|\{1:F01)", re.MULTILINE)
_OLE2_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"

FORMATS = ("mt940", "camt.052", "camt.053", "camt.054", "csv", "xlsx")


def _name(filename: str | None) -> str:
    return f" ({filename})" if filename else ""


def detect_format(data: bytes, filename: str | None = None) -> str:
    """One of ``mt940``, ``camt.052``, ``camt.053``, ``camt.054``, ``csv``, ``xlsx``; else a parse error."""
    if not data.strip():
        raise StatementParseError(f"Tệp rỗng{_name(filename)}", f"The file is empty{_name(filename)}")
    if data.startswith(b"PK\x03\x04"):
        return _detect_zip(data, filename)
    if data.startswith(_OLE2_MAGIC):
        raise StatementParseError(
            f"Định dạng Excel 97-2003 (.xls){_name(filename)} chưa được hỗ trợ, hãy lưu lại thành .xlsx",
            f"Excel 97-2003 (.xls) files{_name(filename)} are not supported; save the sheet as .xlsx")
    head = decode_head(data, filename)
    stripped = head.lstrip("\ufeff \t\r\n")
    if stripped.startswith("<"):
        return _detect_xml(stripped, filename)
    if stripped.startswith(("{", "[")) and not _MT940_TAG.search(head):
        raise StatementParseError(
            f"Tệp JSON{_name(filename)} không phải sao kê ngân hàng",
            f"A JSON file{_name(filename)} is not a bank statement")
    if _MT940_TAG.search(head):
        return "mt940"
    return "csv"


def _detect_zip(data: bytes, filename: str | None) -> str:
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = set(archive.namelist())
    except (zipfile.BadZipFile, OSError, ValueError, EOFError) as exc:
        raise StatementParseError(f"Tệp nén ZIP/xlsx bị hỏng{_name(filename)}: {exc}",
                                  f"Damaged ZIP/xlsx file{_name(filename)}: {exc}") from None
    if "xl/workbook.xml" in names:
        return "xlsx"
    raise StatementParseError(f"Tệp nén ZIP{_name(filename)} không phải bảng tính .xlsx",
                              f"A ZIP archive{_name(filename)} that is not an .xlsx workbook")


def _detect_xml(head: str, filename: str | None) -> str:
    found = _CAMT_NAMESPACE.search(head)
    if found:
        return found.group(1)
    root = _CAMT_ROOT_ELEMENT.search(head)
    if root:
        return _CAMT_ROOTS[root.group(1)]
    lowered = head[:2000].lower()
    if "<html" in lowered or "<table" in lowered or "<!doctype html" in lowered:
        raise StatementParseError(
            f"Tệp HTML{_name(filename)} (thường là .xls xuất từ web) chưa được hỗ trợ, hãy lưu thành .xlsx hoặc CSV",
            f"HTML tables{_name(filename)} (often web exports named .xls) are not supported; save as .xlsx or CSV")
    raise StatementParseError(
        f"Tệp XML{_name(filename)} không phải sao kê ISO 20022 camt.052/053/054",
        f"The XML file{_name(filename)} is not an ISO 20022 camt.052/053/054 statement")


def _utf16_or_none(data: bytes) -> str | None:
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    return None


def decode_head(data: bytes, filename: str | None = None) -> str:
    """The first 64 KiB as text (UTF-8 or UTF-16 with a byte-order mark), or a clear error."""
    encoding = _utf16_or_none(data)
    head = data[:HEAD_BYTES]
    if encoding is None and b"\x00" in head:
        raise StatementParseError(
            f"Tệp nhị phân không nhận dạng được{_name(filename)}: không phải xlsx, CSV, MT940 hay camt",
            f"Unrecognised binary file{_name(filename)}: not xlsx, CSV, MT940 or camt")
    decoder = codecs.getincrementaldecoder(encoding or "utf-8")()
    try:
        return decoder.decode(head, final=len(head) == len(data))
    except UnicodeDecodeError as exc:
        raise _encoding_error(exc, filename) from None


def decode_text(data: bytes, filename: str | None = None) -> str:
    """The whole file as text: UTF-8 (with or without BOM) or UTF-16 with BOM; anything else is refused."""
    encoding = _utf16_or_none(data)
    try:
        if encoding:
            return data.decode(encoding)
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise _encoding_error(exc, filename) from None
    return text[1:] if text.startswith("\ufeff") else text


def _encoding_error(exc: UnicodeDecodeError, filename: str | None) -> StatementParseError:
    byte = exc.object[exc.start:exc.start + 1].hex() if isinstance(exc.object, bytes) else "?"
    return StatementParseError(
        f"Tệp{_name(filename)} không được mã hoá UTF-8 (byte 0x{byte} ở vị trí {exc.start}); "
        "hãy xuất lại với mã hoá UTF-8",
        f"The file{_name(filename)} is not UTF-8 encoded (byte 0x{byte} at offset {exc.start}); "
        "export it again as UTF-8")
