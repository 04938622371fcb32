"""The monthly disbursement and time-to-withdrawal workbook of a province (or everything in scope).

Sheet one summarises each commune (formulas for the totals) with a bar chart of how soon the money
was withdrawn (the shares within N days over the payouts whose N days are over, as in the report); then one sheet per commune lists its payouts. Headers are Vietnamese with English
alongside, money in whole đồng with the VND number format, every text cell neutralised.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.chart import BarChart, Reference
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.spreadsheets import (
    VND_NUMBER_FORMAT,
    Column,
    add_autofilter,
    formatted_cells,
    money_cell,
    neutralise,
    print_landscape_fit_width,
    sheet_title,
    start_table,
    sum_cell,
    text_cell,
    workbook_bytes,
)
from app.vietnam_time import wall_clock
from reports.time_to_withdrawal import (
    ARRIVED,
    COUNTED_RUN,
    DAYS,
    UNDRAWN,
    WITHIN_DAYS,
    scope_condition,
    time_to_withdrawal,
)

SHARE_FORMAT = "0.0%"
DAYS_FORMAT = "0.00"

SUMMARY_COLUMNS = (
    Column("Mã xã / Commune code", 9), Column("Xã, phường / Commune", 24),
    Column("Số khoản chi / Payouts", 10), Column("Số tiền chi (đ) / Amount (VND)", 16, money=True),
    Column("Đã về (TK hoặc tiền mặt về xã) / Arrived (account or commune cash)", 12),
    Column("Đã rút hết / Withdrawn", 10),
    Column("Trung vị số ngày / Median days", 10), Column("P90 số ngày / P90 days", 10),
    Column("Rút trong 1 ngày / Within 1 day", 10), Column("Rút trong 3 ngày / Within 3 days", 10),
    Column("Rút trong 7 ngày / Within 7 days", 10), Column("Rút trong 30 ngày / Within 30 days", 10),
    Column("Chưa rút đồng nào / Never withdrawn", 10), Column("Tiền chưa rút (đ) / Undrawn (VND)", 16, money=True),
    Column("TK mở trong tháng / Accounts opened", 10),
)
COMMUNE_COLUMNS = (
    Column("STT / No.", 6), Column("Họ và tên / Full name", 26), Column("Mã chi trả / Reference", 18),
    Column("Kênh / Channel", 10), Column("Số tiền (đ) / Amount (VND)", 14, money=True),
    Column("Trạng thái / Status", 14), Column("Tiền đến người hưởng / Arrived", 16),
    Column("Ngày rút hết / Withdrawn", 16), Column("Số ngày / Days", 8),
    Column("Còn chưa rút (đ) / Undrawn (VND)", 14, money=True),
)
BUCKETS = ("≤ 1 ngày / day", "1–3 ngày / days", "3–7 ngày / days", "7–30 ngày / days", "> 30 ngày / days",
           "Chưa rút hết / not withdrawn")


CHANNEL_NAMES = {"bank": "Tài khoản / bank account", "cash": "Tiền mặt / cash"}
STATUS_NAMES = {"scheduled": "Chờ gửi / scheduled", "sent": "Đã gửi / sent", "credited": "Đã về TK / credited",
                "returned": "Bị trả lại / returned", "cancelled": "Đã huỷ / cancelled"}
# For cash the money reaches the person's commune when it is sent (the handover is the withdrawal).
ARRIVED_CASH = "Đã gửi về xã / sent to the commune"
DATE_TIME_FORMAT = "dd/mm/yyyy hh:mm"


def _moment_cell(sheet: Any, moment: datetime | None) -> WriteOnlyCell:
    """A date-time cell in Việt Nam time (Excel has no time zones), empty when there is none."""
    if moment is None:
        return WriteOnlyCell(sheet, value=None)
    cell = WriteOnlyCell(sheet, value=wall_clock(moment))
    cell.number_format = DATE_TIME_FORMAT
    return cell


def _number(sheet: Any, value: float | int | None, number_format: str | None = None) -> WriteOnlyCell:
    cell = WriteOnlyCell(sheet, value=value)
    if number_format is not None:
        cell.number_format = number_format
    return cell


# A median / p90 that fewer than half (a tenth) of the people who got their money have reached yet.
NOT_REACHED = "chưa đạt / not reached"


def _days_cell(sheet: Any, item: dict[str, Any], name: str) -> WriteOnlyCell:
    """Days to withdraw; "not reached" when money arrived but too few have withdrawn for the percentile."""
    if item[name] is None and item["credited"]:
        return text_cell(sheet, NOT_REACHED)
    return _number(sheet, item[name], DAYS_FORMAT)


# A share within N days while every payout that arrived is still inside its N days (none can be counted yet).
WINDOW_NOT_OVER = "chưa đủ {days} ngày / window not over yet"


def _share_cell(sheet: Any, item: dict[str, Any], days: int) -> WriteOnlyCell:
    """The share withdrawn within ``days`` days; "window not over yet" when money arrived but none of it
    ``days`` days ago or more."""
    share = item[f"within_{days}d"]
    if share is None and item["credited"]:
        return text_cell(sheet, WINDOW_NOT_OVER.format(days=days))
    return _number(sheet, share, SHARE_FORMAT)


async def _payouts_by_commune(session: AsyncSession, period: date, province: str | None,
                              communes: Sequence[str] | None,
                              provinces: Sequence[str] | None) -> dict[str, list[Any]]:
    params: dict[str, Any] = {"period": period}
    where = scope_condition("p.commune_code", "cm.province_code", communes, provinces, params, province=province)
    rows = await session.execute(text(
        f"""SELECT p.commune_code, b.full_name, p.reference, p.channel, p.amount, p.status,
                   CASE WHEN {ARRIVED} THEN coalesce(p.credited_at, p.sent_at) END AS arrived_at, p.withdrawn_at,
                   CASE WHEN {ARRIVED} THEN {DAYS} END AS days,
                   CASE WHEN {ARRIVED} THEN {UNDRAWN} ELSE 0 END AS undrawn
              FROM payout p JOIN payout_run r ON r.id = p.run_id JOIN commune cm ON cm.code = p.commune_code
              JOIN beneficiary b ON b.id = p.beneficiary_id
             WHERE r.period = :period AND p.status <> 'cancelled' AND {COUNTED_RUN} AND {where}
             ORDER BY p.commune_code, b.name_sort_key, p.serial"""), params)  # noqa: S608
    grouped: dict[str, list[Any]] = {}
    for row in rows:
        grouped.setdefault(row.commune_code, []).append(row)
    return grouped


async def _default_title(session: AsyncSession, period: date, province: str | None,
                         provinces: Sequence[str] | None) -> str:
    """The summary's title: the month and where, by the names of the province table (the names the reports
    pages show): the province asked for, else the caller's provinces, else all provinces."""
    codes = [province] if province is not None else list(provinces) if provinces is not None else None
    if codes is None:
        place = "Tất cả các tỉnh / All provinces"
    else:
        names = await session.scalars(text(
            'SELECT name FROM province WHERE code = ANY(:codes) ORDER BY vietnamese_sort_key(name) COLLATE "C"'),
            {"codes": codes})
        place = ", ".join(names) or ", ".join(codes)
    return (f"Chi trả và thời gian rút tiền tháng {period:%m/%Y} / Disbursement and time to withdrawal "
            f"{period:%Y-%m} — {place}")


