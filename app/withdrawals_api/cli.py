"""``ansinh withdrawals import FILE --bank BIN``: load a bank's withdrawal activity file."""

from __future__ import annotations

import json
from pathlib import Path

import click
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import CliContext, fail, pass_cli
from app.http.problems import Problem
from app.payouts.service.settlement import settle_runs
from app.registry.models import Bank
from app.withdrawals_api import service
from reconciliation.withdrawals import reallocate


@click.group()
def withdrawals() -> None:
    """Withdrawal activity of beneficiary accounts."""


@withdrawals.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--bank", "bank_bin", required=True, help="BIN of the bank that sent the file")
@pass_cli
def import_file(cli: CliContext, file: Path, bank_bin: str) -> None:
    """Import a CSV, xlsx or JSON file of withdrawals (idempotent by bank reference)."""
    content = file.read_bytes()
    is_json = file.suffix.lower() == ".json"

    async def work(session: AsyncSession) -> dict[str, object]:
        known = await session.get(Bank, bank_bin)
        if known is None:
            raise Problem(404, f"Không có ngân hàng BIN {bank_bin} / unknown bank BIN {bank_bin}")
        rows, fmt = service.read_withdrawals(None if is_json else content,
                                             json.loads(content) if is_json else None)
        out = await service.take_bank_withdrawals(session, bank_bin=bank_bin, rows=rows, fmt=fmt,
                                                  recorded_by="cli", role=None, source_name=file.name,
                                                  content=content)
        return {"rows": out.rows, "accepted": out.accepted, "duplicates": out.duplicates,
                "unknown_accounts": out.unknown_accounts, "unknown_accounts_total": out.unknown_accounts_total,
                "unknown_account_numbers": out.unknown_account_numbers,
                "unknown_accounts_truncated": out.unknown_accounts_truncated, "conflicts": out.conflicts,
                "conflicts_total": out.conflicts_total, "conflicts_truncated": out.conflicts_truncated,
                "assisted_confirmed": out.assisted_confirmed, "intake_id": out.intake_id,
                "upload_url": out.upload_url}

    try:
        result = cli.in_session(work)
    except Problem as problem:
        for error in problem.errors or []:
            click.echo(f"row {error['row']}, {error['column']}: {error['message']} / {error['message_en']}", err=True)
        fail(problem.detail)
        return
    click.echo(json.dumps(result, ensure_ascii=False, default=str))


@withdrawals.command("reallocate")
@pass_cli
def reallocate_all(cli: CliContext) -> None:
    """Recompute the FIFO allocation and undrawn balances of everyone (safe to run any time)."""

    async def work(session: AsyncSession) -> str:
        result = await reallocate(session, None)
        settled = await settle_runs(session, None, actor="cli", cause="reallocate")
        return (f"people {result.people:,}, allocations {result.allocations:,}, payouts changed "
                f"{result.payouts_changed:,}, ledger entries {result.ledger_entries:,} in {result.seconds} s; "
                f"runs settled {len(settled)}")

    click.echo(cli.in_session(work))


commands = [withdrawals]
