"""Time to withdrawal: how long the money of a month's payouts waited before the person withdrew it.

For each payout that reached the person (credited to the account, or cash sent to the commune):
days to withdraw = ``withdrawn_at`` − arrival (``credited_at``; for cash, the handover to the commune).
Per group: payouts, credited, withdrawn, median and p90 days, the share withdrawn within 1, 3, 7 and
30 days (of the credited), never withdrawn, partly withdrawn, the undrawn amount; a month-by-month
trend; and the bank accounts opened in the month next to the share withdrawn within 3 days.

Scope is given as commune and province codes (None: everything), so this module knows no HTTP.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
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
AGE_BAND_LABELS = {"80+": "Từ 80 tuổi / 80+", "70-79": "70–79 tuổi / 70-79", "60-69": "60–69 tuổi / 60-69",
                   "under_60": "Dưới 60 tuổi / under 60"}
SEX_LABELS = {"female": "Nữ / female", "male": "Nam / male"}
CHANNEL_LABELS = {"bank": "Tài khoản ngân hàng / bank account", "cash": "Tiền mặt / cash"}

# group -> (key expression, label expression, joins it needs beyond payout p, run r, commune cm, beneficiary b)
_GROUPS: dict[str, tuple[str, str, str]] = {
    "commune": ("p.commune_code", "cm.name", ""),
    "province": ("cm.province_code", "pv.name", "JOIN province pv ON pv.code = cm.province_code"),
    "programme": ("r.programme_code", "pg.name_vi", "JOIN programme pg ON pg.code = r.programme_code"),
    "bank": ("coalesce(p.bank_bin, 'cash')", "coalesce(bk.short_name, 'Tiền mặt / cash')",
             "LEFT JOIN bank bk ON bk.bin = p.bank_bin"),
    "age_band": (AGE_BAND, AGE_BAND, ""),
    "sex": ("b.sex", "b.sex", ""),
    "channel": ("p.channel", "p.channel", ""),
}
# Accounts opened in the month, grouped like the payouts where the grouping applies to a person's account.
_ACCOUNT_GROUPS = {
    "commune": "b.commune_code", "province": "cm.province_code", "bank": "ba.bank_bin",
    "age_band": AGE_BAND, "sex": "b.sex",
}

ARRIVED = "(p.status = 'credited' OR (p.channel = 'cash' AND p.status = 'sent'))"
DAYS = "extract(epoch FROM p.withdrawn_at - coalesce(p.credited_at, p.sent_at)) / 86400.0"
UNDRAWN = """CASE WHEN p.withdrawn_at IS NOT NULL THEN 0 WHEN p.first_withdrawal_at IS NULL THEN p.amount
                  ELSE p.amount - (SELECT coalesce(sum(a.amount), 0) FROM withdrawal_allocation a
                                    WHERE a.payout_id = p.id) END"""

# Per payout once (the aggregates below only read these columns).
_ROW_COLUMNS = f"""p.amount, {ARRIVED} AS arrived, p.withdrawn_at IS NOT NULL AS done,
    p.first_withdrawal_at IS NULL AS untouched, CASE WHEN {ARRIVED} THEN {DAYS} END AS days,
    CASE WHEN {ARRIVED} THEN {UNDRAWN} ELSE 0 END AS undrawn"""

_METRICS = f"""
    count(*) AS payouts,
    coalesce(sum(amount), 0)::bigint AS amount,
    count(*) FILTER (WHERE arrived) AS credited,
    count(*) FILTER (WHERE arrived AND done) AS withdrawn,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY days) FILTER (WHERE arrived AND done) AS median_days,
    percentile_cont(0.9) WITHIN GROUP (ORDER BY days) FILTER (WHERE arrived AND done) AS p90_days,
    {", ".join(f"count(*) FILTER (WHERE days <= {n}) AS n_within_{n}d" for n in WITHIN_DAYS)},
    count(*) FILTER (WHERE arrived AND untouched) AS never_withdrawn,
    count(*) FILTER (WHERE arrived AND NOT untouched AND NOT done) AS partly_withdrawn,
    coalesce(sum(undrawn), 0)::bigint AS undrawn_amount
"""


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
                    provinces: Sequence[str] | None, params: dict[str, Any]) -> str:
    """SQL limiting rows to the caller's communes / provinces (None: no limit)."""
    parts = []
    if communes is not None:
        params["scope_communes"] = list(communes)
        parts.append(f"{column} = ANY(:scope_communes)")
    if provinces is not None:
        params["scope_provinces"] = list(provinces)
        parts.append(f"{province_column} = ANY(:scope_provinces)")
    return " AND ".join(parts) or "true"


