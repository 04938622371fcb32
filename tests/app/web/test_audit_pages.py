"""The /audit page: auditors and admins read the log newest first with its filters; who, when (Vietnam time),
the action in words, the object with a link to its page where the reader may open it, and the details
expandable, old → new. Other roles get the 403 page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import insert

from app.audit.models import AuditEntry
from app.auth.models import Role
from app.database import session_scope
from app.web.menu import menu_for
from tests.support.actors import add_user
from tests.support.pages import sign_in_on_page

RUN_ID = "6f1c1d2e-0000-4000-8000-000000000001"
PERSON_ID = "6f1c1d2e-0000-4000-8000-0000000000aa"
STATEMENT_ID = "6f1c1d2e-0000-4000-8000-0000000000bb"
UPLOAD_ID = "6f1c1d2e-0000-4000-8000-0000000000cc"
APPROVED_AT = datetime(2026, 2, 28, 17, 30, 5, tzinfo=UTC)  # 01/03/2026 00:30:05 in Việt Nam


async def _log(engine) -> None:
    base = {"actor_role": None, "before": None, "after": None, "request_id": None}
    rows = [
        {**base, "at": APPROVED_AT, "actor": "minh.approver", "actor_role": "approver",
         "action": "payout_run.approve", "object_type": "payout_run", "object_id": RUN_ID,
         "after": {"payouts": 2, "total_amount": 1_500_000}},
        {**base, "at": APPROVED_AT + timedelta(hours=1), "actor": "lan.officer", "actor_role": "officer",
         "action": "beneficiary.update", "object_type": "beneficiary", "object_id": PERSON_ID,
         "before": {"full_name": "Nguyễn Văn A", "phone": "0912000111"},
         "after": {"full_name": "Nguyễn Văn An", "phone": "0912000111"}},
        {**base, "at": APPROVED_AT + timedelta(hours=2), "actor": "bank:970436", "action": "statement.import",
         "object_type": "statement_upload", "object_id": UPLOAD_ID,
         "after": {"bank_bin": "970436", "statements": [STATEMENT_ID], "lines": 3}},
        {**base, "at": APPROVED_AT + timedelta(hours=3), "actor": "root", "actor_role": "admin",
         "action": "user.deactivate", "object_type": "staff_user", "object_id": "7",
         "before": {"is_active": True}, "after": {"is_active": False}},
        {**base, "at": APPROVED_AT + timedelta(hours=4), "actor": "system", "action": "thing.frobnicate",
         "object_type": "thing", "object_id": None},
    ]
    async with session_scope(engine) as session:
        await session.execute(insert(AuditEntry), rows)


async def test_auditor_reads_who_when_what_with_links_and_details(client, engine):
    await _log(engine)
    await add_user(engine, "thu.auditor", Role.auditor)
    await sign_in_on_page(client, "thu.auditor")
    page = await client.get("/audit")
    assert page.status_code == 200
    html = page.text
    assert 'aria-current="page">Nhật ký kiểm toán</a>' in html
    # newest first: the sign-in of the auditor, then the unnamed action shown as its code, … the approval last
    table = html[html.index("<table"):]
    order = [table.index(code) for code in ("thing.frobnicate", "user.deactivate", "statement.import",
                                           "beneficiary.update", "payout_run.approve")]
    assert order == sorted(order)
    assert "01/03/2026 00:30:05" in html  # Vietnam time, to the second
    assert "Duyệt đợt chi" in html and "Khóa người dùng" in html and "Người phê duyệt" in html
    assert f'href="/payout-runs/{RUN_ID}"' in html and f'href="/beneficiaries/{PERSON_ID}"' in html
    assert f'href="/statements/{STATEMENT_ID}"' in html and f'href="/api/uploads/{UPLOAD_ID}"' in html
    assert 'href="/admin/users/7"' not in html  # the user page is the admins'
    assert f'href="/audit?object_type=payout_run&amp;object_id={RUN_ID}"' in html
    assert 'href="/audit?actor=minh.approver"' in html
    assert "<details>" in html and "<del>Nguyễn Văn A</del> → <ins>Nguyễn Văn An</ins>" in html
    assert "<dt>phone</dt>\n          <dd>0912000111</dd>" in html  # unchanged: shown once
    assert 'data-label="Thời điểm (giờ Việt Nam)"' in html  # rows become cards on a phone
    english = await client.get("/audit?lang=en")
    assert "Approved a payout run" in english.text and "When (Vietnam time)" in english.text


async def test_filters_stay_in_the_pager_and_the_export_link(client, engine):
    async with session_scope(engine) as session:
        await session.execute(insert(AuditEntry), [
            {"at": APPROVED_AT + timedelta(minutes=i), "actor": "lan.officer", "action": "follow_up.note",
             "object_type": "beneficiary", "object_id": PERSON_ID} for i in range(60)])
    await add_user(engine, "thu.auditor", Role.auditor)
    await sign_in_on_page(client, "thu.auditor")
    page = await client.get("/audit", params={"actor": "lan.officer", "from": "2026-03-01"})
    assert "60 mục" in page.text and "Trang 1/2" in page.text
    assert 'href="/audit?actor=lan.officer&amp;from=2026-03-01&amp;page_number=2"' in page.text
    assert 'href="/api/audit?actor=lan.officer&amp;from=2026-03-01&amp;format=xlsx"' in page.text
    assert 'value="lan.officer"' in page.text and 'value="2026-03-01"' in page.text
    second = await client.get("/audit", params={"actor": "lan.officer", "from": "2026-03-01", "page_number": 2})
    assert len(re.findall(r"<tr>", second.text)) == 1 + 10  # header and the last 10


async def test_a_bad_filter_is_explained_in_the_page_language(client, engine):
    await add_user(engine, "thu.auditor", Role.auditor)
    await sign_in_on_page(client, "thu.auditor")
    page = await client.get("/audit", params={"object_id": RUN_ID})
    assert page.status_code == 400
    assert "Tìm theo mã đối tượng cần chọn cả loại đối tượng" in page.text and 'role="alert"' in page.text
    english = await client.get("/audit", params={"from": "2026-03-02", "to": "2026-03-01", "lang": "en"})
    assert english.status_code == 400 and "from must come before to" in english.text


async def test_admin_reads_the_log_without_peoples_details(client, engine):
    await _log(engine)
    await add_user(engine, "root", Role.admin)
    await sign_in_on_page(client, "root")
    html = (await client.get("/audit")).text
    assert "Nguyễn Văn A" not in html and "Ẩn với vai trò quản trị" in html
    assert 'href="/admin/users/7"' in html and f'href="/payout-runs/{RUN_ID}"' in html
    assert f'href="/beneficiaries/{PERSON_ID}"' not in html  # admins do not open people's pages
    assert f'href="/api/uploads/{UPLOAD_ID}"' not in html


async def test_other_roles_get_the_403_page_and_no_menu_link(client, engine):
    for username, role, scope in (("lan.officer", Role.officer, {}), ("minh.approver", Role.approver, {}),
                                  ("mai.xa", Role.commune_staff, {"communes": ("00070",)})):
        await add_user(engine, username, role, **scope)
        client.cookies.clear()
        await sign_in_on_page(client, username)
        page = await client.get("/audit")
        assert page.status_code == 403 and "Không có quyền truy cập" in page.text, username
        assert "/audit" not in [item.path for item in menu_for(role)]
    assert "/audit" in [item.path for item in menu_for(Role.auditor)]
    assert "/audit" in [item.path for item in menu_for(Role.admin)]


async def test_the_actor_column_names_staff_users_and_leaves_banks_and_the_system_as_recorded(client, engine):
    await _log(engine)
    await add_user(engine, "minh.approver", Role.approver, full_name="Lê Văn Minh")
    await add_user(engine, "thu.auditor", Role.auditor)
    await sign_in_on_page(client, "thu.auditor")
    html = (await client.get("/audit")).text
    assert '<a href="/audit?actor=minh.approver">Lê Văn Minh (minh.approver)</a>' in html
    assert '<a href="/audit?actor=lan.officer">lan.officer</a>' in html  # not a user here: as recorded
    assert '<a href="/audit?actor=bank%3A970436">bank:970436</a>' in html
    assert '<a href="/audit?actor=system">system</a>' in html
