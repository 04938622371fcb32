"""The exceptions queue: manual match, bank fee, ignore with a reason, and reissue of a returned payout."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.database import make_sessionmaker, session_scope
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import (
    as_bank,
    build_world,
    debit,
    ledger_clean,
    other_line,
    payout_states,
    returned,
    statement,
    upload,
)
from tests.support.ledger import totals
from tests.support.world import VIETCOMBANK, Office


async def _queue(office: Office, status: str = "open") -> list[dict]:
    await office.be("lan.officer")
    response = await office.client.get("/api/reconciliation/exceptions", params={"status": status})
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _resolve(office: Office, line_id: int, **body) -> object:
    await office.be("lan.officer")
    return await office.post(f"/api/reconciliation/exceptions/{line_id}/resolve", json=body)


async def test_manual_match_bank_fee_and_ignore_are_applied_once_and_audited(office, engine):
    _, p = await build_world(office, vietcombank=3)
    lines = [debit(p[0]),
             debit(p[1], end_to_end_ref=None, description="chi luong", counterparty_account=None),  # no clue
             other_line(VIETCOMBANK, -11_000, description="Phi dich vu SMS"),
             other_line(VIETCOMBANK, -77_000)]
    headers = await as_bank(office, VIETCOMBANK)
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "s.xml")).status_code == 201
    queue = await _queue(office)
    by_amount = {item["amount"]: item["id"] for item in queue}
    assert sorted(by_amount) == [-p[1].amount, -77_000, -11_000]

    wrong = await _resolve(office, by_amount[-p[1].amount], action="manual_match", payout_id=str(p[0].id))
    assert wrong.status_code == 409 and "credited" in wrong.json()["detail"]  # p0 was credited by its reference
    mismatch = await _resolve(office, by_amount[-77_000], action="manual_match", payout_id=str(p[2].id))
    assert mismatch.status_code == 409 and "khác số tiền" in mismatch.json()["detail"]
    matched = await _resolve(office, by_amount[-p[1].amount], action="manual_match", payout_id=str(p[1].id),
                             note="đối chiếu theo số tài khoản")
    assert matched.status_code == 200, matched.text
    assert (matched.json()["status"], matched.json()["rule"]) == ("matched", "manual_match")
    assert (await payout_states(office))[p[1].reference] == ("credited", None)
    twice = await _resolve(office, by_amount[-p[1].amount], action="manual_match", payout_id=str(p[1].id))
    assert twice.status_code == 409 and "đã được xử lý" in twice.json()["detail"]

    fee = await _resolve(office, by_amount[-11_000], action="bank_fee", note="phí SMS")
    assert fee.status_code == 200 and fee.json()["status"] == "fee"
    no_reason = await _resolve(office, by_amount[-77_000], action="ignore")
    assert no_reason.status_code == 422 and "lý do" in no_reason.json()["detail"]
    ignored = await _resolve(office, by_amount[-77_000], action="ignore", reason="giao dịch của đơn vị khác")
    assert ignored.status_code == 200 and ignored.json()["status"] == "ignored"
    assert await _queue(office) == []
    assert len(await _queue(office, "resolved")) == 3

    async with session_scope(engine) as session:
        assert await totals(session, f"expense:bank_fee:{VIETCOMBANK}") == (11_000, 0, 0, 0)
        actions = [r[0] for r in await session.execute(text(
            "SELECT action FROM audit_log WHERE action LIKE 'reconciliation.%' ORDER BY id"))]
        assert actions == ["reconciliation.manual_match", "reconciliation.bank_fee", "reconciliation.ignore"]
        # the database itself refuses a second credit of a payout, whatever Python says
        line_id = by_amount[-77_000]
        with pytest.raises(IntegrityError):
            async with session.begin_nested():
                await session.execute(text(
                    """INSERT INTO statement_match (payout_id, effect, line_id, rule, transfer_id)
                       VALUES (:p, 'credit', :l, 'manual_match', gen_random_uuid())"""), {"p": p[0].id, "l": line_id})
        with pytest.raises(DBAPIError, match="immutable"):
            async with session.begin_nested():
                await session.execute(text("UPDATE statement_line SET amount = 1 WHERE id = :l"), {"l": line_id})
    await ledger_clean(office)


async def test_reissue_pays_the_returned_month_once_to_the_corrected_account(office, engine):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    response = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [debit(p[0]), returned(p[1])])),
                            "s.xml")
    assert response.status_code == 201 and response.json()["returned"] == 1
    (line,) = [item for item in await _queue(office) if item["status"] == "returned"]
    assert line["payouts"][0]["reference"] == p[1].reference

    same = await _resolve(office, line["id"], action="reissue", bank_account_id=p[1].bank_account_id)
    # The account the bank returned it from is blocked (AC04): refused, naming the block and the way on.
    assert same.status_code == 409 and "bị chặn từ 12/03/2026" in same.json()["detail"]
    assert "Hãy dùng một tài khoản khác" in same.json()["detail"] and same.json()["block"]["reason"] == "AC04"
    new_account = await office.post(f"/api/beneficiaries/{p[1].beneficiary_id}/bank-accounts",
                                    json={"bank_bin": VIETCOMBANK, "account_number": "9704361234567"})
    assert new_account.status_code == 201, new_account.text
    account_id = new_account.json()["id"]
    someone_else = await _resolve(office, line["id"], action="reissue", bank_account_id=p[0].bank_account_id)
    assert someone_else.status_code == 422
    reissued = await _resolve(office, line["id"], action="reissue", bank_account_id=account_id, note="sửa số TK")
    assert reissued.status_code == 200, reissued.text
    assert reissued.json()["resolution"] == "reissue"
    again = await _resolve(office, line["id"], action="reissue", bank_account_id=account_id)
    assert again.status_code == 409

    april = await office.run_cycle("2026-04")
    assert april["count"] == 2
    async with session_scope(engine) as session:
        new = (await session.execute(text(
            """SELECT p.id, p.account_number, p.amount, p.reissue_of,
                      array_agg(to_char(m.month, 'YYYY-MM') ORDER BY m.month) AS months
                 FROM payout p JOIN payout_month m ON m.payout_id = p.id
                WHERE p.beneficiary_id = :b AND p.run_id <> :old GROUP BY p.id"""),
            {"b": p[1].beneficiary_id, "old": p[1].run_id})).one()
        assert new.reissue_of == p[1].id and new.account_number == "9704361234567"
        assert new.months == ["2026-03", "2026-04"] and new.amount == 2 * p[1].amount
        twice = await session.scalar(text(
            """SELECT count(*) FROM (SELECT enrolment_id, month FROM payout_month WHERE released_at IS NULL
                                      GROUP BY 1, 2 HAVING count(*) > 1) t"""))
        assert twice == 0
        paid_march = await session.scalar(text(
            """SELECT count(*) FROM payout_month m JOIN payout p ON p.id = m.payout_id
                WHERE m.beneficiary_id = :b AND m.month = '2026-03-01' AND m.released_at IS NULL
                  AND p.status <> 'returned'"""), {"b": p[1].beneficiary_id})
        assert paid_march == 1
        # the entitlement is recognised once per month paid: expense equals the unreleased months
        unreleased = await session.scalar(text("SELECT sum(amount) FROM payout_month WHERE released_at IS NULL"))
        debits, credits, _, _ = await totals(session, "expense:TGXH")
        assert debits - credits == unreleased
    await ledger_clean(office)
    # the reissued payout is credited by the next statement like any other
    april_payout = next(x for x in await _sent(office) if x.beneficiary_id == p[1].beneficiary_id)
    later = statement(VIETCOMBANK, [debit(april_payout)], statement_id="SK202604/1")
    headers = await as_bank(office, VIETCOMBANK)
    assert (await upload(office, headers, write_camt053(later), "t.xml")).status_code == 201
    assert (await payout_states(office))[april_payout.reference] == ("credited", None)
    await ledger_clean(office)


async def _sent(office: Office):
    from tests.app.reconciliation_api.world import sent_payouts

    return await sent_payouts(office)


async def _ledger_snapshot(session) -> tuple[int, dict[str, tuple[int, int, int, int]]]:
    """How many transfers there are, and every account's four totals."""
    count = int(await session.scalar(text("SELECT count(*) FROM ledger_transfer")) or 0)
    rows = await session.execute(text(
        "SELECT code, debits_posted, credits_posted, debits_pending, credits_pending FROM ledger_account"))
    return count, {r.code: (r.debits_posted, r.credits_posted, r.debits_pending, r.credits_pending) for r in rows}


