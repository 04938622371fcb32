"""Payout run throughput: ``python -m bench.payouts [--beneficiaries 1000000]``.

Starts its own embedded PostgreSQL (or a fresh database on DATABASE_URL's server), migrates it,
enrols N made-up beneficiaries through the registry's import service (not timed), funds the banks
and the communes of the cash beneficiaries,
then times compute + approve + send of one monthly run through the same services the API calls.
In the same run it COPYs the same rows (payouts, payout months, two ledger transfers per payout)
into bare tables and prints the ratio of the two rates. Targets: whole run under 60 s, at least 0.4
of the COPY rate, peak memory under 1.5 GB.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import time
import uuid
from datetime import date

from sqlalchemy import text

from app.auth.models import Role
from app.auth.service import Principal
from app.database import make_engine, session_scope, to_libpq_url, upgrade_database
from app.payouts.service.compute import compute_run
from app.payouts.service.funding import record_funding
from app.payouts.service.ledger_steps import approve_run, send_run
from app.payouts.service.runs import create_run
from app.registry.fake import BeneficiaryFaker, import_file_bytes
from app.registry.importer import import_beneficiaries
from bench import verdict
from bench.registry_import import database

BANKS = ("970436", "970405", "970418", "970415")
IMPORT_CHUNK = 100_000
BASELINE_SLICE = 250_000


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def enrol(engine, count: int, *, banks: tuple[str, ...] = BANKS,  # type: ignore[no-untyped-def]
                bank_share: float = 0.95) -> None:
    """Enrol ``count`` made-up people in TGXH through the registry's import service (not timed)."""
    officer = Principal(kind="staff", name="bench.officer", role=Role.officer)
    faker = BeneficiaryFaker(seed=2026, banks=banks, bank_share=bank_share)
    made = 0
    while made < count:
        size = min(IMPORT_CHUNK, count - made)
        people = [faker.person(category=("TGXH", "NCT_80"), start_month=date(2026, 1, 1)) for _ in range(size)]
        async with session_scope(engine) as session:
            outcome = await import_beneficiaries(session, content=import_file_bytes(people, kind="csv"),
                                                 filename="bench.csv", principal=officer)
        assert outcome.created == size, outcome
        made += size
        print(f"  enrolled {made:,}", flush=True)


async def _fund(engine) -> None:  # type: ignore[no-untyped-def]
    async with session_scope(engine) as session:
        for number, bank_bin in enumerate(BANKS):
            await session.execute(text(
                "INSERT INTO disbursement_account (bank_bin, account_number, registered_by) VALUES (:b, :n, 'bench')"),
                {"b": bank_bin, "n": f"00110044{number:05d}"})
            await record_funding(session, bank_bin=bank_bin, programme="TGXH", amount=10**15,
                                 reference=f"BENCH-{bank_bin}", value_date=date(2026, 3, 1), actor="bench")
        # The cash payouts go to their communes, which are funded as the banks are.
        communes = await session.scalars(text(
            "SELECT DISTINCT commune_code FROM beneficiary WHERE channel = 'cash' ORDER BY 1"))
        for commune_code in communes.all():
            await record_funding(session, commune_code=commune_code, programme="TGXH", amount=10**12,
                                 reference=f"BENCH-{commune_code}", value_date=date(2026, 3, 1), actor="bench")


