"""``ansinh statements …``: read bank statement files, and import them, from the command line."""

from __future__ import annotations

import logging
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import click
import msgspec

from app.cli import CliContext, fail
from app.logging import configure_logging
from reconciliation.parsers import Statement, StatementLine, StatementParseError, parse_statement_file

_LINE_FIELDS = tuple(StatementLine.__dataclass_fields__)


@click.group()
def statements() -> None:
    """Bank statements: MT940, camt.052/053/054, CSV and xlsx "sao kê"."""


def line_record(statement_index: int, statement: Statement, line: StatementLine) -> dict[str, Any]:
    """One statement line as a JSON-ready dict (with the statement it belongs to)."""
    record: dict[str, Any] = {"statement": statement_index, "statement_id": statement.statement_id}
    for name in _LINE_FIELDS:
        record[name] = getattr(line, name)
    return record


def summary_record(path: Path, parsed: list[Statement]) -> dict[str, Any]:
    """Counts and totals per currency, and each statement's balances, for the last output line."""
    totals: dict[str, dict[str, int]] = defaultdict(lambda: {"credit": 0, "debit": 0, "credits": 0, "debits": 0})
    for statement in parsed:
        for line in statement.lines:
            bucket = totals[line.currency]
            if line.amount >= 0:
                bucket["credit"] += line.amount
                bucket["credits"] += 1
            else:
                bucket["debit"] -= line.amount
                bucket["debits"] += 1
    return {"summary": {
        "file": path.name,
        "format": sorted({s.source_format for s in parsed}),
        "statements": len(parsed),
        "lines": sum(len(s.lines) for s in parsed),
        "totals": dict(totals),
        "returns": sum(1 for s in parsed for line in s.lines if line.return_reason),
        "reversals": sum(1 for s in parsed for line in s.lines if line.is_reversal),
        "statement_details": [
            {"statement_id": s.statement_id, "account": s.account, "currency": s.currency,
             "opening_balance": s.opening_balance, "closing_balance": s.closing_balance,
             "opening_date": s.opening_date, "closing_date": s.closing_date, "lines": len(s.lines),
             "adds_up": s.adds_up}
            for s in parsed
        ],
    }}


@statements.command("parse")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.pass_obj
def parse_command(cli: CliContext, file: Path) -> None:
    """Print every line of FILE as JSON lines, then one summary line (exit 2 if the file is unreadable)."""
    configure_logging(cli.settings.production if cli else False, level=logging.WARNING)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"không đọc được tệp {file} / cannot read {file}: {exc.strerror or exc}", 2)
    try:
        parsed = parse_statement_file(data, file.name)
    except StatementParseError as exc:
        fail(exc.one_line(), 2)
    encoder = msgspec.json.Encoder()
    out = sys.stdout.buffer
    for index, statement in enumerate(parsed, start=1):
        chunk = bytearray()
        for line in statement.lines:
            chunk += encoder.encode(line_record(index, statement, line))
            chunk += b"\n"
            if len(chunk) > 1 << 20:
                out.write(chunk)
                chunk.clear()
        out.write(chunk)
    out.write(encoder.encode(summary_record(file, parsed)) + b"\n")
    out.flush()


@statements.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--bank", "bank_bin", required=True, help="BIN of the bank whose disbursement account it is")
@click.option("--dry-run", is_flag=True, help="show what would match; apply and store nothing")
@click.option("--actor", default="cli", show_default=True, help="who is importing (audit log)")
@click.pass_obj
def import_command(cli: CliContext, file: Path, bank_bin: str, dry_run: bool, actor: str) -> None:
    """Import FILE as BANK's statement: match lines, apply credits and returns; one JSON summary line.

    Exit 0 when imported (or already imported), 2 when the file is rejected (nothing applied)."""
    from sqlalchemy import text

    from app.reconciliation_api.importer import import_statement_file

    configure_logging(cli.settings.production if cli else False, level=logging.WARNING)
    try:
        data = file.read_bytes()
    except OSError as exc:
        fail(f"không đọc được tệp {file} / cannot read {file}: {exc.strerror or exc}", 2)

    async def work(session: Any) -> Any:
        if not await session.scalar(text("SELECT 1 FROM bank WHERE bin = :bin"), {"bin": bank_bin}):
            return None
        return await import_statement_file(session, data=data, filename=file.name, bank_bin=bank_bin,
                                           actor=actor, dry_run=dry_run)

    outcome = cli.in_session(work)
    if outcome is None:
        fail(f"không có ngân hàng {bank_bin} / no bank {bank_bin}", 2)
    if outcome.kind in ("rejected", "forbidden"):
        parts = [f"{outcome.message_vi} / {outcome.message_en}"]
        parts += [f"{e['message']} / {e['message_en']}" for e in outcome.errors[:20]]
        fail("; ".join(parts), 2)
    body = outcome.as_dict()
    body["status"] = outcome.kind
    sys.stdout.buffer.write(msgspec.json.encode(body) + b"\n")
    sys.stdout.flush()


commands = [statements]
