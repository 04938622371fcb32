"""Scheduled computation, the 202-with-progress path and the command line."""

from __future__ import annotations

import asyncio
import dataclasses
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.jobs import compute_next_month
from app.registry.fake import BeneficiaryFaker
from tests.support.migrations import run_sql
from tests.support.processes import base_env, run_cli
from tests.support.world import Office, person


@pytest.fixture
def settings(settings):
    """Run steps of more than one payout answer 202 and finish in the background."""
    return dataclasses.replace(settings, payout_sync_limit=1)


async def _world(client, engine, count: int = 3) -> Office:
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=3)
    await office.import_people([person(faker) for _ in range(count)])
    return office


async def test_scheduled_job_computes_next_months_run_once(client, engine):
    await _world(client, engine)
    on_the_20th = datetime(2026, 2, 20, 6, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    assert await compute_next_month(engine, {"programme": "TGXH"}, on_the_20th) == "TGXH 2026-03 computed"
    assert await compute_next_month(engine, {"programme": "TGXH"}, on_the_20th) == "TGXH 2026-03 computed"
    async with session_scope(engine) as session:
        runs = (await session.execute(text(
            "SELECT to_char(period, 'YYYY-MM') AS period, status, payout_count, prepared_by FROM payout_run"))).all()
        paid_months = await session.scalar(text("SELECT count(*) FROM payout_month"))
        schedules = await session.scalar(text(
            "SELECT count(*) FROM job_schedule WHERE kind = 'payouts.compute_next' AND cron = '0 6 20 * *'"))
    assert [tuple(r) for r in runs] == [("2026-03", "computed", 3, "scheduler")]
    assert paid_months == 3
    assert schedules == 3  # one per programme


async def test_large_compute_answers_202_and_reports_progress(client, engine):
    office = await _world(client, engine, count=4)  # above the limit of one (the settings fixture below)
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    started = await office.post(f"/api/payout-runs/{run_id}/compute")
    assert started.status_code == 202
    for _ in range(100):
        state = (await client.get(f"/api/payout-runs/{run_id}")).json()
        if state["status"] == "computed":
            break
        await asyncio.sleep(0.1)
    assert state["status"] == "computed"
    assert state["progress"]["done"] == state["progress"]["total"] == 4 and state["count"] == 4


def test_cli_runs_a_period_with_a_progress_bar(database_url):
    env = base_env(DATABASE_URL=database_url)
    assert run_cli("user", "add", "lan", "--role", "officer", env=env, stdin="a long password\n").returncode == 0
    done = run_cli("payouts", "run", "--programme", "HTXH", "--period", "2026-03", "--as", "lan", env=env)
    assert done.returncode == 0, done.stderr
    assert "computed: 0 payouts" in done.stdout
    again = run_cli("payouts", "approve", done.stdout.split()[1], "--as", "lan", env=env)
    assert again.returncode == 1 and "approver" in again.stderr


def test_cli_an_approver_who_prepared_a_run_cannot_approve_it_under_another_spelling(database_url):
    """An approver may prepare a run (officers do as a rule); approving it is then for another approver.
    --as finds a user whatever the case typed: the preparer typed otherwise is still the preparer."""
    env = base_env(DATABASE_URL=database_url)
    for name in ("minh.approver", "ha.approver"):
        added = run_cli("user", "add", name, "--role", "approver", env=env, stdin="a long password\n")
        assert added.returncode == 0, added.stderr
    done = run_cli("payouts", "run", "--programme", "HTXH", "--period", "2026-03", "--as", "Minh.Approver", env=env)
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[1]
    own = run_cli("payouts", "approve", run_id, "--as", "MINH.APPROVER", env=env)
    assert own.returncode == 1 and "the preparer cannot approve their own run (maker-checker)" in own.stderr
    assert "Người lập không được tự duyệt đợt chi" in own.stderr
    other = run_cli("payouts", "approve", run_id, "--as", "Ha.Approver", env=env)
    assert other.returncode == 0, other.stderr
    assert f"run {run_id} approved by ha.approver" in other.stdout
    rows = run_sql(database_url, "SELECT created_by, prepared_by, approved_by, status FROM payout_run")
    assert [tuple(row.values()) for row in rows] == [("minh.approver", "minh.approver", "ha.approver", "approved")]


def test_the_preparer_spelled_otherwise_is_refused_by_the_approval_check_itself():
    from app.payouts.models import PayoutRun
    from app.payouts.service.errors import Conflict
    from app.payouts.service.runs import check_approvable

    run = PayoutRun(status="computed", phase=None, prepared_by="minh.approver")
    with pytest.raises(Conflict) as refused:
        check_approvable(run, "Minh.Approver")
    assert (refused.value.status, refused.value.en) == (409, "the preparer cannot approve their own run (maker-checker)")
    assert check_approvable(run, "ha.approver") is False  # someone else: approved, not resumed


async def test_scheduled_job_leaves_a_cancelled_period_alone_and_computes_its_replacement(client, engine):
    office = await _world(client, engine)
    on_the_20th = datetime(2026, 2, 20, 6, 0, tzinfo=ZoneInfo("Asia/Ho_Chi_Minh"))
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    assert (await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": "Sai quyết định"})).status_code == 200
    assert await compute_next_month(engine, {"programme": "TGXH"}, on_the_20th) == "TGXH 2026-03 already cancelled"
    replacement = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()
    assert await compute_next_month(engine, {"programme": "TGXH"}, on_the_20th) == "TGXH 2026-03 computed"
    async with session_scope(engine) as session:
        runs = (await session.execute(text(
            "SELECT id::text, status, payout_count FROM payout_run ORDER BY created_at"))).all()
    assert [tuple(r) for r in runs] == [(run_id, "cancelled", 0), (replacement["id"], "computed", 3)]


async def test_cli_refuses_an_unknown_or_wrong_user_and_creates_nothing(engine, database_url):
    from app.auth.models import Role
    from tests.support.actors import add_user

    await add_user(engine, "thu.auditor", Role.auditor)
    env = base_env(DATABASE_URL=database_url)

    async def cli(*args: str):
        return await asyncio.to_thread(run_cli, *args, env=env)

    unknown = await cli("payouts", "run", "--programme", "NCC", "--period", "2025-06", "--as", "nobody")
    assert unknown.returncode == 1, unknown.stdout
    assert "Không có người dùng đang hoạt động tên 'nobody'" in unknown.stderr
    assert "there is no active user named 'nobody'" in unknown.stderr and "Traceback" not in unknown.stderr
    auditor = await cli("payouts", "run", "--programme", "NCC", "--period", "2025-06", "--as", "thu.auditor")
    assert auditor.returncode == 1 and "thu.auditor is not an active officer or approver" in auditor.stderr
    missing = await cli("payouts", "run", "--programme", "NCC", "--period", "2025-06")
    assert missing.returncode == 2 and "--as" in missing.stderr
    send = await cli("payouts", "send", "00000000-0000-0000-0000-000000000001", "--as", "nobody")
    assert send.returncode == 1 and "there is no active user named 'nobody'" in send.stderr
    fund = await cli("payouts", "fund", "--bank", "970436", "--programme", "NCC", "--amount", "1000000",
                     "--reference", "FUND-1", "--value-date", "2025-06-05", "--as", "nobody")
    assert fund.returncode == 1 and "there is no active user named 'nobody'" in fund.stderr
    async with session_scope(engine) as session:
        counts = (await session.execute(text(
            "SELECT (SELECT count(*) FROM payout_run), (SELECT count(*) FROM funding),"
            " (SELECT count(*) FROM audit_log WHERE actor IN ('nobody', 'thu.auditor'))"))).one()
    assert tuple(counts) == (0, 0, 0)


async def test_cli_refuses_a_province_limited_officer_the_whole_runs_steps_and_a_banks_funding(engine, database_url):
    """As the API: a run and a bank's funding pay every province, so the command line refuses them to an officer
    limited to provinces (nothing written); the cash of a commune in their province they still record."""
    from app.auth.models import Role
    from tests.support.actors import add_user

    await add_user(engine, "tuan.caobang", Role.officer, provinces=("04",))
    async with session_scope(engine) as session:
        own, other = (await session.execute(text(
            "SELECT (SELECT min(code) FROM commune WHERE province_code = '04'),"
            " (SELECT min(code) FROM commune WHERE province_code = '01')"))).one()
    env = base_env(DATABASE_URL=database_url)

    async def cli(*args: str):
        return await asyncio.to_thread(run_cli, *args, env=env)

    def fund(*place: str, reference: str) -> tuple[str, ...]:
        return ("payouts", "fund", *place, "--programme", "NCC", "--amount", "1000000", "--reference", reference,
                "--value-date", "2025-06-05", "--as", "tuan.caobang")

    run = await cli("payouts", "run", "--programme", "NCC", "--period", "2025-06", "--as", "tuan.caobang")
    assert run.returncode == 1 and "Đợt chi trả cho người hưởng của mọi tỉnh" in run.stderr
    assert "your account is limited to Cao Bằng)" in run.stderr and "Traceback" not in run.stderr
    assert "tài khoản của bạn giới hạn ở Cao Bằng)" in run.stderr  # the province by name, not "tỉnh 04"
    bank = await cli(*fund("--bank", "970436", reference="FUND-BANK"))
    assert bank.returncode == 1 and "only an officer without a province limit can record or reverse it" in bank.stderr
    assert "(your account is limited to Cao Bằng)" in bank.stderr
    elsewhere = await cli(*fund("--commune", other, reference="FUND-HN"))
    assert elsewhere.returncode == 1 and "Traceback" not in elsewhere.stderr
    async with session_scope(engine) as session:
        other_name = await session.scalar(text("SELECT name FROM commune WHERE code = :c"), {"c": other})
    # The provinces by name (Vietnamese) with their codes, and where the commune is.
    assert f"Xã/phường {other} ({other_name}, Thành phố Hà Nội) không thuộc tỉnh của bạn: Cao Bằng (04)" in elsewhere.stderr
    assert f"commune {other} ({other_name}, Thành phố Hà Nội) is not in your province(s): Cao Bằng (04)" in elsewhere.stderr
    async with session_scope(engine) as session:
        counts = (await session.execute(text(
            "SELECT (SELECT count(*) FROM payout_run), (SELECT count(*) FROM funding)"))).one()
    assert tuple(counts) == (0, 0)
    mine = await cli(*fund("--commune", own, reference="FUND-CB"))
    assert mine.returncode == 0, mine.stderr
    async with session_scope(engine) as session:
        recorded = (await session.execute(text("SELECT commune_code, amount, recorded_by FROM funding"))).all()
    assert [tuple(row) for row in recorded] == [(own, 1_000_000, "tuan.caobang")]
