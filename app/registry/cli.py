"""``ansinh beneficiaries ...``: import a file, generate a demo file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click
from sqlalchemy.ext.asyncio import AsyncSession

from app.cli import CliContext, fail, pass_cli
from app.http.problems import counted


@click.group("beneficiaries")
def beneficiaries() -> None:
    """Beneficiary registry."""


@beneficiaries.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--errors-out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="When rows are rejected, write the file with an error column here.")
@click.option("--as", "actor", default="cli", show_default=True, help="Name recorded in the audit log.")
@pass_cli
def import_command(cli: CliContext, file: Path, errors_out: Path | None, actor: str) -> None:
    """Import an xlsx or csv file (Vietnamese or English headers); nothing is stored if any row is bad."""
    from app.auth.models import Role
    from app.auth.service import Principal
    from app.registry.importer import error_copy, import_beneficiaries, record_rejected_import

    content = file.read_bytes()
    principal = Principal(kind="staff", name=actor, role=Role.officer)

    async def work(session: AsyncSession) -> tuple[Any, bytes | None]:
        outcome = await import_beneficiaries(session, content=content, filename=file.name, principal=principal)
        copy = None
        if not outcome.applied:
            upload_id = await record_rejected_import(session, content=content, filename=file.name,
                                                     principal=principal, outcome=outcome)
            if errors_out is not None and outcome.readable:
                _, _, copy = await error_copy(session, upload_id, principal)
        return outcome, copy

    outcome, copy = cli.in_session(work)
    if outcome.applied:
        click.echo(f"imported {file.name}: {outcome.rows} rows, {outcome.created} created, "
                   f"{outcome.updated} updated, {outcome.unchanged} unchanged, "
                   f"{outcome.name_mismatches} holder names flagged")
        for limit in outcome.back_pay:
            click.echo(f"{limit['message']} / {limit['message_en']}")
        return
    for error in outcome.errors:
        where = f"row {error['row']}, " if error.get("row") is not None else ""
        column = f"{error['column']}: " if error.get("column") else ""
        click.echo(f"{where}{column}{error['message']} / {error['message_en']}", err=True)
    if copy is not None and errors_out is not None:
        errors_out.write_bytes(copy)
        click.echo(f"file with an error column written to {errors_out}", err=True)
    bad_rows = len({e["row"] for e in outcome.errors if e.get("row") is not None})
    fail(f"nothing imported: {counted(bad_rows or len(outcome.errors), 'problem', 'problems')} "
         f"(upload {outcome.upload_id})")


@beneficiaries.command("generate")
@click.argument("out", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--rows", type=click.IntRange(1, 5_000_000), default=1000, show_default=True)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option("--commune", "communes", multiple=True, help="Commune code to use (repeatable; default: all).")
def generate_command(out: Path, rows: int, seed: int, communes: tuple[str, ...]) -> None:
    """Write a valid import file of made-up people (.xlsx or .csv by the file name)."""
    from app.registry.fake import BeneficiaryFaker, write_import_file

    people = BeneficiaryFaker(seed=seed, communes=communes or None).people(rows)
    write_import_file(people, out)
    click.echo(f"{rows} rows written to {out}")


commands = [beneficiaries]
