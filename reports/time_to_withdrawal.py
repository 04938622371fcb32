"""Time to withdrawal: how long the money of a month's payouts waited before the person withdrew it.

For each payout that reached the person (credited to the account, or cash sent to the commune):
days to withdraw = ``withdrawn_at`` − arrival (``credited_at``; for cash, the handover to the commune).
Per group: payouts, credited, withdrawn, median and p90 days, the share withdrawn within 1, 3, 7 and
30 days, never withdrawn, partly withdrawn, the undrawn amount; a month-by-month trend; and the bank
accounts opened in the month next to the share withdrawn within 3 days.

The share withdrawn within N days counts only the payouts whose N days are over: those that arrived at
least N days before now, and of them the ones withdrawn within N days. A payout credited 2 days ago is
in neither side of the 3-, 7- or 30-day shares (it would otherwise count as "not within 30 days" for
28 more days and make a recent month look slow); ``within_Nd_pending`` says how many were left out.
When every arrived payout of a group is that recent, the share is None: "chưa đủ N ngày / window not
over yet" on the pages and in the workbook. The dashboard's share by day since arrival
(``share_by_day``) counts day N the same way.

The median and p90 are over every payout that arrived, the ones not withdrawn yet counting as later
than any withdrawn one: a median of 2.8 days means half the people had their money within 2.8 days.
When fewer than half (a tenth) have withdrawn, the median (p90) is not reached and is None — the
people who never come for their money are the point of the report, not left out of it.

Scope is given as commune and province codes (None: everything), so this module knows no HTTP.

The report reads the summary that triggers on ``payout`` keep up to date (migration 0012), not the
payouts: counts and sums per (period, commune, programme, bank, channel, sex, age band), histograms of
the hours to withdraw per commune and per period, and the payouts withdrawn in part. A million payouts
make a few thousand summary rows and a few hundred histogram rows per commune. Only the medians and
p90s by programme, bank, age band, sex or channel read the period's arrived payouts.

The summary has no arrival times, so the shares are corrected by reading the payouts that arrived in the
last 30 days, only those, through the BRIN index of arrival times (migration 0038): once a month is over
they are few (reissues, late cash). A month paid in the last 30 days can have a million of them; above
``EXACT_WINDOW_LIMIT`` the report does not read them all but takes, per month, the latest arrival of
its runs' payouts (``payout_run_arrival``, kept by a trigger; whatever the scope): where that is less than N days ago the
share within N days is None for every group of the month, with ``within_Nd_pending`` None (payouts
still inside their window, not counted one by one); the other shares are exact as they stand.

Resolution: the histograms count whole hours, rounded up (a payout withdrawn 25 h 10 min after it
arrived counts as 26 h). Everything but the median and p90 is exact: "within N days" is "within 24 N
hours", the same test on hours rounded up, and so are the whole days of ``share_by_day``. The median and
p90 are ``percentile_cont`` over those hours: exact when arrivals and withdrawals are whole hours apart
(as in the tests), otherwise later by less than an hour (0.04 day; the figures are shown in days with
two decimals).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

GROUP_BY = ("commune", "province", "programme", "bank", "age_band", "sex", "channel")
WITHIN_DAYS = (1, 3, 7, 30)
TREND_MONTHS = 12

AGE_BAND = """CASE WHEN date_part('year', age(CAST(:period AS date), b.date_of_birth)) >= 80 THEN '80+'
                   WHEN date_part('year', age(CAST(:period AS date), b.date_of_birth)) >= 70 THEN '70-79'
                   WHEN date_part('year', age(CAST(:period AS date), b.date_of_birth)) >= 60 THEN '60-69'
                   ELSE 'under_60' END"""
# The age bands, youngest first: the order their rows are listed in (not alphabetical, not by count).
AGE_BANDS = ("under_60", "60-69", "70-79", "80+")
AGE_BAND_LABELS = {"80+": "Từ 80 tuổi / 80+", "70-79": "70–79 tuổi / 70-79", "60-69": "60–69 tuổi / 60-69",
                   "under_60": "Dưới 60 tuổi / under 60"}
SEX_LABELS = {"female": "Nữ / female", "male": "Nam / male"}
CHANNEL_LABELS = {"bank": "Tài khoản ngân hàng / bank account", "cash": "Tiền mặt / cash"}

# group -> (key expression, label expression, joins it needs) over summary rows s (commune cm joined).
_GROUPS: dict[str, tuple[str, str, str]] = {
    "commune": ("s.commune_code", "cm.name", ""),
    "province": ("cm.province_code", "pv.name", "JOIN province pv ON pv.code = cm.province_code"),
    "programme": ("s.programme_code", "pg.name_vi", "JOIN programme pg ON pg.code = s.programme_code"),
    "bank": ("s.bank_key", "coalesce(bk.short_name, 'Tiền mặt / cash')", "LEFT JOIN bank bk ON bk.bin = s.bank_key"),
    "age_band": ("s.age_band", "s.age_band", ""),
    "sex": ("s.sex", "s.sex", ""),
    "channel": ("s.channel", "s.channel", ""),
}
# How a grouping's rows are ordered when not by their key (s.age_band: youngest first).
_ROW_ORDER = {"age_band": "array_position(ARRAY" + repr(list(AGE_BANDS)) + "::text[], s.age_band)"}
# Accounts opened in the month, grouped like the payouts where the grouping applies to a person's account.
_ACCOUNT_GROUPS = {
    "commune": "b.commune_code", "province": "cm.province_code", "bank": "ba.bank_bin",
    "age_band": AGE_BAND, "sex": "b.sex",
}

# A run's payouts count from its approval (migration 0030: the summary's triggers say the same); r: payout_run.
COUNTED_RUN = "r.status NOT IN ('draft', 'computing', 'computed', 'cancelled')"
# Per payout, for the workbooks' payout sheets and ``people_waiting`` (the report reads the summary).
ARRIVED = "(p.status = 'credited' OR (p.channel = 'cash' AND p.status = 'sent'))"
# When the money reached the person: credited, or (cash) sent to the commune; migration 0038 indexes it (BRIN).
ARRIVED_AT = "coalesce(p.credited_at, p.sent_at)"
DAYS = "extract(epoch FROM p.withdrawn_at - coalesce(p.credited_at, p.sent_at)) / 86400.0"
UNDRAWN = """CASE WHEN p.withdrawn_at IS NOT NULL THEN 0 WHEN p.first_withdrawal_at IS NULL THEN p.amount
                  ELSE p.amount - (SELECT coalesce(sum(a.amount), 0) FROM withdrawal_allocation a
                                    WHERE a.payout_id = p.id) END"""

_SUMMARY_KEY = "period, commune_code, programme_code, bank_key, channel, sex, age_band"
_COUNTS = ("payouts", "amount", "credited", "withdrawn", *(f"within_{n}d" for n in WITHIN_DAYS),
           "never_withdrawn", "partly_withdrawn")
# The summary rows of the periods, and the undrawn rest of each payout withdrawn in part (its allocations).
_SUMMARY_ROWS = f"""
    SELECT {_SUMMARY_KEY}, {", ".join(_COUNTS)}, untouched_amount AS undrawn
      FROM withdrawal_summary WHERE period BETWEEN :since AND :period
    UNION ALL
    SELECT {_SUMMARY_KEY}, {", ".join("0" for _ in _COUNTS)},
           w.amount - (SELECT coalesce(sum(a.amount), 0) FROM withdrawal_allocation a WHERE a.payout_id = w.payout_id)
      FROM withdrawal_partial w WHERE period BETWEEN :since AND :period"""  # noqa: S608 - constant fragments

_METRICS = f"""{", ".join(f"sum(s.{c})::bigint AS {c}" for c in _COUNTS)},
    coalesce(sum(s.undrawn), 0)::bigint AS undrawn_amount"""
PERCENTILES = (0.5, 0.9)
# The hours of a payout that arrived and is not (fully) withdrawn yet: after every real value. A median
# or p90 whose rank falls there is not reached (None): fewer than half (a tenth) have withdrawn.
NOT_WITHDRAWN_HOURS = 2**31 - 1

def month_start(period: str) -> date:
    """The first day of a YYYY-MM period; ValueError when it is not one."""
    year, _, month = period.partition("-")
    if len(year) != 4 or len(month) != 2 or not (year + month).isdigit():
        raise ValueError(period)
    return date(int(year), int(month), 1)


def add_months(month: date, count: int) -> date:
    index = month.year * 12 + month.month - 1 + count
    return date(index // 12, index % 12 + 1, 1)


def scope_condition(column: str, province_column: str, communes: Sequence[str] | None,
                    provinces: Sequence[str] | None, params: dict[str, Any], *, commune: str | None = None,
                    province: str | None = None) -> str:
    """SQL limiting rows to the caller's communes / provinces (None: no limit) and to the one ``commune`` or
    ``province`` asked for (None: all of the scope)."""
    parts = []
    if communes is not None:
        params["scope_communes"] = list(communes)
        parts.append(f"{column} = ANY(:scope_communes)")
    if provinces is not None:
        params["scope_provinces"] = list(provinces)
        parts.append(f"{province_column} = ANY(:scope_provinces)")
    if commune is not None:
        params["commune"] = commune
        parts.append(f"{column} = :commune")
    if province is not None:
        params["province"] = province
        parts.append(f"{province_column} = :province")
    return " AND ".join(parts) or "true"


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _days(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


# Per N: (arrived payouts whose N days are not over, of them withdrawn within N days); None: some are, not
# counted one by one (more than EXACT_WINDOW_LIMIT arrivals in the last 30 days).
OpenWindows = dict[int, tuple[int, int] | None]
# The most payouts arrived within the last 30 days read one by one for exact shares: about a tenth of a second.
EXACT_WINDOW_LIMIT = 100_000


def _metrics(row: Any, percentiles: tuple[float | None, float | None] | None,
             windows: OpenWindows | None = None) -> dict[str, Any]:
    credited = int(row.credited or 0)
    median, p90 = percentiles or (None, None)
    out: dict[str, Any] = {
        "payouts": int(row.payouts or 0), "amount": int(row.amount or 0), "credited": credited,
        "withdrawn": int(row.withdrawn or 0), "median_days": _days(median), "p90_days": _days(p90),
    }
    for n in WITHIN_DAYS:
        not_over = (windows or {}).get(n, (0, 0))
        if not_over is None:
            out[f"within_{n}d"], out[f"within_{n}d_pending"] = None, None
            continue
        pending, pending_within = not_over
        out[f"within_{n}d"] = _share(int(getattr(row, f"within_{n}d") or 0) - pending_within, credited - pending)
        out[f"within_{n}d_pending"] = pending
    out.update(never_withdrawn=int(row.never_withdrawn or 0), partly_withdrawn=int(row.partly_withdrawn or 0),
               undrawn_amount=int(row.undrawn_amount or 0))
    return out


def _label(group_by: str, key: str, label: str | None) -> str:
    if group_by == "age_band":
        return AGE_BAND_LABELS.get(key, key)
    if group_by == "sex":
        return SEX_LABELS.get(key, key)
    if group_by == "channel":
        return CHANNEL_LABELS.get(key, key)
    return label or key


def _interpolate(total: int, low_hours: int | None, high_hours: int | None, percentile: float) -> float | None:
    """``percentile_cont`` between the values at the two ranks around ``percentile * (total - 1)``, in days;
    None when a rank falls on the payouts not withdrawn yet (the percentile is not reached)."""
    if low_hours is None or high_hours is None or high_hours >= NOT_WITHDRAWN_HOURS:
        return None
    position = percentile * (total - 1)
    low, high = low_hours / 24.0, high_hours / 24.0
    return low + (position - math.floor(position)) * (high - low)


def _percentile_values(rows: Any) -> dict[Any, tuple[float | None, float | None]]:
    out: dict[Any, tuple[float | None, float | None]] = {}
    for row in rows:
        values = tuple(_interpolate(row.total, getattr(row, f"low_{i}"), getattr(row, f"high_{i}"), p)
                       for i, p in enumerate(PERCENTILES))
        out[None if row.is_total else row.key] = (values[0], values[1])
    return out


_RANKS = ", ".join(
    f"""min(hours) FILTER (WHERE upto > floor({p}::float8 * (total - 1))) AS low_{i},
        min(hours) FILTER (WHERE upto > ceil({p}::float8 * (total - 1))) AS high_{i}"""
    for i, p in enumerate(PERCENTILES))


def _ranked(histogram: str) -> str:
    """Per key (and the total), the hours at the ranks around each percentile, from (key, is_total, hours, n)."""
    return f"""WITH histogram AS ({histogram}), running AS (
                   SELECT key, is_total, hours, sum(n) OVER (PARTITION BY is_total, key ORDER BY hours) AS upto,
                          sum(n) OVER (PARTITION BY is_total, key) AS total
                     FROM (SELECT key, is_total, hours, n::int AS n FROM histogram WHERE n <> 0) counted)
               SELECT key, is_total, max(total)::bigint AS total, {_RANKS}
                 FROM running GROUP BY key, is_total"""  # noqa: S608 - constant fragments only


async def _percentiles(session: AsyncSession, key: str, where: str, dimension: str,
                       params: dict[str, Any]) -> dict[Any, tuple[float | None, float | None]]:
    """Median and p90 days to withdraw per key (None: the total) from the hour histograms: per commune
    (``dimension`` 'commune', commune ``cm`` joined, any scope) or of all communes ('all', unscoped).
    ``key`` and ``where`` are written over the summary (``s.commune_code``); the histograms name the
    commune ``s.group_key``. The payouts that arrived and are not withdrawn yet count too, after every
    withdrawn one."""
    join = "JOIN commune cm ON cm.code = s.group_key" if dimension == "commune" else ""
    summary_join = "JOIN commune cm ON cm.code = s.commune_code" if dimension == "commune" else ""
    days_key = key.replace("s.commune_code", "s.group_key")
    days_where = where.replace("s.commune_code", "s.group_key")
    histogram = f"""SELECT {days_key} AS key, GROUPING({days_key}) AS is_total, s.hours, sum(s.payouts) AS n
                      FROM withdrawal_days s {join}
                     WHERE s.period BETWEEN :since AND :period AND s.dimension = :dimension AND {days_where}
                     GROUP BY GROUPING SETS (({days_key}, s.hours), (s.hours))
                    UNION ALL
                    SELECT {key}, GROUPING({key}), {NOT_WITHDRAWN_HOURS}, sum(s.credited - s.withdrawn)
                      FROM withdrawal_summary s {summary_join}
                     WHERE s.period BETWEEN :since AND :period AND {where}
                     GROUP BY GROUPING SETS (({key}), ())"""  # noqa: S608 - constant fragments
    rows = await session.execute(text(_ranked(histogram)), dict(params, dimension=dimension))
    return _percentile_values(rows)


# By a grouping other than commune or province the medians come from the period's arrived payouts in
# scope (histograms per commune and group would be nearly a row per payout, as dear to keep up as they
# save), in the same whole hours as the histograms.
_PAYOUT_GROUPS = {"programme": "r.programme_code", "bank": "coalesce(p.bank_bin, 'cash')",
                  "age_band": "withdrawal_age_band(r.period, b.date_of_birth)", "sex": "b.sex",
                  "channel": "p.channel"}


async def _payout_percentiles(session: AsyncSession, group_by: str, communes: Sequence[str] | None,
                              provinces: Sequence[str] | None, commune: str | None, province: str | None,
                              params: dict[str, Any]) -> dict[Any, tuple[float | None, float | None]]:
    """Median and p90 days per group of ``group_by`` (None: the total) from the period's arrived payouts."""
    params = dict(params)
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune,
                            province=province)
    key = _PAYOUT_GROUPS[group_by]
    hours = f"""CASE WHEN p.withdrawn_at IS NULL THEN {NOT_WITHDRAWN_HOURS}
                     ELSE withdrawal_hours(p.withdrawn_at, coalesce(p.credited_at, p.sent_at)) END"""
    histogram = f"""SELECT {key} AS key, GROUPING({key}) AS is_total, {hours} AS hours, count(*) AS n
                      FROM payout p JOIN payout_run r ON r.id = p.run_id JOIN commune cm ON cm.code = p.commune_code
                      JOIN beneficiary b ON b.id = p.beneficiary_id
                     WHERE r.period = :period AND {ARRIVED} AND {where}
                     GROUP BY GROUPING SETS (({key}, {hours}), ({hours}))"""  # noqa: S608 - constant fragments
    return _percentile_values(await session.execute(text(_ranked(histogram)), params))