async def _copy_baseline(url: str, count: int) -> float:
    import asyncpg

    conn = await asyncpg.connect(to_libpq_url(url))
    try:
        await conn.execute(
            """CREATE UNLOGGED TABLE IF NOT EXISTS bare_payout (id uuid, run_id uuid, serial bigint, reference text,
                   beneficiary_id uuid, commune_code text, channel text, bank_account_id bigint, bank_bin text,
                   account_number text, holder_name text, amount bigint, status text);
               CREATE UNLOGGED TABLE IF NOT EXISTS bare_month (payout_id uuid, enrolment_id bigint,
                   beneficiary_id uuid, benefit_group text, month date, base_amount bigint, coefficient numeric,
                   amount bigint);
               CREATE UNLOGGED TABLE IF NOT EXISTS bare_transfer (id uuid, kind text, debit bigint, credit bigint,
                   amount bigint, pending_id uuid, code text, reference text, event_at timestamptz)""")
        run_id = uuid.uuid4()
        from datetime import UTC, datetime

        stamp = datetime.fromtimestamp(time.time(), UTC)
        seconds = 0.0
        # In slices, so that the made-up rows of a million payouts do not dominate this process's peak
        # memory; only the COPYs are timed, as before.
        for low in range(0, count, BASELINE_SLICE):
            numbers = range(low, min(low + BASELINE_SLICE, count))
            payouts = [(uuid.uuid4(), run_id, i, f"AS2603{i:08d}", uuid.uuid4(), "00070", "bank", i, "970436",
                        f"{i:013d}", "NGUYEN VAN A", 650_000, "scheduled") for i in numbers]
            months = [(p[0], i, p[4], "social_assistance", date(2026, 3, 1), 650_000, 1, 650_000)
                      for i, p in zip(numbers, payouts, strict=True)]
            transfers = [(uuid.uuid4(), kind, 1, i + 2, 650_000, None, "payout", f"AS2603{i:08d}", stamp)
                         for kind in ("single", "pending") for i in numbers]
            started = time.perf_counter()
            await conn.copy_records_to_table("bare_payout", records=payouts)
            await conn.copy_records_to_table("bare_month", records=months)
            await conn.copy_records_to_table("bare_transfer", records=transfers)
            seconds += time.perf_counter() - started
        return seconds
    finally:
        await conn.close()


async def run(url: str, count: int) -> None:
    engine = make_engine(url)
    print(f"setting up {count:,} enrolled beneficiaries (not timed)…", flush=True)
    await enrol(engine, count)
    await _fund(engine)
    async with session_scope(engine) as session:
        run = await create_run(session, programme="TGXH", period="2026-03", actor="bench.officer")
    timings = {}
    started = time.perf_counter()
    await compute_run(engine, run.id, actor="bench.officer")
    timings["compute"] = time.perf_counter() - started
    mark = time.perf_counter()
    await approve_run(engine, run.id, actor="bench.approver")
    timings["approve"] = time.perf_counter() - mark
    mark = time.perf_counter()
    await send_run(engine, run.id, actor="bench.officer")
    timings["send"] = time.perf_counter() - mark
    total = time.perf_counter() - started
    run_peak = _peak_rss_mb()
    async with session_scope(engine) as session:
        payouts, amount = (await session.execute(text(
            "SELECT count(*), sum(amount) FROM payout WHERE run_id = :r AND status = 'sent'"), {"r": run.id})).one()
    await engine.dispose()
    copy_seconds = await _copy_baseline(url, int(payouts))
    rows = int(payouts) * 4  # payout, payout month, approval transfer, send transfer
    print(f"payouts sent: {payouts:,} totalling {int(amount):,} đ")
    for step, seconds in timings.items():
        print(f"  {step:8s} {seconds:7.1f} s  {payouts / seconds:>10,.0f} payouts/s")
    print(f"whole run: {total:.1f} s ({payouts / total:,.0f} payouts/s, {rows / total:,.0f} rows/s)"
          f"  target < 60 s: {verdict(total < 60, int(payouts), 1_000_000)}")
    print(f"raw COPY of the same {rows:,} rows: {copy_seconds:.1f} s ({rows / copy_seconds:,.0f} rows/s)")
    ratio = copy_seconds / total
    print(f"ratio to COPY rate: {ratio:.2f}  target >= 0.4: {verdict(ratio >= 0.4, int(payouts), 1_000_000)}")
    peak = _peak_rss_mb()
    print(f"peak memory (this process): {peak:,.0f} MB  target < 1536 MB: {'met' if peak < 1536 else 'NOT met'}"
          f"  (by the end of the timed run, setup included: {run_peak:,.0f} MB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--beneficiaries", type=int, default=100_000)
    args = parser.parse_args()
    with database() as url:
        upgrade_database(url)
        asyncio.run(run(url, args.beneficiaries))


if __name__ == "__main__":
    main()