def _share(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _days(value: float | None) -> float | None:
    return None if value is None else round(float(value), 2)


def _metrics(row: Any) -> dict[str, Any]:
    credited = int(row.credited)
    out: dict[str, Any] = {
        "payouts": int(row.payouts), "amount": int(row.amount), "credited": credited, "withdrawn": int(row.withdrawn),
        "median_days": _days(row.median_days), "p90_days": _days(row.p90_days),
    }
    for n in WITHIN_DAYS:
        out[f"within_{n}d"] = _share(int(getattr(row, f"n_within_{n}d")), credited)
    out.update(never_withdrawn=int(row.never_withdrawn), partly_withdrawn=int(row.partly_withdrawn),
               undrawn_amount=int(row.undrawn_amount))
    return out


def _label(group_by: str, key: str, label: str | None) -> str:
    if group_by == "age_band":
        return AGE_BAND_LABELS.get(key, key)
    if group_by == "sex":
        return SEX_LABELS.get(key, key)
    if group_by == "channel":
        return CHANNEL_LABELS.get(key, key)
    return label or key


async def time_to_withdrawal(session: AsyncSession, *, period: date, group_by: str = "commune",
                             communes: Sequence[str] | None = None, provinces: Sequence[str] | None = None,
                             commune: str | None = None, province: str | None = None,
                             trend_months: int = TREND_MONTHS) -> dict[str, Any]:
    """The report for one month's payouts: rows per group, totals, a trend and accounts opened."""
    if group_by not in _GROUPS:
        raise ValueError(group_by)
    key, label, joins = _GROUPS[group_by]
    params: dict[str, Any] = {"period": period}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params)
    if commune is not None:
        params["commune"] = commune
        where += " AND p.commune_code = :commune"
    if province is not None:
        params["province"] = province
        where += " AND cm.province_code = :province"
    person_join = "JOIN beneficiary b ON b.id = p.beneficiary_id" if group_by in ("age_band", "sex") else ""
    base = f"""FROM payout p JOIN payout_run r ON r.id = p.run_id JOIN commune cm ON cm.code = p.commune_code
                 {person_join} {joins}
                WHERE p.status <> 'cancelled' AND {where}"""
    # One pass: the groups and the total (the empty grouping set) together.
    grouped = list(await session.execute(text(
        f"""SELECT key, min(label) AS label, GROUPING(key) AS is_total, {_METRICS}
              FROM (SELECT {key} AS key, {label} AS label, {_ROW_COLUMNS} {base} AND r.period = :period) rows
             GROUP BY GROUPING SETS ((key), ()) ORDER BY is_total, key"""), params))  # noqa: S608
    totals = grouped.pop()
    opened = await _accounts_opened(session, period, group_by, communes, provinces, commune, province)
    rows = []
    for row in grouped:
        item = {"group": row.key, "label": _label(group_by, row.key, row.label), **_metrics(row)}
        if group_by in _ACCOUNT_GROUPS:
            item["accounts_opened"] = opened.get(row.key, 0)
        rows.append(item)
    trend_params = dict(params, since=add_months(period, -(trend_months - 1)))
    trend = await session.execute(text(
        f"""SELECT to_char(period, 'YYYY-MM') AS month, {_METRICS}
              FROM (SELECT r.period, {_ROW_COLUMNS} {base} AND r.period BETWEEN :since AND :period) rows
             GROUP BY period ORDER BY period"""),  # noqa: S608
        trend_params)
    return {
        "period": period.strftime("%Y-%m"), "group_by": group_by, "items": rows,
        "totals": {**_metrics(totals), "accounts_opened": sum(opened.values())},
        "trend": [{"month": row.month, **_metrics(row)} for row in trend],
    }


async def _accounts_opened(session: AsyncSession, period: date, group_by: str, communes: Sequence[str] | None,
                           provinces: Sequence[str] | None, commune: str | None,
                           province: str | None) -> dict[str, int]:
    """Bank accounts opened (effective from) in the month, per group key ('' when the grouping does not apply)."""
    params: dict[str, Any] = {"period": period, "next": add_months(period, 1)}
    where = scope_condition("b.commune_code", "cm.province_code", communes, provinces, params)
    if commune is not None:
        params["commune"] = commune
        where += " AND b.commune_code = :commune"
    if province is not None:
        params["province"] = province
        where += " AND cm.province_code = :province"
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
                       days: int = 30) -> list[float | None]:
    """Cumulative share of the month's arrived payouts withdrawn within 0, 1, … ``days`` days of arrival."""
    params: dict[str, Any] = {"period": period, "days": days}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params)
    if commune is not None:
        params["commune"] = commune
        where += " AND p.commune_code = :commune"
    rows = (await session.execute(text(
        f"""SELECT count(*) AS arrived,
                   array_agg(LEAST(ceil({DAYS}), :days + 1)::int) FILTER (WHERE p.withdrawn_at IS NOT NULL) AS days
              FROM payout p JOIN payout_run r ON r.id = p.run_id JOIN commune cm ON cm.code = p.commune_code
             WHERE r.period = :period AND {ARRIVED} AND {where}"""), params)).one()  # noqa: S608
    arrived = int(rows.arrived)
    if not arrived:
        return [None] * (days + 1)
    counts = [0] * (days + 2)
    for day in rows.days or []:
        counts[max(0, int(day))] += 1
    shares: list[float | None] = []
    running = 0
    for day in range(days + 1):
        running += counts[day]
        shares.append(round(running / arrived, 4))
    return shares


async def people_waiting(session: AsyncSession, *, communes: Sequence[str] | None = None,
                         provinces: Sequence[str] | None = None, commune: str | None = None) -> tuple[int, int]:
    """(people, đồng) with money that reached them and is not withdrawn yet, now."""
    params: dict[str, Any] = {}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params)
    if commune is not None:
        params["commune"] = commune
        where += " AND p.commune_code = :commune"
    row = (await session.execute(text(
        f"""SELECT count(DISTINCT p.beneficiary_id) AS people, coalesce(sum({UNDRAWN}), 0)::bigint AS amount
              FROM payout p JOIN commune cm ON cm.code = p.commune_code
             WHERE {ARRIVED} AND p.withdrawn_at IS NULL AND {where}"""), params)).one()  # noqa: S608
    return int(row.people), int(row.amount)
