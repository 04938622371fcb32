"""Hostile or broken input always ends in a StatementParseError with a message — nothing else."""

from __future__ import annotations

import io
import os
import zipfile

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciliation.parsers import StatementParseError, parse_statement_file

NS = "urn:iso:std:iso:20022:tech:xsd:camt.053.001.08"


def camt(entries: str, account: str = "<Acct><Id><Othr><Id>0011001234567</Id></Othr></Id></Acct>") -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><Document xmlns="{NS}"><BkToCstmrStmt><GrpHdr><MsgId>M1</MsgId>'
            f"<CreDtTm>2024-01-31T10:00:00+07:00</CreDtTm></GrpHdr><Stmt><Id>S1</Id>{account}{entries}</Stmt>"
            f"</BkToCstmrStmt></Document>").encode()


def rejected(data: bytes, filename: str | None = None) -> StatementParseError:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(data, filename)
    error = caught.value
    assert error.message_vi and error.message_en and error.message == f"{error.message_vi} / {error.message_en}"
    return error


def test_billion_laughs_entity_bomb_is_refused() -> None:
    entities = "".join(f'<!ENTITY lol{i} "{f"&lol{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE Document [<!ENTITY lol0 "lol">{entities}]>'
            f'<Document xmlns="{NS}"><BkToCstmrStmt>&lol9;</BkToCstmrStmt></Document>').encode()
    assert "DOCTYPE" in rejected(bomb, "bomb.xml").message_en


def test_external_entity_is_refused_without_reading_the_file() -> None:
    xxe = (f'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
           f'<Document xmlns="{NS}"><BkToCstmrStmt><Stmt><Id>&xxe;</Id></Stmt></BkToCstmrStmt></Document>').encode()
    error = rejected(xxe)
    assert "DOCTYPE" in error.message_en and "root:" not in error.message


def test_undeclared_entity_is_a_syntax_error_with_its_line() -> None:
    error = rejected(camt('<Ntry><Amt Ccy="VND">&xxe;</Amt></Ntry>'))
    assert "Entity 'xxe' not defined" in error.message_en and "line 1" in error.message_en


def test_deeply_nested_xml_hits_the_parser_limit() -> None:
    error = rejected(camt("<Ntry>" + "<a>" * 5000 + "</a>" * 5000 + "</Ntry>"))
    assert "depth" in error.message_en.lower()


def test_truncated_xml_is_refused() -> None:
    data = camt('<Ntry><Amt Ccy="VND">1500000</Amt><CdtDbtInd>DBIT</CdtDbtInd></Ntry>')
    assert "Malformed XML" in rejected(data[:-60]).message_en


def test_camt_must_be_utf8() -> None:
    utf16 = "\ufeff".encode("utf-16-le") + camt("").decode().replace("UTF-8", "UTF-16").encode("utf-16-le")
    assert "UTF-8" in rejected(utf16).message_en
    assert "ISO-8859-1" in rejected(camt("").replace(b"UTF-8", b"ISO-8859-1")).message_en


def test_camt_entry_errors_are_all_listed() -> None:
    entries = ('<Ntry><Amt Ccy="VND">1,5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>'
               "<BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>\n"
               '<Ntry><Amt Ccy="VND">1500000.5</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>'
               "<BookgDt><Dt>2024-01-02</Dt></BookgDt></Ntry>\n"
               '<Ntry><Amt Ccy="VND">10</Amt><CdtDbtInd>XX</CdtDbtInd><BookgDt><Dt>2024-01-03</Dt></BookgDt></Ntry>')
    error = rejected(camt(entries))
    assert [(e["row"], e["column"]) for e in error.errors] == [(1, "Ntry/Amt"), (2, "Ntry/Amt"), (3, "Ntry/CdtDbtInd")]
    assert "more than 0 decimals for VND" in error.errors[1]["message_en"]


def test_camt_entry_errors_name_the_entry_not_the_line() -> None:
    # A one-line file: every entry starts on line 1, so the row is the entry's number, the line extra.
    good = ('<Ntry><Amt Ccy="VND">10</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
            "<BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>")
    bad_amount = ('<Ntry><Amt Ccy="VND">1,5</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>'
                  "<BookgDt><Dt>2024-01-01</Dt></BookgDt></Ntry>")
    bad_sign = '<Ntry><Amt Ccy="VND">10</Amt><CdtDbtInd>XX</CdtDbtInd><BookgDt><Dt>2024-01-03</Dt></BookgDt></Ntry>'
    error = rejected(camt(good + bad_amount + good + bad_sign))
    assert [(e["row"], e["column"], e.get("line")) for e in error.errors] == [
        (2, "Ntry/Amt", 1), (4, "Ntry/CdtDbtInd", 1)]
    # Entries of a second statement go on counting: the row names one entry of the file.
    two = camt(good).replace(b"</Stmt>", b"</Stmt><Stmt><Id>S2</Id><Acct><Id><Othr><Id>0011001234567</Id></Othr>"
                             b"</Id></Acct>" + (good + bad_sign).encode() + b"</Stmt>")
    assert [(e["row"], e["column"]) for e in rejected(two).errors] == [(3, "Ntry/CdtDbtInd")]