_WINDOW_GROUPS = {"commune": "p.commune_code", "province": "cm.province_code", **_PAYOUT_GROUPS}
_NOW = "coalesce(CAST(:now AS timestamptz), now())"


async def _open_windows(session: AsyncSession, group_by: str, communes: Sequence[str] | None,
                        provinces: Sequence[str] | None, commune: str | None, province: str | None,
                        params: dict[str, Any], now: datetime | None,
                        limit: int) -> dict[tuple[date, Any], OpenWindows]:
    """Per (period, group key) and (period, None) for the period's total, of the periods ``since`` to
    ``period``: the arrived payouts whose N days are not over at ``now``, read one by one from those that
    arrived in the last 30 days when there are at most ``limit``; else, per period, None for each N whose
    window the period's latest arrival is still in (other N: nothing pending)."""
    params = dict(params, now=now, limit=limit + 1)
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune,
                            province=province)
    key = _WINDOW_GROUPS[group_by]
    person = "JOIN beneficiary b ON b.id = p.beneficiary_id" if group_by in ("age_band", "sex") else ""
    counts = ", ".join(
        f"""count(*) FILTER (WHERE arrived_at > {_NOW} - interval '{n} days') AS open_{n},
            count(*) FILTER (WHERE arrived_at > {_NOW} - interval '{n} days' AND hours <= {24 * n}) AS within_{n}"""
        for n in WITHIN_DAYS)
    rows = list(await session.execute(text(
        f"""WITH recent AS MATERIALIZED (
                SELECT r.period, {key} AS key, {ARRIVED_AT} AS arrived_at,
                       withdrawal_hours(p.withdrawn_at, {ARRIVED_AT}) AS hours
                  FROM payout_run r JOIN payout p ON p.run_id = r.id JOIN commune cm ON cm.code = p.commune_code
                  {person}
                 WHERE r.period BETWEEN :since AND :period AND {ARRIVED}
                   AND {ARRIVED_AT} > {_NOW} - interval '{max(WITHIN_DAYS)} days' AND {where}
                 LIMIT :limit)
            SELECT period, key, GROUPING(key) AS is_total, {counts}
              FROM recent GROUP BY GROUPING SETS ((period, key), (period))"""), params))  # noqa: S608
    if sum(int(getattr(row, f"open_{max(WITHIN_DAYS)}")) for row in rows if row.is_total) <= limit:
        return {(row.period, None if row.is_total else row.key):
                {n: (int(getattr(row, f"open_{n}")), int(getattr(row, f"within_{n}"))) for n in WITHIN_DAYS}
                for row in rows}
    # Too many to read: the latest arrival per period, from each run's (``payout_run_arrival``, migration 0038;
    # not limited to the scope).
    latest = ", ".join(f"max(a.latest) > {_NOW} - interval '{n} days' AS open_{n}" for n in WITHIN_DAYS)
    periods = await session.execute(text(
        f"""SELECT r.period, {latest}
              FROM payout_run r JOIN payout_run_arrival a ON a.run_id = r.id
             WHERE r.period BETWEEN :since AND :period
             GROUP BY r.period"""), params)  # noqa: S608
    return {(row.period, None): {n: None for n in WITHIN_DAYS if getattr(row, f"open_{n}")} for row in periods}


