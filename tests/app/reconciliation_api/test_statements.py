"""Bank statements through the API: camt.053, MT940 and xlsx files of a run's payouts, matched and applied."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime

from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.ledger_steps import payout_transfer_id
from app.vietnam_time import vietnam_today
from reconciliation.writers import write_camt053, write_mt940, write_statement_csv, write_statement_xlsx
from tests.app.reconciliation_api.world import (
    ICT,
    as_bank,
    build_world,
    debit,
    ledger_clean,
    other_line,
    payout_states,
    returned,
    statement,
    table_counts,
    upload,
)
from tests.support.ledger import totals
from tests.support.world import VIETCOMBANK


async def test_full_cycle_camt_mt940_xlsx_gives_exact_statuses_and_a_clean_ledger(office, engine):
    _, payouts = await build_world(office, vietcombank=6)
    p = payouts
    today = vietnam_today()
    first = statement(VIETCOMBANK, [
        debit(p[0]), debit(p[1]), debit(p[2]), debit(p[3]),
        returned(p[1], "AC04"),
        # the bank pays p0 a second time (a transaction of its own, with its own reference): not credited twice
        debit(p[0], bank_reference="FT-LAN-HAI"),
        other_line(VIETCOMBANK, -123_456),  # unknown debit
        other_line(VIETCOMBANK, 100_000_000, bank_reference="FT-BUDGET-970436", description="Cap kinh phi"),
    ], statement_id="SK202603/1", opening=0)
    second = statement(VIETCOMBANK, [
        # no reference: matched by account + amount + value date within 3 days of sending
        debit(p[4], end_to_end_ref=None, description="Chi tro cap", bank_reference="FT0000001",
              booking_date=today, value_date=today, booked_at=None),
        returned(p[2], "MD07"),
    ], statement_id="SK202603/2", opening=first.closing_balance, opening_date=date(2026, 3, 12),
        closing_date=date(2026, 3, 13))
    third = statement(VIETCOMBANK, [returned(p[5], "AC01")], statement_id="SK202603/3",
                      opening=second.closing_balance, opening_date=date(2026, 3, 13), closing_date=date(2026, 3, 14))

    headers = await as_bank(office, VIETCOMBANK)
    camt = await upload(office, headers, write_camt053(first), "sao-ke-1.xml")
    assert camt.status_code == 201, camt.text
    body = camt.json()
    assert (body["lines"], body["matched"], body["returned"], body["exceptions"], body["duplicates"],
            body["funding"]) == (8, 5, 1, 2, 1, 1)
    assert body["statements"][0]["gap"] is None
    mt940 = await upload(office, headers, write_mt940(second), "sao-ke-2.sta")
    assert mt940.status_code == 201, mt940.text
    assert (mt940.json()["matched"], mt940.json()["returned"]) == (1, 1)
    xlsx = await upload(office, headers, write_statement_xlsx(third), "sao-ke-3.xlsx")
    assert xlsx.status_code == 201, xlsx.text
    assert xlsx.json()["returned"] == 1 and xlsx.json()["statements"][0]["gap"] is None

    states = await payout_states(office)
    assert states[p[0].reference] == ("credited", None)
    assert states[p[1].reference] == ("returned", "AC04")
    assert states[p[2].reference] == ("returned", "MD07")
    assert states[p[3].reference] == ("credited", None)
    assert states[p[4].reference] == ("credited", None)
    assert states[p[5].reference] == ("returned", "AC01")

    detail = (await office.client.get(f"/api/statements/{body['statement_id']}", headers=headers)).json()
    outcome = [(line["status"], line["rule"], line["exception_reason"]) for line in detail["lines"]]
    assert outcome == [("matched", "reference", None)] * 4 + [
        ("returned", "return", None), ("exception", None, "duplicate"), ("exception", None, "unmatched"),
        ("matched", "funding", None)]
    second_detail = (await office.client.get(f"/api/statements/{mt940.json()['statement_id']}",
                                             headers=headers)).json()
    assert second_detail["lines"][0]["rule"] == "account_amount_date"
    assert second_detail["lines"][1]["flag"]["kind"] == "deceased_reported_by_bank"

    async with session_scope(engine) as session:
        # A line with its own booking time keeps the bank's time (only a date-only line is raised to sent_at).
        credited_at = await session.scalar(text("SELECT credited_at FROM payout WHERE id = :id"), {"id": p[0].id})
        assert credited_at.isoformat() == "2026-03-10T02:15:00+00:00"
        total = sum(x.amount for x in p)
        reversed_ = p[1].amount + p[2].amount
        posted = sum(x.amount for x in p[:5])
        assert await totals(session, f"bank:{VIETCOMBANK}:disbursement") == (
            100_000_000 + reversed_, posted, 0, 0)
        assert total > 0
    await ledger_clean(office)

    await office.be("lan.officer")
    flags = (await office.client.get("/api/reconciliation/flags")).json()
    assert [f["beneficiary_id"] for f in flags["items"]] == [str(p[2].beneficiary_id)]
    queue = (await office.client.get("/api/reconciliation/exceptions")).json()
    assert sorted((item["status"], item["exception_reason"]) for item in queue["items"]) == [
        ("exception", "duplicate"), ("exception", "unmatched"),
        ("returned", None), ("returned", None), ("returned", None)]


async def test_same_file_or_same_statement_again_changes_nothing(office):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    data = write_camt053(statement(VIETCOMBANK, [debit(p[0]), debit(p[1])], opening=100_000_000))
    first = await upload(office, headers, data, "a.xml")
    assert first.status_code == 201
    before = await table_counts(office)
    again = await upload(office, headers, data, "a.xml")
    assert again.status_code == 200 and again.json()["statement_id"] == first.json()["statement_id"]
    same_id = await upload(office, headers, write_mt940(statement(VIETCOMBANK, [debit(p[0]), debit(p[1])],
                                                                  opening=100_000_000)), "a.sta")
    assert same_id.status_code == 200 and same_id.json()["statement_id"] == first.json()["statement_id"]
    assert same_id.json()["content_differs"] is False  # the same statement, from an MT940 file
    assert await table_counts(office) == before
    await ledger_clean(office)


async def test_a_file_with_a_new_statement_and_a_changed_old_one_applies_the_new_and_names_the_old(office):
    _, p = await build_world(office, vietcombank=3)
    headers = await as_bank(office, VIETCOMBANK)
    first = statement(VIETCOMBANK, [debit(p[0])], opening=100_000_000)
    assert (await upload(office, headers, write_mt940(first), "a.sta")).status_code == 201
    changed = statement(VIETCOMBANK, [debit(p[0]), debit(p[1])], opening=100_000_000)
    new = statement(VIETCOMBANK, [debit(p[2])], statement_id="SK202603/2", opening=first.closing_balance,
                    opening_date=date(2026, 3, 12), closing_date=date(2026, 3, 13))
    both = await upload(office, headers, write_mt940(changed) + write_mt940(new), "ab.sta")
    assert both.status_code == 201, both.text
    body = both.json()
    assert (body["created"], body["content_differs"]) == (True, True)
    assert "SK202603/1" in body["message"] and "SK202603/2" not in body["message"]
    states = await payout_states(office)
    assert (states[p[2].reference], states[p[1].reference]) == (("credited", None), ("sent", None))
    await ledger_clean(office)


async def test_another_statement_under_an_imported_statement_id_is_kept_applied_never_and_said_so(office):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    first = await upload(office, headers, write_camt053(statement(VIETCOMBANK, [debit(p[0])], opening=100_000_000)),
                         "a.xml")
    assert first.status_code == 201
    before = await table_counts(office)
    corrected = write_camt053(statement(VIETCOMBANK, [debit(p[0]), debit(p[1])], opening=100_000_000))
    again = await upload(office, headers, corrected, "a-sua.xml")
    assert again.status_code == 200, again.text
    body = again.json()
    assert (body["already_imported"], body["content_differs"], body["created"]) == (True, True, False)
    assert body["statement_id"] == first.json()["statement_id"] and body["upload_id"] is not None
    assert "SK202603/1" in body["message"] and "mã sao kê mới" in body["message"] and "new statement id" in body["message"]
    # Nothing applied: the second payout is still sent; only the kept upload and its audit entry are new.
    after = await table_counts(office)
    assert after == {**before, "statement_upload": before["statement_upload"] + 1, "audit_log": before["audit_log"] + 1}
    assert (await payout_states(office))[p[1].reference] == ("sent", None)
    async with session_scope(office.engine) as session:
        kept = (await session.execute(text(
            "SELECT status, rejection->>'reason' AS reason, content FROM statement_upload WHERE id = :id"),
            {"id": body["upload_id"]})).one()
    assert (kept.status, kept.reason, bytes(kept.content)) == ("rejected", "statement_id_reused", corrected)
    await ledger_clean(office)


async def test_gap_against_the_previous_statement_is_reported_and_stored(office):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    one = statement(VIETCOMBANK, [debit(p[0])], statement_id="S1", opening=100_000_000,
                    opening_date=date(2026, 3, 9), closing_date=date(2026, 3, 10))
    two = statement(VIETCOMBANK, [debit(p[1])], statement_id="S2", opening=one.closing_balance - 5_000,
                    opening_date=date(2026, 3, 15), closing_date=date(2026, 3, 15))
    assert (await upload(office, headers, write_camt053(one), "1.xml")).status_code == 201
    response = await upload(office, headers, write_camt053(two), "2.xml")
    assert response.status_code == 201
    gap = response.json()["statements"][0]["gap"]
    assert gap["expected_opening_balance"] == one.closing_balance and gap["difference"] == -5_000
    assert (gap["missing_from"], gap["missing_to"]) == ("2026-03-11", "2026-03-14")
    listed = (await office.client.get("/api/bank/statements", headers=headers)).json()
    assert listed["total"] == 2 and listed["items"][0]["gap"]["difference"] == -5_000


async def test_dry_run_shows_matches_and_applies_nothing(office):
    _, p = await build_world(office, vietcombank=2)
    headers = await as_bank(office, VIETCOMBANK)
    before = await table_counts(office)
    data = write_camt053(statement(VIETCOMBANK, [debit(p[0]), returned(p[1]), other_line(VIETCOMBANK, -5)],
                                   opening=100_000_000))
    response = await upload(office, headers, data, "dry.xml", dry_run="true")
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["dry_run"] is True and (body["matched"], body["returned"], body["exceptions"]) == (1, 1, 1)
    assert [r["rule"] for r in body["results"]] == ["reference", "return", None]
    assert await table_counts(office) == before
    assert set((await payout_states(office)).values()) == {("sent", None)}
    real = await upload(office, headers, data, "dry.xml")
    assert real.status_code == 201 and real.json()["matched"] == 1


async def test_one_bulk_debit_credits_the_whole_batch_and_a_crash_applies_nothing(office, monkeypatch):
    _, p = await build_world(office, vietcombank=4)
    headers = await as_bank(office, VIETCOMBANK)
    bulk = other_line(VIETCOMBANK, -sum(x.amount for x in p), description="Chi tro cap theo bang ke")
    data = write_camt053(statement(VIETCOMBANK, [bulk]))
    before = await table_counts(office)

    from app.reconciliation_api import importer

    async def crash(*args, **kwargs):
        raise RuntimeError("power cut")

    monkeypatch.setattr(importer, "record", crash)  # fails after lines, ledger and payouts were written
    assert (await upload(office, headers, data, "bulk.xml")).status_code == 500
    assert await table_counts(office) == before
    monkeypatch.undo()
    response = await upload(office, headers, data, "bulk.xml")
    assert response.status_code == 201 and response.json()["payouts_credited"] == 4
    detail = (await office.client.get(f"/api/statements/{response.json()['statement_id']}", headers=headers)).json()
    assert detail["lines"][0]["rule"] == "bulk" and len(detail["lines"][0]["payouts"]) == 4
    assert set((await payout_states(office)).values()) == {("credited", None)}
    await ledger_clean(office)


async def test_a_date_only_line_never_credits_or_returns_before_the_payout_was_sent(office, engine):
    """camt.053 and CSV lines with only a booking date are dated at local midnight; the payout sent at 16:34
    the same day must not be stored as credited (or returned) before it was sent."""
    _, p = await build_world(office, vietcombank=5)
    sent = datetime(2026, 3, 10, 16, 34, tzinfo=ICT)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout SET sent_at = :at WHERE id = ANY(:ids)"),
                              {"at": sent, "ids": [x.id for x in p]})
    same_day = {"booking_date": date(2026, 3, 10), "value_date": date(2026, 3, 10), "booked_at": None}
    later = datetime(2026, 3, 11, 8, 5, tzinfo=ICT)
    camt = statement(VIETCOMBANK, [
        debit(p[0], **same_day),  # credited, date only, same day as sent
        debit(p[1], booked_at=later, booking_date=date(2026, 3, 11)),  # credited with a time after sending
        replace(returned(p[2], "AC04"), **same_day),  # returned (never credited), date only
        debit(p[4], booked_at=datetime(2026, 3, 10, 18, 0, tzinfo=ICT)),
    ], statement_id="SK-DATE/1", opening_date=date(2026, 3, 10), closing_date=date(2026, 3, 11))
    csv = statement(VIETCOMBANK, [
        debit(p[3], **same_day),
        replace(returned(p[4], "AC04"), **same_day),  # came back the day it was credited at 18:00
    ], statement_id="SK-DATE/2", opening=camt.closing_balance, opening_date=date(2026, 3, 11),
        closing_date=date(2026, 3, 11))
    headers = await as_bank(office, VIETCOMBANK)
    first = await upload(office, headers, write_camt053(camt), "sao-ke.xml")
    assert first.status_code == 201, first.text
    second = await upload(office, headers, write_statement_csv(csv), "sao-ke.csv")
    assert second.status_code == 201, second.text
    assert (first.json()["matched"], first.json()["returned"]) == (3, 1)
    assert (second.json()["matched"], second.json()["returned"]) == (1, 1)

    async with session_scope(engine) as session:
        rows = {r.id: r for r in await session.execute(text(
            "SELECT id, status, sent_at, credited_at, returned_at FROM payout WHERE id = ANY(:ids)"),
            {"ids": [x.id for x in p]})}
        assert await session.scalar(text("SELECT count(*) FROM payout WHERE credited_at < sent_at"
                                         " OR returned_at < sent_at OR returned_at < credited_at")) == 0
    assert (rows[p[0].id].status, rows[p[0].id].credited_at) == ("credited", sent)  # not 2026-03-09T17:00Z
    assert rows[p[3].id].credited_at == sent  # the CSV date-only line too
    assert rows[p[1].id].credited_at == later  # a line's own later time is kept exactly
    assert (rows[p[2].id].status, rows[p[2].id].credited_at, rows[p[2].id].returned_at) == ("returned", None, sent)
    assert rows[p[4].id].status == "returned"
    assert rows[p[4].id].credited_at == datetime(2026, 3, 10, 18, 0, tzinfo=ICT)
    assert rows[p[4].id].returned_at == rows[p[4].id].credited_at  # not midnight, not before its credit
    # The ledger dates the same events the same way: its credits and returns follow the send too.
    transfers = {payout_transfer_id(x.id, step): (x.id, step) for x in p for step in ("credit", "return")}
    async with session_scope(engine) as session:
        events = {transfers[r.id]: r.event_at for r in await session.execute(text(
            "SELECT id, event_at FROM ledger_transfer WHERE id = ANY(:ids)"), {"ids": list(transfers)})}
    assert events[(p[0].id, "credit")] == sent and events[(p[3].id, "credit")] == sent
    assert events[(p[1].id, "credit")] == later and events[(p[2].id, "return")] == sent
    assert events[(p[4].id, "return")] == datetime(2026, 3, 10, 18, 0, tzinfo=ICT)
    await ledger_clean(office)


async def test_a_date_only_return_in_the_file_that_credited_the_payout_comes_after_that_credit(office, engine):
    _, p = await build_world(office, vietcombank=1)
    sent = datetime(2026, 3, 10, 16, 34, tzinfo=ICT)
    credited = datetime(2026, 3, 10, 18, 0, tzinfo=ICT)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout SET sent_at = :at WHERE id = :id"), {"at": sent, "id": p[0].id})
    camt = statement(VIETCOMBANK, [
        debit(p[0], booked_at=credited),
        replace(returned(p[0], "AC04"), booking_date=date(2026, 3, 10), value_date=date(2026, 3, 10), booked_at=None),
    ], statement_id="SK-DATE/3", opening_date=date(2026, 3, 10), closing_date=date(2026, 3, 10))
    response = await upload(office, await as_bank(office, VIETCOMBANK), write_camt053(camt), "sao-ke.xml")
    assert response.status_code == 201, response.text
    async with session_scope(engine) as session:
        row = (await session.execute(text("SELECT status, credited_at, returned_at FROM payout WHERE id = :id"),
                                     {"id": p[0].id})).one()
        event_at = await session.scalar(text("SELECT event_at FROM ledger_transfer WHERE id = :id"),
                                        {"id": payout_transfer_id(p[0].id, "return")})
    assert (row.status, row.credited_at, row.returned_at, event_at) == ("returned", credited, credited, credited)
    await ledger_clean(office)