@pytest.mark.parametrize("credited_first", [False, True], ids=["returned-while-sent", "returned-after-credit"])
async def test_close_without_reissue_ends_a_return_without_paying_again_or_touching_the_ledger(
        office, engine, credited_first):
    _, p = await build_world(office, vietcombank=2)
    lines = [debit(p[0]), *([debit(p[1])] if credited_first else []), returned(p[1], "MD07"),
             other_line(VIETCOMBANK, -5_000)]
    headers = await as_bank(office, VIETCOMBANK)
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "s.xml")).status_code == 201
    (line,) = [item for item in await _queue(office) if item["status"] == "returned"]
    (unmatched,) = [item for item in await _queue(office) if item["status"] == "exception"]
    async with session_scope(engine) as session:
        before = await _ledger_snapshot(session)
        bank = await totals(session, f"bank:{VIETCOMBANK}:disbursement")
        payable = await totals(session, f"payable:beneficiary:{p[1].beneficiary_id}")
    # where the money stands after the return: back on the bank's account, still owed to the person
    assert bank[0] - bank[1] - bank[3] == 100_000_000 - p[0].amount
    assert payable[1] - payable[0] - payable[2] == p[1].amount

    no_reason = await _resolve(office, line["id"], action="close_without_reissue", note="  ")
    assert no_reason.status_code == 422 and "lý do" in no_reason.json()["detail"]
    not_a_return = await _resolve(office, unmatched["id"], action="close_without_reissue", reason="x")
    assert not_a_return.status_code == 409 and "Chỉ đóng được khoản đã bị hoàn trả" in not_a_return.json()["detail"]
    closed = await _resolve(office, line["id"], action="close_without_reissue",
                            reason="Người hưởng đã mất, UBND xã xác nhận")
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert (body["status"], body["resolution"], body["resolved_by"]) == ("returned", "close_without_reissue",
                                                                         "lan.officer")
    assert body["resolution_note"] == "Người hưởng đã mất, UBND xã xác nhận"
    assert [item["id"] for item in await _queue(office)] == [unmatched["id"]]

    # closed for good: no reissue afterwards, even to a corrected account, by the API or the database
    new_account = await office.post(f"/api/beneficiaries/{p[1].beneficiary_id}/bank-accounts",
                                    json={"bank_bin": VIETCOMBANK, "account_number": "9704361234567"})
    assert new_account.status_code == 201, new_account.text
    reissue = await _resolve(office, line["id"], action="reissue", bank_account_id=new_account.json()["id"])
    assert reissue.status_code == 409 and "đã được xử lý" in reissue.json()["detail"]
    async with session_scope(engine) as session:
        assert await _ledger_snapshot(session) == before  # not one transfer, not one total changed
        closure = (await session.execute(text("SELECT * FROM payout_return_closure"))).one()
        assert (closure.returned_payout_id, closure.line_id, closure.closed_by) == (p[1].id, line["id"], "lan.officer")
        audit = (await session.execute(text(
            "SELECT actor, object_id, after FROM audit_log WHERE action = 'reconciliation.close_without_reissue'"))).one()
        assert (audit.actor, audit.object_id) == ("lan.officer", str(line["id"]))
        assert audit.after["note"] == "Người hưởng đã mất, UBND xã xác nhận"
        assert audit.after["payout_id"] == str(p[1].id) and audit.after["amount"] == p[1].amount
        assert audit.after["money_at"] == f"bank:{VIETCOMBANK}:disbursement"
        with pytest.raises(DBAPIError, match="closed without reissue"):
            async with session.begin_nested():
                await session.execute(text(
                    """INSERT INTO payout_reissue (returned_payout_id, bank_account_id, requested_by)
                       VALUES (:p, :a, 'x')"""), {"p": p[1].id, "a": new_account.json()["id"]})
        with pytest.raises(DBAPIError, match="cannot be paid again"):
            async with session.begin_nested():
                await session.execute(text("UPDATE payout_month SET released_at = now(), released_by = 'x' "
                                           "WHERE payout_id = :p"), {"p": p[1].id})
        with pytest.raises(DBAPIError, match="append-only"):
            async with session.begin_nested():
                await session.execute(text("DELETE FROM payout_return_closure"))

    # The bank's MD07 flag holds the person until an officer resolves it (test_account_holds.py): the death
    # is recorded, in April, so April is still owed.
    died = await office.post(f"/api/beneficiaries/{p[1].beneficiary_id}/events",
                             json={"kind": "deceased", "effective_on": "2026-04-20"})
    assert died.status_code == 201, died.text
    # the next run pays April only: March stays paid by the closed payout, never twice
    april = await office.run_cycle("2026-04")
    assert april["count"] == 2
    async with session_scope(engine) as session:
        months = [r[0] for r in await session.execute(text(
            """SELECT to_char(m.month, 'YYYY-MM') FROM payout_month m JOIN payout p ON p.id = m.payout_id
                WHERE m.beneficiary_id = :b AND p.run_id <> :old ORDER BY 1"""),
            {"b": p[1].beneficiary_id, "old": p[1].run_id})]
        assert months == ["2026-04"]
        assert await session.scalar(text("SELECT count(*) FROM payout WHERE reissue_of IS NOT NULL")) == 0
        unreleased = await session.scalar(text("SELECT sum(amount) FROM payout_month WHERE released_at IS NULL"))
        debits, credits, _, _ = await totals(session, "expense:TGXH")
        assert debits - credits == unreleased
    await ledger_clean(office)


