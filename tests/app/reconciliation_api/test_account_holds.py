"""A return whose reason says the account cannot receive money blocks the account; runs hold its holder (and
anyone a bank reported deceased) until an officer fixes the cause, then pay the held months once."""

from __future__ import annotations

from datetime import datetime

import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from app.database import session_scope
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import (
    ICT,
    SentPayout,
    as_bank,
    build_world,
    ledger_clean,
    returned,
    statement,
    upload,
)
from tests.support.world import VIETCOMBANK, Office

RETURN_BOOKED = datetime(2026, 3, 12, 14, 0, tzinfo=ICT)  # ``returned`` lines' booking time



async def _bank_returns(office: Office, *returns: tuple[SentPayout, str | None]) -> None:
    headers = await as_bank(office, VIETCOMBANK)
    lines = [returned(payout, reason) for payout, reason in returns]
    response = await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "s.xml")
    assert response.status_code == 201 and response.json()["returned"] == len(returns), response.text


async def _blocks(office: Office) -> list:
    async with session_scope(office.engine) as session:
        return list(await session.execute(text(
            """SELECT k.bank_account_id, k.reason, k.payout_id, k.returned_at, k.released_at, k.released_by,
                      k.release_note, l.line_no, l.return_reason AS line_reason
                 FROM bank_account_block k LEFT JOIN statement_line l ON l.id = k.line_id ORDER BY k.id""")))


async def _paid_months(office: Office, run_id: str) -> dict[str, list[str]]:
    """Each paid person of a run → the months their payout pays."""
    async with session_scope(office.engine) as session:
        rows = await session.execute(text(
            """SELECT CAST(p.beneficiary_id AS text) AS person, array_agg(to_char(pm.month, 'YYYY-MM') ORDER BY pm.month)
                 FROM payout p JOIN payout_month pm ON pm.payout_id = p.id
                WHERE p.run_id = :run GROUP BY p.beneficiary_id"""), {"run": run_id})
        return {r[0]: list(r[1]) for r in rows}


def _section(html: str, heading_id: str) -> str:
    """A section of the run page, from its heading to the end of the section."""
    return html.split(f'id="{heading_id}"')[1].split("</section>")[0]


async def test_a_held_person_is_listed_once_among_the_held_and_not_among_the_people_not_paid(office):
    _, p = await build_world(office, vietcombank=3)
    await _bank_returns(office, (p[0], "AC04"))
    async with session_scope(office.engine) as session:  # p[2]'s account is found under another holder name
        await session.execute(text("UPDATE bank_account SET verification_status = 'name_mismatch' WHERE id = :id"),
                              {"id": p[2].bank_account_id})
        names = dict((str(r[0]), r[1]) for r in await session.execute(text(
            "SELECT id, full_name FROM beneficiary WHERE id = ANY(:ids)"),
            {"ids": [p[0].beneficiary_id, p[2].beneficiary_id]}))
    held_name, skipped_name = names[str(p[0].beneficiary_id)], names[str(p[2].beneficiary_id)]

    april = await office.compute("2026-04")
    # The run: the held person among the held, the name mismatch among the skipped; neither in both.
    assert [h["beneficiary_id"] for h in april["held"]] == [str(p[0].beneficiary_id)] and april["held_count"] == 1
    assert [s["beneficiary_id"] for s in april["skipped"]] == [str(p[2].beneficiary_id)]
    assert april["skipped_count"] == 1
    unpaid = (await office.client.get(f"/api/payout-runs/{april['id']}/unpaid")).json()
    assert sorted((i["kind"], i["beneficiary_id"]) for i in unpaid["items"]) == sorted(
        [("held", str(p[0].beneficiary_id)), ("skipped", str(p[2].beneficiary_id))])
    # The page: each once, in its own list, with its own count.
    page = await office.client.get(f"/payout-runs/{april['id']}")
    assert page.status_code == 200
    assert page.text.count(held_name) == 1 and page.text.count(skipped_name) == 1
    held, skipped = _section(page.text, "held-heading"), _section(page.text, "skipped-heading")
    assert "Tạm giữ, chờ cán bộ xử lý (1 người)" in held and held_name in held and skipped_name not in held
    assert "Không chi (1 người)" in skipped and skipped_name in skipped and held_name not in skipped
    assert "Tên chủ tài khoản không khớp" in skipped and "AC04" not in skipped


