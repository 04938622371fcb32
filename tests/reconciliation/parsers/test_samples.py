"""Every public sample statement parses with the counts MANIFEST.tsv gives; the fragments are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciliation.parsers import StatementParseError, parse_statement_file
from tests.reconciliation.parsers.samples import manifest, samples_dir

MANIFEST = manifest()

# Single-tag fragments from the cmxl/wolph tag tests, not statements: no :20:, so no statement,
# no account and (for the :61: ones) no currency. Refused, naming the problem.
MT940_FRAGMENTS = {
    "mt940/cmxl/account_balance_credit.sta": ":60F: is outside a statement",
    "mt940/cmxl/account_balance_debit.sta": ":60F: is outside a statement",
    "mt940/cmxl/account_identification_iban.sta": ":25: is outside a statement",
    "mt940/cmxl/account_identification_legacy.sta": ":25: is outside a statement",
    "mt940/cmxl/available_balance.sta": ":64: is outside a statement",
    "mt940/cmxl/closing_balance.sta": ":62F: is outside a statement",
    "mt940/cmxl/statement_details.sta": ":61: is outside a statement",
    "mt940/cmxl/statement_line.sta": ":61: is outside a statement",
    "mt940/cmxl/statement_number.sta": ":28C: is outside a statement",
    "mt940/self-provided/transaction_details.yml": ":61: is outside a statement",
    # A :20: alone: a statement without an account.
    "mt940/cmxl/reference.sta": "no :25: tag (account number)",
}
# A camt.054 batch whose three TxDtls carry no amounts: one line for the entry (amounts can't be invented).
CAMT_BATCH_WITHOUT_AMOUNTS = {"camt/genkgo-camt/camt054.v2.xml"}

MT940_STATEMENTS = sorted(
    name for name, entry in MANIFEST.items()
    if entry.content.startswith("MT94x") and name.endswith((".sta", ".txt")) and name not in MT940_FRAGMENTS)
CAMT_STATEMENTS = sorted(name for name, entry in MANIFEST.items() if entry.content.startswith("camt.05"))
NOT_STATEMENTS = sorted(
    name for name in MANIFEST
    if name.endswith((".json", ".yml", "LICENSE")) and name not in MT940_FRAGMENTS)


def read_sample(name: str) -> bytes:
    return (samples_dir() / name).read_bytes()


def test_manifest_lists_every_sample_file(samples: Path) -> None:
    on_disk = {str(p.relative_to(samples)) for p in samples.rglob("*") if p.is_file()} - {"MANIFEST.tsv", "README.md"}
    assert on_disk == set(MANIFEST)
    assert len(MT940_STATEMENTS) == 18 and len(CAMT_STATEMENTS) == 14


@pytest.mark.parametrize("name", MT940_STATEMENTS)
def test_mt940_sample_parses_with_manifest_counts(name: str) -> None:
    entry = MANIFEST[name]
    statements = parse_statement_file(read_sample(name), Path(name).name)
    assert len(statements) == entry.count("stmts(:20:)")
    assert sum(len(s.lines) for s in statements) == entry.count(":61:")
    for statement in statements:
        assert statement.source_format == "mt940"
        assert statement.account
        assert [line.line_no for line in statement.lines] == list(range(1, len(statement.lines) + 1))
        assert all(isinstance(line.amount, int) and line.currency == statement.currency for line in statement.lines)


@pytest.mark.parametrize("name", CAMT_STATEMENTS)
def test_camt_sample_parses_with_manifest_counts(name: str) -> None:
    entry = MANIFEST[name]
    statements = parse_statement_file(read_sample(name), Path(name).name)
    assert len(statements) == entry.count("stmts")
    expected_lines = entry.count("Ntry") if name in CAMT_BATCH_WITHOUT_AMOUNTS else entry.count("TxDtls")
    assert sum(len(s.lines) for s in statements) == expected_lines
    assert statements[0].source_format == entry.content.split(";")[0]


@pytest.mark.parametrize("name", sorted(MT940_FRAGMENTS))
def test_mt940_fragment_is_refused_with_the_reason(name: str) -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(read_sample(name), Path(name).name)
    error = caught.value
    assert "MT940" in error.message
    assert any(MT940_FRAGMENTS[name] in row["message_en"] for row in error.errors), error.errors
    assert all(row["message"] and row["row"] == 1 for row in error.errors[:1])


@pytest.mark.parametrize("name", NOT_STATEMENTS)
def test_expected_result_and_licence_files_are_not_statements(name: str) -> None:
    with pytest.raises(StatementParseError) as caught:
        parse_statement_file(read_sample(name), Path(name).name)
    assert " / " in caught.value.message  # Vietnamese / English


def test_subite_statements_add_up_and_carry_end_to_end_references() -> None:
    for name in ("camt/subite-camt-to-coda/BE68793230773034-202411.xml",
                 "camt/subite-camt-to-coda/account_statement-2.xml"):
        (statement,) = parse_statement_file(read_sample(name))
        assert statement.adds_up is True
        assert all(line.end_to_end_ref for line in statement.lines)
        assert statement.account == "BE68793230773034" and statement.currency == "EUR"
    (november,) = parse_statement_file(read_sample("camt/subite-camt-to-coda/BE68793230773034-202411.xml"))
    assert (november.opening_balance, november.closing_balance) == (5937037, 8753912)


def test_betterplace_returns_and_reversals() -> None:
    statements = parse_statement_file(read_sample("mt940/betterplace/sepa_mt9401.sta"))
    lines = [line for statement in statements for line in statement.lines]
    returns = [line for line in lines if line.return_reason]
    reversals = [line for line in lines if line.is_reversal]
    assert len(returns) == 17 and {line.return_reason for line in returns} == {"901", "903", "914"}
    assert all(line.amount > 0 and "RETOURE" in (line.description or "") for line in returns)
    assert len(reversals) == 2 and all(line.amount == -20488 for line in reversals)  # RC: a credit taken back
    first_return = returns[0]
    assert first_return.end_to_end_ref == "TFNR 40005 00005"
    assert first_return.bank_reference == "0724710345313905"
    assert all(statement.adds_up for statement in statements)


def test_multi_statement_mt940_keeps_each_statement() -> None:
    statements = parse_statement_file(read_sample("mt940/jejik/generic.sta"))
    assert [(s.statement_id, s.opening_balance, s.closing_balance, len(s.lines)) for s in statements] == [
        ("GENERIC/1", 10000, 9000, 1), ("GENERIC/2", 9000, 8000, 1)]


def test_german_structured_details_give_counterparty_and_reference() -> None:
    (statement,) = parse_statement_file(read_sample("mt940/self-provided/details_60-63.sta"))
    (line,) = statement.lines
    assert line.amount == -23315 and line.currency == "EUR"
    assert line.end_to_end_ref == "123/123/12345-----L110"
    assert line.counterparty_account == "DE99700500000000012345"
    assert line.counterparty_name == "Finanzamt Muenchen Abteilung Erhebung"


def test_swift_keyword_details_give_reference_name_and_remittance() -> None:
    statements = parse_statement_file(read_sample("mt940/jejik/rabobank-iban.sta"))
    first, second = statements[0].lines
    assert first.end_to_end_ref == "01-01-2013 12:00 0030000987654321"
    assert first.counterparty_name == "CONTRA ACCOUNT HOLDER"  # a 65-character line was cut mid-word
    assert second.counterparty_name == "JOHN DOE" and second.description == "Reference 201301234"
