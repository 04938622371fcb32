"""GET /api/ledger/verify and GET /api/ledger/accounts/{code} through the real app."""

from __future__ import annotations

from datetime import UTC, datetime
from uuid import uuid4

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from ledger import AccountSpec, AccountType, Transfer, TransferKind, create_transfers, ensure_accounts
from tests.support.actors import add_user, sign_in


async def _payout_history(engine):
    """Budget reaches the bank, a run is approved, the order is sent and half of it settles."""
    async with session_scope(engine) as session:
        ids = await ensure_accounts(session, [
            AccountSpec(code="funding:P", type=AccountType.equity),
            AccountSpec(code="bank:970436:disbursement", type=AccountType.asset, credits_must_not_exceed_debits=True),
            AccountSpec(code="expense:P", type=AccountType.expense),
            AccountSpec(code="payable:beneficiary:b1", type=AccountType.liability),
        ])
        pending = uuid4()
        results = await create_transfers(session, [
            Transfer(id=uuid4(), debit_account_id=ids["bank:970436:disbursement"], credit_account_id=ids["funding:P"],
                     amount=10_000_000, code="budget", event_at=datetime(2026, 1, 2, tzinfo=UTC)),
            Transfer(id=uuid4(), debit_account_id=ids["expense:P"], credit_account_id=ids["payable:beneficiary:b1"],
                     amount=750_000, code="payout.approve", reference="AS2601B1",
                     event_at=datetime(2026, 1, 10, tzinfo=UTC)),
            Transfer(id=pending, kind=TransferKind.pending, debit_account_id=ids["payable:beneficiary:b1"],
                     credit_account_id=ids["bank:970436:disbursement"], amount=750_000, code="payout.send",
                     reference="AS2601B1", event_at=datetime(2026, 1, 11, tzinfo=UTC)),
            Transfer(id=uuid4(), kind=TransferKind.post, pending_id=pending, code="statement.credit",
                     metadata={"statement_line": 42}, event_at=datetime(2026, 1, 12, tzinfo=UTC)),
        ])
        assert all(result == "ok" for result in results)
    return pending


async def test_verify_for_auditor_and_admin_only(client, engine):
    await _payout_history(engine)
    await add_user(engine, "kiemtoan", Role.auditor)
    await add_user(engine, "quantri", Role.admin)
    await add_user(engine, "canbo", Role.officer)
    await sign_in(client, "canbo")
    assert (await client.get("/api/ledger/verify")).status_code == 403
    await sign_in(client, "quantri")
    assert (await client.get("/api/ledger/verify")).status_code == 200
    await sign_in(client, "kiemtoan")
    response = await client.get("/api/ledger/verify")
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["ok"], body["accounts"], body["transfers"], body["problems"]) == (True, 4, 4, [])


async def test_verify_lists_problems_after_tampering(client, engine):
    pending = await _payout_history(engine)
    async with session_scope(engine) as session:
        await session.execute(text("SET LOCAL session_replication_role = replica"))
        await session.execute(text("UPDATE ledger_transfer SET reference = 'AS2601B9' WHERE id = :id"), {"id": pending})
    await add_user(engine, "kiemtoan", Role.auditor)
    await sign_in(client, "kiemtoan")
    body = (await client.get("/api/ledger/verify")).json()
    assert body["ok"] is False
    assert [(p["check"], p["transfer"]) for p in body["problems"]] == [("chain_hash", str(pending))]
    assert body["problems"][0]["message"].startswith("Chuỗi băm hỏng")


async def test_account_page_shows_totals_and_recent_transfers(client, engine):
    await _payout_history(engine)
    await add_user(engine, "canbo", Role.officer)
    await add_user(engine, "quantri", Role.admin)
    await sign_in(client, "quantri")
    assert (await client.get("/api/ledger/accounts/payable:beneficiary:b1")).status_code == 403
    await sign_in(client, "canbo")
    response = await client.get("/api/ledger/accounts/payable:beneficiary:b1",
                                params={"as_of": "2026-01-11T12:00:00+07:00", "limit": 10})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["balance"] == {"debits_posted": 750_000, "credits_posted": 750_000, "debits_pending": 0,
                               "credits_pending": 0}
    assert body["net"] == 0
    assert body["balance_as_of"] == {"debits_posted": 0, "credits_posted": 750_000, "debits_pending": 750_000,
                                     "credits_pending": 0}
    lines = [(t["kind"], t["direction"], t["debit_account"], t["credit_account"], t["amount"])
             for t in body["transfers"]]
    assert lines == [
        ("post", "debit", "payable:beneficiary:b1", "bank:970436:disbursement", 750_000),
        ("pending", "debit", "payable:beneficiary:b1", "bank:970436:disbursement", 750_000),
        ("single", "credit", "expense:P", "payable:beneficiary:b1", 750_000),
    ]
    assert body["transfers"][0]["metadata"] == {"statement_line": 42}


async def test_account_page_errors(client, engine):
    await add_user(engine, "kiemtoan", Role.auditor)
    await sign_in(client, "kiemtoan")
    missing = await client.get("/api/ledger/accounts/payable:beneficiary:nobody")
    assert missing.status_code == 404
    assert missing.json()["detail"].startswith("Không có tài khoản sổ cái mã payable:beneficiary:nobody")
    await _payout_history(engine)
    assert (await client.get("/api/ledger/accounts/expense:P", params={"limit": 0})).status_code == 400
    naive = await client.get("/api/ledger/accounts/expense:P", params={"as_of": "2026-01-11T12:00:00"})
    assert naive.status_code == 422


async def test_verify_reports_what_a_programme_used_when_a_payout_status_was_changed_by_hand(client, engine):
    from app.registry.fake import BeneficiaryFaker
    from tests.support.world import VIETCOMBANK, Office, person

    office = await Office(client, engine).setup()
    await office.import_people([person(BeneficiaryFaker(seed=51), category="NCT_80")])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 650_000, "FT-ONE")).status_code == 201
    await office.run_cycle("2026-03")
    await add_user(engine, "kiemtoan", Role.auditor)
    await sign_in(client, "kiemtoan")
    assert (await client.get("/api/ledger/verify")).json()["problems"] == []

    async with session_scope(engine) as session:  # by hand, outside the statements that keep programme_usage
        await session.execute(text("UPDATE payout SET status = 'returned'"))
    body = (await client.get("/api/ledger/verify")).json()
    assert body["ok"] is False
    (problem,) = body["problems"]
    assert problem["check"] == "programme_usage"
    assert problem["message"] == (f"Kinh phí đã dùng của TGXH tại ngân hàng {VIETCOMBANK}: lưu 650000, cộng từ các "
                                  "khoản chi được 0")
    assert problem["message_en"] == f"TGXH's funding used at bank {VIETCOMBANK}: kept 650000, its payouts add up to 0"
