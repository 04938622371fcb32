"""``ansinh reports …``: the time-to-withdrawal report and the monthly workbook from the command line."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import CliContext, fail, pass_cli
from reports.time_to_withdrawal import GROUP_BY, month_start, time_to_withdrawal
from reports.workbooks import monthly_workbook


@click.group()
def reports() -> None:
    """Time to withdrawal, follow-up lists and monthly workbooks."""


@reports.command("time-to-withdrawal")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--group-by", type=click.Choice(GROUP_BY), default="commune")
@pass_cli
def time_to_withdrawal_command(cli: CliContext, period: str, group_by: str) -> None:
    """Print the report as JSON."""
    try:
        month = month_start(period)
    except ValueError:
        fail("period must be YYYY-MM")
        return

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
    try:
        month = month_start(period)
    except ValueError:
        fail("period must be YYYY-MM")
        return

    async def work(session: AsyncSession) -> bytes:
        return await monthly_workbook(session, period=month, province=province)

    output.write_bytes(cli.in_session(work))
    click.echo(str(output))


commands = [reports]
