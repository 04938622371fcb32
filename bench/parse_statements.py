"""Statement parsing throughput: camt.053 and CSV at a million lines, xlsx (and MT940) separately.

    python -m bench.parse_statements --lines 1000000 [--xlsx-lines 100000] [--mt940-lines 0]

Each file is produced by ``reconciliation.writers`` from a synthetic month of payouts
(``generate_statement``, reusable by the reconcile benchmark), parsed with
``parse_statement_file``, and its lines are then COPYed into PostgreSQL (embedded in a temporary
folder unless DATABASE_URL is set) so each parse time is also shown as a ratio to a raw COPY of
the same rows measured in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import random
import time
import warnings
from collections.abc import Callable
from datetime import date, datetime, timedelta, timezone

import asyncpg

from app.logging import configure_logging
from bench.server import admin_url
from reconciliation.parsers import Statement, StatementLine, parse_statement_file
from reconciliation.writers import write_camt053, write_mt940, write_statement_csv, write_statement_xlsx

ICT = timezone(timedelta(hours=7))
DISBURSEMENT_ACCOUNT = "0011001234567"
_FAMILY = ("NGUYỄN", "TRẦN", "LÊ", "PHẠM", "HOÀNG", "HUỲNH", "PHAN", "VŨ", "VÕ", "ĐẶNG", "BÙI", "ĐỖ")
_MIDDLE = ("VĂN", "THỊ", "HỮU", "ĐỨC", "NGỌC", "MINH", "THANH", "XUÂN")
_GIVEN = ("AN", "BÌNH", "CƯỜNG", "DUNG", "GIANG", "HÀ", "HẢI", "HOA", "HÙNG", "LAN", "LINH", "MAI", "NAM", "TÂM")
_ALLOWANCES = (500_000, 750_000, 1_000_000, 1_250_000, 1_500_000, 2_000_000, 2_500_000, 3_000_000)
_RETURN_REASONS = ("AC04", "AC06", "AC01", "MS03")


def generate_statement(lines: int, *, account: str = DISBURSEMENT_ACCOUNT, month: date = date(2024, 1, 1),
                       seed: int = 20240101) -> Statement:
    """A month of a disbursement account: one funding credit, payouts (debits), ~3% returns, a few reversals."""
    rng = random.Random(seed)
    period = f"{month:%m/%Y}"
    pay_day = month.replace(day=15)
    start = datetime(pay_day.year, pay_day.month, pay_day.day, 7, 0, tzinfo=ICT)
    items: list[StatementLine] = []
    payouts = max(lines - 1, 0)
    total_payouts = 0
    amounts = [rng.choice(_ALLOWANCES) for _ in range(payouts)]
    total_payouts = sum(amounts)
    funding = StatementLine(
        account=account, booking_date=month.replace(day=10), value_date=month.replace(day=10),
        booked_at=start - timedelta(days=5), amount=total_payouts, currency="VND", bank_reference="FT-FUNDING-0001",
        end_to_end_ref=f"KP{month:%Y%m}0001", counterparty_account="1200001234", counterparty_name="KHO BẠC NHÀ NƯỚC",
        description=f"Cấp kinh phí chi trả trợ cấp xã hội tháng {period}", return_reason=None, is_reversal=False,
        line_no=1)
    if lines:
        items.append(funding)
    for number, amount in enumerate(amounts, start=1):
        reference = f"AS{month:%y%m}{number:010d}"
        name = f"{rng.choice(_FAMILY)} {rng.choice(_MIDDLE)} {rng.choice(_GIVEN)}"
        beneficiary = f"{rng.randrange(10**9, 10**13)}"
        booked = start + timedelta(seconds=number % 50_000)
        roll = rng.random()
        if roll < 0.03:  # a payout that came back: the bank credits it with a reason code
            booked += timedelta(days=2)
            items.append(StatementLine(
                account=account, booking_date=booked.date(), value_date=booked.date(), booked_at=booked,
                amount=amount, currency="VND", bank_reference=f"RT{month:%y%m}{number:010d}", end_to_end_ref=reference,
                counterparty_account=beneficiary, counterparty_name=name,
                description=f"Hoàn trả {reference}: tài khoản không hợp lệ", return_reason=rng.choice(_RETURN_REASONS),
                is_reversal=False, line_no=len(items) + 1))
            continue
        items.append(StatementLine(
            account=account, booking_date=booked.date(), value_date=booked.date(), booked_at=booked, amount=-amount,
            currency="VND", bank_reference=f"FT{month:%y%m}{number:010d}", end_to_end_ref=reference,
            counterparty_account=beneficiary, counterparty_name=name,
            description=f"Chi trả trợ cấp xã hội tháng {period} {reference}", return_reason=None,
            is_reversal=roll > 0.999, line_no=len(items) + 1))
    opening = 5_000_000_000
    return Statement(
        statement_id=f"SK{month:%Y%m}/1", account=account, currency="VND", opening_balance=opening,
        closing_balance=opening + sum(item.amount for item in items), opening_date=month,
        closing_date=(month.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1),
        lines=tuple(items), source_format="generated")


COLUMNS = ("account", "booking_date", "value_date", "booked_at", "amount", "currency", "bank_reference",
           "end_to_end_ref", "counterparty_account", "counterparty_name", "description", "return_reason",
           "is_reversal", "line_no")


async def copy_seconds(url: str, lines: tuple[StatementLine, ...]) -> float:
    """Seconds for a raw COPY of the parsed lines into an unlogged table (the baseline)."""
    records = [tuple(getattr(line, name) for name in COLUMNS) for line in lines]
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(
            "DROP TABLE IF EXISTS bench_statement_line; CREATE UNLOGGED TABLE bench_statement_line ("
            "account text, booking_date date, value_date date, booked_at timestamptz, amount bigint, currency text,"
            " bank_reference text, end_to_end_ref text, counterparty_account text, counterparty_name text,"
            " description text, return_reason text, is_reversal boolean, line_no integer)")
        started = time.perf_counter()
        await connection.copy_records_to_table("bench_statement_line", records=records, columns=COLUMNS)
        elapsed = time.perf_counter() - started
        await connection.execute("DROP TABLE bench_statement_line")
        return elapsed
    finally:
        await connection.close()


def measure(label: str, statement: Statement, write: Callable[[Statement], bytes], url: str) -> None:
    """Write the file, parse it back, check it, COPY the lines, print the figures."""
    started = time.perf_counter()
    data = write(statement)
    written = time.perf_counter() - started
    len_mb = len(data) / 1e6
    gc.collect()
    started, cpu_started = time.perf_counter(), time.process_time()
    (parsed,) = parse_statement_file(data, f"bench.{label}")
    parse_time, parse_cpu = time.perf_counter() - started, time.process_time() - cpu_started
    if len(parsed.lines) != len(statement.lines) or parsed.closing_balance != statement.closing_balance:
        raise SystemExit(f"{label}: the parsed statement differs from the generated one")
    del data
    copy_time = asyncio.run(copy_seconds(url, parsed.lines))
    count = len(parsed.lines)
    print(f"{label:<9} {count:>10,} lines {len_mb:8.1f} MB  parse {parse_time:6.2f} s (CPU {parse_cpu:6.2f} s)"
          f" {count / parse_time:>9,.0f} lines/s"
          f"  | write {written:6.2f} s | raw COPY {copy_time:6.2f} s  {count / copy_time:>10,.0f} rows/s"
          f"  | parse/COPY {parse_time / copy_time:5.1f}x", flush=True)
    del parsed
    gc.collect()


def main() -> None:
    """Run the benchmark from the command line."""
    warnings.filterwarnings("ignore", module="platformdirs")
    configure_logging(production=False, level=logging.WARNING)
    arguments = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--lines", type=int, default=1_000_000, help="lines for camt.053 and CSV")
    arguments.add_argument("--xlsx-lines", type=int, default=100_000, help="lines for xlsx (0 to skip)")
    arguments.add_argument("--mt940-lines", type=int, default=0, help="lines for MT940 (0 to skip)")
    options = arguments.parse_args()
    started = time.perf_counter()
    statement = generate_statement(options.lines)
    print(f"generated {len(statement.lines):,} lines in {time.perf_counter() - started:.1f} s", flush=True)
    with admin_url() as url:
        measure("camt.053", statement, write_camt053, url)
        measure("csv", statement, write_statement_csv, url)
        if options.mt940_lines:
            measure("mt940", generate_statement(options.mt940_lines), write_mt940, url)
        if options.xlsx_lines:
            measure("xlsx", generate_statement(options.xlsx_lines), write_statement_xlsx, url)


if __name__ == "__main__":
    main()