async def test_an_ac04_return_blocks_the_account_and_runs_hold_the_person_until_a_corrected_account(office):
    _, p = await build_world(office, vietcombank=3)
    await _bank_returns(office, (p[0], "AC04"), (p[1], "AM04"))

    # The closed account is blocked, with the bank's reason, the payout, the statement line and its time;
    # the account itself stays as it was (active, its history untouched).
    (block,) = await _blocks(office)
    assert (block.bank_account_id, block.reason, block.payout_id) == (p[0].bank_account_id, "AC04", p[0].id)
    assert (block.line_no, block.line_reason, block.returned_at) == (1, "AC04", RETURN_BOOKED)
    assert block.released_at is None
    async with session_scope(office.engine) as session:
        account = (await session.execute(text(
            "SELECT effective_to, verification_status FROM bank_account WHERE id = :id"),
            {"id": p[0].bank_account_id})).one()
        assert (account.effective_to, account.verification_status) == (None, "unverified")
        with pytest.raises(DBAPIError, match="DELETE refused"):
            async with session.begin_nested():
                await session.execute(text("DELETE FROM bank_account_block"))
        with pytest.raises(DBAPIError, match="immutable"):
            async with session.begin_nested():
                await session.execute(text("UPDATE bank_account_block SET reason = 'AM04'"))

    # April: the person with the closed account is held (not paid, listed with why and since when); the
    # insufficient-funds return (AM04) blocks nothing, so that person is paid.
    april = await office.compute("2026-04")
    assert april["held_count"] == 1
    (held,) = april["held"]
    assert (held["beneficiary_id"], held["reason"], held["return_reason"]) == (
        str(p[0].beneficiary_id), "bank_account_unusable", "AC04")
    assert held["message"].startswith("Ngân hàng hoàn trả vì tài khoản không nhận được tiền")
    assert "AC04: Tài khoản đã đóng" in held["message"] and "(AC04: account closed)" in held["message"]
    assert datetime.fromisoformat(held["since"]) == RETURN_BOOKED
    assert held["commune_code"] and held["commune_name"] and held["full_name"] and held["amount"] > 0
    assert april["count"] == 2
    assert await _paid_months(office, april["id"]) == {str(p[1].beneficiary_id): ["2026-04"],
                                                       str(p[2].beneficiary_id): ["2026-04"]}
    detail = await office.client.get(f"/api/payout-runs/{april['id']}")
    assert (detail.json()["held_count"], detail.json()["held"]) == (1, april["held"])
    page = await office.client.get(f"/payout-runs/{april['id']}")
    assert page.status_code == 200 and "Tạm giữ, chờ cán bộ xử lý (1 người)" in page.text
    assert "AC04: Tài khoản đã đóng" in page.text
    await office.approve_and_send(april["id"])

    # The officer registers the corrected account: May pays April and May once, and holds no one.
    corrected = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts",
                                  json={"bank_bin": VIETCOMBANK, "account_number": "9704000123456"})
    assert corrected.status_code == 201, corrected.text
    may = await office.compute("2026-05")
    assert (may["held_count"], may["held"]) == (0, [])
    paid = await _paid_months(office, may["id"])
    assert paid[str(p[0].beneficiary_id)] == ["2026-04", "2026-05"]
    assert paid[str(p[1].beneficiary_id)] == paid[str(p[2].beneficiary_id)] == ["2026-05"]
    async with session_scope(office.engine) as session:
        payout = (await session.execute(text(
            "SELECT account_number, bank_account_id FROM payout WHERE run_id = :run AND beneficiary_id = :b"),
            {"run": may["id"], "b": p[0].beneficiary_id})).one()
    assert (payout.account_number, payout.bank_account_id) == ("9704000123456", corrected.json()["id"])
    await office.approve_and_send(may["id"])
    # ... exactly once: June pays June only.
    june = await office.compute("2026-06")
    assert (await _paid_months(office, june["id"]))[str(p[0].beneficiary_id)] == ["2026-06"]
    # The block stays on the old account as history.
    (still,) = await _blocks(office)
    assert (still.bank_account_id, still.released_at) == (p[0].bank_account_id, None)


async def test_an_open_md07_flag_holds_the_person_and_dismissing_it_releases_them(office, engine):
    _, p = await build_world(office, vietcombank=2)
    await _bank_returns(office, (p[0], "MD07"))
    (block,) = await _blocks(office)
    assert (block.bank_account_id, block.reason) == (p[0].bank_account_id, "MD07")
    await office.be("lan.officer")
    (flag,) = (await office.client.get("/api/reconciliation/flags")).json()["items"]

    # A corrected account does not release someone the bank reported deceased: the flag still holds them.
    corrected = await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts",
                                  json={"bank_bin": VIETCOMBANK, "account_number": "9704000765432"})
    assert corrected.status_code == 201, corrected.text
    april = await office.compute("2026-04")
    (held,) = april["held"]
    assert (april["held_count"], held["beneficiary_id"], held["reason"], held["return_reason"]) == (
        1, str(p[0].beneficiary_id), "deceased_reported", "MD07")
    assert held["message"].startswith("Ngân hàng báo người hưởng đã mất (MD07)")
    assert "the bank reports the person deceased" in held["message"]
    assert held["since"] == flag["raised_at"]
    assert list(await _paid_months(office, april["id"])) == [str(p[1].beneficiary_id)]

    # The officer checks, the person is alive: dismissing the flag releases them (and the MD07 block).
    dismissed = await office.post(f"/api/reconciliation/flags/{flag['id']}/dismiss",
                                  json={"reason": "Cán bộ xã gặp trực tiếp, người hưởng còn sống"})
    assert dismissed.status_code == 200, dismissed.text
    (released,) = await _blocks(office)
    assert (released.released_by, released.release_note) == ("lan.officer",
                                                             "Cán bộ xã gặp trực tiếp, người hưởng còn sống")
    assert released.released_at is not None
    again = await office.compute("2026-04", april["id"])
    assert (again["held_count"], again["held"], again["skipped"]) == (0, [], [])
    assert await _paid_months(office, april["id"]) == {str(p[0].beneficiary_id): ["2026-04"],
                                                       str(p[1].beneficiary_id): ["2026-04"]}


