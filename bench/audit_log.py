"""Reading the audit log at scale: ``python -m bench.audit_log --rows 1000000``.

Starts its own embedded PostgreSQL (or a fresh database on DATABASE_URL's server), migrates it and loads N
audit rows set-based (INSERT … SELECT over a year: 500 officers and the system, 40 actions, a payout run per
10,000 rows, a person per 20 rows; not timed), then times, best of 3, what ``GET /api/audit`` does: the first
page of 50 newest first with its capped count, unfiltered and by each filter (a busy actor and a rare one, an
action, an object, a month), the deepest page it serves (offset 99,950), and the Excel export of one officer's rows and of the
newest 100,000 (the export's limit).
Target: every page with its count < 200 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.audit.export import audit_xlsx
from app.audit.queries import AuditFilter, count_entries, entries_page, parse_filter
from app.auth.models import Role
from app.database import make_engine, session_scope, upgrade_database
from bench.registry_import import database

_LOAD = """
    INSERT INTO audit_log (at, actor, actor_role, action, object_type, object_id, before, after, request_id)
    SELECT timestamptz '2026-01-01 00:00+07' + (g * interval '1 second') * (31536000.0 / :rows),
           CASE WHEN g % 10 = 0 THEN 'system' ELSE 'officer.' || (g % 500) END,
           'officer',
           (ARRAY['beneficiary.update', 'payout_run.compute', 'withdrawal.assisted', 'follow_up.note',
                  'beneficiary.import_update', 'statement.import', 'upload.download', 'auth.login'])[1 + g % 8]
             || CASE WHEN g % 5 = 0 THEN '' ELSE '.v' || (g % 5) END,
           CASE WHEN g % 3 = 0 THEN 'payout_run' ELSE 'beneficiary' END,
           CASE WHEN g % 3 = 0 THEN 'run-' || (g / 10000) ELSE 'person-' || (g / 20) END,
           jsonb_build_object('full_name', 'Nguyễn Văn ' || g),
           jsonb_build_object('full_name', 'Nguyễn Văn An ' || g, 'commune_code', '00070'),
           md5(g::text)
      FROM generate_series(1, :rows) g
"""


async def run(url: str, rows: int) -> None:
    engine = make_engine(url)
    print(f"loading {rows:,} audit rows set-based (not timed)…", flush=True)
    started = time.perf_counter()
    async with session_scope(engine) as session:
        await session.execute(text(_LOAD), {"rows": rows})
    print(f"  loaded with the four indexes of migration 0034 in {time.perf_counter() - started:.1f} s", flush=True)
    async with engine.connect() as connection:
        await connection.execution_options(isolation_level="AUTOCOMMIT")
        await connection.execute(text("VACUUM ANALYZE audit_log"))

    async def best_of_3(read: Callable[[AsyncSession], Awaitable[Any]]) -> tuple[float, Any]:
        async with session_scope(engine) as session:
            timings, value = [], None
            for _ in range(3):
                mark = time.perf_counter()
                value = await read(session)
                timings.append(time.perf_counter() - mark)
        return min(timings), value

    cases: list[tuple[str, AuditFilter, int]] = [
        ("whole log", AuditFilter(), 1),
        ("busy actor (system, 10 %)", parse_filter(actor="system"), 1),
        ("one officer (0.2 %)", parse_filter(actor="officer.7"), 1),
        ("one action (2.5 %)", parse_filter(action="statement.import"), 1),
        ("one run", parse_filter(object_type="payout_run", object_id="run-3"), 1),
        ("one person", parse_filter(object_type="beneficiary", object_id="person-1001"), 1),
        ("object type only", parse_filter(object_type="payout_run"), 1),
        ("a month", parse_filter(from_="2026-06-01", to="2026-06-30"), 1),
        ("an officer in a month", parse_filter(actor="officer.7", from_="2026-06-01", to="2026-06-30"), 1),
        ("whole log, page 2,000 (offset 99,950)", AuditFilter(), 2000),
    ]
    worst = 0.0
    for label, audit_filter, page in cases:
        async def read(session: AsyncSession, audit_filter: AuditFilter = audit_filter, page: int = page) -> Any:
            items = await entries_page(session, audit_filter, page=page, page_size=50)
            return len(items), await count_entries(session, audit_filter)

        seconds, (listed, (total, capped)) = await best_of_3(read)
        worst = max(worst, seconds)
        print(f"{label:<40} {listed:>3} rows, total {'≥' if capped else ''}{total:>7,}: {seconds * 1000:6.1f} ms")
    print(f"slowest page with its count: {worst * 1000:.0f} ms  target < 200 ms: {'met' if worst < 0.2 else 'NOT met'}")
    seconds, (content, written) = await best_of_3(
        lambda session: audit_xlsx(session, parse_filter(actor="officer.7"), role=Role.auditor, made_by="bench"))
    print(f"export of {written:,} rows (one officer): {seconds:.2f} s, {len(content) / 1e6:.1f} MB")
    async with session_scope(engine) as session:
        mark = time.perf_counter()
        content, written = await audit_xlsx(session, AuditFilter(), role=Role.auditor, made_by="bench")
    print(f"export of the newest {written:,} rows (its limit): {time.perf_counter() - mark:.1f} s, "
          f"{len(content) / 1e6:.1f} MB")
    await engine.dispose()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=1_000_000)
    args = parser.parse_args()
    with database() as url:
        upgrade_database(url)
        asyncio.run(run(url, args.rows))


if __name__ == "__main__":
    main()
