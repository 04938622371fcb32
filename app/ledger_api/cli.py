"""``ansinh ledger verify``."""

from __future__ import annotations

import sys

import click

from app.cli import CliContext, pass_cli
from app.http.problems import counted
from app.payouts.service.usage import verify_ledger_and_usage


@click.group("ledger")
def ledger_group() -> None:
    """Double-entry ledger."""


@ledger_group.command("verify")
@pass_cli
def verify(cli: CliContext) -> None:
    """Recompute every account from its transfers, check the totals, the hash chain and what each programme's
    funding paid out (exit 1 on problems)."""
    report = cli.in_session(verify_ledger_and_usage)
    click.echo(f"accounts: {report.accounts}  transfers: {report.transfers}  chain head: {report.chain_head_hash}")
    for problem in report.problems:
        click.echo(f"{problem.check}: {problem.message} / {problem.message_en}")
    if report.ok:
        click.echo("ok: sổ cái khớp / the ledger is consistent")
        return
    click.echo(f"{counted(len(report.problems), 'problem', 'problems')} / {len(report.problems)} lỗi", err=True)
    sys.exit(1)


commands = [ledger_group]
