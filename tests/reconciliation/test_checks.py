"""A bank reference given twice for one account in one file: each row named where the file has it."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from reconciliation.checks import repeated_bank_references
from reconciliation.parsers import parse_statement_file
from reconciliation.writers import write_camt053, write_mt940, write_statement_csv, write_statement_xlsx
from tests.reconciliation.parsers.samples import samples_dir
from tests.reconciliation.test_writers import line, statement_of

# Lines 2 and 4 give the same bank reference: the second is the first transaction again, or a mistake.
REPEATED = statement_of([line(1, -1_500_000), line(2, -2_000_000), line(3, -2_500_000),
                         line(4, -2_000_000, bank_reference="FT24010000000002")])


def test_reference_column_and_rows_as_each_format_names_them() -> None:
    # csv and xlsx: the sheet row and the column header as written (info rows, header, opening balance first)
    for data, name in ((write_statement_csv(REPEATED), "sao-ke.csv"), (write_statement_xlsx(REPEATED), "sao-ke.xlsx")):
        errors = repeated_bank_references(parse_statement_file(data, name))
        rows = [(e["row"], e["column"]) for e in errors]
        assert len(rows) == 2 and {column for _, column in rows} == {"Số tham chiếu/Reference"}, (name, rows)
        assert rows[1][0] - rows[0][0] == 2, (name, rows)  # the 2nd and the 4th transaction row
    # MT940: the line of the :61: tag in the file
    data = write_mt940(REPEATED)
    tag_lines = [number for number, text in enumerate(data.decode().splitlines(), start=1) if text.startswith(":61:")]
    errors = repeated_bank_references(parse_statement_file(data, "sao-ke.sta"))
    assert [(e["row"], e["column"]) for e in errors] == [(tag_lines[1], ":61:"), (tag_lines[3], ":61:")]
    # camt: the entry's number in the file, and the XML line where it starts
    errors = repeated_bank_references(parse_statement_file(write_camt053(REPEATED), "sao-ke.xml"))
    assert [(e["row"], e["column"]) for e in errors] == [(2, "Ntry/AcctSvcrRef"), (4, "Ntry/AcctSvcrRef")]
    assert all(e.get("line") for e in errors)
    error = errors[0]
    assert error["message"] == (
        "Sao kê SK202401/1: số tham chiếu FT24010000000002 của ngân hàng có ở 2 dòng của tài khoản 0011001234567 "
        "(dòng 2, 4); mỗi giao dịch có số tham chiếu riêng, ngân hàng cần kiểm tra và gửi lại sao kê")
    assert error["message_en"] == (
        "statement SK202401/1: bank reference FT24010000000002 is on 2 rows of account 0011001234567 (rows 2, 4); "
        "each transaction has its own reference, the bank needs to check the statement and send it again")


@pytest.mark.parametrize("reference", [None, "", "NONREF", "NOTPROVIDED", " nonref "])
def test_lines_without_a_reference_of_their_own_are_not_compared(reference: str | None) -> None:
    lines = [line(1, -1_500_000, bank_reference=reference), line(2, -2_000_000, bank_reference=reference),
             line(3, -2_500_000)]
    statement = statement_of(lines)
    assert repeated_bank_references([statement]) == []
    for data, name in ((write_mt940(statement), "a.sta"), (write_statement_csv(statement), "a.csv")):
        assert repeated_bank_references(parse_statement_file(data, name)) == []


def test_other_accounts_and_a_statement_repeated_whole_are_not_this_refusal() -> None:
    first = statement_of([line(1, -1_500_000), line(2, -2_000_000)])
    # the other side of a transfer between two accounts of the bank carries the same reference
    other_account = replace(statement_of([line(1, 1_500_000)]), account="0011009999999", statement_id="SK202401/9")
    assert repeated_bank_references([first, other_account]) == []
    # the same statement twice in one file is refused as such by the importer, not row by row here
    assert repeated_bank_references(parse_statement_file(write_mt940(first) + write_mt940(first), "x.sta")) == []
    # two statements of one account (two days) sharing a reference are refused, each row named
    next_day = replace(statement_of([line(7, -700_000, bank_reference="FT24010000000001")]), statement_id="SK202401/2")
    errors = repeated_bank_references([first, next_day])
    assert [(e["row"], e["message"].split(":")[0]) for e in errors] == [(1, "Sao kê SK202401/1"),
                                                                       (1, "Sao kê SK202401/2")]


def test_a_batch_entrys_transactions_share_its_reference() -> None:
    """camt.054 v4 and v8 samples: one Ntry with three TxDtls, each line with the entry's AcctSvcrRef."""
    for name in ("camt/genkgo-camt/camt054.v4.xml", "camt/genkgo-camt/camt054.v8.xml"):
        statements = parse_statement_file((samples_dir() / name).read_bytes(), Path(name).name)
        assert [item.bank_reference for item in statements[0].lines] == ["ACSR160617103200001"] * 3
        assert repeated_bank_references(statements) == []


def test_of_the_public_samples_only_one_repeats_a_reference() -> None:
    """Every sample still parses; the one that repeats a bank reference on two lines of one account (cmxl's,
    a standing order and a salary both //55555) would be refused at import, as its EUR is anyway."""
    repeating: dict[str, list[int | None]] = {}
    for path in sorted(p for p in samples_dir().rglob("*") if p.suffix in (".sta", ".txt", ".xml")):
        try:
            statements = parse_statement_file(path.read_bytes(), path.name)
        except ValueError:
            continue  # the fragments, refused by the parser with their reason (test_samples)
        errors = repeated_bank_references(statements)
        if errors:
            repeating[str(path.relative_to(samples_dir()))] = [e["row"] for e in errors]
    assert repeating == {"mt940/cmxl/mt940.sta": [36, 38]}
