"""Months older than a run's 12-month arrears window: a month ansinh already found due and left unpaid —
released for payment again (a bank return reissued, a payout withheld) or held until an officer fixed the
cause — is paid by the next run whatever its age, once, by the registry's rules for that month; a month
never dealt with keeps the window (back pay of a late enrolment reaches 12 months back)."""

from __future__ import annotations

import re
from datetime import date

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.compute import _OLDER_MONTHS_OWED
from app.payouts.service.runs import add_months, current_month, format_period
from app.registry.fake import BeneficiaryFaker, import_file_bytes
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import (
    SentPayout,
    as_bank,
    ledger_clean,
    returned,
    sent_payouts,
    statement,
    upload,
)
from tests.support.ledger import totals
from tests.support.pages import csrf_in
from tests.support.world import VIETCOMBANK, Office, person

# Go-live is December 2025 (the first run); a run for December 2026 pays arrears from January 2026 only.
# TGXH NCT_80 (coefficient 1.0) in Hà Nội: 500,000 a month in 2025 (national level), 650,000 from 2026.
MONTHS_2026 = [f"2026-{m:02d}" for m in range(1, 13)]


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _world(office: Office, count: int, start: str = "2025-12") -> list[SentPayout]:
    """``count`` people enrolled from ``start`` at Vietcombank; December 2025 computed, approved and sent."""
    faker = BeneficiaryFaker(seed=23)
    await office.import_people([person(faker, start=start) for _ in range(count)])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 500_000_000, "FT-OLDER-1")).status_code == 201
    await office.run_cycle("2025-12")
    return await sent_payouts(office)


async def _bank_returns(office: Office, payouts: list[SentPayout], reason: str = "AC04",
                        statement_id: str = "SK202512/1") -> None:
    headers = await as_bank(office, VIETCOMBANK)
    data = write_camt053(statement(VIETCOMBANK, [returned(p, reason) for p in payouts], statement_id=statement_id))
    response = await upload(office, headers, data, "s.xml")
    assert response.status_code == 201 and response.json()["returned"] == len(payouts), response.text


async def _corrected_account(office: Office, payout: SentPayout, number: str) -> int:
    await office.be("lan.officer")
    response = await office.post(f"/api/beneficiaries/{payout.beneficiary_id}/bank-accounts",
                                 json={"bank_bin": VIETCOMBANK, "account_number": number})
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


async def _reissue(office: Office, payout: SentPayout, account_id: int) -> None:
    await office.be("lan.officer")
    queue = (await office.client.get("/api/reconciliation/exceptions")).json()["items"]
    (line,) = [item for item in queue if item["payouts"] and item["payouts"][0]["reference"] == payout.reference]
    resolved = await office.post(f"/api/reconciliation/exceptions/{line['id']}/resolve",
                                 json={"action": "reissue", "bank_account_id": account_id, "note": "TK đã sửa"})
    assert resolved.status_code == 200, resolved.text


async def _paid(office: Office, run_id: str) -> dict[str, dict[str, int]]:
    """Each paid person of a run → {month: base amount} of the months their payout pays."""
    async with session_scope(office.engine) as session:
        rows = await session.execute(text(
            """SELECT CAST(p.beneficiary_id AS text) AS person, to_char(pm.month, 'YYYY-MM') AS month,
                      pm.base_amount
                 FROM payout p JOIN payout_month pm ON pm.payout_id = p.id
                WHERE p.run_id = :run AND p.status <> 'cancelled' ORDER BY pm.month"""), {"run": run_id})
        paid: dict[str, dict[str, int]] = {}
        for row in rows:
            paid.setdefault(row.person, {})[row.month] = int(row.base_amount)
        return paid


async def _paid_once(office: Office) -> None:
    """No (enrolment, month) is paid twice, and expense holds exactly the months paid and not released."""
    async with session_scope(office.engine) as session:
        twice = await session.scalar(text(
            """SELECT count(*) FROM (SELECT enrolment_id, month FROM payout_month WHERE released_at IS NULL
                                      GROUP BY 1, 2 HAVING count(*) > 1) t"""))
        assert twice == 0
        unreleased = await session.scalar(text(
            """SELECT coalesce(sum(pm.amount), 0) FROM payout_month pm JOIN payout p ON p.id = pm.payout_id
                WHERE pm.released_at IS NULL AND p.status <> 'cancelled'"""))
        debits, credits, _, _ = await totals(session, "expense:TGXH")
        assert debits - credits == unreleased


