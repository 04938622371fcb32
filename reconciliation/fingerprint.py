"""A bank statement's fingerprint: what it says, whatever file format it came in.

The bank's statement id and the file's SHA-256 tell a repeat only when the bank keeps its ids and sends the
same bytes; a CSV export saved again as xlsx has neither (CSV and xlsx carry no statement id). The
fingerprint is the SHA-256 of a canonical text of the statement: the bank, the account, the period (from and
to), the opening and closing balances, the number of lines and each line's booking date, signed amount and bank
reference, the lines sorted (so their order in the file does not count). The end-to-end reference is left
out: a bank's CSV export often has no end-to-end column (it sits in the description), so the same statement
reads with and without it depending on the format; the bank's own reference is in every format. Two statements of an account with the same fingerprint are the same
statement: the database accepts one per bank (``bank_statement.fingerprint``, migration 0037). Two real
statements with the same lines differ in their period or balances (two empty statements of different days,
for instance).

Migration 0037 computes the same text in SQL from the stored rows (``FINGERPRINT_SQL`` there): change both
together, with a new version tag, or not at all (a test checks that they agree).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from datetime import date

from reconciliation.matching import normalise_account
from reconciliation.parsers.model import Statement

FINGERPRINT_VERSION = "ansinh-statement-v2"

FingerprintLine = tuple[date, int, str | None]  # booking date, signed amount, bank reference


def _counted(value: str | None) -> str:
    """A text field as ``<characters>:<text>`` (none as empty): no separator inside it can shift the fields."""
    value = value or ""
    return f"{len(value)}:{value}"


def fingerprint_text(*, bank_bin: str, account: str, opening_date: date | None, closing_date: date | None,
                     opening_balance: int | None, closing_balance: int | None,
                     lines: Iterable[FingerprintLine]) -> str:
    """The canonical text a fingerprint hashes (``account`` as stored: ``normalise_account``)."""
    rows = sorted((booking_date.isoformat(), amount, bank_reference or "") for booking_date, amount, bank_reference in lines)
    header = [FINGERPRINT_VERSION, bank_bin, _counted(account),
              opening_date.isoformat() if opening_date else "", closing_date.isoformat() if closing_date else "",
              "" if opening_balance is None else str(opening_balance),
              "" if closing_balance is None else str(closing_balance), str(len(rows))]
    body = [f"{booked}|{amount}|{_counted(bank_reference)}" for booked, amount, bank_reference in rows]
    return "\n".join(header + body)


def statement_fingerprint(bank_bin: str, statement: Statement) -> bytes:
    """SHA-256 (32 bytes) of ``statement``'s canonical text as ``bank_bin``'s statement."""
    text = fingerprint_text(
        bank_bin=bank_bin, account=normalise_account(statement.account), opening_date=statement.opening_date,
        closing_date=statement.closing_date, opening_balance=statement.opening_balance,
        closing_balance=statement.closing_balance,
        lines=((line.booking_date, line.amount, line.bank_reference) for line in statement.lines))
    return hashlib.sha256(text.encode("utf-8")).digest()