async def monthly_workbook(session: AsyncSession, *, period: date, province: str | None = None,
                           communes: Sequence[str] | None = None, provinces: Sequence[str] | None = None,
                           title: str = "") -> bytes:
    """The workbook as .xlsx bytes."""
    report = await time_to_withdrawal(session, period=period, group_by="commune", communes=communes,
                                      provinces=provinces, province=province, trend_months=1)
    payouts = await _payouts_by_commune(session, period, province, communes, provinces)
    workbook = Workbook(write_only=True)
    summary = workbook.create_sheet("Tổng hợp - Summary")
    print_landscape_fit_width(summary)  # page setup goes before the first row in write-only mode
    header_row = start_table(summary, SUMMARY_COLUMNS, title_lines=(
        title or await _default_title(session, period, province, provinces),))
    for item in report["items"]:
        summary.append([
            text_cell(summary, item["group"]), text_cell(summary, item["label"]),
            _number(summary, item["payouts"]), money_cell(summary, item["amount"]),
            _number(summary, item["credited"]), _number(summary, item["withdrawn"]),
            _days_cell(summary, item, "median_days"), _days_cell(summary, item, "p90_days"),
            *(_share_cell(summary, item, n) for n in WITHIN_DAYS),
            _number(summary, item["never_withdrawn"]), money_cell(summary, item["undrawn_amount"]),
            _number(summary, item.get("accounts_opened", 0)),
        ])
    first, last = header_row + 1, header_row + len(report["items"])
    total_row = last + 1
    if report["items"]:
        totals: list[Any] = [None, text_cell(summary, "Tổng cộng / Total", bold=True)]
        whole = report["totals"]  # medians and shares of the whole province cannot be summed from its rows
        for index in range(3, len(SUMMARY_COLUMNS) + 1):
            if index in (3, 4, 5, 6, 13, 14, 15):
                cell = sum_cell(summary, index, first, last)
                if not SUMMARY_COLUMNS[index - 1].money:
                    cell.number_format = "#,##0"
                totals.append(cell)
            elif index in (7, 8):
                totals.append(_days_cell(summary, whole, "median_days" if index == 7 else "p90_days"))
            else:
                totals.append(_share_cell(summary, whole, WITHIN_DAYS[index - 9]))
        summary.append(totals)
    add_autofilter(summary, len(SUMMARY_COLUMNS), header_row, max(last, header_row))
    # How soon the province's money was withdrawn, for the chart (counts of credited payouts).
    summary.append([])
    bucket_header = total_row + 2
    summary.append([text_cell(summary, "Thời gian rút tiền / Time to withdrawal", bold=True),
                    text_cell(summary, "Số khoản chi / Payouts", bold=True)])
    counts = _bucket_counts(payouts)
    for name, count in zip(BUCKETS, counts, strict=True):
        summary.append([text_cell(summary, name), _number(summary, count)])
    chart = BarChart()
    chart.type = "col"
    chart.title = "Thời gian rút tiền / Time to withdrawal"
    chart.y_axis.title = "Số khoản chi / Payouts"
    chart.add_data(Reference(summary, min_col=2, min_row=bucket_header, max_row=bucket_header + len(BUCKETS)),
                   titles_from_data=True)
    chart.set_categories(Reference(summary, min_col=1, min_row=bucket_header + 1,
                                   max_row=bucket_header + len(BUCKETS)))
    chart.width, chart.height = 18, 8
    summary.add_chart(chart, f"D{bucket_header}")
    taken = [summary.title]
    for item in report["items"]:
        sheet = workbook.create_sheet(sheet_title(f"{item['group']} {item['label']}", taken))
        taken.append(sheet.title)
        _commune_sheet(sheet, item, payouts.get(item["group"], []), period)
    return workbook_bytes(workbook)