async def test_a_month_returned_13_months_ago_is_paid_by_the_next_run_after_reissue_once(office, engine):
    p = await _world(office, 3)
    await _bank_returns(office, [p[0]])
    account = await _corrected_account(office, p[0], "9704360000123")
    await _reissue(office, p[0], account)

    december = await office.compute("2026-12")
    assert december["arrears_from"] == "2026-01"  # December 2025 is outside the window
    paid = await _paid(office, december["id"])
    # the released month, at the rate in force then (national 500,000), then 2026 at Hà Nội's 650,000
    assert paid[str(p[0].beneficiary_id)] == {"2025-12": 500_000, **dict.fromkeys(MONTHS_2026, 650_000)}
    assert paid[str(p[1].beneficiary_id)] == paid[str(p[2].beneficiary_id)] == dict.fromkeys(MONTHS_2026, 650_000)
    async with session_scope(engine) as session:
        new = (await session.execute(text(
            "SELECT amount, account_number, reissue_of FROM payout WHERE run_id = :run AND beneficiary_id = :b"),
            {"run": december["id"], "b": p[0].beneficiary_id})).one()
    assert (new.amount, new.account_number, new.reissue_of) == (500_000 + 12 * 650_000, "9704360000123", p[0].id)
    await office.approve_and_send(december["id"])
    await _paid_once(office)
    await ledger_clean(office)

    # Exactly once: neither the next regular run nor a supplementary run pays December 2025 again.
    january = await office.compute("2027-01")
    assert {person: list(months) for person, months in (await _paid(office, january["id"])).items()} == {
        str(q.beneficiary_id): ["2027-01"] for q in p}
    await office.approve_and_send(january["id"])
    supplementary = await office.compute("2027-01", kind="supplementary")
    assert (supplementary["count"], await _paid(office, supplementary["id"])) == (0, {})
    await _paid_once(office)
    await ledger_clean(office)


async def test_a_held_persons_months_older_than_the_window_are_paid_after_the_fix(office, engine):
    # December 2025's payout of p0 comes back AC04: the account is blocked, and January 2026 holds p0.
    p = await _world(office, 2)
    await _bank_returns(office, [p[0]])
    january = await office.compute("2026-01")
    assert [h["beneficiary_id"] for h in january["held"]] == [str(p[0].beneficiary_id)]
    page = await office.client.get(f"/payout-runs/{january['id']}")
    assert page.status_code == 200
    assert "dù đã quá 12 tháng" in page.text and "even those older than 12 months" not in page.text
    await office.approve_and_send(january["id"])

    # A year later the officer registers the corrected account: the next run (window from February 2026)
    # pays the held January 2026 too. December 2025 stays with its returned payout until the officer
    # reissues it (or closes it): the return is not paid again by itself.
    await _corrected_account(office, p[0], "9704360000456")
    next_january = await office.compute("2027-01")
    assert next_january["arrears_from"] == "2026-02" and next_january["held_count"] == 0
    paid = await _paid(office, next_january["id"])
    later = [f"2026-{m:02d}" for m in range(2, 13)] + ["2027-01"]
    assert list(paid[str(p[0].beneficiary_id)]) == ["2026-01", *later]
    assert list(paid[str(p[1].beneficiary_id)]) == later
    await office.approve_and_send(next_january["id"])
    await _paid_once(office)
    await ledger_clean(office)
    supplementary = await office.compute("2027-01", kind="supplementary")
    assert supplementary["count"] == 0


async def test_a_held_persons_old_months_stay_held_while_the_cause_is_not_fixed(office):
    # Still blocked a year later: the next run holds p0 for every month owed, the old held one included.
    p = await _world(office, 2)
    await _bank_returns(office, [p[0]])
    january = await office.compute("2026-01")
    await office.approve_and_send(january["id"])
    next_january = await office.compute("2027-01")
    (held,) = next_january["held"]
    assert (held["beneficiary_id"], held["reason"]) == (str(p[0].beneficiary_id), "bank_account_unusable")
    assert held["amount"] == 13 * 650_000  # January 2026 (held a year ago) to January 2027
    assert str(p[0].beneficiary_id) not in await _paid(office, next_january["id"])