def test_camt_balance_errors_have_no_entry_row_but_their_line() -> None:
    data = camt("").replace(b"<Acct>", b'<Bal><Tp><CdOrPrtry><Cd>OPBD</Cd></CdOrPrtry></Tp><Amt Ccy="VND">1,5</Amt>'
                                       b"<CdtDbtInd>CRDT</CdtDbtInd><Dt><Dt>2024-01-01</Dt></Dt></Bal><Acct>", 1)
    errors = rejected(data).errors
    assert errors and errors[0]["row"] is None and errors[0]["column"] == "Bal" and errors[0]["line"] == 1


def test_camt_without_account_is_refused() -> None:
    error = rejected(camt('<Ntry><Amt Ccy="VND">1</Amt><CdtDbtInd>CRDT</CdtDbtInd></Ntry>', account=""))
    assert "no account number" in error.errors[0]["message_en"]


def _xlsx_with_sheet(sheet_xml: str, extra: dict[str, bytes] | None = None) -> bytes:
    parts = {
        "[Content_Types].xml": '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
        'content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.'
        'relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName='
        '"/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+'
        'xml"/><Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-'
        'officedocument.spreadsheetml.worksheet+xml"/></Types>',
        "_rels/.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/'
        'relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
        'relationships/officeDocument" Target="xl/workbook.xml"/></Relationships>',
        "xl/workbook.xml": '<?xml version="1.0"?><workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/'
        '2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet '
        'name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
        "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/'
        'package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/'
        'officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/></Relationships>',
        "xl/worksheets/sheet1.xml": sheet_xml,
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
        for name, raw in (extra or {}).items():
            archive.writestr(name, raw)
    return buffer.getvalue()


def _sheet(dimension: str | None, rows: str) -> str:
    dim = f'<dimension ref="{dimension}"/>' if dimension else ""
    return (f'<?xml version="1.0"?><worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
            f"{dim}<sheetData>{rows}</sheetData></worksheet>")


A1 = '<row r="1"><c r="A1" t="inlineStr"><is><t>Số tài khoản: 1</t></is></c></row>'


def test_sheet_declaring_a_million_columns_is_refused_before_loading() -> None:
    error = rejected(_xlsx_with_sheet(_sheet("A1:BDWGN1", A1 + '<row r="2"><c r="BDWGN2"><v>1</v></c></row>')))
    assert "1000000 columns" in error.message_en or "column 1000000" in error.message_en


def test_declared_size_alone_is_enough_to_refuse() -> None:
    error = rejected(_xlsx_with_sheet(_sheet("A1:BDWGN1048576", A1)))
    assert "declares 1048576 rows × 1000000 columns" in error.message_en


def test_far_away_cell_without_dimension_is_refused_before_loading() -> None:
    error = rejected(_xlsx_with_sheet(_sheet(None, A1 + '<row r="1048576"><c r="XFD1048576"><v>1</v></c></row>')))
    assert "column 16384" in error.message_en


def test_row_beyond_excel_limit_is_refused() -> None:
    error = rejected(_xlsx_with_sheet(_sheet(None, A1 + '<row r="99999999"><c r="B99999999"><v>1</v></c></row>')))
    assert "row 99999999" in error.message_en


def test_a_too_large_sheet_says_so_once_in_each_language() -> None:
    error = rejected(_xlsx_with_sheet(_sheet("A1:BDWGN1048576", A1)), "sao-ke.xlsx")
    assert error.message_vi == "Bảng tính quá lớn: xl/worksheets/sheet1.xml khai báo kích thước 1048576 dòng × " \
                               "1000000 cột (tối đa 1048576 dòng, 256 cột)"
    assert error.message_en == "The sheet is too large: xl/worksheets/sheet1.xml declares 1048576 rows × " \
                               "1000000 columns (at most 1048576 rows, 256 columns)"
    assert error.message.count(" / ") == 1 and "hỏng" not in error.message and "Damaged" not in error.message


def test_cells_without_position_are_refused() -> None:
    error = rejected(_xlsx_with_sheet(_sheet(None, '<row r="1">' + "<c><v>1</v></c>" * 50 + "</row>")))
    assert "without a reference" in error.message_en and "too large" not in error.message_en
    assert error.message.count(" / ") == 1


def test_zip_bomb_is_refused() -> None:
    error = rejected(_xlsx_with_sheet(_sheet("A1", A1), extra={"xl/media/padding.bin": b"\0" * (12 * 1024 * 1024)}))
    assert "zip bomb" in error.message_en


def test_damaged_and_foreign_archives_are_refused() -> None:
    good = _xlsx_with_sheet(_sheet("A1", A1))
    assert "Damaged" in rejected(good[: len(good) // 2], "cut.xlsx").message_en
    other = io.BytesIO()
    with zipfile.ZipFile(other, "w") as archive:
        archive.writestr("readme.txt", "hello")
    assert "not an .xlsx" in rejected(other.getvalue()).message_en


@pytest.mark.parametrize(("data", "fragment"), [
    (b"", "empty"),
    (b"   \r\n ", "empty"),
    (os.urandom(4096) + b"\0", "Unrecognised binary"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + os.urandom(512), ".xls"),
    (b'{"getEntries": []}', "JSON"),
    (b"<html><body><table><tr><td>1</td></tr></table></body></html>", "HTML"),
    (b"<?xml version='1.0'?><note>hi</note>", "not an ISO 20022"),
    ("Số tài khoản: 1\nNgày giao dịch,Nợ\n".encode().decode("utf-8").encode("cp1258", "replace"),
     "not UTF-8"),
    ("Ngày,Debit,Diễn giải\n15/01/2024,1.500.000,x\n".encode("cp1252", "replace"), "not UTF-8"),
    ("Số tài khoản: 1\nNgày giao dịch,Nợ\n".encode("utf-16-le"), "Unrecognised binary"),
    (":20:X\n:25:1\n:60F:C240101VND1000,\n:61:2401150115D10,NTRF//X\n:86:Gr\xfc\xdfe\n".encode("latin-1"),
     "not UTF-8"),
])
def test_garbage_and_wrong_encodings(data: bytes, fragment: str) -> None:
    assert fragment in rejected(data).message_en


def test_mt940_bad_lines_are_all_listed() -> None:
    data = (b":20:STMT1\n:25:0011001234567\n:28C:1\n:60F:C240101VND1000000,\n"
            b":61:240132D10000,NTRFNONREF\n"  # day 32
            b":61:240115D,NTRFNONREF\n"  # no digits in the amount
            b":61:240115D5000,\n"  # no transaction type
            b":62F:C240131VND1000000,\n-\n")
    error = rejected(data)
    assert [e["row"] for e in error.errors] == [5, 6, 7]
    assert all(e["column"] == ":61:" for e in error.errors)


def test_mt940_amount_finer_than_currency_is_refused() -> None:
    data = b":20:S\n:25:1\n:28C:1\n:60F:C240101VND1000,\n:61:240115D10,5NTRFNONREF\n:62F:C240131VND989,5\n"
    error = rejected(data)
    assert [(e["row"], e["column"]) for e in error.errors] == [(5, ":61:"), (6, ":62F:")]
    assert all("more than 0 decimals for VND" in e["message_en"] for e in error.errors)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2048))
def test_arbitrary_bytes_never_escape_as_another_exception(data: bytes) -> None:
    try:
        parse_statement_file(data, "fuzz")
    except StatementParseError as error:
        assert error.message
    # a few random byte strings are valid CSV with a header; reaching here is fine too


_TEXT_PIECES = st.sampled_from([
    ":20:", ":25:", ":28C:", ":60F:", ":61:", ":62F:", ":86:", "\n", "C", "D", "RC", "240115", "0115", "VND",
    "EUR", "1500,", "10,5", "NTRF", "NONREF", "//", "/EREF/", "/RTRN/", "?20", "EREF+", "-", "{1:F01", "Ngày",
    "Số tiền ghi nợ", ",", ";", "15/01/2024", "1.500.000", "Tổng", "Số tài khoản:", "<", "Document", ">", "&",
])


@settings(max_examples=200, deadline=None)
@given(st.lists(_TEXT_PIECES, max_size=60))
def test_statement_like_text_never_escapes_as_another_exception(pieces: list[str]) -> None:
    try:
        parse_statement_file("".join(pieces).encode(), "fuzz.txt")
    except StatementParseError as error:
        assert error.message
