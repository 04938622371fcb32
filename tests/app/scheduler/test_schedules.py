"""Schedules seen and changed: GET /api/schedules (officers, admins, auditors) says what each job does and
when in words, its next run, its last run with outcome and error, and flags failed, missed and stalled jobs;
PATCH (officers, admins) changes a cron or switches a job off, checked and audited."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.auth.models import Role
from app.database import session_scope, to_libpq_url
from app.scheduler.schedules import ScheduleError, cron_words, list_schedules, validate_cron
from app.scheduler.service import SCHEDULER_LOCK_KEY, run_occurrence, trigger_for
from app.vietnam_time import VIETNAM
from tests.support.actors import add_user, bank_key, sign_in

COMPUTE = "payouts.compute_next:TGXH"
PURGE = "auth.purge_expired_sessions"
COMPACT = "reports.compact_withdrawal_summary"


@pytest.mark.parametrize(("cron", "vi", "en"), [
    ("0 6 20 * *", "ngày 20 hằng tháng, 06:00", "on day 20 of every month at 06:00"),
    ("15 3 * * *", "hằng ngày, 03:15", "every day at 03:15"),
    ("*/10 * * * *", "mỗi 10 phút", "every 10 minutes"),
    ("5 * * * *", "hằng giờ, vào phút 5", "every hour at minute 5"),
    ("0 7 * * 1", "thứ Hai hằng tuần, 07:00", "every Monday at 07:00"),
    ("30 18 * * sun", "Chủ nhật hằng tuần, 18:30", "every Sunday at 18:30"),
    ("0 6 1,15 * *", None, None),
    ("0 6 20 1 *", None, None),
])
def test_simple_crons_in_words(cron, vi, en):
    assert cron_words(cron) == (vi, en)


def test_words_name_another_time_zone():
    assert cron_words("0 6 20 * *", "UTC") == ("ngày 20 hằng tháng, 06:00 (UTC)", "on day 20 of every month at 06:00 (UTC)")


def test_weekdays_are_numbered_as_crontab_numbers_them():
    # APScheduler 3 counts Monday as 0; a crontab's 1 is Monday and 0 or 7 Sunday
    monday = trigger_for("0 7 * * 1", "Asia/Ho_Chi_Minh").get_next_fire_time(
        None, datetime(2026, 12, 1, tzinfo=VIETNAM))  # a Tuesday
    assert monday == datetime(2026, 12, 7, 7, 0, tzinfo=VIETNAM)
    for sunday in ("0 7 * * 0", "0 7 * * 7", "0 7 * * SUN"):
        fire = trigger_for(sunday, "Asia/Ho_Chi_Minh").get_next_fire_time(None, datetime(2026, 12, 1, tzinfo=VIETNAM))
        assert fire == datetime(2026, 12, 6, 7, 0, tzinfo=VIETNAM)
    weekdays = trigger_for("0 7 * * 1-5", "Asia/Ho_Chi_Minh")
    assert weekdays.get_next_fire_time(None, datetime(2026, 12, 5, 8, tzinfo=VIETNAM)).weekday() == 0  # Sat → Mon


@pytest.mark.parametrize(("cron", "message"), [
    ("0 6 20 * * *", "exactly 5 fields"),
    ("0 6 20", "exactly 5 fields"),
    ("0 25 * * *", "not a valid cron"),
    ("0 6 32 * *", "not a valid cron"),
    ("0 6 * * 8", "not a valid cron"),
    ("0 0 30 2 *", "never fires"),
])
def test_bad_crons_are_refused_in_both_languages(cron, message):
    with pytest.raises(ScheduleError) as refused:
        validate_cron(cron, "Asia/Ho_Chi_Minh")
    assert message in refused.value.en and refused.value.vi


def test_a_cron_is_stored_with_single_spaces():
    assert validate_cron("  0  6 20 *   * ", "Asia/Ho_Chi_Minh") == "0 6 20 * *"


async def _as(client, engine, username: str, role: Role, **scope) -> dict[str, str]:
    await add_user(engine, username, role, **scope)
    return await sign_in(client, username)


async def _sql(engine, statement: str, **params) -> None:
    async with session_scope(engine) as session:
        await session.execute(text(statement), params)


async def test_officers_admins_and_auditors_read_the_schedules_in_words(client, engine):
    assert (await client.get("/api/schedules")).status_code == 401
    for username, role, scope in (("minh.approver", Role.approver, {}),
                                  ("mai.xa", Role.commune_staff, {"communes": ("00070",)})):
        client.cookies.clear()
        await _as(client, engine, username, role, **scope)
        assert (await client.get("/api/schedules")).status_code == 403, username
    client.cookies.clear()
    assert (await client.get("/api/schedules", headers=await bank_key(engine, "970436"))).status_code == 403
    for username, role in (("root", Role.admin), ("thu.auditor", Role.auditor), ("lan.officer", Role.officer)):
        client.cookies.clear()
        await _as(client, engine, username, role)
        assert (await client.get("/api/schedules")).status_code == 200, username
    body = (await client.get("/api/schedules")).json()
    assert body["scheduler_running"] is False and body["total"] == len(body["items"]) and body["page"] == 1
    by_name = {item["name"]: item for item in body["items"]}
    assert {PURGE, COMPACT, COMPUTE} <= set(by_name)
    compute = by_name[COMPUTE]
    assert compute["description_vi"] == "Lập và tính đợt chi tháng sau của chương trình TGXH"
    assert compute["description_en"] == "Create and compute next month's run of programme TGXH"
    assert (compute["cron"], compute["cron_vi"]) == ("0 6 20 * *", "ngày 20 hằng tháng, 06:00")
    next_run = datetime.fromisoformat(compute["next_run_at"]).astimezone(VIETNAM)
    assert (next_run.day, next_run.hour, next_run.minute) == (20, 6, 0)
    assert timedelta(0) < next_run - datetime.now(UTC) <= timedelta(days=31)
    assert compute["enabled"] is True and compute["last_run"] is None and compute["flags"] == []
    assert by_name[COMPACT]["cron_vi"] == "mỗi 10 phút" and by_name[PURGE]["cron_vi"] == "hằng ngày, 03:15"


async def test_last_run_with_its_error_and_failed_stalled_missed_flags(client, engine):
    # A failed run of the purge (its kind was unknown to this process), recorded by the scheduler itself.
    assert await run_occurrence(engine, PURGE, "no.such.kind", {}, datetime.now(UTC) - timedelta(hours=1))
    # The summary's job has been running for seven hours: its process died mid-job.
    await _sql(engine, "INSERT INTO job_run (schedule_name, scheduled_for, started_at, status, runner) "
                       "VALUES (:n, now() - interval '7 hours', now() - interval '7 hours', 'running', 'h:1')",
               n=COMPACT)
    # The programme's schedule has not changed for 40 days, and no run happened: a 20th went by. The others as if
    # set up just now (the template database may be older than the 10-minute job's period in a long test run).
    await _sql(engine, "UPDATE job_schedule SET updated_at = now() WHERE name <> :n", n=COMPUTE)
    await _sql(engine, "UPDATE job_schedule SET updated_at = now() - interval '40 days' WHERE name = :n", n=COMPUTE)
    await _as(client, engine, "thu.auditor", Role.auditor)
    by_name = {item["name"]: item for item in (await client.get("/api/schedules")).json()["items"]}
    purge = by_name[PURGE]
    assert purge["flags"] == ["failed"]
    assert purge["last_run"]["status"] == "failed" and "no.such.kind" in purge["last_run"]["detail"]
    assert purge["last_run"]["finished_at"] is not None and purge["missed_at"] is None
    assert by_name[COMPACT]["flags"] == ["stalled"] and by_name[COMPACT]["last_run"]["status"] == "running"
    compute = by_name[COMPUTE]
    assert compute["flags"] == ["missed"]
    missed = datetime.fromisoformat(compute["missed_at"]).astimezone(VIETNAM)
    assert (missed.day, missed.hour) == (20, 6) and missed < datetime.now(UTC)
    # One run at that fire time, and one at each 20th since: nothing is missed any more.
    trigger = trigger_for("0 6 20 * *", "Asia/Ho_Chi_Minh")
    fire = missed
    while fire <= datetime.now(UTC):
        await _sql(engine, "INSERT INTO job_run (schedule_name, scheduled_for, finished_at, status, runner, detail) "
                           "VALUES (:n, :at, :at, 'succeeded', 'h:1', 'TGXH computed')", n=COMPUTE, at=fire)
        fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
    compute = (await client.get(f"/api/schedules/{COMPUTE}")).json()
    assert compute["flags"] == [] and compute["last_run"]["detail"] == "TGXH computed"
    assert [run["status"] for run in compute["runs"]] == ["succeeded"] * len(compute["runs"])
    assert (await client.get("/api/schedules/no-such-job")).status_code == 404


async def test_a_switched_off_schedule_is_neither_due_nor_missed(engine):
    await _sql(engine, "UPDATE job_schedule SET enabled = false, updated_at = now() - interval '40 days' "
                       "WHERE name = :n", n=COMPUTE)
    async with session_scope(engine) as session:
        compute = next(s for s in await list_schedules(session) if s.name == COMPUTE)
    assert compute.enabled is False and compute.next_run_at is None and compute.flags == []


async def test_scheduler_running_while_a_process_holds_the_lock(client, engine, database_url):
    await _as(client, engine, "lan.officer", Role.officer)
    holder = await asyncpg.connect(to_libpq_url(database_url))
    try:
        await holder.execute("SELECT pg_advisory_lock($1)", SCHEDULER_LOCK_KEY)
        assert (await client.get("/api/schedules")).json()["scheduler_running"] is True
    finally:
        await holder.close()
    assert (await client.get("/api/schedules")).json()["scheduler_running"] is False


async def test_officer_changes_the_cron_and_switches_it_off_audited(client, engine):
    csrf = await _as(client, engine, "lan.officer", Role.officer)
    changed = await client.patch(f"/api/schedules/{COMPUTE}", headers=csrf, json={"cron": "0 7 15 * *"})
    assert changed.status_code == 200, changed.text
    body = changed.json()
    assert (body["cron"], body["cron_vi"], body["enabled"]) == ("0 7 15 * *", "ngày 15 hằng tháng, 07:00", True)
    next_run = datetime.fromisoformat(body["next_run_at"]).astimezone(VIETNAM)
    assert (next_run.day, next_run.hour) == (15, 7)
    off = (await client.patch(f"/api/schedules/{COMPUTE}", headers=csrf, json={"enabled": False})).json()
    assert off["enabled"] is False and off["next_run_at"] is None and off["cron"] == "0 7 15 * *"
    same = await client.patch(f"/api/schedules/{COMPUTE}", headers=csrf, json={"enabled": False})
    assert same.status_code == 200
    async with session_scope(engine) as session:
        entries = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "schedule.update")
                                         .order_by(AuditEntry.id))).all()
        stored = (await session.execute(text("SELECT cron, enabled FROM job_schedule WHERE name = :n"),
                                        {"n": COMPUTE})).one()
    assert tuple(stored) == ("0 7 15 * *", False)
    assert [(e.actor, e.actor_role, e.object_type, e.object_id, e.before, e.after) for e in entries] == [
        ("lan.officer", "officer", "job_schedule", COMPUTE, {"cron": "0 6 20 * *", "enabled": True},
         {"cron": "0 7 15 * *", "enabled": True}),
        ("lan.officer", "officer", "job_schedule", COMPUTE, {"cron": "0 7 15 * *", "enabled": True},
         {"cron": "0 7 15 * *", "enabled": False}),
    ]  # the change to nothing wrote nothing


async def test_a_bad_cron_changes_nothing_and_says_why(client, engine):
    csrf = await _as(client, engine, "root", Role.admin)
    for cron, message in (("0 25 * * *", "not a valid cron"), ("0 0 30 2 *", "never fires"),
                          ("0 6 20 * * *", "exactly 5 fields")):
        refused = await client.patch(f"/api/schedules/{COMPUTE}", headers=csrf, json={"cron": cron, "enabled": False})
        assert refused.status_code == 422, cron
        problem = refused.json()
        assert message in problem["detail"] and " / " in problem["detail"]
        assert problem["errors"][0]["column"] == "cron"
    assert (await client.patch("/api/schedules/no-such-job", headers=csrf, json={"enabled": False})).status_code == 404
    async with session_scope(engine) as session:
        stored = (await session.execute(text("SELECT cron, enabled FROM job_schedule WHERE name = :n"),
                                        {"n": COMPUTE})).one()
        audited = await session.scalar(select(AuditEntry.id).where(AuditEntry.action == "schedule.update"))
    assert tuple(stored) == ("0 6 20 * *", True) and audited is None


async def test_readers_who_may_not_change_schedules_are_refused(client, engine):
    for username, role, scope in (("thu.auditor", Role.auditor, {}), ("minh.approver", Role.approver, {}),
                                  ("mai.xa", Role.commune_staff, {"communes": ("00070",)})):
        client.cookies.clear()
        csrf = await _as(client, engine, username, role, **scope)
        refused = await client.patch(f"/api/schedules/{COMPUTE}", headers=csrf, json={"enabled": False})
        assert refused.status_code == 403, username
    client.cookies.clear()
    await _as(client, engine, "lan.officer", Role.officer)
    no_token = await client.patch(f"/api/schedules/{COMPUTE}", json={"enabled": False})
    assert no_token.status_code == 403 and "CSRF" in no_token.json()["detail"]
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT enabled FROM job_schedule WHERE name = :n"), {"n": COMPUTE})