async def test_a_month_released_because_the_person_died_is_not_paid_again(office, engine):
    # Three people from December 2025. December's run is computed; then X's death on 20 November 2025 is
    # recorded, so approval withholds X's December payout and releases its month. Y's December comes back
    # AC04 and is reissued. A year later: Y's December is paid, X's is not (nothing after death).
    faker = BeneficiaryFaker(seed=29)
    people = [person(faker, start="2025-12") for _ in range(3)]
    await office.import_people(people)
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 500_000_000, "FT-OLDER-2")).status_code == 201
    x, y, z = [await office.beneficiary_id(q.national_id) for q in people]
    december = await office.compute("2025-12")
    died = await office.post(f"/api/beneficiaries/{x}/events", json={"kind": "deceased", "effective_on": "2025-11-20"})
    assert died.status_code in (200, 201), died.text
    await office.be("minh.approver")
    approved = await office.post(f"/api/payout-runs/{december['id']}/approve")
    assert approved.status_code == 200, approved.text
    assert [(w["beneficiary_id"], w["reason"]) for w in approved.json()["withheld"]] == [(x, "deceased")]
    await office.be("lan.officer")
    assert (await office.post(f"/api/payout-runs/{december['id']}/send")).status_code == 200
    async with session_scope(engine) as session:
        released = await session.scalar(text(
            "SELECT count(*) FROM payout_month WHERE beneficiary_id = :x AND released_at IS NOT NULL"), {"x": x})
    assert released == 1

    (y_payout,) = [q for q in await sent_payouts(office) if str(q.beneficiary_id) == y]
    await _bank_returns(office, [y_payout])
    await _reissue(office, y_payout, await _corrected_account(office, y_payout, "9704360000789"))

    next_december = await office.compute("2026-12")
    paid = await _paid(office, next_december["id"])
    assert x not in paid and x not in {s["beneficiary_id"] for s in next_december["skipped"]}
    assert paid[y] == {"2025-12": 500_000, **dict.fromkeys(MONTHS_2026, 650_000)}
    assert paid[z] == dict.fromkeys(MONTHS_2026, 650_000)
    await office.approve_and_send(next_december["id"])
    await _paid_once(office)
    await ledger_clean(office)


async def _not_back_paid(office: Office, beneficiary_id: str) -> list[str]:
    """The person page's notes on months the next run will not pay."""
    await office.be("lan.officer")
    page = await office.client.get(f"/beneficiaries/{beneficiary_id}")
    assert page.status_code == 200, page.text
    return [" ".join(note.split()) for note in re.findall(r'data-not-back-paid="\d+">(.*?)</p>', page.text, re.S)]


