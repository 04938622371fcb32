"""A bank's withdrawal activity received twice: ``python -m bench.withdrawal_intake [--rows 20000 100000]``.

Starts its own embedded PostgreSQL (or a fresh database on DATABASE_URL's server), migrates it and, for
each size, sends a JSON list of N withdrawals of accounts ansinh does not know (the worst case: every row is
an unknown account) through the same service functions the API calls (``read_withdrawals``, then
``take_bank_withdrawals``, one transaction), then sends the same list again (a retry: every row a duplicate).
Prints the seconds and rows/s of each, and the size of the answer as JSON. A retry must cost about what the
first upload does, not grow with the square of the rows. In the same run it COPYs the same rows into a bare
unlogged table and prints the ratio of that raw COPY time to the first upload's.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import time
from datetime import UTC, datetime, timedelta

import msgspec
from sqlalchemy import text

from app.database import make_engine, session_scope, upgrade_database
from app.withdrawals_api.service import read_withdrawals, take_bank_withdrawals
from bench.registry_import import database
from ledger.driver import driver_connection

BANK = "970436"


def _items(count: int, batch: str) -> list[dict[str, object]]:
    start = datetime(2026, 3, 10, 1, 0, tzinfo=UTC)
    return [{"account_number": f"9{n:015d}", "occurred_at": (start + timedelta(seconds=n)).isoformat(),
             "amount": 650_000, "channel": "atm", "bank_ref": f"{batch}-{n:09d}"} for n in range(count)]


async def _send(engine, body: bytes) -> tuple[float, float, int]:  # type: ignore[no-untyped-def]
    """(seconds to read and check, seconds in all, bytes of the answer)."""
    started = time.perf_counter()
    rows, fmt = read_withdrawals(None, json.loads(body))
    checked = time.perf_counter() - started
    async with session_scope(engine) as session:
        out = await take_bank_withdrawals(session, bank_bin=BANK, rows=rows, fmt=fmt, recorded_by="bench.bank",
                                          role="bank", source_name="json", content=body)
    return checked, time.perf_counter() - started, len(msgspec.json.encode(out))


async def _bench(url: str, sizes: list[int]) -> None:
    engine = make_engine(url)
    async with session_scope(engine) as session:
        await session.execute(text("INSERT INTO bank (bin, short_name, name) VALUES (:b, 'VCB', 'Vietcombank') "
                                   "ON CONFLICT DO NOTHING"), {"b": BANK})
    for size in sizes:
        items = _items(size, f"B{size}")
        body = json.dumps(items).encode()
        seconds = {}
        for attempt in ("first upload", "retry"):
            checked, total, answer = await _send(engine, body)
            seconds[attempt] = total
            print(f"{size:>8,} rows  {attempt:<12}  {total:7.2f} s  {size / total:9,.0f} rows/s  "
                  f"(read and check {checked:5.2f} s)  answer {answer / 1024:,.0f} KiB", flush=True)
        copy_seconds = await _raw_copy(engine, items)
        print(f"{size:>8,} rows  raw COPY      {copy_seconds:7.2f} s  {size / copy_seconds:9,.0f} rows/s  "
              f"ratio COPY time / first upload: {copy_seconds / seconds['first upload']:.2f}", flush=True)
    await engine.dispose()


async def _raw_copy(engine, items: list[dict[str, object]]) -> float:  # type: ignore[no-untyped-def]
    """Seconds to COPY the same rows into a bare unlogged table (no index, no check, no answer)."""
    records = [(i["account_number"], datetime.fromisoformat(str(i["occurred_at"])), i["amount"], i["channel"],
                i["bank_ref"]) for i in items]
    async with session_scope(engine) as session:
        driver = await driver_connection(session)
        await driver.execute("DROP TABLE IF EXISTS bare_withdrawal; CREATE UNLOGGED TABLE bare_withdrawal "
                             "(account_number text, occurred_at timestamptz, amount bigint, channel text, "
                             "bank_ref text)")
        started = time.perf_counter()
        await driver.copy_records_to_table("bare_withdrawal", records=records)
        return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[20_000, 100_000])
    args = parser.parse_args()
    with database() as url:
        upgrade_database(url)
        asyncio.run(_bench(url, args.rows))


if __name__ == "__main__":
    main()