async def test_a_reissued_return_cannot_be_closed(office, engine):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    response = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [returned(p[0])])), "s.xml")
    assert response.status_code == 201
    (line,) = await _queue(office)
    new_account = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts",
                                    json={"bank_bin": VIETCOMBANK, "account_number": "9704361234567"})
    reissued = await _resolve(office, line["id"], action="reissue", bank_account_id=new_account.json()["id"])
    assert reissued.status_code == 200, reissued.text
    close = await _resolve(office, line["id"], action="close_without_reissue", reason="nhầm")
    assert close.status_code == 409 and "đã được xử lý" in close.json()["detail"]
    async with session_scope(engine) as session:
        for payout, refusal in ((p[0], "already reissued"), (p[1], "is not returned")):
            with pytest.raises(DBAPIError, match=refusal):
                async with session.begin_nested():
                    await session.execute(text(
                        """INSERT INTO payout_return_closure (returned_payout_id, reason, closed_by)
                           VALUES (:p, 'x', 'x')"""), {"p": payout.id})
        assert await session.scalar(text("SELECT count(*) FROM payout_return_closure")) == 0


async def test_a_reissue_and_a_closure_at_the_same_moment_leave_exactly_one(office, engine):
    _, p = await build_world(office, vietcombank=1)
    headers = await as_bank(office, VIETCOMBANK)
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, [returned(p[0])])),
                         "s.xml")).status_code == 201
    await office.be("lan.officer")
    account = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts",
                                json={"bank_bin": VIETCOMBANK, "account_number": "9704361234567"})
    assert account.status_code == 201, account.text
    maker = make_sessionmaker(engine)
    async with maker() as closing, maker() as reissuing:
        await closing.execute(text(
            "INSERT INTO payout_return_closure (returned_payout_id, reason, closed_by) VALUES (:p, 'MD07', 'a')"),
            {"p": p[0].id})
        second = asyncio.create_task(reissuing.execute(text(
            "INSERT INTO payout_reissue (returned_payout_id, bank_account_id, requested_by) VALUES (:p, :a, 'b')"),
            {"p": p[0].id, "a": account.json()["id"]}))
        await asyncio.sleep(0.5)
        assert not second.done()  # waits for the payout's row lock
        await closing.commit()
        with pytest.raises(DBAPIError, match="closed without reissue"):
            await asyncio.wait_for(second, timeout=10)
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM payout_reissue")) == 0
        assert await session.scalar(text("SELECT count(*) FROM payout_return_closure")) == 1


