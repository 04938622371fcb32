"""The format comes from the content, whatever the file is called."""

from __future__ import annotations

import pytest

from reconciliation.parsers import StatementParseError, detect_format
from tests.reconciliation.parsers.samples import samples_dir


@pytest.mark.parametrize(("name", "expected"), [
    ("camt/genkgo-camt/camt053.v2.minimal.xml", "camt.053"), ("camt/genkgo-camt/camt054.v8.xml", "camt.054"),
    ("mt940/jejik/abnamro.sta", "mt940"), ("mt940/citi/mt940.txt", "mt940"),
    ("mt940/cmxl/available_balance.sta", "mt940"),
])
def test_samples_are_recognised_under_any_name(name: str, expected: str) -> None:
    data = (samples_dir() / name).read_bytes()
    assert detect_format(data, "upload.csv") == expected
    assert detect_format(data, None) == expected


def test_camt_without_namespace_and_camt052() -> None:
    assert detect_format(b"<Document><BkToCstmrStmt><GrpHdr/></BkToCstmrStmt></Document>") == "camt.053"
    assert detect_format(b'<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.052.001.02"/>') == "camt.052"


def test_text_tables_are_csv_and_zips_must_be_workbooks() -> None:
    assert detect_format("Ngày giao dịch;Số tiền\n".encode(), "x.xlsx") == "csv"
    with pytest.raises(StatementParseError):
        detect_format(b"PK\x03\x04garbage", "x.xlsx")
