"""What every parser returns: statements and their lines, money in signed integer minor units."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone

# Times a bank writes without an offset are its local time; the banks we read are in Việt Nam.
LOCAL_TIMEZONE = timezone(timedelta(hours=7))

# What banks write where a transaction has no reference of its own (MT940 ``NONREF``, camt ``NOTPROVIDED``):
# no reference, not one shared by every such line.
NO_REFERENCE = frozenset({"", "NONREF", "NOTPROVIDED"})


@dataclass(frozen=True, slots=True)
class StatementLine:
    """One booked movement on the statement's account.

    ``amount`` is in the currency's minor units (đồng for VND, cents for EUR): credits are
    positive, debits negative. A reversal (MT940 ``RC``/``RD``, camt ``RvslInd``) carries the sign
    of its effect on the balance. ``line_no`` counts from 1 within its statement.

    ``file_row`` (and, for XML, ``file_line``) say where the line is in the file, as the parser's row
    errors name it (``RowError``: the sheet row for CSV and xlsx, the ``:61:`` line for MT940, the entry,
    ``Ntry``, for camt: the lines of one batch entry share its row), for a refusal found after parsing.
    Where a line was read from is not what it says: they are left out of comparisons.
    """

    account: str
    booking_date: date
    value_date: date | None
    booked_at: datetime | None
    amount: int
    currency: str
    bank_reference: str | None
    end_to_end_ref: str | None
    counterparty_account: str | None
    counterparty_name: str | None
    description: str | None
    return_reason: str | None
    is_reversal: bool
    line_no: int
    file_row: int | None = field(default=None, compare=False)
    file_line: int | None = field(default=None, compare=False)


@dataclass(frozen=True, slots=True)
class Statement:
    """One account statement (an MT940 message, a camt ``Stmt``/``Ntfctn``/``Rpt``, a sheet).

    Balances are signed minor units; they are ``None`` when the file has none (camt.054
    notifications, MT940 fragments, sheets without "Số dư đầu kỳ" rows). ``statement_id`` is
    the bank's own identifier when the format has one (MT940 ``:20:``/``:28C:``, camt ``Id``).
    ``source_format`` is ``mt940``, ``camt.053.001.08`` (and the like), ``csv`` or ``xlsx``.
    ``reference_column`` names where the file gives a line's bank reference (the column header as written,
    ``:61:``, ``Ntry/AcctSvcrRef``), for refusals.
    """

    statement_id: str | None
    account: str
    currency: str | None
    opening_balance: int | None
    closing_balance: int | None
    opening_date: date | None
    closing_date: date | None
    lines: tuple[StatementLine, ...]
    source_format: str
    reference_column: str | None = field(default=None, compare=False)

    @property
    def line_total(self) -> int:
        """Sum of the signed line amounts."""
        return sum(line.amount for line in self.lines)

    @property
    def adds_up(self) -> bool | None:
        """Opening balance + lines = closing balance; ``None`` when a balance is missing."""
        if self.opening_balance is None or self.closing_balance is None:
            return None
        return self.opening_balance + self.line_total == self.closing_balance
