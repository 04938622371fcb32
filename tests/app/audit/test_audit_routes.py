"""GET /api/audit: auditors read the whole log and admins all of it but people's details; officers, approvers,
commune staff and banks are refused. Newest first, filtered through the indexes of migration 0034, paged with
a capped count, and exported as an audited Excel sheet with neutralised cells."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime, timedelta

import pytest
from openpyxl import load_workbook
from sqlalchemy import insert, select, text

from app.audit.models import AuditEntry
from app.audit.queries import AuditFilter, count_entries, parse_filter
from app.auth.models import Role
from app.auth.names import role_label
from app.database import session_scope
from app.web.i18n import translate
from tests.support.actors import add_user, bank_key, sign_in
from tests.support.sheets import a4_landscape_fit_width, print_setup

RUN_ID = "6f1c1d2e-0000-4000-8000-000000000001"
PERSON_ID = "6f1c1d2e-0000-4000-8000-0000000000aa"
# 2026-03-01 00:30 in Việt Nam is still 2026-02-28 in UTC: dates are Vietnam days.
EARLY_MARCH_VN = datetime(2026, 2, 28, 17, 30, tzinfo=UTC)


async def _entries(engine, rows: list[dict]) -> None:
    async with session_scope(engine) as session:
        await session.execute(insert(AuditEntry), rows)


def _row(at: datetime, actor: str, action: str, object_type: str, object_id: str | None = None, **extra) -> dict:
    return {"at": at, "actor": actor, "actor_role": extra.pop("actor_role", None), "action": action,
            "object_type": object_type, "object_id": object_id, "before": extra.pop("before", None),
            "after": extra.pop("after", None), "request_id": extra.pop("request_id", None)}


@pytest.fixture
async def log(engine) -> list[dict]:
    """Five entries over three days, oldest first: a run prepared and approved, a person corrected, a user
    created, and an action no one has named yet."""
    rows = [
        _row(EARLY_MARCH_VN - timedelta(days=1), "lan.officer", "payout_run.create", "payout_run", RUN_ID,
             actor_role="officer", after={"programme": "TGXH", "period": "2026-04"}),
        _row(EARLY_MARCH_VN, "minh.approver", "payout_run.approve", "payout_run", RUN_ID, actor_role="approver",
             after={"payouts": 2, "total_amount": 1_500_000}),
        _row(EARLY_MARCH_VN + timedelta(hours=1), "lan.officer", "beneficiary.update", "beneficiary", PERSON_ID,
             actor_role="officer", before={"full_name": "Nguyễn Văn A", "national_id": "001088000123"},
             after={"full_name": "Nguyễn Văn An"}),
        _row(EARLY_MARCH_VN + timedelta(days=1), "root", "user.create", "staff_user", "7",
             after={"username": "hoa.xa", "role": "commune_staff"}),
        _row(EARLY_MARCH_VN + timedelta(days=1, hours=2), "system", "thing.frobnicate", "thing", None,
             after={"note": "=HYPERLINK(\"http://evil\")"}),
    ]
    await _entries(engine, rows)
    return rows


async def _as(client, engine, username: str, role: Role, **scope) -> dict[str, str]:
    await add_user(engine, username, role, **scope)
    return await sign_in(client, username)


async def test_only_auditors_and_admins_read_the_log(client, engine, log):
    assert (await client.get("/api/audit")).status_code == 401
    for username, role, scope in (("lan.officer", Role.officer, {}), ("minh.approver", Role.approver, {}),
                                  ("mai.xa", Role.commune_staff, {"communes": ("00070",)})):
        client.cookies.clear()
        await _as(client, engine, username, role, **scope)
        refused = await client.get("/api/audit")
        assert refused.status_code == 403, username
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert (await client.get("/api/audit?format=xlsx")).status_code == 403
    client.cookies.clear()
    bank = await bank_key(engine, "970436")
    assert (await client.get("/api/audit", headers=bank)).status_code == 403
    for username, role in (("thu.auditor", Role.auditor), ("root", Role.admin)):
        client.cookies.clear()
        await _as(client, engine, username, role)
        assert (await client.get("/api/audit")).status_code == 200, username


async def test_newest_first_with_words_for_named_actions_and_pages(client, engine, log):
    await _as(client, engine, "thu.auditor", Role.auditor)
    body = (await client.get("/api/audit", params={"page_size": 3})).json()
    # the auditor's account (created by the system) and sign-in are the newest entries
    assert [i["action"] for i in body["items"]] == ["auth.login", "user.create", "thing.frobnicate"]
    assert body["total"] == 7 and body["page"] == 1 and body["page_size"] == 3 and body["total_capped"] is False
    unnamed = body["items"][2]
    assert unnamed["action_vi"] is None and unnamed["action_en"] is None and unnamed["object_type_vi"] is None
    second = (await client.get("/api/audit", params={"page_size": 3, "page": 2})).json()["items"]
    assert [i["action"] for i in second] == ["user.create", "beneficiary.update", "payout_run.approve"]
    approval = second[2]
    assert approval["action_vi"] == "Duyệt đợt chi" and approval["action_en"] == "Approved a payout run"
    assert approval["object_type_vi"] == "Đợt chi" and approval["after"] == {"payouts": 2, "total_amount": 1500000}
    assert approval["at"] == EARLY_MARCH_VN.isoformat() and approval["actor_role"] == "approver"
    past_the_end = (await client.get("/api/audit", params={"page_size": 3, "page": 9})).json()
    assert past_the_end["items"] == [] and past_the_end["total"] == 7


async def test_filters_by_actor_action_object_and_vietnam_days(client, engine, log):
    await _as(client, engine, "thu.auditor", Role.auditor)

    async def actions(**params) -> list[str]:
        response = await client.get("/api/audit", params=params)
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["total"] == len(body["items"])
        return [item["action"] for item in body["items"]]

    assert await actions(actor="lan.officer") == ["beneficiary.update", "payout_run.create"]
    assert await actions(action="payout_run.approve") == ["payout_run.approve"]
    assert await actions(object_type="payout_run", object_id=RUN_ID) == ["payout_run.approve", "payout_run.create"]
    assert await actions(object_type="staff_user", object_id="7") == ["user.create"]
    # and the auditor's account and sign-in
    assert await actions(object_type="staff_user") == ["auth.login", "user.create", "user.create"]
    assert await actions(actor="lan.officer", object_type="beneficiary") == ["beneficiary.update"]
    # 1 March in Việt Nam: the approval at 00:30 (28 Feb in UTC) and the correction, not the day before
    assert await actions(**{"from": "2026-03-01", "to": "2026-03-01"}) == ["beneficiary.update",
                                                                           "payout_run.approve"]
    assert await actions(to="2026-02-28") == ["payout_run.create"]
    # a time without an offset is Vietnam time; ``to`` includes it
    assert await actions(**{"from": "2026-03-01T00:30", "to": "2026-03-01T00:30"}) == ["payout_run.approve"]
    assert await actions(actor="nobody") == []


@pytest.mark.parametrize(("params", "message"), [
    ({"object_id": RUN_ID}, "object_id needs object_type"),
    ({"from": "01/03/2026"}, "not a date or time"),
    ({"from": "2026-03-02", "to": "2026-03-01"}, "from must come before to"),
    ({"page_size": 501}, "page_size between 1 and 500"),
    ({"page": 0}, "page must be 1 or more"),
    ({"page": 2001, "page_size": 50}, "only the first 100,000 entries"),
    ({"format": "csv"}, "format must be json or xlsx"),
])
async def test_bad_filters_and_pages_are_400_in_both_languages(client, engine, params, message):
    await _as(client, engine, "thu.auditor", Role.auditor)
    response = await client.get("/api/audit", params=params)
    assert response.status_code == 400
    detail = response.json()["detail"]
    assert message in detail and " / " in detail  # Vietnamese first, then English


async def test_admins_do_not_see_peoples_details_but_see_their_own_objects(client, engine, log):
    await _as(client, engine, "root", Role.admin)
    items = {(i["action"], i["object_id"]): i for i in (await client.get("/api/audit")).json()["items"]}
    correction = items["beneficiary.update", PERSON_ID]
    assert correction["before"] is None and correction["after"] is None and correction["details_hidden"] is True
    assert correction["actor"] == "lan.officer" and correction["object_id"] == PERSON_ID
    assert items["user.create", "7"]["after"] == {"username": "hoa.xa", "role": "commune_staff"}
    assert items["user.create", "7"]["details_hidden"] is False
    client.cookies.clear()
    await _as(client, engine, "thu.auditor", Role.auditor)
    items = {i["action"]: i for i in (await client.get("/api/audit")).json()["items"]}
    assert items["beneficiary.update"]["before"]["national_id"] == "001088000123"
    assert items["beneficiary.update"]["details_hidden"] is False


async def test_excel_export_of_the_filtered_list_is_neutralised_and_audited(client, engine, log):
    await _as(client, engine, "thu.auditor", Role.auditor)
    response = await client.get("/api/audit", params={"from": "2026-03-01", "format": "xlsx"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith(
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "nhat-ky-kiem-toan-" in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header_at = next(i for i, row in enumerate(rows) if row[0] == "STT\nNo.")
    assert rows[header_at][1] == "Thời điểm (giờ Việt Nam)\nTime (Vietnam)"
    assert print_setup(sheet) == a4_landscape_fit_width(header_at + 1)
    assert rows[header_at][4] == "Hành động\nAction" and rows[header_at][8] == "Trước khi đổi\nBefore"
    assert any("Từ / from 01/03/2026 00:00" in str(row[0]) for row in rows[:header_at])
    data = rows[header_at + 1:]
    # the auditor's sign-in and account, the unnamed action, the user, the correction, the approval
    assert [row[5] for row in data] == ["auth.login", "user.create", "thing.frobnicate", "user.create",
                                        "beneficiary.update", "payout_run.approve"]
    approval = data[-1]
    assert approval[1] == datetime(2026, 3, 1, 0, 30)  # Vietnam time, a real date cell
    assert approval[4] == "Duyệt đợt chi" and approval[6] == "Đợt chi" and approval[7] == RUN_ID
    assert json.loads(approval[9]) == {"payouts": 2, "total_amount": 1500000}
    assert data[2][4] == "thing.frobnicate"  # unnamed: its code
    assert all(not str(cell).startswith("=") for row in data for cell in row if cell is not None)
    async with session_scope(engine) as session:
        export = await session.scalar(select(AuditEntry).where(AuditEntry.action == "audit.export"))
    assert export is not None and export.actor == "thu.auditor" and export.actor_role == "auditor"
    assert export.after["rows"] == 6 and export.after["filter"]["from"].startswith("2026-03-01T00:00:00+07:00")


async def test_formula_like_text_is_neutralised_in_the_export(client, engine):
    await _entries(engine, [_row(EARLY_MARCH_VN, "=cmd|' /C calc'!A0", "@sum", "thing", "+1",
                                 after={"x": 1})])
    await _as(client, engine, "thu.auditor", Role.auditor)
    sheet = load_workbook(io.BytesIO((await client.get(
        "/api/audit", params={"actor": "=cmd|' /C calc'!A0", "format": "xlsx"})).content)).active
    row = [list(r) for r in sheet.iter_rows(values_only=True)][-1]
    assert row[2] == "'=cmd|' /C calc'!A0" and row[5] == "'@sum" and row[7] == "'+1"


async def test_admins_export_hides_peoples_details(client, engine, log):
    await _as(client, engine, "root", Role.admin)
    sheet = load_workbook(io.BytesIO((await client.get(
        "/api/audit", params={"object_type": "beneficiary", "format": "xlsx"})).content)).active
    row = [list(r) for r in sheet.iter_rows(values_only=True)][-1]
    assert row[5] == "beneficiary.update" and "001088000123" not in str(row)
    assert row[8] == row[9] == "(ẩn với vai trò quản trị / hidden from administrators)"


async def test_the_count_stops_at_its_cap(engine, log):
    async with session_scope(engine) as session:
        assert await count_entries(session, AuditFilter(), cap=3) == (3, True)
        assert await count_entries(session, AuditFilter(), cap=5) == (5, False)
        assert await count_entries(session, parse_filter(actor="lan.officer"), cap=5) == (2, False)


@pytest.mark.parametrize(("where", "index"), [
    ("", "ix_audit_log_at"),
    ("WHERE actor = 'lan.officer'", "ix_audit_log_actor_at"),
    ("WHERE action = 'payout_run.approve' AND at >= '2026-03-01'", "ix_audit_log_action_at"),
    (f"WHERE object_type = 'payout_run' AND object_id = '{RUN_ID}'", "ix_audit_log_object_at"),
])
async def test_each_filter_reads_a_page_newest_first_from_an_index_without_sorting(engine, where, index):
    async with session_scope(engine) as session:
        await session.execute(text("SET LOCAL enable_seqscan = off"))
        await session.execute(text("SET LOCAL enable_bitmapscan = off"))
        plan = json.dumps((await session.execute(text(
            f"EXPLAIN (FORMAT JSON) SELECT * FROM audit_log {where} ORDER BY at DESC, id DESC LIMIT 50"
        ))).scalar())
    assert f'"Index Name": "{index}"' in plan and '"Sort"' not in plan


async def test_an_export_longer_than_its_limit_holds_the_newest_and_says_so(engine, log, monkeypatch):
    from app.audit import export

    monkeypatch.setattr(export, "XLSX_LIMIT", 2)
    async with session_scope(engine) as session:
        content, written = await export.audit_xlsx(session, AuditFilter(), role=Role.auditor, made_by="thu")
    rows = [list(row) for row in load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]
    assert written == 2 and [row[5] for row in rows[-2:]] == ["thing.frobnicate", "user.create"]
    assert any(str(row[0]).startswith("Tệp này chỉ gồm 2 dòng mới nhất") for row in rows)


async def test_the_export_and_the_api_name_staff_by_their_full_names(client, engine, log):
    await add_user(engine, "minh.approver", Role.approver, full_name="Lê Văn Minh")
    await add_user(engine, "lan.officer", Role.officer)  # no full name: the username alone
    await add_user(engine, "thu.auditor", Role.auditor, full_name="Phạm Thu")
    await sign_in(client, "thu.auditor")
    sheet = load_workbook(io.BytesIO((await client.get(
        "/api/audit", params={"from": "2026-03-01", "to": "2026-03-02", "format": "xlsx"})).content)).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    header_at = next(i for i, row in enumerate(rows) if row[0] == "STT\nNo.")
    assert rows[header_at][2] == "Người thực hiện\nActor"
    assert [(row[2], row[5]) for row in rows[header_at + 1:]] == [
        ("system", "thing.frobnicate"), ("root", "user.create"), ("lan.officer", "beneficiary.update"),
        ("Lê Văn Minh (minh.approver)", "payout_run.approve")]
    # Roles by their names in both languages, as the pages call them, not their codes; none, none.
    assert rows[header_at][3] == "Vai trò\nRole"
    assert [row[3] for row in rows[header_at + 1:]] == [
        None, None, "Cán bộ cấp tỉnh / Province officer", "Người phê duyệt / Approver"]
    assert sheet.cell(header_at + 3, 4).alignment.wrap_text  # on two lines in its column
    assert any(str(row[0]).startswith("Lập lúc / made at ") and str(row[0]).endswith("— Phạm Thu (thu.auditor)")
               for row in rows[:header_at])
    # The API keeps the username as the actor and gives the full name beside it, none for anyone else.
    items = (await client.get("/api/audit", params={"page_size": 100})).json()["items"]
    by_action = {(item["action"], item["actor"]): item["actor_name"] for item in items}
    assert by_action[("payout_run.approve", "minh.approver")] == "Lê Văn Minh"
    assert by_action[("beneficiary.update", "lan.officer")] is None
    assert by_action[("thing.frobnicate", "system")] is None
    assert by_action[("auth.login", "thu.auditor")] == "Phạm Thu"


def test_a_role_reads_as_the_pages_name_it():
    for role in Role:  # one mapping: the pages' names are the file's
        assert role_label(role.value) == f"{translate(f'role.{role.value}', 'vi')} / {translate(f'role.{role.value}', 'en')}"
    assert role_label("commune_staff") == "Cán bộ xã / Commune staff"
    assert role_label("scheduler") == "scheduler" and role_label(None) == ""  # a code no role has: as recorded
