"""Raw uploads for audit: officers and auditors download every kept file as it was received, a bank only its
own bank's, commune staff (and other roles) nothing; unknown ids are 404; every download is audited."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from urllib.parse import quote

import pytest
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import import_file_bytes
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import BOOKED, as_bank, build_world, debit, statement, upload
from tests.support.actors import add_user, bank_key
from tests.support.world import BIDV, HANOI_COMMUNE, VIETCOMBANK, Office

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


@dataclass
class Uploads:
    """What each upload was, byte for byte, and its id."""

    ids: dict[str, str]
    content: dict[str, bytes]


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _ids(engine, sql: str) -> list[str]:
    async with session_scope(engine) as session:
        return [str(row[0]) for row in await session.execute(text(sql))]


@pytest.fixture
async def uploads(office, engine) -> Uploads:
    """A registry import, Vietcombank's statement (accepted) and two withdrawal intakes (a CSV file, a JSON
    list), and a file BIDV sent that was rejected."""
    _, payouts = await build_world(office, vietcombank=1)
    registry_id = (await _ids(engine, "SELECT id FROM beneficiary_import"))[0]
    async with session_scope(engine) as session:
        registry_bytes = await session.scalar(text("SELECT content FROM beneficiary_import"))
    vietcombank = await as_bank(office, VIETCOMBANK)
    camt = write_camt053(statement(VIETCOMBANK, [debit(payouts[0])]))
    accepted = await upload(office, vietcombank, camt, "sao-ke-03-2026.xml")
    assert accepted.status_code == 201, accepted.text
    csv_file = ("Số tài khoản,Thời gian,Số tiền,Kênh,Mã giao dịch\r\n"
                f"{payouts[0].account_number},{BOOKED:%d/%m/%Y} 10:00,650.000,ATM,VCB-ATM-1\r\n").encode()
    from_file = await office.client.post("/api/bank/withdrawals", headers=vietcombank,
                                         files={"file": ("rút tiền 03-2026.csv", csv_file, "text/csv")})
    assert from_file.status_code == 200, from_file.text
    json_body = json.dumps([{"account_number": payouts[0].account_number, "occurred_at": "2026-03-11T09:30:00+07:00",
                             "amount": 1000, "channel": "atm", "bank_ref": "VCB-ATM-2"}]).encode()
    from_json = await office.client.post("/api/bank/withdrawals", content=json_body,
                                         headers={**vietcombank, "Content-Type": "application/json"})
    assert from_json.status_code == 200, from_json.text
    bidv_bytes = b"khong phai sao ke / not a statement"
    rejected = await upload(office, await bank_key(engine, BIDV), bidv_bytes, "bidv.txt")
    assert rejected.status_code == 422
    async with session_scope(engine) as session:
        statement_id = str(await session.scalar(text(
            "SELECT id FROM statement_upload WHERE bank_bin = :b"), {"b": VIETCOMBANK}))
        bidv_id = str(await session.scalar(text("SELECT id FROM statement_upload WHERE bank_bin = :b"), {"b": BIDV}))
        intakes = {row.source_name: str(row.id) for row in await session.execute(text(
            "SELECT id, source_name FROM withdrawal_intake"))}
    return Uploads(
        ids={"registry": registry_id, "statement": statement_id, "withdrawals_csv": intakes["rút tiền 03-2026.csv"],
             "withdrawals_json": intakes["json"], "bidv": bidv_id},
        content={"registry": registry_bytes, "statement": camt, "withdrawals_csv": csv_file,
                 "withdrawals_json": json_body, "bidv": bidv_bytes})


async def _audited(engine) -> list[tuple[str, str, str, str]]:
    async with session_scope(engine) as session:
        rows = await session.execute(text(
            "SELECT actor, actor_role, object_type, object_id FROM audit_log WHERE action = 'upload.download' "
            "ORDER BY id"))
        return [tuple(row) for row in rows]


async def test_officers_and_auditors_download_every_kind_as_sent_and_each_download_is_audited(
        office, engine, uploads):
    expected = {"registry": ("text/csv; charset=utf-8", "danh-sach.csv", "beneficiary_import"),
                "statement": ("application/xml", "sao-ke-03-2026.xml", "statement_upload"),
                "withdrawals_csv": ("text/csv; charset=utf-8", "rút tiền 03-2026.csv", "withdrawal_intake"),
                "withdrawals_json": ("application/json", None, "withdrawal_intake"),
                "bidv": ("text/plain; charset=utf-8", "bidv.txt", "statement_upload")}
    audited = []
    for user, role in (("lan.officer", "officer"), ("thu.auditor", "auditor")):
        await office.be(user)
        for name, (media_type, filename, table) in expected.items():
            response = await office.client.get(f"/api/uploads/{uploads.ids[name]}")
            assert response.status_code == 200, (name, response.text)
            assert response.content == uploads.content[name], name
            assert response.headers["content-type"] == media_type, name
            assert response.headers["x-content-type-options"] == "nosniff"
            assert response.headers["cache-control"] == "no-store"
            disposition = response.headers["content-disposition"]
            assert disposition.startswith("attachment; filename=")
            if filename is not None:
                assert f"filename*=UTF-8''{quote(filename)}" in disposition, disposition
            audited.append((user, role, table, uploads.ids[name]))
    json_name = (await office.client.get(f"/api/uploads/{uploads.ids['withdrawals_json']}")).headers[
        "content-disposition"]
    assert f'filename="rut-tien-{VIETCOMBANK}-' in json_name and ".json" in json_name  # a name made for a body
    audited.append(("thu.auditor", "auditor", "withdrawal_intake", uploads.ids["withdrawals_json"]))
    assert await _audited(engine) == audited
    async with session_scope(engine) as session:
        after = await session.scalar(text(
            "SELECT after FROM audit_log WHERE action = 'upload.download' ORDER BY id LIMIT 1"))
    assert after["kind"] == "registry" and after["size"] == len(uploads.content["registry"])
    assert after["filename"] == "danh-sach.csv" and len(after["sha256"]) == 64


async def test_a_bank_gets_its_own_uploads_only(office, engine, uploads):
    vietcombank = await as_bank(office, VIETCOMBANK)
    for name in ("statement", "withdrawals_csv", "withdrawals_json"):
        own = await office.client.get(f"/api/uploads/{uploads.ids[name]}", headers=vietcombank)
        assert own.status_code == 200 and own.content == uploads.content[name]
    for name in ("bidv", "registry"):  # another bank's file, the registry's: as if there were none
        refused = await office.client.get(f"/api/uploads/{uploads.ids[name]}", headers=vietcombank)
        assert refused.status_code == 404, name
        assert refused.json()["detail"] == "Không tìm thấy tệp đã tải lên / upload not found"
    listed = (await office.client.get("/api/uploads", headers=vietcombank, params={"bank": BIDV})).json()
    assert sorted(item["id"] for item in listed["items"]) == sorted(
        uploads.ids[name] for name in ("statement", "withdrawals_csv", "withdrawals_json"))
    assert all(item["bank_bin"] == VIETCOMBANK for item in listed["items"]) and listed["total"] == 3
    bidv = await bank_key(engine, BIDV)
    assert (await office.client.get(f"/api/uploads/{uploads.ids['bidv']}", headers=bidv)).status_code == 200
    assert (await office.client.get(f"/api/uploads/{uploads.ids['statement']}", headers=bidv)).status_code == 404
    assert [(actor, table) for actor, _, table, _ in await _audited(engine)] == [
        (f"bank:{VIETCOMBANK}", "statement_upload"), (f"bank:{VIETCOMBANK}", "withdrawal_intake"),
        (f"bank:{VIETCOMBANK}", "withdrawal_intake"), (f"bank:{BIDV}", "statement_upload")]


async def test_commune_staff_and_other_roles_get_nothing_and_unknown_ids_are_404(office, engine, uploads, client):
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,))
    await add_user(engine, "quan.tri", Role.admin)
    for user in ("xa.hoankiem", "minh.approver", "quan.tri"):
        await office.be(user)
        for upload_id in uploads.ids.values():
            refused = await client.get(f"/api/uploads/{upload_id}")
            assert refused.status_code == 403, user
            assert refused.json()["detail"] == "Vai trò của bạn không được phép / Your role may not do this"
        assert (await client.get("/api/uploads")).status_code == 403
        assert (await client.get("/uploads")).status_code == 403
    client.cookies.clear()
    office.current = ""
    assert (await client.get(f"/api/uploads/{uploads.ids['statement']}")).status_code == 401
    await office.be("thu.auditor")
    unknown = await client.get(f"/api/uploads/{uuid.uuid4()}")
    assert unknown.status_code == 404 and "upload not found" in unknown.json()["detail"]
    assert (await client.get("/api/uploads/not-a-uuid")).status_code in (400, 404)
    assert await _audited(engine) == []  # refusals are not downloads


async def test_the_list_says_what_each_upload_is_and_an_old_intake_without_its_file(office, engine, uploads):
    async with session_scope(engine) as session:  # an intake received before the files were kept
        old = str(await session.scalar(text(
            """INSERT INTO withdrawal_intake (bank_bin, source_name, format, sha256, rows, accepted, duplicates,
                                              unknown_accounts, uploaded_by, uploaded_at)
               VALUES (:bank, 'cu.csv', 'csv', NULL, 1, 1, 0, 0, 'bank:970436', now() - interval '1 year')
               RETURNING id"""), {"bank": VIETCOMBANK}))
    await office.be("thu.auditor")
    listed = (await office.client.get("/api/uploads")).json()
    assert listed["total"] == 6 and listed["page"] == 1
    by_id = {item["id"]: item for item in listed["items"]}
    assert by_id[uploads.ids["statement"]]["kind"] == "statement" and by_id[uploads.ids["bidv"]]["status"] == "rejected"
    assert by_id[uploads.ids["registry"]]["status"] == "applied" and by_id[uploads.ids["registry"]]["bank_bin"] is None
    assert by_id[uploads.ids["withdrawals_csv"]]["size"] == len(uploads.content["withdrawals_csv"])
    assert by_id[uploads.ids["statement"]]["url"] == f"/api/uploads/{uploads.ids['statement']}"
    assert (by_id[old]["kept"], by_id[old]["url"]) == (False, None)
    assert [item["id"] for item in listed["items"]][-1] == old  # newest first
    gone = await office.client.get(f"/api/uploads/{old}")
    assert gone.status_code == 404 and "không được lưu" in gone.json()["detail"]
    kinds = (await office.client.get("/api/uploads", params={"kind": "withdrawals", "page_size": 2})).json()
    assert kinds["total"] == 3 and len(kinds["items"]) == 2
    assert {item["kind"] for item in kinds["items"]} == {"withdrawals"}
    assert (await office.client.get("/api/uploads", params={"kind": "other"})).status_code == 400
    assert (await office.client.get("/api/uploads", params={"page_size": 501})).status_code == 400
    # The database keeps a kept file and its hash together.
    with pytest.raises(Exception, match="ck_withdrawal_intake_content_sha256"):
        async with session_scope(engine) as session:
            await session.execute(text(
                """INSERT INTO withdrawal_intake (bank_bin, format, sha256, rows, accepted, duplicates, unknown_accounts,
                                                  uploaded_by, content)
                   VALUES ('970436', 'csv', :sha, 0, 0, 0, 0, 'x', 'abc')"""), {"sha": b"\0" * 32})


async def test_pages_link_the_files(office, engine, uploads, client):
    await office.be("thu.auditor")
    page = await client.get("/uploads")
    assert page.status_code == 200 and "Tệp đã tải lên" in page.text
    for name in uploads.ids:
        assert f'href="/api/uploads/{uploads.ids[name]}"' in page.text, name
    assert "sao-ke-03-2026.xml" in page.text and "Bị từ chối" in page.text
    filtered = await client.get("/uploads", params={"kind": "registry"})
    assert f'href="/api/uploads/{uploads.ids["registry"]}"' in filtered.text
    assert f'href="/api/uploads/{uploads.ids["statement"]}"' not in filtered.text
    statements = await client.get("/statements")
    assert f'href="/api/uploads/{uploads.ids["statement"]}"' in statements.text
    assert 'href="/uploads?kind=statement"' in statements.text
    statement_id = (await client.get("/api/statements")).json()["items"][0]
    assert statement_id["upload_url"] == f"/api/uploads/{uploads.ids['statement']}"
    detail = await client.get(f"/statements/{statement_id['id']}")
    assert f'href="/api/uploads/{uploads.ids["statement"]}"' in detail.text
    await office.be("lan.officer")
    menu = await client.get("/")
    assert 'href="/uploads"' in menu.text
    imported = await client.post("/beneficiaries/import", data={"_csrf": office.csrf["X-CSRF-Token"]},
                                 files={"file": ("them.csv", import_file_bytes([], kind="csv"), "text/csv")})
    new_id = (await _ids(engine, "SELECT id FROM beneficiary_import ORDER BY uploaded_at DESC LIMIT 1"))[0]
    assert f'href="/api/uploads/{new_id}"' in imported.text
    # An admin reads the statements page but does not get the files: no link that would answer 403.
    await add_user(engine, "quan.tri", Role.admin)
    await office.be("quan.tri")
    admin_page = await client.get("/statements")
    assert admin_page.status_code == 200 and "/api/uploads/" not in admin_page.text
