"""Statement reconciliation throughput: ``python -m bench.reconcile [--lines 1000000]``.

Starts its own embedded PostgreSQL (or a fresh database on DATABASE_URL's server), migrates it,
enrols N made-up beneficiaries and computes, approves and sends one monthly run (not timed). Then
it writes the bank's statements of those N payouts — half as camt.053, half as a CSV "sao kê",
one line per payout with its end-to-end reference — and times importing both through the same
service the API calls: parse, match (set-based candidate load joined on reference), ledger posts
of the pending transfers in large batches, payout updates and statement lines, one transaction per
file. In the same run it COPYs the same rows (statement lines, post transfers, match rows) into
bare tables and prints the ratio of the two rates. Target: 1M lines in under 60 s.
"""

from __future__ import annotations

import argparse
import asyncio
import time
import uuid
from datetime import UTC, date, datetime

from sqlalchemy import text

from app.database import make_engine, session_scope, to_libpq_url, upgrade_database
from app.payouts.service.compute import compute_run
from app.payouts.service.ledger_steps import approve_run, send_run
from app.payouts.service.runs import create_run
from app.reconciliation_api.importer import import_statement_file
from bench.payouts import _fund, _peak_rss_mb, enrol
from bench.registry_import import database
from ledger import verify_ledger
from reconciliation.parsers import Statement, StatementLine, parse_statement_file
from reconciliation.writers import write_camt053, write_statement_csv

BANK = "970436"
BANK_ACCOUNT = "0011004400000"  # bench.payouts._fund registers 00110044{n:05d} for the n-th bank


async def _sent_payouts(engine, count: int) -> list:  # type: ignore[no-untyped-def,type-arg]
    print(f"setting up {count:,} sent payouts (not timed)…", flush=True)
    await enrol(engine, count, banks=(BANK,), bank_share=1.0)
    await _fund(engine)
    async with session_scope(engine) as session:
        run = await create_run(session, programme="TGXH", period="2026-03", actor="bench.officer")
    await compute_run(engine, run.id, actor="bench.officer")
    await approve_run(engine, run.id, actor="bench.approver")
    await send_run(engine, run.id, actor="bench.officer")
    async with session_scope(engine) as session:
        rows = list(await session.execute(text(
            """SELECT reference, amount, account_number FROM payout
                WHERE run_id = :run AND bank_bin = :bank AND status = 'sent' ORDER BY serial"""),
            {"run": run.id, "bank": BANK}))
    return rows


def _statement(rows: list, statement_id: str, opening: int) -> Statement:  # type: ignore[type-arg]
    booked = date.today()
    lines = tuple(StatementLine(
        account=BANK_ACCOUNT, booking_date=booked, value_date=booked, booked_at=None, amount=-r.amount,
        currency="VND", bank_reference=f"FT{i:012d}", end_to_end_ref=r.reference, counterparty_account=r.account_number,
        counterparty_name="NGUYEN VAN A", description=f"Tro cap xa hoi {r.reference}", return_reason=None,
        is_reversal=False, line_no=i) for i, r in enumerate(rows, start=1))
    return Statement(statement_id=statement_id, account=BANK_ACCOUNT, currency="VND", opening_balance=opening,
                     closing_balance=opening + sum(line.amount for line in lines), opening_date=booked,
                     closing_date=booked, lines=lines, source_format="bench")


