"""What banks and commune staff would send back in the demo: statements and withdrawal activity.

Everything here is generated from the payouts the demo really sent, so the files go through the
real statement and withdrawal code paths: a bank statement per bank and month (camt.053, MT940, or
a Vietnamese "sao kê" as xlsx or CSV, by bank), with funding credits, one debit per payout carrying its
end-to-end reference, and a few returns (closed account AC04, deceased MD07); then withdrawal
activity with believable behaviour — most people within a few days, the oldest and the remote
communes slower, a small share never — and assisted withdrawals and cash handovers by commune staff.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reconciliation.parsers.model import LOCAL_TIMEZONE, Statement, StatementLine
from reconciliation.writers import write_camt053, write_mt940, write_statement_csv, write_statement_xlsx

# The file each demo bank sends its statements in.
STATEMENT_FORMATS = {"970436": "camt053", "970405": "mt940", "970418": "csv", "970415": "camt053",
                     "970422": "mt940", "999888": "xlsx"}
REMOTE_PROVINCES = ("11",)  # Điện Biên: the nearest ATM can be 20 km away
CHANNELS_TOWN = (("atm", 55), ("counter", 15), ("qr", 12), ("transfer", 10), ("pos", 8))
CHANNELS_REMOTE = (("agent", 45), ("counter", 30), ("atm", 25))


@dataclass(frozen=True)
class SentPayout:
    id: Any
    reference: str
    beneficiary_id: Any
    bank_bin: str | None
    account_number: str | None
    holder_name: str | None
    amount: int
    commune_code: str
    province_code: str
    age: int
    deceased: bool
    credited_at: datetime | None = None


@dataclass(frozen=True)
class StatementFile:
    bank_bin: str
    filename: str
    content: bytes
    closing_balance: int
    returned: int


async def sent_payouts(session: AsyncSession, period: date, *, status: str = "sent",
                       channel: str = "bank") -> list[SentPayout]:
    """The period's payouts in a status and channel (default: held by a bank, not yet credited), with who
    each is for."""
    rows = await session.execute(text(
        """SELECT p.id, p.reference, p.beneficiary_id, p.bank_bin, p.account_number, p.holder_name, p.amount,
                  p.commune_code, c.province_code,
                  extract(year FROM age(CAST(:period AS date), b.date_of_birth))::int AS age,
                  b.status = 'deceased' AS deceased, p.credited_at
             FROM payout p JOIN payout_run r ON r.id = p.run_id
             JOIN beneficiary b ON b.id = p.beneficiary_id JOIN commune c ON c.code = p.commune_code
            WHERE r.period = :period AND p.status = :status AND p.channel = :channel
            ORDER BY p.serial"""), {"period": period, "status": status, "channel": channel})
    return [SentPayout(*row) for row in rows]  # the columns in the dataclass's order


async def funding_in(session: AsyncSession, period: date) -> list[Any]:
    """Funding recorded for the period's runs (value date in the month), per bank."""
    return list(await session.execute(text(
        """SELECT bank_bin, amount, reference, value_date FROM funding
            WHERE bank_bin IS NOT NULL AND value_date >= :start AND value_date < :start + interval '1 month' ORDER BY bank_bin, reference"""),
        {"start": period}))


_BLANK: dict[str, Any] = {"bank_reference": None, "end_to_end_ref": None, "counterparty_account": None,
                          "counterparty_name": None, "description": None, "return_reason": None,
                          "is_reversal": False}


def _at(day: date, hour: int, minute: int) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=LOCAL_TIMEZONE)