def _bucket_counts(payouts: dict[str, list[Any]]) -> list[int]:
    counts = [0] * len(BUCKETS)
    for rows in payouts.values():
        for row in rows:
            if row.arrived_at is None:
                continue
            if row.withdrawn_at is None:
                counts[5] += 1
            else:
                days = float(row.days)
                counts[0 if days <= 1 else 1 if days <= 3 else 2 if days <= 7 else 3 if days <= 30 else 4] += 1
    return counts


def _commune_sheet(sheet: Any, item: dict[str, Any], rows: list[Any], period: date) -> None:
    """One row per payout. Cells without a style go in as plain values (text neutralised) and each styled column's
    style is looked up once and copied: a cell object per value, its style set one by one, took most of the
    workbook's time (20,000 payouts: 10 s of Python)."""
    print_landscape_fit_width(sheet)
    header_row = start_table(sheet, COMMUNE_COLUMNS, title_lines=(
        f"{item['label']} ({item['group']}) — tháng {period:%m/%Y} / {period:%Y-%m}",))
    money = formatted_cells(sheet, VND_NUMBER_FORMAT)
    moment = formatted_cells(sheet, DATE_TIME_FORMAT)
    days = formatted_cells(sheet, DAYS_FORMAT)
    for number, row in enumerate(rows, start=1):
        sheet.append([
            number, neutralise(row.full_name), neutralise(row.reference),
            neutralise(CHANNEL_NAMES.get(row.channel, row.channel)), money(int(row.amount)),
            neutralise(ARRIVED_CASH if row.channel == "cash" and row.status == "sent"
                       else STATUS_NAMES.get(row.status, row.status)),
            None if row.arrived_at is None else moment(wall_clock(row.arrived_at)),
            None if row.withdrawn_at is None else moment(wall_clock(row.withdrawn_at)),
            days(None if row.days is None else round(float(row.days), 2)),
            money(int(row.undrawn)),
        ])
    first, last = header_row + 1, header_row + len(rows)
    if rows:
        sheet.append([None, text_cell(sheet, "Tổng cộng / Total", bold=True), None, None,
                      sum_cell(sheet, 5, first, last), None, None, None, None, sum_cell(sheet, 10, first, last)])
    add_autofilter(sheet, len(COMMUNE_COLUMNS), header_row, max(last, header_row))