async def _copy_baseline(url: str, count: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(to_libpq_url(url))
    try:
        await conn.execute(
            """CREATE UNLOGGED TABLE bare_line (statement_id uuid, line_no int, bank_bin text, booking_date date,
                   value_date date, booked_at timestamptz, amount bigint, bank_reference text, end_to_end_ref text,
                   counterparty_account text, counterparty_name text, description text, return_reason text,
                   is_reversal boolean, status text, rule text, exception_reason text, payout_count int,
                   funding_id uuid);
               CREATE UNLOGGED TABLE bare_transfer (id uuid, kind text, debit bigint, credit bigint, amount bigint,
                   pending_id uuid, code text, reference text, event_at timestamptz);
               CREATE UNLOGGED TABLE bare_match (payout_id uuid, effect text, line_id bigint, rule text,
                   transfer_id uuid)""")
        statement_id, today, stamp = uuid.uuid4(), date.today(), datetime.now(UTC)
        lines = [(statement_id, i, BANK, today, today, None, -650_000, f"FT{i:012d}", f"AS2603{i:08d}",
                  f"{i:013d}", "NGUYEN VAN A", f"Tro cap xa hoi AS2603{i:08d}", None, False, "matched", "reference",
                  None, 1, None) for i in range(count)]
        transfers = [(uuid.uuid4(), "post", None, None, None, uuid.uuid4(), "payout.credit", f"AS2603{i:08d}", stamp)
                     for i in range(count)]
        matches = [(uuid.uuid4(), "credit", i, "reference", uuid.uuid4()) for i in range(count)]
        started = time.perf_counter()
        await conn.copy_records_to_table("bare_line", records=lines)
        await conn.copy_records_to_table("bare_transfer", records=transfers)
        await conn.copy_records_to_table("bare_match", records=matches)
        return time.perf_counter() - started
    finally:
        await conn.close()


async def run(url: str, count: int) -> None:
    engine = make_engine(url)
    rows = await _sent_payouts(engine, count)
    half = len(rows) // 2
    camt_statement = _statement(rows[:half], "BENCH/1", 10**15)
    csv_statement = _statement(rows[half:], "BENCH/2", camt_statement.closing_balance or 0)
    files = {"camt.053": (write_camt053(camt_statement), "bench.xml"),
             "csv": (write_statement_csv(csv_statement), "bench.csv")}
    print(f"statements: {len(rows):,} lines of bank {BANK} "
          + ", ".join(f"{name} {len(data) / 1e6:,.0f} MB" for name, (data, _) in files.items()), flush=True)
    timings: dict[str, float] = {}
    for name, (data, filename) in files.items():
        mark = time.perf_counter()
        parse_statement_file(data, filename)
        timings[f"parse {name} (alone)"] = time.perf_counter() - mark
    total = 0.0
    for name, (data, filename) in files.items():
        mark = time.perf_counter()
        async with session_scope(engine) as session:
            outcome = await import_statement_file(session, data=data, filename=filename, bank_bin=BANK,
                                                  actor="bench.bank")
        seconds = time.perf_counter() - mark
        timings[f"import {name}"] = seconds
        total += seconds
        assert outcome.kind == "created", outcome
        counts = outcome.totals()
        assert counts["matched"] == counts["lines"], counts
    async with session_scope(engine) as session:
        credited = await session.scalar(text("SELECT count(*) FROM payout WHERE status = 'credited'"))
        mark = time.perf_counter()
        report = await verify_ledger(session)
        verify_seconds = time.perf_counter() - mark
    await engine.dispose()
    copy_seconds = await _copy_baseline(url, len(rows))
    lines = len(rows)
    print(f"payouts credited: {credited:,} of {lines:,} statement lines; ledger verify "
          f"{'clean' if report.ok else 'NOT clean: ' + str(report.problems[:3])} ({verify_seconds:.1f} s)")
    for step, seconds in timings.items():
        print(f"  {step:24s} {seconds:7.1f} s")
    print(f"import (parse + match + ledger + writes), both files: {total:.1f} s  {lines / total:,.0f} lines/s"
          f"  1M-line estimate {1_000_000 / (lines / total):.0f} s  target < 60 s for 1M: "
          f"{'met' if 1_000_000 / (lines / total) < 60 else 'NOT met'}")
    rows_written = lines * 3  # statement line, ledger post, match row (plus the payout update)
    print(f"raw COPY of the same {rows_written:,} rows: {copy_seconds:.1f} s ({rows_written / copy_seconds:,.0f} rows/s)")
    print(f"ratio to COPY rate: {copy_seconds / total:.2f}")
    print(f"peak memory (this process): {_peak_rss_mb():,.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--lines", type=int, default=100_000,
                        help="payouts sent and statement lines reconciled")
    args = parser.parse_args()
    with database() as url:
        upgrade_database(url)
        asyncio.run(run(url, args.lines))


if __name__ == "__main__":
    main()