async def test_a_withheld_reissue_lets_go_of_its_link_so_the_payout_of_the_released_months_takes_it(office, engine):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    response = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [returned(p[1], "AM04")])),
                            "s.xml")
    assert response.status_code == 201 and response.json()["returned"] == 1
    (line,) = [item for item in await _queue(office) if item["status"] == "returned"]
    new_account = await office.post(f"/api/beneficiaries/{p[1].beneficiary_id}/bank-accounts",
                                    json={"bank_bin": VIETCOMBANK, "account_number": "9704361234567"})
    assert new_account.status_code == 201, new_account.text
    reissued = await _resolve(office, line["id"], action="reissue", bank_account_id=new_account.json()["id"])
    assert reissued.status_code == 200, reissued.text

    async def run(kind: str) -> str:
        await office.be("lan.officer")
        created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-04", "kind": kind})
        assert created.status_code == 201, created.text
        computed = await office.post(f"/api/payout-runs/{created.json()['id']}/compute")
        assert computed.status_code == 200, computed.text
        return created.json()["id"]

    async def reissue_of(run_id: str) -> tuple[str, object]:
        async with session_scope(engine) as session:
            row = (await session.execute(text(
                "SELECT status, reissue_of FROM payout WHERE run_id = :run AND beneficiary_id = :b"),
                {"run": run_id, "b": p[1].beneficiary_id})).one()
            return row.status, row.reissue_of

    # April's payout pays March again (the reissue) and April; a suspension from April recorded after compute
    # withholds it, and it lets go of the returned payout.
    april = await run("regular")
    assert await reissue_of(april) == ("scheduled", p[1].id)
    suspended = await office.post(f"/api/beneficiaries/{p[1].beneficiary_id}/events",
                                  json={"kind": "suspended", "effective_on": "2026-04-01", "reason": "Kiểm tra lại"})
    assert suspended.status_code == 201, suspended.text
    await office.be("minh.approver")
    approved = await office.post(f"/api/payout-runs/{april}/approve")
    assert approved.status_code == 200 and approved.json()["withheld_count"] == 1, approved.text
    assert await reissue_of(april) == ("cancelled", None)
    await office.be("lan.officer")
    assert (await office.post(f"/api/payout-runs/{april}/send")).status_code == 200

    # The supplementary run pays March, still owed, and is the reissue of the returned payout.
    supplementary = await run("supplementary")
    assert await reissue_of(supplementary) == ("scheduled", p[1].id)
    await ledger_clean(office)
