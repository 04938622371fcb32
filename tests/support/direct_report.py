"""The time-to-withdrawal figures computed directly from every payout (the report before its summary),
to check the summary-based report against: the same groups, scope, totals and trend. A share within N days
counts the payouts that arrived at least N days before the transaction's ``now()``.

Medians and p90s are given twice: over the exact days (``median_days``) and over the hours rounded up
(``median_hours_up``), the resolution the summary keeps; both over every arrived payout, the ones not
withdrawn yet last (a percentile that falls on them is None)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from reports.time_to_withdrawal import AGE_BAND, COUNTED_RUN, WITHIN_DAYS, add_months, scope_condition

_GROUPS = {
    "commune": ("p.commune_code", ""),
    "province": ("cm.province_code", ""),
    "programme": ("r.programme_code", ""),
    "bank": ("coalesce(p.bank_bin, 'cash')", ""),
    "age_band": (AGE_BAND, ""),
    "sex": ("b.sex", ""),
    "channel": ("p.channel", ""),
}
ARRIVED = "(p.status = 'credited' OR (p.channel = 'cash' AND p.status = 'sent'))"
DAYS = "extract(epoch FROM p.withdrawn_at - coalesce(p.credited_at, p.sent_at)) / 86400.0"
HOURS_UP = "ceil(extract(epoch FROM p.withdrawn_at - coalesce(p.credited_at, p.sent_at)) / 3600) / 24.0"
UNDRAWN = """CASE WHEN p.withdrawn_at IS NOT NULL THEN 0 WHEN p.first_withdrawal_at IS NULL THEN p.amount
                  ELSE p.amount - (SELECT coalesce(sum(a.amount), 0) FROM withdrawal_allocation a
                                    WHERE a.payout_id = p.id) END"""
ROW_COLUMNS = f"""p.amount, {ARRIVED} AS arrived, p.withdrawn_at IS NOT NULL AS done,
    p.first_withdrawal_at IS NULL AS untouched, CASE WHEN {ARRIVED} THEN {DAYS} END AS days,
    CASE WHEN {ARRIVED} THEN {HOURS_UP} END AS days_up,
    CASE WHEN p.withdrawn_at IS NULL THEN 'Infinity'::float8 ELSE {DAYS} END AS late_days,
    CASE WHEN p.withdrawn_at IS NULL THEN 'Infinity'::float8 ELSE {HOURS_UP} END AS late_days_up,
    CASE WHEN {ARRIVED} THEN {UNDRAWN} ELSE 0 END AS undrawn,
    CASE WHEN {ARRIVED} THEN coalesce(p.credited_at, p.sent_at) END AS arrived_at"""
# Per N: withdrawn within N days of those arrived at least N days ago, those, and the ones arrived since.
WINDOWS = ", ".join(
    f"""count(*) FILTER (WHERE days <= {n} AND arrived_at <= now() - interval '{n} days') AS n_within_{n}d,
        count(*) FILTER (WHERE arrived_at <= now() - interval '{n} days') AS n_over_{n}d,
        count(*) FILTER (WHERE arrived_at > now() - interval '{n} days') AS n_pending_{n}d"""
    for n in WITHIN_DAYS)
METRICS = f"""
    count(*) AS payouts, coalesce(sum(amount), 0)::bigint AS amount,
    count(*) FILTER (WHERE arrived) AS credited, count(*) FILTER (WHERE arrived AND done) AS withdrawn,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY late_days) FILTER (WHERE arrived) AS median_days,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY late_days) FILTER (WHERE arrived) AS p90_days,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY late_days_up) FILTER (WHERE arrived) AS median_hours_up,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY late_days_up) FILTER (WHERE arrived) AS p90_hours_up,
    {WINDOWS},
    count(*) FILTER (WHERE arrived AND untouched) AS never_withdrawn,
    count(*) FILTER (WHERE arrived AND NOT untouched AND NOT done) AS partly_withdrawn,
    coalesce(sum(undrawn), 0)::bigint AS undrawn_amount
"""


def _figures(row: Any) -> dict[str, Any]:
    credited = int(row.credited)

    def days(value: Any) -> float | None:  # not withdrawn yet: after everything, the percentile not reached
        return None if value is None or not math.isfinite(value) else round(float(value), 2)

    out = {"payouts": int(row.payouts), "amount": int(row.amount), "credited": credited,
           "withdrawn": int(row.withdrawn), "median_days": days(row.median_days), "p90_days": days(row.p90_days),
           "median_hours_up": days(row.median_hours_up), "p90_hours_up": days(row.p90_hours_up),
           "never_withdrawn": int(row.never_withdrawn), "partly_withdrawn": int(row.partly_withdrawn),
           "undrawn_amount": int(row.undrawn_amount)}
    for n in WITHIN_DAYS:
        count, over = int(getattr(row, f"n_within_{n}d")), int(getattr(row, f"n_over_{n}d"))
        out[f"within_{n}d"] = round(count / over, 4) if over else None
        out[f"within_{n}d_pending"] = int(getattr(row, f"n_pending_{n}d"))
    return out


async def direct_report(session: AsyncSession, *, period: date, group_by: str,
                        communes: Sequence[str] | None = None, provinces: Sequence[str] | None = None,
                        trend_months: int = 12) -> dict[str, Any]:
    """Groups, totals and trend straight from the payouts: {"items": {group: figures}, "totals", "trend"}."""
    key, _ = _GROUPS[group_by]
    params: dict[str, Any] = {"period": period, "since": add_months(period, -(trend_months - 1))}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params)
    base = f"""FROM payout p JOIN payout_run r ON r.id = p.run_id JOIN commune cm ON cm.code = p.commune_code
                 JOIN beneficiary b ON b.id = p.beneficiary_id
                WHERE p.status <> 'cancelled' AND {COUNTED_RUN} AND {where}"""  # a run counts from its approval
    grouped = await session.execute(text(
        f"""SELECT key, GROUPING(key) AS is_total, {METRICS}
              FROM (SELECT {key} AS key, {ROW_COLUMNS} {base} AND r.period = :period) rows
             GROUP BY GROUPING SETS ((key), ())"""), params)  # noqa: S608
    items, totals = {}, None
    for row in grouped:
        if row.is_total:
            totals = _figures(row)
        else:
            items[row.key] = _figures(row)
    trend = await session.execute(text(
        f"""SELECT to_char(period, 'YYYY-MM') AS month, {METRICS}
              FROM (SELECT r.period, {ROW_COLUMNS} {base} AND r.period BETWEEN :since AND :period) rows
             GROUP BY period ORDER BY period"""), params)  # noqa: S608
    return {"items": items, "totals": totals, "trend": {row.month: _figures(row) for row in trend}}