async def test_an_open_md07_flag_holds_even_when_the_account_is_not_blocked(office):
    # A flag without a block on the current account (the bank reported the death of a person whose payout
    # went to an account replaced since) still holds them; the account check alone would pay them.
    _, p = await build_world(office, vietcombank=2)
    await office.post(f"/api/beneficiaries/{p[0].beneficiary_id}/bank-accounts",
                      json={"bank_bin": VIETCOMBANK, "account_number": "9704000111222"})
    async with session_scope(office.engine) as session:
        await session.execute(text(
            "INSERT INTO beneficiary_flag (beneficiary_id, kind, payout_id) VALUES (:b, 'deceased_reported_by_bank', :p)"),
            {"b": p[0].beneficiary_id, "p": p[0].id})
    april = await office.compute("2026-04")
    assert [(h["beneficiary_id"], h["reason"]) for h in april["held"]] == [(str(p[0].beneficiary_id),
                                                                           "deceased_reported")]


async def test_a_return_with_another_code_or_none_blocks_nothing(office):
    _, p = await build_world(office, vietcombank=3)
    await _bank_returns(office, (p[0], "AM04"), (p[1], None), (p[2], "AC04"))
    assert [(b.bank_account_id, b.reason) for b in await _blocks(office)] == [(p[2].bank_account_id, "AC04")]
    april = await office.compute("2026-04")
    assert [h["beneficiary_id"] for h in april["held"]] == [str(p[2].beneficiary_id)]
    assert set(await _paid_months(office, april["id"])) == {str(p[0].beneficiary_id), str(p[1].beneficiary_id)}



@pytest.mark.parametrize(("code", "reason", "words"), [
    ("AC04", "bank_account_unusable", ("tài khoản không nhận được tiền", "cannot receive money")),
    ("MD07", "deceased_reported", ("đã mất (MD07)", "deceased (MD07)")),
])
async def test_a_return_imported_after_compute_withholds_the_persons_payout_at_approval(office, code, reason, words):
    # March was sent; April is computed before the bank returns March's payout of p[0]: approval withholds
    # p[0]'s April payout (months released, held by the next compute) and approves the others.
    _, p = await build_world(office, vietcombank=3)
    april = await office.compute("2026-04")
    assert april["held_count"] == 0 and april["count"] == 3
    await _bank_returns(office, (p[0], code))

    await office.be("minh.approver")
    approved = await office.post(f"/api/payout-runs/{april['id']}/approve")
    assert approved.status_code == 200, approved.text
    body = approved.json()
    assert body["status"] == "approved" and body["by_status"] == {"scheduled": 2, "cancelled": 1}
    (item,) = body["withheld"]
    assert (item["beneficiary_id"], item["reason"]) == (str(p[0].beneficiary_id), reason)
    assert words[0] in item["reason_vi"] and words[1] in item["reason_en"]
    async with session_scope(office.engine) as session:
        audit = await session.scalar(text(
            "SELECT after FROM audit_log WHERE action = 'payout_run.withhold' AND object_id = :run"),
            {"run": april["id"]})
        (logged,) = audit["withheld"]
        assert (logged["reason"], logged["months_not_owed"]) == (reason, ["2026-04"])
        assert "giữ lại tháng" in logged["reason_vi"] and "held until an officer" in logged["reason_en"]
        rows = {r.beneficiary_id: r for r in await session.execute(text(
            """SELECT p.beneficiary_id, p.status, p.return_reason,
                      (SELECT count(*) FROM payout_month pm WHERE pm.payout_id = p.id AND pm.released_at IS NULL)
                          AS unreleased
                 FROM payout p WHERE p.run_id = :run"""), {"run": april["id"]})}
    assert (rows[p[0].beneficiary_id].status, rows[p[0].beneficiary_id].return_reason) == (
        "cancelled", f"withheld:{reason}")
    assert rows[p[0].beneficiary_id].unreleased == 0
    assert {rows[q.beneficiary_id].status for q in p[1:]} == {"scheduled"}
    await office.be("lan.officer")
    sent = await office.post(f"/api/payout-runs/{april['id']}/send")
    assert sent.status_code == 200 and sent.json()["by_status"] == {"sent": 2, "cancelled": 1}, sent.text
    await ledger_clean(office)

    # May holds the person while the block (or flag) is open: April stays owed, not paid twice nor lost.
    may = await office.compute("2026-05")
    assert [(h["beneficiary_id"], h["reason"]) for h in may["held"]] == [(str(p[0].beneficiary_id), reason)]
    assert str(p[0].beneficiary_id) not in await _paid_months(office, may["id"])
