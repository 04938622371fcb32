"""A bank return saying an account cannot receive money blocks the account number at that bank, not only the
account row it was recorded on: registering it again (officer, commune staff's request and its confirmation,
the import), reissuing to it and computing a run into it are refused until an officer releases the block."""

from __future__ import annotations

import dataclasses
from datetime import date, datetime

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker, citizen_id_for, import_file_bytes
from app.vietnam_time import VIETNAM_TODAY_SQL
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import (
    ICT,
    SentPayout,
    as_bank,
    build_world,
    returned,
    statement,
    upload,
)
from tests.support.actors import add_user
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office, person

RETURN_BOOKED = datetime(2026, 3, 12, 14, 0, tzinfo=ICT)  # ``returned`` lines' booking time
AGAIN = "TRAN VAN THANG X"  # another holder name: a new account row of the same number



async def _bank_returns(office: Office, payout: SentPayout, reason: str = "AC04") -> None:
    headers = await as_bank(office, VIETCOMBANK)
    response = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [returned(payout, reason)])),
                            "s.xml")
    assert response.status_code == 201 and response.json()["returned"] == 1, response.text


async def _rows(office: Office, sql: str, **params) -> list:
    async with session_scope(office.engine) as session:
        return list(await session.execute(text(sql), params))


async def _accounts(office: Office, payout: SentPayout) -> list[tuple[str, str, bool]]:
    return [tuple(r) for r in await _rows(
        office, """SELECT account_number, holder_name, effective_to IS NULL FROM bank_account
                    WHERE beneficiary_id = :b ORDER BY id""", b=payout.beneficiary_id)]


async def _register_again_by_sql(office: Office, payout: SentPayout) -> int:
    """What the registry allowed before blocks were keyed on the number: the same number as a new active row
    (another holder name), the blocked row closed. The new row's id."""
    async with session_scope(office.engine) as session:
        await session.execute(text(f"UPDATE bank_account SET effective_to = {VIETNAM_TODAY_SQL} WHERE id = :id"),
                              {"id": payout.bank_account_id})
        return int(await session.scalar(text(
            """INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, created_by)
               VALUES (:b, :bin, :number, :holder, 'lan.officer') RETURNING id"""),
            {"b": payout.beneficiary_id, "bin": payout.bank_bin, "number": payout.account_number, "holder": AGAIN}))


async def _paid(office: Office, run_id: str) -> dict[str, tuple[str, list[str]]]:
    """Each paid person of a run → (the account number paid into, the months paid)."""
    rows = await _rows(office, """
        SELECT CAST(p.beneficiary_id AS text), p.account_number,
               array_agg(to_char(pm.month, 'YYYY-MM') ORDER BY pm.month)
          FROM payout p JOIN payout_month pm ON pm.payout_id = p.id
         WHERE p.run_id = :run GROUP BY p.beneficiary_id, p.account_number""", run=run_id)
    return {r[0]: (r[1], list(r[2])) for r in rows}


def _names_the_block(detail: str, number: str) -> None:
    """A refusal that says which account, since when, the bank's reason and the two ways on."""
    assert f"Tài khoản Vietcombank {number} bị chặn từ 12/03/2026" in detail
    assert "ngân hàng đã trả lại tiền với mã AC04 (Tài khoản đã đóng)" in detail
    assert "Hãy dùng một tài khoản khác" in detail and "cán bộ gỡ chặn trước" in detail
    assert f"Account Vietcombank {number} has been blocked since 12/03/2026" in detail
    assert "code AC04 (account closed)" in detail and "Use a different account" in detail
    assert "an officer first releases the block" in detail