def _windows_of(windows: dict[tuple[date, Any], OpenWindows], period: date, key: Any) -> OpenWindows:
    """The open windows of one group (key None: the period's total); a period counted at its level applies to
    every group of it."""
    found = windows.get((period, key))
    if found is not None:
        return found
    total = windows.get((period, None), {})
    return {n: None for n, counts in total.items() if counts is None}


async def time_to_withdrawal(session: AsyncSession, *, period: date, group_by: str = "commune",
                             communes: Sequence[str] | None = None, provinces: Sequence[str] | None = None,
                             commune: str | None = None, province: str | None = None,
                             trend_months: int = TREND_MONTHS, now: datetime | None = None,
                             exact_window_limit: int = EXACT_WINDOW_LIMIT) -> dict[str, Any]:
    """The report for one month's payouts: rows per group, totals, a trend and accounts opened; the shares
    within N days over the payouts that arrived at least N days before ``now`` (None: the database's clock).

    Read from the summary the payout triggers keep (migration 0012): a few rows per commune and group,
    not every payout (only the medians by programme, bank, age band, sex or channel read the period's
    arrived payouts, and the shares the payouts arrived in the last 30 days, up to ``exact_window_limit``)."""
    if group_by not in _GROUPS:
        raise ValueError(group_by)
    key, label, joins = _GROUPS[group_by]
    params: dict[str, Any] = {"period": period, "since": period}
    where = scope_condition("s.commune_code", "cm.province_code", communes, provinces, params, commune=commune,
                            province=province)
    # One pass: the groups and the total (the empty grouping set) together.
    grouped = list(await session.execute(text(
        f"""SELECT {key} AS key, min({label}) AS label, GROUPING({key}) AS is_total, {_METRICS}
              FROM ({_SUMMARY_ROWS}) s JOIN commune cm ON cm.code = s.commune_code {joins}
             WHERE {where}
             GROUP BY GROUPING SETS (({key}), ())
            HAVING GROUPING({key}) = 1 OR sum(s.payouts) <> 0
             ORDER BY is_total, {_ROW_ORDER.get(group_by, key)}, key"""), params))  # noqa: S608
    totals = grouped.pop()
    if group_by in ("commune", "province"):
        percentiles = await _percentiles(session, key, where, "commune", params)
    else:
        percentiles = await _payout_percentiles(session, group_by, communes, provinces, commune, province, params)
    opened = await _accounts_opened(session, period, group_by, communes, provinces, commune, province)
    trend_params = dict(params, since=add_months(period, -(trend_months - 1)))
    windows = await _open_windows(session, group_by, communes, provinces, commune, province, trend_params, now,
                                  exact_window_limit)
    rows = []
    for row in grouped:
        item = {"group": row.key, "label": _label(group_by, row.key, row.label),
                **_metrics(row, percentiles.get(row.key), _windows_of(windows, period, row.key))}
        if group_by in _ACCOUNT_GROUPS:
            item["accounts_opened"] = opened.get(row.key, 0)
        rows.append(item)
    trend = await session.execute(text(
        f"""SELECT s.period, to_char(s.period, 'YYYY-MM') AS month, {_METRICS}
              FROM ({_SUMMARY_ROWS}) s JOIN commune cm ON cm.code = s.commune_code
             WHERE {where}
             GROUP BY s.period HAVING sum(s.payouts) <> 0 ORDER BY s.period"""),  # noqa: S608
        trend_params)
    if (communes, provinces, commune, province) == (None, None, None, None):
        trend_percentiles = await _percentiles(session, "s.period", "true", "all", trend_params)
    else:
        trend_percentiles = await _percentiles(session, "s.period", where, "commune", trend_params)
    return {
        "period": period.strftime("%Y-%m"), "group_by": group_by, "items": rows,
        "totals": {**_metrics(totals, percentiles.get(None), _windows_of(windows, period, None)),
                   "accounts_opened": sum(opened.values())},
        "trend": [{"month": row.month, **_metrics(row, trend_percentiles.get(row.period),
                                                  _windows_of(windows, row.period, None))} for row in trend],
    }


