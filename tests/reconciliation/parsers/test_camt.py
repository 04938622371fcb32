"""camt specifics: prefixes, pretty printing, pending entries, camt.052, batches, notifications."""

from __future__ import annotations

import re
from datetime import date

from lxml import etree

from reconciliation.parsers import parse_statement_file
from reconciliation.writers import write_camt053
from tests.reconciliation.parsers.samples import samples_dir
from tests.reconciliation.test_writers import RICH

SUBITE = "camt/subite-camt-to-coda/BE68793230773034-202411.xml"


def test_prefixed_namespace_reads_like_the_default_namespace() -> None:
    text = (samples_dir() / SUBITE).read_text(encoding="utf-8")
    prefixed = re.sub(r"<(/?)(\w)", r"<\1ns2:\2", text).replace("xmlns=", "xmlns:ns2=", 1)
    assert "<ns2:Ntry>" in prefixed
    (plain,) = parse_statement_file(text.encode())
    (with_prefix,) = parse_statement_file(prefixed.encode())
    assert with_prefix.lines == plain.lines and len(plain.lines) == 268


def test_pretty_printed_file_reads_like_a_compact_one() -> None:
    compact = write_camt053(RICH)
    pretty = etree.tostring(etree.fromstring(compact), pretty_print=True, xml_declaration=True, encoding="UTF-8")
    assert pretty.count(b"\n") > 100
    assert parse_statement_file(pretty)[0].lines == parse_statement_file(compact)[0].lines == RICH.lines


def test_pending_entries_are_not_booked_lines() -> None:
    compact = write_camt053(RICH).decode()
    pending = compact.replace("<Sts><Cd>BOOK</Cd></Sts>", "<Sts><Cd>PDNG</Cd></Sts>", 2)
    (statement,) = parse_statement_file(pending.encode())
    assert [line.line_no for line in statement.lines] == [1, 2, 3, 4]
    assert [line.amount for line in statement.lines] == [line.amount for line in RICH.lines[2:]]


def test_camt052_report_and_text_status() -> None:
    compact = write_camt053(RICH).decode()
    report = (compact.replace("camt.053.001.08", "camt.052.001.08").replace("BkToCstmrStmt", "BkToCstmrAcctRpt")
              .replace("<Stmt>", "<Rpt>").replace("</Stmt>", "</Rpt>")
              .replace("<Sts><Cd>BOOK</Cd></Sts>", "<Sts>BOOK</Sts>"))
    (statement,) = parse_statement_file(report.encode())
    assert statement.source_format == "camt.052.001.08" and statement.lines == RICH.lines


def test_batch_entry_splits_into_its_transactions() -> None:
    (notification,) = parse_statement_file((samples_dir() / "camt/genkgo-camt/camt054.v8.xml").read_bytes())
    assert notification.source_format == "camt.054.001.08"
    assert notification.opening_balance is None and notification.adds_up is None
    assert [line.end_to_end_ref for line in notification.lines] == [  # the sample repeats EE00002
        "UXC06170000006PI00001EE00001", "UXC06170000006PI00001EE00002", "UXC06170000006PI00001EE00002"]
    assert [(line.amount, line.currency) for line in notification.lines] == [(-310, "CHF"), (-320, "CHF"),
                                                                            (-320, "CHF")]
    assert [line.counterparty_name for line in notification.lines] == [
        "Example Creditor 3 - V1", "Example Creditor 3 - V2", "Example Creditor 3 - V3"]
    assert all(line.amount < 0 and line.bank_reference == "ACSR160617103200001" for line in notification.lines)


def test_notification_without_dates_takes_the_message_date() -> None:
    (notification,) = parse_statement_file((samples_dir() / "camt/genkgo-camt/camt054.v8-with-UETR.xml").read_bytes())
    (line,) = notification.lines
    assert line.booking_date == date(2007, 10, 18) and line.value_date is None
    assert line.bank_reference == "255ae394-9965-4438-ac86-f406feada396"


def test_versions_two_to_eight_give_the_same_core_fields() -> None:
    folder = samples_dir() / "camt/genkgo-camt"
    for name in ("camt053.v2.minimal.xml", "camt053.v3.xml", "camt053.v4.xml", "camt053.v8.xml"):
        (statement,) = parse_statement_file((folder / name).read_bytes())
        (line,) = statement.lines
        assert (line.amount, line.currency, line.booking_date) == (885, "EUR", date(2014, 12, 31)), name
        assert statement.account == "NL26VAYB8060476890" and statement.opening_balance == 1815, name


def test_redeclared_default_namespace_and_foreign_entries() -> None:
    compact = write_camt053(RICH).decode()
    redeclared = compact.replace("<BkToCstmrStmt>", '<BkToCstmrStmt xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.08">')
    foreign = compact.replace("</TxDtls>", '<SplmtryData><Envlp><x:Ntry xmlns:x="urn:example:other"><x:Stmt/>'
                                             "</x:Ntry></Envlp></SplmtryData></TxDtls>", 1)
    assert foreign.count("x:Ntry") == 2
    assert parse_statement_file(redeclared.encode())[0].lines == RICH.lines
    assert parse_statement_file(foreign.encode())[0].lines == RICH.lines
