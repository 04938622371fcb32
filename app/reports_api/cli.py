"""``ansinh reports …``: the time-to-withdrawal report, follow-up lists and the monthly workbook from the
command line."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import click
import msgspec
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import CliContext, fail, pass_cli
from app.http.problems import Problem
from app.reports_api.routes import report_period
from reports.follow_up import WaitingPerson, follow_up_list, follow_up_workbook
from reports.time_to_withdrawal import GROUP_BY, time_to_withdrawal
from reports.workbooks import monthly_workbook

USAGE_ERROR = 2  # as click's own for a bad option: the command was given something it cannot take


def _period(period: str) -> date:
    """The month of ``--period``, checked as the report routes check it (``report_period``): YYYY-MM, from
    ansinh's first payable month to the month after the current one; otherwise one error line and exit 2."""
    try:
        return report_period(period)
    except Problem as problem:
        fail(str(problem.detail), USAGE_ERROR)
        raise  # not reached: fail exits


@click.group()
def reports() -> None:
    """Time to withdrawal, follow-up lists and monthly workbooks."""


@reports.command("time-to-withdrawal")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--group-by", type=click.Choice(GROUP_BY), default="commune")
@pass_cli
def time_to_withdrawal_command(cli: CliContext, period: str, group_by: str) -> None:
    """Print the report as JSON."""
    month = _period(period)

    async def work(session: AsyncSession) -> dict[str, object]:
        return await time_to_withdrawal(session, period=month, group_by=group_by)

    click.echo(json.dumps(cli.in_session(work), ensure_ascii=False, default=str, indent=1))


@reports.command("monthly")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--province", default=None)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), required=True)
@pass_cli
def monthly_command(cli: CliContext, period: str, province: str | None, output: Path) -> None:
    """Write the monthly workbook to an .xlsx file."""
    month = _period(period)

    async def work(session: AsyncSession) -> bytes:
        return await monthly_workbook(session, period=month, province=province)

    output.write_bytes(cli.in_session(work))
    click.echo(str(output))


@reports.command("follow-up")
@click.option("--commune", default=None, help="commune code (default: every commune)")
@click.option("--min-days", type=click.IntRange(0, 365), default=7, show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="write the printable A4 .xlsx here instead of printing JSON lines")
@pass_cli
def follow_up_command(cli: CliContext, commune: str | None, min_days: int, output: Path | None) -> None:
    """People whose money has waited at least --min-days days, oldest and longest-waiting first."""

    async def work(session: AsyncSession) -> list[WaitingPerson] | None:
        if commune is not None and await session.scalar(
                text("SELECT 1 FROM commune WHERE code = :c"), {"c": commune}) is None:
            return None
        return await follow_up_list(session, commune=commune, min_days=min_days)

    people = cli.in_session(work)
    if people is None:
        fail(f"Không có xã/phường mã {commune} / unknown commune code {commune}")
        return
    if output is not None:
        title = f"Danh sách theo dõi rút tiền — {commune or 'tất cả / all'} / Follow-up list"
        output.write_bytes(follow_up_workbook(people, title=title, min_days=min_days))
        click.echo(str(output))
        return
    for person in people:
        click.echo(json.dumps(msgspec.to_builtins(person), ensure_ascii=False))


commands = [reports]