async def _accounts_opened(session: AsyncSession, period: date, group_by: str, communes: Sequence[str] | None,
                           provinces: Sequence[str] | None, commune: str | None,
                           province: str | None) -> dict[str, int]:
    """Bank accounts opened (effective from) in the month, per group key ('' when the grouping does not apply)."""
    params: dict[str, Any] = {"period": period, "next": add_months(period, 1)}
    where = scope_condition("b.commune_code", "cm.province_code", communes, provinces, params, commune=commune,
                            province=province)
    key = _ACCOUNT_GROUPS.get(group_by, "''")
    rows = await session.execute(text(
        f"""SELECT {key} AS key, count(*) AS opened
              FROM bank_account ba JOIN beneficiary b ON b.id = ba.beneficiary_id
              JOIN commune cm ON cm.code = b.commune_code
             WHERE ba.effective_from >= :period AND ba.effective_from < :next AND {where}
             GROUP BY 1"""), params)  # noqa: S608
    return {row.key: int(row.opened) for row in rows}


async def share_by_day(session: AsyncSession, *, period: date, communes: Sequence[str] | None = None,
                       provinces: Sequence[str] | None = None, commune: str | None = None,
                       days: int = 30, now: datetime | None = None,
                       exact_window_limit: int = EXACT_WINDOW_LIMIT) -> list[float | None]:
    """Cumulative share of the month's arrived payouts withdrawn within 0, 1, … ``days`` days of arrival,
    by the rule of the shares within N days (module docstring): day N counts only the payouts that arrived
    at least N days before ``now`` (None: the database's clock), and is None when none did ("chưa đủ N
    ngày"), or — more than ``exact_window_limit`` payouts arrived in the last ``days`` days, not read one
    by one — when the month's latest arrival is less than N days ago.

    The summary gives every arrived payout and the day each was withdrawn; only the payouts that arrived in
    the last ``days`` days are read, to take away those whose N days are not over."""
    params: dict[str, Any] = {"period": period, "days": days}
    where = scope_condition("s.commune_code", "cm.province_code", communes, provinces, params, commune=commune)
    arrived = int(await session.scalar(text(
        f"""SELECT coalesce(sum(s.credited), 0) FROM withdrawal_summary s JOIN commune cm ON cm.code = s.commune_code
             WHERE s.period = :period AND {where}"""), params) or 0)  # noqa: S608
    if not arrived:
        return [None] * (days + 1)
    # Whole hours rounded up, then whole days rounded up: the days rounded up.
    rows = await session.execute(text(
        f"""SELECT LEAST(ceil(s.hours / 24.0), :days + 1)::int AS day, sum(s.payouts)::bigint AS n
              FROM withdrawal_days s JOIN commune cm ON cm.code = s.group_key
             WHERE s.period = :period AND s.dimension = 'commune' AND {where.replace("s.commune_code", "s.group_key")}
             GROUP BY 1"""), params)  # noqa: S608
    counts = [0] * (days + 2)
    for row in rows:
        counts[max(0, int(row.day))] += int(row.n)
    open_days = await _open_days(session, period, communes, provinces, commune, days, now, exact_window_limit)
    shares: list[float | None] = []
    running = 0
    for day in range(days + 1):
        running += counts[day]
        not_over = open_days[day]
        if not_over is None:
            shares.append(None)
            continue
        pending, pending_within = not_over
        shares.append(_share(running - pending_within, arrived - pending))
    return shares


