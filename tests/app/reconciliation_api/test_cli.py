"""``ansinh statements parse FILE``: JSON lines and a summary, or one error line and exit 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

from click.testing import CliRunner

from app.cli import main
from reconciliation.writers import write_statement_xlsx
from tests.reconciliation.parsers.samples import samples_dir
from tests.reconciliation.test_writers import RICH


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, ["statements", "parse", *args])
    return result.exit_code, result.stdout, result.stderr


def test_parse_prints_one_json_line_per_statement_line_and_a_summary() -> None:
    code, out, err = run(str(samples_dir() / "camt/subite-camt-to-coda/account_statement-2.xml"))
    assert code == 0, err
    records = [json.loads(text) for text in out.splitlines()]
    lines, summary = records[:-1], records[-1]["summary"]
    assert len(lines) == 462
    assert lines[0]["statement_id"] == "MSG68568579-WRFUIK" and lines[0]["line_no"] == 1
    assert lines[0]["amount"] == -25896 and lines[0]["booking_date"] == "2024-06-28"
    assert lines[0]["end_to_end_ref"] == "E2EFBVKBNTT69520790"
    assert summary["format"] == ["camt.053.001.02"] and summary["lines"] == 462 and summary["statements"] == 1
    details = summary["statement_details"][0]
    assert (details["opening_balance"], details["closing_balance"], details["adds_up"]) == (0, 55529, True)
    totals = summary["totals"]["EUR"]
    assert totals["credit"] - totals["debit"] == 55529 and totals["credits"] + totals["debits"] == 462


def test_parse_reads_a_sao_ke_workbook(tmp_path: Path) -> None:
    path = tmp_path / "saoke.xlsx"
    path.write_bytes(write_statement_xlsx(RICH))
    code, out, _ = run(str(path))
    records = [json.loads(text) for text in out.splitlines()]
    assert code == 0 and len(records) == len(RICH.lines) + 1
    assert records[2]["return_reason"] == "AC04" and records[3]["is_reversal"] is True
    assert records[1]["booked_at"] == "2024-01-15T09:30:05+07:00"
    assert records[-1]["summary"]["returns"] == 1 and records[-1]["summary"]["reversals"] == 1


def test_malformed_file_gives_one_error_line_and_exit_2() -> None:
    code, out, err = run(str(samples_dir() / "mt940/cmxl/statement_line.sta"))
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and err.startswith("error: Sao kê MT940")
    assert "tag :61: is outside a statement" in err


def test_garbage_and_missing_files_give_one_error_line(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.bin"
    garbage.write_bytes(os.urandom(2048) + b"\0")
    for path in (garbage, tmp_path / "missing.csv"):
        code, out, err = run(str(path))
        assert code == 2 and out == "" and len(err.splitlines()) == 1 and err.startswith("error: "), err


def test_every_sample_file_gives_lines_or_one_error_line() -> None:
    outcomes = {0: 0, 2: 0}
    for path in sorted(p for p in samples_dir().rglob("*") if p.is_file()):
        code, out, err = run(str(path))
        assert code in (0, 2), (path, err)
        outcomes[code] += 1
        if code == 2:
            assert out == "" and len(err.splitlines()) == 1 and err.startswith("error: "), (path, err)
        else:
            summary = json.loads(out.splitlines()[-1])["summary"]
            assert summary["lines"] == len(out.splitlines()) - 1, path
        assert "Traceback" not in err
    assert outcomes == {0: 32, 2: 55}  # 18 MT940 + 14 camt statements; fragments, expected results, docs