def bank_statement(bank_bin: str, period: date, payouts: list[SentPayout], funding: list[Any], opening: int,
                   account: str, bank_name: str, rng: random.Random, return_share: float = 0.004,
                   deceased_share: float = 0.0003) -> StatementFile:
    """One bank's statement for the month: funding credits, payout debits, a few returns."""
    pay_day = period.replace(day=10)
    moves: list[tuple[datetime, int, dict[str, Any]]] = []
    for number, fund in enumerate(funding):
        moves.append((_at(fund.value_date, 8, number), fund.amount, {
            "bank_reference": fund.reference, "counterparty_name": "KHO BAC NHA NUOC",
            "description": f"Cap kinh phi chi tro cap {fund.reference}"}))
    returned = 0
    for number, payout in enumerate(payouts):
        party = {"end_to_end_ref": payout.reference, "counterparty_account": payout.account_number,
                 "counterparty_name": payout.holder_name}
        moves.append((_at(pay_day, 9 + number % 8, number % 60), -payout.amount, {
            **party, "bank_reference": f"FT{pay_day:%y%m%d}{number:07d}",
            "description": f"Chi tro cap {payout.reference}"}))
        draw = rng.random()
        reason = ("MD07" if payout.deceased or draw < deceased_share
                  else "AC04" if draw < deceased_share + return_share else None)
        if reason is not None:
            returned += 1
            moves.append((_at(pay_day + timedelta(days=2), 14, number % 60), payout.amount, {
                **party, "bank_reference": f"RT{pay_day:%y%m%d}{number:07d}", "return_reason": reason,
                "description": f"Hoan tra {payout.reference} /RTRN/{reason}/"}))
    moves.sort(key=lambda move: move[0])
    lines = [StatementLine(**{**_BLANK, **fields}, account=account, booking_date=booked.date(),
                           value_date=booked.date(), booked_at=booked, amount=amount, currency="VND",
                           line_no=index)
             for index, (booked, amount, fields) in enumerate(moves, start=1)]
    closing = opening + sum(line.amount for line in lines)
    kind = STATEMENT_FORMATS.get(bank_bin, "camt053")
    statement = Statement(statement_id=f"{bank_bin}-{period:%Y%m}", account=account, currency="VND",
                          opening_balance=opening, closing_balance=closing, opening_date=period,
                          closing_date=(period + timedelta(days=32)).replace(day=1) - timedelta(days=1),
                          lines=tuple(lines), source_format=kind)
    if kind == "mt940":
        content, extension = write_mt940(statement), "sta"
    elif kind == "csv":
        content, extension = write_statement_csv(statement), "csv"
    elif kind == "xlsx":
        content, extension = write_statement_xlsx(statement, bank_name=bank_name), "xlsx"
    else:
        content, extension = write_camt053(statement, created_at=_at(statement.closing_date or period, 23, 0)), "xml"
    return StatementFile(bank_bin=bank_bin, filename=f"sao-ke-{bank_bin}-{period:%Y-%m}.{extension}",
                         content=content, closing_balance=closing, returned=returned)


def days_to_withdraw(rng: random.Random, *, age: int, remote: bool) -> float | None:
    """How long a person waits before taking the money out (None: not this month)."""
    never = 0.03 + (0.04 if age >= 85 else 0) + (0.03 if remote else 0)
    if rng.random() < never:
        return None
    median = 1.2 * (1.8 if age >= 80 else 1.3 if age >= 70 else 1.0) * (3.0 if remote else 1.0)
    return min(45.0, rng.lognormvariate(math.log(median), 0.9))


def withdrawals_for(payout: SentPayout, credited_at: datetime, rng: random.Random,
                    now: datetime, waiting: int = 0) -> list[dict[str, Any]]:
    """The bank's withdrawal activity after one payout was credited: one or two withdrawals, or none.
    ``waiting`` is what earlier months left in the account: a person who goes takes it all out."""
    remote = payout.province_code in REMOTE_PROVINCES
    days = days_to_withdraw(rng, age=payout.age, remote=remote)
    if days is None:
        return []
    channels = CHANNELS_REMOTE if remote else CHANNELS_TOWN
    channel = rng.choices([c for c, _ in channels], [w for _, w in channels])[0]
    when = credited_at + timedelta(days=days)
    if when > now:
        return []
    total = payout.amount + waiting
    parts = [total]
    if rng.random() < 0.15 and total >= 200_000:  # two trips: part first, the rest later
        first = (total // 2) // 10_000 * 10_000
        parts = [first, total - first]
    rows = []
    for index, amount in enumerate(parts):
        moment = when + timedelta(days=index * rng.uniform(1, 6))
        if moment > now:
            break
        rows.append({"account_number": payout.account_number, "occurred_at": moment, "amount": amount,
                     "channel": channel, "bank_reference": f"WD{payout.reference}{index}"})
    return rows


def withdrawal_csv(rows: list[dict[str, Any]]) -> bytes:
    """A bank's withdrawal activity export (Vietnamese / English headers, dd/mm/yyyy HH:MM local time)."""
    lines = ["Số tài khoản / Account number,Thời gian / Time,Số tiền / Amount,Kênh / Channel,Mã giao dịch / Reference"]
    for row in rows:
        moment = row["occurred_at"].astimezone(LOCAL_TIMEZONE)
        lines.append(f"{row['account_number']},{moment:%d/%m/%Y %H:%M},{row['amount']},{row['channel']},"
                     f"{row['bank_reference']}")
    return ("\n".join(lines) + "\n").encode("utf-8")
