"""Ledger throughput against a raw COPY of the same rows.

    python -m bench.ledger --transfers 1000000

Posts single transfers in batches (default 10,000) from one hot account (a programme's expense
account) to as many distinct accounts (beneficiaries' payables), each batch one committed
``create_transfer_arrays`` call. Interleaved with it, so all see the same machine load, the same
rows (same 13 columns and values) go into bare tables (no index, no constraint), one transaction
per batch:

- COPY: ``asyncpg``'s ``copy_records_to_table`` from the batch's columns, the ordinary way to
  COPY from Python. The ratio to this rate is the figure the target (>= 0.40) refers to.
- COPY of pre-encoded rows: the ledger's own binary COPY payload, built before the clock starts;
  only PostgreSQL's side of a COPY, a floor no client can beat (shown for reference).

Prints transfers/s, both COPY rates and the ratios.

Starts its own embedded PostgreSQL in a temporary folder unless DATABASE_URL is set (then it
creates and drops a database ``ansinh_bench_ledger`` on that server).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import asyncpg

from app.database import make_engine, session_scope, to_libpq_url, upgrade_database
from bench.server import admin_url, database_url
from ledger import (
    AccountSpec,
    AccountType,
    TransferResult,
    create_transfer_arrays,
    ensure_accounts,
    new_transfer_id,
)
from ledger.batch import COPY_COLUMNS, COPY_HEADER, COPY_TRAILER, TransferColumns, seal
from ledger.schemas import TransferKind
from ledger.verify import verify_ledger

DATABASE = "ansinh_bench_ledger"
# A server sized for a million-row batch job; the same settings serve the ledger and the COPY.
SERVER_SETTINGS = {
    "shared_buffers": "2GB",
    "max_wal_size": "8GB",
    "checkpoint_timeout": "30min",
}


async def recreate_database(admin_url: str) -> None:
    connection = await asyncpg.connect(admin_url)
    try:
        await connection.execute(f'DROP DATABASE IF EXISTS "{DATABASE}" WITH (FORCE)')
        await connection.execute(f'CREATE DATABASE "{DATABASE}"')
    finally:
        await connection.close()


async def run(url: str, transfers: int, batch_size: int, random_ids: bool) -> dict[str, Any]:
    engine = make_engine(url, pool_size=2)
    raw = await asyncpg.connect(to_libpq_url(url))
    try:
        await raw.execute(
            "CREATE TABLE bare_transfer (id uuid, seq bigint, kind text, debit_account_id bigint, "
            "credit_account_id bigint, amount bigint, pending_id uuid, code text, reference text, metadata text, "
            "event_at timestamptz, created_at timestamptz, hash bytea);"
            "CREATE TABLE bare_transfer_encoded (LIKE bare_transfer)"
        )
        codes = [f"payable:beneficiary:{i:07d}" for i in range(transfers)]
        started = time.perf_counter()
        async with session_scope(engine) as session:
            account_id = await ensure_accounts(
                session, [AccountSpec(code="expense:programme:P", type=AccountType.expense),
                          *(AccountSpec(code=code, type=AccountType.liability) for code in codes)])
        accounts_seconds = time.perf_counter() - started
        await raw.execute("VACUUM ANALYZE ledger_account")
        hot = account_id["expense:programme:P"]
        beneficiaries = [account_id[code] for code in codes]
        del account_id, codes
        # The setup leaves millions of objects alive; without this, garbage collection passes over
        # them would be charged to whichever side happens to allocate the most.
        gc.collect()
        gc.freeze()
        ledger_seconds = copy_seconds = encoded_seconds = 0.0
        hash_placeholder = bytes(32)
        for start in range(0, transfers, batch_size):
            size = min(batch_size, transfers - start)
            ids = [uuid.uuid4() for _ in range(size)] if random_ids else [new_transfer_id() for _ in range(size)]
            debits = [hot] * size
            credits = beneficiaries[start:start + size]
            amounts = [750_000] * size
            references = [f"AS{start + i:010d}" for i in range(size)]
            event_at = datetime.now(UTC)

            began = time.perf_counter()
            async with session_scope(engine) as session:
                results = await create_transfer_arrays(
                    session, ids=ids, debit_account_ids=debits, credit_account_ids=credits, amounts=amounts,
                    code="payout.approve", references=references, event_at=event_at)
            ledger_seconds += time.perf_counter() - began
            if results.count(TransferResult.ok) != size:
                raise SystemExit(f"batch at {start}: {size - results.count(TransferResult.ok)} transfers failed")

            began = time.perf_counter()
            records = list(zip(ids, range(start + 1, start + size + 1), debits, credits, amounts, [event_at] * size,
                               [event_at] * size, ["single"] * size, [None] * size, ["payout.approve"] * size,
                               references, [None] * size, [hash_placeholder] * size, strict=True))
            async with raw.transaction():
                await raw.copy_records_to_table("bare_transfer", records=records, columns=COPY_COLUMNS)
            copy_seconds += time.perf_counter() - began

            columns = TransferColumns(
                ids=ids, kinds=[TransferKind.single] * size, debits=debits, credits=credits, amounts=amounts,
                pending_ids=[None] * size, codes=["payout.approve"] * size, references=references,
                metadata=[None] * size, event_ats=[event_at] * size)
            rows, _ = seal(columns, first_seq=start + 1, previous_hash=hash_placeholder, created_at=event_at)
            payload = memoryview(COPY_HEADER + rows + COPY_TRAILER)
            began = time.perf_counter()
            async with raw.transaction():
                await raw.copy_to_table("bare_transfer_encoded", source=payload, columns=COPY_COLUMNS,
                                        format="binary")
            encoded_seconds += time.perf_counter() - began

        started = time.perf_counter()
        async with session_scope(engine) as session:
            report = await verify_ledger(session)
        verify_seconds = time.perf_counter() - started
        if not report.ok:
            raise SystemExit(f"ledger verify failed: {report.problems[:5]}")
    finally:
        await raw.close()
        await engine.dispose()
    return {
        "transfers": transfers,
        "ledger_per_second": transfers / ledger_seconds,
        "copy_per_second": transfers / copy_seconds,
        "ratio": copy_seconds / ledger_seconds,
        "encoded_per_second": transfers / encoded_seconds,
        "encoded_ratio": encoded_seconds / ledger_seconds,
        "accounts_per_second": (transfers + 1) / accounts_seconds,
        "verify_seconds": verify_seconds,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--transfers", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=10_000)
    parser.add_argument("--random-ids", action="store_true",
                        help="random (version 4) transfer ids instead of time-ordered ones")
    args = parser.parse_args()
    with admin_url(SERVER_SETTINGS) as admin:
        asyncio.run(recreate_database(admin))
        url = database_url(admin, DATABASE)
        upgrade_database(url)
        figures = asyncio.run(run(url, args.transfers, args.batch, args.random_ids))
    ids = "random uuid4" if args.random_ids else "time-ordered uuid7"
    print(f"ledger: {figures['transfers']:,} single transfers in batches of {args.batch:,} ({ids} ids)")
    print(f"  create_transfers  {figures['ledger_per_second']:>12,.0f} transfers/s")
    print(f"  COPY (bare table) {figures['copy_per_second']:>12,.0f} rows/s")
    print(f"  ratio             {figures['ratio']:>12.2f} of the COPY rate (target >= 0.40)")
    print(f"  COPY pre-encoded  {figures['encoded_per_second']:>12,.0f} rows/s (server side only, for reference)")
    print(f"  ratio             {figures['encoded_ratio']:>12.2f} of the pre-encoded COPY rate")
    print(f"  ensure_accounts   {figures['accounts_per_second']:>12,.0f} accounts/s")
    print(f"  ledger verify     {figures['verify_seconds']:>12.1f} s")


if __name__ == "__main__":
    main()
