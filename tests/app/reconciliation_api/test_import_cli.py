"""``ansinh statements import FILE --bank BIN [--dry-run]``."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from pathlib import Path

from click.testing import CliRunner

from app.cli import main
from reconciliation.writers import write_mt940
from tests.app.reconciliation_api.world import build_world, debit, payout_states, statement, table_counts
from tests.support.world import VIETCOMBANK


async def test_import_dry_run_then_real_then_again_and_a_rejected_file(office, database_url, tmp_path: Path,
                                                                      monkeypatch):
    _, p = await build_world(office, vietcombank=2)
    monkeypatch.setenv("DATABASE_URL", database_url)
    good = statement(VIETCOMBANK, [debit(p[0]), debit(p[1])])
    path = tmp_path / "sao-ke.sta"
    path.write_bytes(write_mt940(good))
    before = await table_counts(office)

    async def run(*args: str):
        return await asyncio.to_thread(
            CliRunner().invoke, main, ["statements", "import", *args], catch_exceptions=False)

    dry = await run(str(path), "--bank", VIETCOMBANK, "--dry-run")
    assert dry.exit_code == 0, dry.stderr
    body = json.loads(dry.stdout)
    assert body["status"] == "dry_run" and body["matched"] == 2 and await table_counts(office) == before
    real = await run(str(path), "--bank", VIETCOMBANK)
    assert real.exit_code == 0 and json.loads(real.stdout)["status"] == "created"
    assert set((await payout_states(office)).values()) == {("credited", None)}
    again = await run(str(path), "--bank", VIETCOMBANK)
    assert json.loads(again.stdout)["status"] == "existing"
    assert (json.loads(again.stdout)["dry_run"], json.loads(again.stdout)["already_imported"]) == (False, True)
    after = await table_counts(office)
    dry_again = await run(str(path), "--bank", VIETCOMBANK, "--dry-run")  # already imported: says so, as a dry run
    assert dry_again.exit_code == 0, dry_again.stderr
    dry_body = json.loads(dry_again.stdout)
    assert (dry_body["status"], dry_body["dry_run"], dry_body["already_imported"]) == ("existing", True, True)
    assert dry_body["message"] == (  # the statement by its file and period, as staff know it
        "Tệp này đã được nhập trước đó (sao-ke.sta, 09/03/2026 – 12/03/2026); không ghi nhận gì thêm / "
        "this file was already imported (sao-ke.sta, 09/03/2026 – 12/03/2026); nothing new was applied")
    assert dry_body["statement_id"] == json.loads(real.stdout)["statement_id"]
    assert await table_counts(office) == after
    bad = tmp_path / "lech.sta"
    bad.write_bytes(write_mt940(replace(good, statement_id="X/2", closing_balance=good.closing_balance + 7)))
    rejected = await run(str(bad), "--bank", VIETCOMBANK)
    assert rejected.exit_code == 2 and rejected.stderr.startswith("error: Sao kê không hợp lệ")
    assert len(rejected.stderr.splitlines()) == 1
