"""A statement's fingerprint: the same statement in every format gives the same one, whatever the order of its
lines; any change of bank, account, period, balance or line gives another."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

from reconciliation.fingerprint import fingerprint_text, statement_fingerprint
from reconciliation.parsers import parse_statement_file
from reconciliation.writers import write_camt053, write_mt940, write_statement_csv, write_statement_xlsx
from tests.app.reconciliation_api.world import other_line, statement
from tests.support.world import BIDV, VIETCOMBANK

LINES = [other_line(VIETCOMBANK, -650_000, bank_reference="FT23456789", end_to_end_ref="ANSINH-202603-TGXH-1"),
         other_line(VIETCOMBANK, 650_000, bank_reference="RT23456789", end_to_end_ref="ANSINH-202603-TGXH-1",
                    booking_date=date(2026, 3, 12), value_date=date(2026, 3, 12)),
         other_line(VIETCOMBANK, -22_000, bank_reference=None, description="Phí quản lý tài khoản")]


def test_the_same_statement_in_every_format_has_one_fingerprint():
    original = statement(VIETCOMBANK, LINES, statement_id="SK-1")
    files = [(write_camt053(original), "a.xml"), (write_mt940(original), "a.sta"),
             (write_statement_csv(original), "a.csv"), (write_statement_xlsx(original), "a.xlsx")]
    fingerprints = {statement_fingerprint(VIETCOMBANK, parsed) for data, name in files
                    for parsed in parse_statement_file(data, name)}
    assert fingerprints == {statement_fingerprint(VIETCOMBANK, original)}
    assert len(next(iter(fingerprints))) == 32


def test_the_order_of_the_lines_does_not_count_but_every_fact_does():
    base = statement(VIETCOMBANK, LINES)
    fingerprint = statement_fingerprint(VIETCOMBANK, base)
    assert statement_fingerprint(VIETCOMBANK, statement(VIETCOMBANK, list(reversed(LINES)))) == fingerprint
    changed = [
        replace(base, opening_date=date(2026, 3, 8)), replace(base, closing_date=date(2026, 3, 13)),
        replace(base, opening_balance=1, closing_balance=1 + base.line_total),
        replace(base, account="0011004455668"),
        statement(VIETCOMBANK, [*LINES[:2], replace(LINES[2], amount=-22_001)]),
        statement(VIETCOMBANK, [*LINES[:2], replace(LINES[2], booking_date=date(2026, 3, 11))]),
        statement(VIETCOMBANK, LINES[:2], closing_balance=base.closing_balance),  # one line fewer
    ]
    others = {statement_fingerprint(VIETCOMBANK, s) for s in changed}
    assert len(others) == len(changed) and fingerprint not in others
    assert statement_fingerprint(BIDV, base) != fingerprint
    # The end-to-end reference depends on the format (a bank's CSV often has no end-to-end column, it sits in
    # the description): the same statement with or without it is the same statement. The bank's reference counts.
    assert statement_fingerprint(VIETCOMBANK, statement(VIETCOMBANK, [*LINES[:2], replace(LINES[2], bank_reference="FEE")])) \
        != fingerprint
    bare = statement(VIETCOMBANK, [replace(line, end_to_end_ref=None) for line in LINES])
    assert statement_fingerprint(VIETCOMBANK, bare) == fingerprint


def test_the_canonical_text_counts_its_account_and_sorts_its_lines():
    facts = {"bank_bin": VIETCOMBANK, "opening_date": None, "closing_date": None,
             "opening_balance": 0, "closing_balance": 0}
    one = fingerprint_text(**facts, account="1|2", lines=[(date(2026, 3, 2), -5, "B|1"), (date(2026, 3, 1), 5, None)])
    assert one.splitlines() == ["ansinh-statement-v2", VIETCOMBANK, "3:1|2", "", "", "0", "0", "2",
                                "2026-03-01|5|0:", "2026-03-02|-5|3:B|1"]
    assert fingerprint_text(**facts, account="1", lines=[]) != fingerprint_text(**facts, account="1|", lines=[])