async def _open_days(session: AsyncSession, period: date, communes: Sequence[str] | None,
                     provinces: Sequence[str] | None, commune: str | None, days: int, now: datetime | None,
                     limit: int) -> list[tuple[int, int] | None]:
    """Per day N of 0 … ``days``: (the period's arrived payouts in scope that arrived less than N days before
    ``now``, of them the ones withdrawn within N days), read from the payouts that arrived in the last
    ``days`` days when there are at most ``limit``; else None for each N the period's latest arrival is
    less than N days ago (the others: nothing pending), as ``_open_windows`` does."""
    params: dict[str, Any] = {"period": period, "now": now, "limit": limit + 1}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune)
    # age: whole days since arrival, rounded down (open for day N while age < N); day: the day withdrawn,
    # rounded up as in the histograms (None: not withdrawn).
    rows = list(await session.execute(text(
        f"""WITH recent AS MATERIALIZED (
                SELECT floor(extract(epoch FROM {_NOW} - {ARRIVED_AT}) / 86400)::int AS age,
                       ceil(withdrawal_hours(p.withdrawn_at, {ARRIVED_AT}) / 24.0)::int AS day
                  FROM payout_run r JOIN payout p ON p.run_id = r.id JOIN commune cm ON cm.code = p.commune_code
                 WHERE r.period = :period AND {ARRIVED}
                   AND {ARRIVED_AT} > {_NOW} - make_interval(days => {days}) AND {where}
                 LIMIT :limit)
            SELECT age, day, count(*) AS n FROM recent GROUP BY age, day"""), params))  # noqa: S608
    if sum(int(row.n) for row in rows) <= limit:
        out: list[tuple[int, int] | None] = []
        for day in range(days + 1):
            open_rows = [row for row in rows if row.age < day]
            out.append((sum(int(row.n) for row in open_rows),
                        sum(int(row.n) for row in open_rows if row.day is not None and row.day <= day)))
        return out
    # Too many to read: the period's latest arrival, from each run's (``payout_run_arrival``; not limited to
    # the scope).
    age = await session.scalar(text(
        f"""SELECT floor(extract(epoch FROM {_NOW} - max(a.latest)) / 86400)::int
              FROM payout_run r JOIN payout_run_arrival a ON a.run_id = r.id
             WHERE r.period = :period"""), params)  # noqa: S608
    return [None if age is not None and age < day else (0, 0) for day in range(days + 1)]


async def people_waiting(session: AsyncSession, *, communes: Sequence[str] | None = None,
                         provinces: Sequence[str] | None = None, commune: str | None = None) -> tuple[int, int]:
    """(people, đồng) with money that reached them and is not withdrawn yet, now."""
    params: dict[str, Any] = {}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, commune=commune)
    row = (await session.execute(text(
        f"""SELECT count(DISTINCT p.beneficiary_id) AS people, coalesce(sum({UNDRAWN}), 0)::bigint AS amount
              FROM payout p JOIN commune cm ON cm.code = p.commune_code
             WHERE {ARRIVED} AND p.withdrawn_at IS NULL AND {where}"""), params)).one()  # noqa: S608
    return int(row.people), int(row.amount)


async def compact_summary(session: AsyncSession) -> int:
    """Fold the summary's delta rows into one row per key (0 when another compaction is running)."""
    return int(await session.scalar(text("SELECT withdrawal_summary_compact()")) or 0)