async def test_a_month_never_paid_keeps_the_window_and_the_import_and_person_page_say_so(office):
    # Someone enrolled in the registry from January 2025, after ansinh went live: the next run pays 12 months
    # back, not earlier — back pay of a late enrolment is limited, and the import's answer says which months.
    p = await _world(office, 1)
    faker = BeneficiaryFaker(seed=31)
    late = person(faker, start="2025-01")
    imported = await office.post("/api/beneficiaries/import", files={
        "file": ("moi.csv", import_file_bytes([late], kind="csv"), "text/csv")})
    assert imported.status_code == 200, imported.text
    # The programme's next regular run is the month after December 2025's, and not before the current month.
    next_period = max(current_month(), date(2026, 1, 1))
    paid_from = add_months(next_period, -11)
    (limit,) = imported.json()["back_pay"]
    assert limit == {
        "programme": "TGXH", "enrolments": 1, "earliest_start": "2025-01", "next_period": format_period(next_period),
        "paid_from": format_period(paid_from), "message": limit["message"], "message_en": limit["message_en"]}
    # The API's fields stay YYYY-MM; its messages, which staff read, say months as staff write them.
    assert f"trước {paid_from:%m/%Y} (sớm nhất 01/2025): đợt chi tới (kỳ {next_period:%m/%Y}) chỉ trả bù từ tháng " \
        f"{paid_from:%m/%Y}" in limit["message"]
    assert limit["message_en"].startswith(f"1 new TGXH enrolment starts before {paid_from:%m/%Y} (the earliest "
                                          f"01/2025): the next run ({next_period:%m/%Y})")
    assert "earlier months are not paid" in limit["message_en"]
    # The import page says the same.
    form = await office.client.get("/beneficiaries/import")
    others = [person(faker, start="2025-03"), person(faker, start="2025-05")]
    on_page = await office.client.post("/beneficiaries/import", data={"_csrf": csrf_in(form.text)}, files={
        "file": ("moi-2.csv", import_file_bytes(others, kind="csv"), "text/csv")})
    assert on_page.status_code == 200, on_page.text
    (notice,) = re.findall(r'data-back-pay="TGXH">(.*?)</p>', on_page.text, re.S)
    assert notice.startswith("2 quyết định hưởng TGXH mới có tháng bắt đầu trước") and "(sớm nhất 03/2025)" in notice
    in_english = await office.post("/api/beneficiaries/import", files={
        "file": ("moi-3.csv", import_file_bytes([person(faker, start="2025-02"), person(faker, start="2025-04")],
                                                kind="csv"), "text/csv")})
    assert in_english.json()["back_pay"][0]["message_en"].startswith(
        f"2 new TGXH enrolments start before {paid_from:%m/%Y} (the earliest 02/2025)")
    late_id = await office.beneficiary_id(late.national_id)
    lost = len(range(2025 * 12, paid_from.year * 12 + paid_from.month - 1))
    assert await _not_back_paid(office, late_id) == [
        f"TGXH: {lost} tháng chưa chi từ 01/2025 đến {add_months(paid_from, -1):%m/%Y} không được trả bù — đợt chi "
        f"tới (kỳ {next_period:%m/%Y}) chỉ trả bù từ tháng {paid_from:%m/%Y} (tối đa 12 tháng, không trước đợt chi "
        "đầu tiên của chương trình)."]
    # Re-importing the same person adds no enrolment: nothing to say. Nor for a programme without a run yet
    # (HTXH): the period an officer gives its first run decides where its payments start.
    again = await office.post("/api/beneficiaries/import", files={
        "file": ("moi.csv", import_file_bytes([late], kind="csv"), "text/csv")})
    assert again.status_code == 200 and again.json()["back_pay"] == []
    pension = person(faker, programme="HTXH", category="HTXH_75", start="2025-07")
    first = await office.post("/api/beneficiaries/import", files={
        "file": ("htxh.csv", import_file_bytes([pension], kind="csv"), "text/csv")})
    assert first.status_code == 200 and first.json()["back_pay"] == [], first.text
    assert await _not_back_paid(office, await office.beneficiary_id(pension.national_id)) == []

    december = await office.compute("2026-12")
    paid = await _paid(office, december["id"])
    assert paid[late_id] == dict.fromkeys(MONTHS_2026, 650_000)
    assert paid[str(p[0].beneficiary_id)] == dict.fromkeys(MONTHS_2026, 650_000)


async def test_the_person_page_does_not_call_a_released_month_lost(office):
    # December 2025 was returned and reissued: the next run pays it, so the page does not list it.
    p = await _world(office, 2)
    await _bank_returns(office, [p[0]])
    await _reissue(office, p[0], await _corrected_account(office, p[0], "9704360000321"))
    for note in await _not_back_paid(office, str(p[0].beneficiary_id)):
        assert "12/2025" not in note
    # ... and a paid month is not listed either.
    for note in await _not_back_paid(office, str(p[1].beneficiary_id)):
        assert "12/2025" not in note


async def test_the_lookup_of_older_months_can_read_both_partial_indexes(session):
    # On an empty database the planner scans; forbidding that shows the query implies both predicates (the
    # hold reasons are literals in it), so it reads the few indexed rows on a full one.
    await session.execute(text("SET LOCAL enable_seqscan = off"))
    plan = "\n".join(row[0] for row in await session.execute(
        text(f"EXPLAIN {_OLDER_MONTHS_OWED.text}"),
        {"programme": "TGXH", "group": "social_assistance", "arrears_from": date(2026, 1, 1)}))
    assert "ix_payout_month_released" in plan
    assert "ix_payout_run_skip_held" in plan