async def test_an_officer_cannot_register_a_blocked_number_again_under_any_name_or_person(office):
    _, p = await build_world(office, vietcombank=2)
    await _bank_returns(office, p[0])
    await office.be("lan.officer")
    (block_id,) = [r.id for r in await _rows(office, "SELECT id FROM bank_account_block")]
    before = await _accounts(office, p[0])

    url = f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts"
    for holder in (AGAIN, None):  # another holder name (a new row), or the account exactly as registered
        body = {"bank_bin": VIETCOMBANK, "account_number": p[0].account_number}
        if holder:
            body["holder_name"] = holder
        refused = await office.post(url, json=body)
        assert refused.status_code == 409, refused.text
        _names_the_block(refused.json()["detail"], p[0].account_number)
        block = refused.json()["block"]
        assert (block["id"], block["reason"], block["account_number"]) == (block_id, "AC04", p[0].account_number)
        assert block["release_url"] == f"/api/bank-account-blocks/{block_id}/release"
        assert datetime.fromisoformat(block["returned_at"]) == RETURN_BOOKED
    # Someone else cannot take the number either (the block is about the number, not the person).
    other = await office.post(f"/api/beneficiaries/{p[1].beneficiary_id}/bank-accounts",
                              json={"bank_bin": VIETCOMBANK, "account_number": p[0].account_number})
    assert other.status_code == 409 and "bị chặn từ 12/03/2026" in other.json()["detail"]
    # Nor a new person registered with it: nothing of the registration is kept.
    newcomer = await office.post("/api/beneficiaries", json={
        "national_id": citizen_id_for(date(1941, 2, 3), "male", "001", 777001), "full_name": "Trần Văn Thắng",
        "date_of_birth": "1941-02-03", "sex": "male", "commune_code": HANOI_COMMUNE, "address": "Số 3",
        "channel": "bank", "bank_account": {"bank_bin": VIETCOMBANK, "account_number": p[0].account_number}})
    assert newcomer.status_code == 409 and "bị chặn từ 12/03/2026" in newcomer.json()["detail"]
    assert await _rows(office, "SELECT 1 FROM beneficiary WHERE full_name = 'Trần Văn Thắng'") == []
    assert await _accounts(office, p[0]) == before
    assert len(await _rows(office, "SELECT 1 FROM bank_account WHERE account_number = :n",
                           n=p[0].account_number)) == 1
    # The person page keeps showing the block on the active account.
    page = await office.client.get(f"/beneficiaries/{p[0].beneficiary_id}")
    assert 'class="blocked-account"' in page.text
    # A different account is registered as before.
    corrected = await office.post(url, json={"bank_bin": VIETCOMBANK, "account_number": "9704000123456"})
    assert corrected.status_code == 201, corrected.text


async def test_commune_staff_request_and_its_confirmation_of_a_blocked_number_are_refused(office, engine):
    _, p = await build_world(office, vietcombank=2)
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,))
    url = f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts"
    # Filed before the bank returned the money: accepted, waiting for an officer.
    await office.be("xa.hoankiem")
    filed = await office.post(url, json={"bank_bin": VIETCOMBANK, "account_number": p[0].account_number,
                                         "holder_name": AGAIN})
    assert filed.status_code == 202, filed.text
    await _bank_returns(office, p[0])

    await office.be("lan.officer")
    confirm = await office.post(f"/api/bank-account-requests/{filed.json()['id']}/confirm", json={"note": "ok"})
    assert confirm.status_code == 409, confirm.text
    _names_the_block(confirm.json()["detail"], p[0].account_number)
    assert [r.status for r in await _rows(office, "SELECT status FROM bank_account_request")] == ["pending"]
    assert len(await _accounts(office, p[0])) == 1
    rejected = await office.post(f"/api/bank-account-requests/{filed.json()['id']}/reject",
                                 json={"note": "tài khoản đã đóng"})
    assert rejected.status_code == 200, rejected.text

    # Filed after: refused at once, the number masked for commune staff as everywhere else.
    await office.be("xa.hoankiem")
    again = await office.post(url, json={"bank_bin": VIETCOMBANK, "account_number": p[0].account_number,
                                         "holder_name": AGAIN})
    assert again.status_code == 409, again.text
    masked = "*" * (len(p[0].account_number) - 4) + p[0].account_number[-4:]
    assert f"Tài khoản Vietcombank {masked} bị chặn từ 12/03/2026" in again.json()["detail"]
    assert p[0].account_number not in again.text and again.json()["block"]["account_number"] == masked
    assert "Hãy dùng một tài khoản khác" in again.json()["detail"]
    assert len(await _rows(office, "SELECT 1 FROM bank_account_request")) == 1
    # Another account is requested as before.
    other = await office.post(url, json={"bank_bin": VIETCOMBANK, "account_number": "9704000654321"})
    assert other.status_code == 202, other.text


