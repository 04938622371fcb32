"""Statements and withdrawals meet: money withdrawn before the bank's statement arrives counts once
the statement credits the payout; a return takes the payout out of the person's allocation."""

from datetime import datetime

from sqlalchemy import text

from app.database import session_scope
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import (
    ICT,
    as_bank,
    build_world,
    debit,
    ledger_clean,
    returned,
    statement,
    upload,
)
from tests.support.world import VIETCOMBANK, Office


async def test_statement_credit_allocates_withdrawals_that_arrived_earlier(client, engine):
    office = await Office(client, engine).setup()
    _, payouts = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    early = datetime(2026, 3, 9, 16, 0, tzinfo=ICT)  # the bank's activity feed is ahead of its statement
    withdrawals = [{"account_number": p.account_number, "occurred_at": early.isoformat(), "amount": p.amount,
                    "channel": "atm", "bank_ref": f"WD-{index}"} for index, p in enumerate(payouts)]
    response = await client.post("/api/bank/withdrawals", headers=headers, json=withdrawals)
    assert response.status_code == 200 and response.json()["accepted"] == 2, response.text
    async with session_scope(engine) as session:
        waiting = await session.scalar(text("SELECT count(*) FROM payout WHERE withdrawn_at IS NOT NULL"))
    assert waiting == 0  # nothing credited yet

    content = write_camt053(statement(VIETCOMBANK, [debit(payouts[0]), debit(payouts[1]), returned(payouts[1])]))
    uploaded = await upload(office, headers, content, "sk.xml")
    assert uploaded.status_code == 201, uploaded.text
    async with session_scope(engine) as session:
        rows = {r.reference: r for r in await session.execute(text(
            "SELECT reference, status, credited_at, first_withdrawal_at, withdrawn_at FROM payout"))}
        undrawn = await session.scalar(text(
            """SELECT coalesce(sum(a.debits_posted - a.credits_posted), 0) FROM ledger_account a
                WHERE a.code LIKE 'undrawn:%' AND a.code <> 'undrawn:control'"""))
    credited = rows[payouts[0].reference]
    assert credited.status == "credited" and credited.withdrawn_at is not None
    assert credited.withdrawn_at == credited.credited_at  # withdrawn before credit: counts from the credit
    back = rows[payouts[1].reference]
    assert back.status == "returned" and back.withdrawn_at is None
    assert undrawn == 0
    await ledger_clean(office)
