"""The /schedules page: each job in words with its next and last runs, failed or missed jobs flagged at the
top; officers and admins change a cron or switch a job off on the page (a bad cron comes back explained),
auditors only read, other roles get the 403 page."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select, text

from app.audit.models import AuditEntry
from app.auth.models import Role
from app.database import session_scope
from app.scheduler.service import run_occurrence
from tests.support.actors import add_user
from tests.support.pages import csrf_in, sign_in_on_page

COMPUTE = "payouts.compute_next:TGXH"
COMPUTE_PATH = "/schedules/payouts.compute_next%3ATGXH"


async def _stored(engine) -> tuple[str, bool]:
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT cron, enabled FROM job_schedule WHERE name = :n"),
                                     {"n": COMPUTE})).one()
    return row.cron, row.enabled


async def test_officer_sees_jobs_in_words_and_changes_one(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    await sign_in_on_page(client, "lan.officer")
    page = await client.get("/schedules")
    assert page.status_code == 200
    html = page.text
    assert 'aria-current="page">Lịch chạy tự động</a>' in html
    assert "Lập và tính đợt chi tháng sau của chương trình TGXH" in html
    assert "ngày 20 hằng tháng, 06:00" in html and "mỗi 10 phút" in html and "Chưa chạy lần nào" in html
    assert "Không có tiến trình lập lịch nào đang chạy" in html  # no serve process holds the lock in a test
    assert f'action="{COMPUTE_PATH}"' in html and 'name="cron" value="0 6 20 * *"' in html
    assert "/audit?object_type=job_schedule" not in html  # officers do not read the audit log
    response = await client.post(COMPUTE_PATH, data={"_csrf": csrf_in(html), "cron": "0 7 15 * *"},
                                 follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/schedules?changed=payouts.compute_next%3ATGXH"
    done = await client.get(response.headers["location"])
    assert "Đã lưu lịch payouts.compute_next:TGXH." in done.text and "ngày 15 hằng tháng, 07:00" in done.text
    assert "Đã tắt" in done.text  # the box was not ticked: switched off
    assert await _stored(engine) == ("0 7 15 * *", False)
    async with session_scope(engine) as session:
        entry = await session.scalar(select(AuditEntry).where(AuditEntry.action == "schedule.update"))
    assert entry is not None and entry.actor == "lan.officer"
    assert entry.after == {"cron": "0 7 15 * *", "enabled": False}


async def test_a_bad_cron_comes_back_on_the_form_explained_and_nothing_changes(client, engine):
    await add_user(engine, "root", Role.admin)
    await sign_in_on_page(client, "root")
    token = csrf_in((await client.get("/schedules")).text)
    refused = await client.post(COMPUTE_PATH, data={"_csrf": token, "cron": "0 6 32 * *", "enabled": "1"})
    assert refused.status_code == 422
    assert "Lịch chạy không hợp lệ" in refused.text and 'role="alert"' in refused.text
    assert 'value="0 6 32 * *"' in refused.text and 'aria-invalid="true"' in refused.text
    english = await client.post(COMPUTE_PATH + "?lang=en", data={"_csrf": token, "cron": "0 6 20", "enabled": "1"})
    assert english.status_code == 422 and "a cron needs exactly 5 fields" in english.text
    assert await _stored(engine) == ("0 6 20 * *", True)
    assert (await client.post("/schedules/no-such-job", data={"_csrf": token, "cron": "0 6 20 * *"})).status_code == 404
    # admins read the log: the page links the schedule's history
    assert "/audit?object_type=job_schedule&amp;object_id=payouts.compute_next%3ATGXH" in (
        await client.get("/schedules")).text


async def test_failed_and_missed_jobs_are_flagged_with_the_error(client, engine):
    assert await run_occurrence(engine, "auth.purge_expired_sessions", "no.such.kind", {},
                                datetime.now(UTC) - timedelta(hours=1))
    async with session_scope(engine) as session:
        # Every schedule as if set up just now (the template database may be older than a 10-minute job's
        # period in a long test run), then one of them 40 days ago: that one has missed its 20th.
        await session.execute(text("UPDATE job_schedule SET updated_at = now()"))
        await session.execute(text("UPDATE job_schedule SET updated_at = now() - interval '40 days' WHERE name = :n"),
                              {"n": COMPUTE})
    await add_user(engine, "thu.auditor", Role.auditor)
    await sign_in_on_page(client, "thu.auditor")
    html = (await client.get("/schedules")).text
    assert "2 lịch cần chú ý" in html
    assert "Lần chạy gần nhất bị lỗi" in html and "LookupError: no job kind &#39;no.such.kind&#39;" in html
    assert "Bị lỡ: đã quá giờ chạy mà chưa chạy" in html and "Bị lỡ lượt" in html
    assert 'class="card schedule flagged"' in html
    assert 'name="cron"' not in html  # auditors read, never change
    english = (await client.get("/schedules?lang=en")).text
    assert "2 schedules need attention" in english and "Last run failed" in english


async def test_who_may_not_see_or_change_schedules(client, engine):
    await add_user(engine, "thu.auditor", Role.auditor)
    await sign_in_on_page(client, "thu.auditor")
    token = csrf_in((await client.get("/schedules")).text)
    refused = await client.post(COMPUTE_PATH, data={"_csrf": token, "cron": "0 7 15 * *"})
    assert refused.status_code == 403 and "Không có quyền truy cập" in refused.text
    for username, role, scope in (("minh.approver", Role.approver, {}),
                                  ("mai.xa", Role.commune_staff, {"communes": ("00070",)})):
        await add_user(engine, username, role, **scope)
        client.cookies.clear()
        await sign_in_on_page(client, username)
        assert (await client.get("/schedules")).status_code == 403, username
    client.cookies.clear()
    await add_user(engine, "lan.officer", Role.officer)
    await sign_in_on_page(client, "lan.officer")
    no_token = await client.post(COMPUTE_PATH, data={"cron": "0 7 15 * *"})
    assert no_token.status_code == 403
    assert await _stored(engine) == ("0 6 20 * *", True)