async def test_a_number_registered_again_before_the_fix_is_held_by_compute_and_refused_for_reissue(office):
    _, p = await build_world(office, vietcombank=3)
    await _bank_returns(office, p[0])
    new_row = await _register_again_by_sql(office, p[0])

    # The person page shows the block on the active row (the same number), not only on the old one.
    await office.be("lan.officer")
    page = await office.client.get(f"/beneficiaries/{p[0].beneficiary_id}")
    assert page.text.count('class="blocked-account"') == 1 and "Tài khoản ngân hàng đang bị chặn" in page.text

    (line,) = (await office.client.get("/api/reconciliation/exceptions")).json()["items"]
    reissue = await office.post(f"/api/reconciliation/exceptions/{line['id']}/resolve",
                                json={"action": "reissue", "bank_account_id": new_row})
    assert reissue.status_code == 409, reissue.text
    _names_the_block(reissue.json()["detail"], p[0].account_number)
    assert await _rows(office, "SELECT 1 FROM payout_reissue") == []
    # The queue page does not offer a reissue into it either.
    queue = await office.client.get("/reconciliation/exceptions")
    assert queue.status_code == 200 and 'value="reissue"' not in queue.text

    # The run holds the person: nothing is paid into the closed account, the month stays owed.
    april = await office.compute("2026-04")
    assert [(h["beneficiary_id"], h["reason"], h["return_reason"]) for h in april["held"]] == [
        (str(p[0].beneficiary_id), "bank_account_unusable", "AC04")]
    assert datetime.fromisoformat(april["held"][0]["since"]) == RETURN_BOOKED
    paid = await _paid(office, april["id"])
    assert str(p[0].beneficiary_id) not in paid and len(paid) == 2
    assert await _rows(office, "SELECT 1 FROM payout WHERE account_number = :n AND run_id = :run",
                       n=p[0].account_number, run=april["id"]) == []


async def test_a_block_recorded_after_compute_withholds_a_payout_to_another_row_of_the_number(office):
    _, p = await build_world(office, vietcombank=2)
    await _register_again_by_sql(office, p[0])  # April goes to the new row, March went to the old one
    april = await office.compute("2026-04")
    assert april["count"] == 2 and april["held_count"] == 0
    await _bank_returns(office, p[0])  # March's return blocks the old row's number

    await office.be("minh.approver")
    approved = await office.post(f"/api/payout-runs/{april['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["by_status"] == {"scheduled": 1, "cancelled": 1}
    (withheld,) = approved.json()["withheld"]
    assert (withheld["beneficiary_id"], withheld["reason"]) == (str(p[0].beneficiary_id), "bank_account_unusable")


async def test_only_an_officer_releases_a_block_with_a_reason_and_then_the_number_is_paid_again(office, engine):
    _, p = await build_world(office, vietcombank=2)
    await _bank_returns(office, p[0])
    new_row = await _register_again_by_sql(office, p[0])
    async with session_scope(engine) as session:  # the new row was blocked too, before the fix
        await session.execute(text(
            """INSERT INTO bank_account_block (bank_account_id, reason, returned_at)
               VALUES (:row, 'AC04', :at)"""), {"row": new_row, "at": datetime(2026, 3, 20, 9, 0, tzinfo=ICT)})
    blocks = [r.id for r in await _rows(office, "SELECT id FROM bank_account_block ORDER BY id")]
    april = await office.compute("2026-04")
    assert april["held_count"] == 1

    listed = await office.client.get("/api/bank-account-blocks", params={"beneficiary_id": str(p[0].beneficiary_id)})
    assert listed.status_code == 200 and listed.json()["total"] == 2
    first = listed.json()["items"][0]
    assert (first["id"], first["status"], first["reason"], first["account_number"]) == (
        blocks[0], "open", "AC04", p[0].account_number)
    assert first["reason_message"] == "AC04: Tài khoản đã đóng / AC04: account closed"
    assert (await office.client.get("/api/bank-account-blocks", params={"status": "gone"})).status_code == 422

    url = f"/api/bank-account-blocks/{blocks[0]}/release"
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,))
    for who in ("xa.hoankiem", "thu.auditor", "minh.approver"):
        await office.be(who)
        assert (await office.post(url, json={"reason": "ngân hàng xác nhận"})).status_code == 403
    await office.be("thu.auditor")
    assert (await office.client.get("/api/bank-account-blocks")).json()["total"] == 2  # auditors read
    await office.be("lan.officer")
    for reason in (None, "  ", "ok"):
        no_reason = await office.post(url, json={} if reason is None else {"reason": reason})
        assert no_reason.status_code == 422, no_reason.text
        assert "Cần ghi lý do gỡ chặn" in no_reason.json()["detail"]
        assert no_reason.json()["errors"][0]["column"] == "reason"
    assert (await office.post("/api/bank-account-blocks/999999/release", json={"reason": "xyz"})).status_code == 404
    assert len(await _rows(office, "SELECT 1 FROM bank_account_block WHERE released_at IS NULL")) == 2

    released = await office.post(url, json={"reason": "BIDV xác nhận ngày 20/04 tài khoản đã mở lại"})
    assert released.status_code == 200, released.text
    assert (released.json()["status"], released.json()["released_by"], released.json()["release_note"]) == (
        "released", "lan.officer", "BIDV xác nhận ngày 20/04 tài khoản đã mở lại")
    # Every open block of the number goes: the number is usable again, whichever row it is on.
    assert await _rows(office, "SELECT 1 FROM bank_account_block WHERE released_at IS NULL") == []
    (audit,) = await _rows(office, """SELECT actor, actor_role, object_id, before, after FROM audit_log
                                       WHERE action = 'bank_account_block.release'""")
    assert (audit.actor, audit.actor_role, audit.object_id) == ("lan.officer", "officer", str(blocks[0]))
    assert audit.after["note"] == "BIDV xác nhận ngày 20/04 tài khoản đã mở lại"
    assert [b["id"] for b in audit.after["blocks_released"]] == blocks
    assert audit.before["reason"] == "AC04"
    twice = await office.post(url, json={"reason": "lần hai"})
    assert twice.status_code == 409 and "đã được gỡ bởi lan.officer" in twice.json()["detail"]

    # The returned March may now go to the same number again, and April is paid into it.
    (line,) = (await office.client.get("/api/reconciliation/exceptions")).json()["items"]
    reissued = await office.post(f"/api/reconciliation/exceptions/{line['id']}/resolve",
                                 json={"action": "reissue", "bank_account_id": new_row, "note": "TK mở lại"})
    assert reissued.status_code == 200, reissued.text
    again = await office.compute("2026-04", april["id"])
    assert again["held_count"] == 0
    assert (await _paid(office, april["id"]))[str(p[0].beneficiary_id)] == (p[0].account_number,
                                                                           ["2026-03", "2026-04"])
    # And the number may be registered again.
    same = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts",
                             json={"bank_bin": VIETCOMBANK, "account_number": p[0].account_number,
                                   "holder_name": "TRAN VAN THANG"})
    assert same.status_code == 201, same.text


