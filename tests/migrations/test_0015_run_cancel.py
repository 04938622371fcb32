"""Migration 0015 (cancelled runs) goes down and up again on a database that has cancelled runs."""

from __future__ import annotations

from datetime import date

import asyncpg
import pytest

from app.database import downgrade_database, migration_heads, upgrade_database
from tests.support.migrations import run_sql, versions

_RUN = """INSERT INTO payout_run (programme_code, period, status, arrears_from, created_by, prepared_by, approved_by
                                  {extra_columns})
          VALUES ('TGXH', $1, $2, $1, 'lan', $3, $4 {extra_values}) RETURNING id"""


def _runs(url: str) -> list[tuple[str, str, str | None]]:
    rows = run_sql(url, "SELECT to_char(period, 'YYYY-MM') AS period, status, last_error FROM payout_run ORDER BY 1, 2")
    return [(r["period"], r["status"], r["last_error"]) for r in rows]


def test_downgrade_drops_cancelled_runs_and_upgrade_clears_errors_of_sent_runs(database_url):
    march, february = date(2026, 3, 1), date(2026, 2, 1)
    run_sql(database_url, _RUN.format(extra_columns=", cancelled_by, cancelled_at, cancel_reason",
                                   extra_values=", 'lan', now(), 'nhầm'"), march, "cancelled", None, None)
    run_sql(database_url, _RUN.format(extra_columns="", extra_values=""), march, "draft", None, None)
    run_sql(database_url, _RUN.format(extra_columns="", extra_values=""), february, "sent", "lan", "minh")

    downgrade_database(database_url, "0014")
    assert _runs(database_url) == [("2026-02", "sent", None), ("2026-03", "draft", None)]
    with pytest.raises(asyncpg.CheckViolationError):
        run_sql(database_url, "UPDATE payout_run SET status = 'cancelled'")
    with pytest.raises(asyncpg.UniqueViolationError):  # the original index: one regular run per period
        run_sql(database_url, _RUN.format(extra_columns="", extra_values=""), march, "draft", None, None)
    # what a compute refused after the send left on the page under 0014
    run_sql(database_url, "UPDATE payout_run SET last_error = 'run is sent; it can no longer be computed'")

    upgrade_database(database_url)
    # The sent run has no payouts, so nothing in flight: 0033 settles it.
    assert _runs(database_url) == [("2026-02", "settled", None),
                                   ("2026-03", "draft", "run is sent; it can no longer be computed")]
    assert versions(database_url) == list(migration_heads())
