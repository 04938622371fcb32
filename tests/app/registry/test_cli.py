"""``ansinh beneficiaries import|generate`` against a real database."""

import asyncio

import asyncpg
from click.testing import CliRunner
from openpyxl import load_workbook

from app.cli import main
from app.database import to_libpq_url
from app.registry.fake import IMPORT_HEADERS, BeneficiaryFaker
from app.registry.sheets import rows_xlsx
from tests.app.registry.conftest import HANOI_A


def _count(database_url: str, sql: str) -> int:
    async def run() -> int:
        connection = await asyncpg.connect(to_libpq_url(database_url))
        try:
            return int(await connection.fetchval(sql))
        finally:
            await connection.close()
    return asyncio.run(run())


def test_generate_then_import_then_reimport(database_url, tmp_path):
    runner = CliRunner()
    env = {"DATABASE_URL": database_url}
    path = tmp_path / "demo.xlsx"
    generated = runner.invoke(main, ["beneficiaries", "generate", str(path), "--rows", "25", "--seed", "4",
                                     "--commune", HANOI_A], env=env)
    assert generated.exit_code == 0, generated.output
    first = runner.invoke(main, ["beneficiaries", "import", str(path), "--as", "an.officer"], env=env)
    assert first.exit_code == 0, first.output
    assert "25 rows, 25 created, 0 updated, 0 unchanged" in first.output
    second = runner.invoke(main, ["beneficiaries", "import", str(path)], env=env)
    assert "0 created, 0 updated, 25 unchanged" in second.output
    assert _count(database_url, "SELECT count(*) FROM beneficiary") == 25
    assert _count(database_url, "SELECT count(*) FROM audit_log WHERE actor = 'an.officer'") == 1
    assert _count(database_url, "SELECT count(*) FROM beneficiary_event WHERE recorded_by = 'an.officer'"
                                " AND kind = 'registered' AND reason LIKE 'import %'") == 25


def test_rejected_import_exits_non_zero_with_every_error(database_url, tmp_path):
    person = BeneficiaryFaker(seed=5, communes=[HANOI_A]).person()
    row = person.import_row()
    bad = list(row)
    bad[IMPORT_HEADERS.index("Mã xã")] = "99999"
    path = tmp_path / "bad.xlsx"
    path.write_bytes(rows_xlsx([list(IMPORT_HEADERS), row, bad]))
    errors_out = tmp_path / "bad-errors.xlsx"
    result = CliRunner().invoke(main, ["beneficiaries", "import", str(path), "--errors-out", str(errors_out)],
                                env={"DATABASE_URL": database_url})
    assert result.exit_code == 1
    assert "row 3, Mã xã: Mã xã '99999'" in result.output
    assert "row 3, Số CCCD" in result.output  # the same person twice in the file
    assert _count(database_url, "SELECT count(*) FROM beneficiary") == 0
    values = list(load_workbook(errors_out).active.iter_rows(values_only=True))
    assert values[0][-1] == "Lỗi / Errors" and values[2][-1] and values[1][-1] is None