async def test_a_deceased_report_is_released_by_dismissing_it_not_as_a_block(office):
    _, p = await build_world(office, vietcombank=2)
    await _bank_returns(office, p[0], "MD07")
    await office.be("lan.officer")
    (block,) = (await office.client.get("/api/bank-account-blocks")).json()["items"]
    refused = await office.post(f"/api/bank-account-blocks/{block['id']}/release", json={"reason": "còn sống"})
    assert refused.status_code == 409 and "hàng đợi ngoại lệ" in refused.json()["detail"]
    assert "dismiss the report" in refused.json()["detail"]
    (flag,) = (await office.client.get("/api/reconciliation/flags")).json()["items"]
    dismissed = await office.post(f"/api/reconciliation/flags/{flag['id']}/dismiss",
                                  json={"reason": "Cán bộ xã gặp trực tiếp"})
    assert dismissed.status_code == 200
    (after,) = (await office.client.get("/api/bank-account-blocks", params={"status": "released"})).json()["items"]
    assert (after["id"], after["release_note"]) == (block["id"], "Cán bộ xã gặp trực tiếp")


async def test_the_import_refuses_a_blocked_number_but_not_a_row_that_changes_nothing(office):
    faker = BeneficiaryFaker(seed=11)  # build_world's people, the same seed
    made = [person(faker, bank=VIETCOMBANK) for _ in range(2)]
    _, p = await build_world(office, vietcombank=2)
    people = sorted(made, key=lambda one: one.account_number != p[0].account_number)  # p[0]'s person first
    assert people[0].account_number == p[0].account_number
    await _bank_returns(office, p[0])
    await office.be("lan.officer")

    def upload_of(rows):
        return office.post("/api/beneficiaries/import",
                           files={"file": ("ds.csv", import_file_bytes(rows, kind="csv"), "text/csv")})

    unchanged = await upload_of([people[0]])
    assert unchanged.status_code == 200 and unchanged.json()["unchanged"] == 1, unchanged.text
    renamed = await upload_of([dataclasses.replace(people[0], holder_name=AGAIN)])
    assert renamed.status_code == 422, renamed.text
    (error,) = renamed.json()["errors"]
    assert error["row"] == 2 and error["column"] == "Số tài khoản"
    assert f"Số tài khoản {p[0].account_number} bị chặn từ 12/03/2026" in error["message"]
    assert "mã AC04 (Tài khoản đã đóng)" in error["message"] and "tài khoản khác" in error["message"]
    assert "has been blocked since 12/03/2026" in error["message_en"]
    moved = await upload_of([dataclasses.replace(people[1], account_number=p[0].account_number)])
    assert moved.status_code == 422 and "bị chặn từ" in moved.json()["errors"][0]["message"]
    assert len(await _accounts(office, p[0])) == 1
