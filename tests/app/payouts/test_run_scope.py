"""A run pays every province, but staff limited to provinces read only their provinces' people of it: the run's
lists and counts, its payouts, its unpaid list and its order lists; a pain.001 (a bank's batch, every province's
orders) and the run's steps (create, compute, approve, send, cancel, close) are for staff without a province limit."""

from __future__ import annotations

import io

import openpyxl
import pytest
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker, FakePerson
from tests.support.actors import add_user
from tests.support.world import CAO_BANG_COMMUNE, HANOI_COMMUNE, VIETCOMBANK, Office, count_rows, person

TGXH_HANOI, TGXH_CAO_BANG = 650_000, 500_000
SCOPE = "Trong phạm vi của bạn: Cao Bằng (04) / Within your scope: Cao Bằng (04)"


@pytest.fixture
async def office(client, engine):
    office = await Office(client, engine).setup()
    await add_user(engine, "tuan.caobang", Role.officer, provinces=("04",))
    await add_user(engine, "mai.caobang", Role.approver, provinces=("04",))
    await add_user(engine, "ha.caobang", Role.auditor, provinces=("04",))
    return office


async def _people(office: Office) -> dict[str, FakePerson]:
    """In Hà Nội and in Cao Bằng each: two paid at Vietcombank, one the bank found under another holder name
    (skipped), one paid in cash."""
    faker = BeneficiaryFaker(seed=47)
    people = {}
    for place, commune in (("hanoi", HANOI_COMMUNE), ("caobang", CAO_BANG_COMMUNE)):
        people |= {f"{place}_1": person(faker, commune=commune), f"{place}_2": person(faker, commune=commune),
                   f"{place}_mismatch": person(faker, commune=commune),
                   f"{place}_cash": person(faker, commune=commune, bank=None)}
    await office.import_people(list(people.values()))
    async with session_scope(office.engine) as session:
        await session.execute(text(
            """UPDATE bank_account a SET verification_status = 'name_mismatch' FROM beneficiary b
                WHERE b.id = a.beneficiary_id AND b.national_id = ANY(:ids)"""),
            {"ids": [people["hanoi_mismatch"].national_id, people["caobang_mismatch"].national_id]})
    await office.register_disbursement(VIETCOMBANK)
    return people


async def _sent_run(office: Office) -> str:
    """The March run, computed, approved, funded and sent by staff without a province limit."""
    run_id = await office.approved_run("2026-03")
    funded = await office.fund(VIETCOMBANK, 2 * TGXH_HANOI + 2 * TGXH_CAO_BANG, "FT-2603")
    assert funded.status_code == 201, funded.text
    await office.fund_cash(run_id)
    sent = await office.post(f"/api/payout-runs/{run_id}/send")
    assert sent.status_code == 200, sent.text
    return run_id


def _sheet_rows(content: bytes) -> list[list]:
    return [list(row) for row in openpyxl.load_workbook(io.BytesIO(content)).active.iter_rows(values_only=True)]


async def test_a_province_limited_officer_reads_only_their_provinces_of_a_run(office):
    people = await _people(office)
    run_id = await _sent_run(office)
    caobang_names = {people[k].full_name for k in ("caobang_1", "caobang_2", "caobang_cash")}
    hanoi_ids = {p.national_id for k, p in people.items() if k.startswith("hanoi")}
    await office.be("tuan.caobang")

    # The run: its own count and total stay the whole run's; every list and count is Cao Bằng's only.
    detail = (await office.client.get(f"/api/payout-runs/{run_id}")).json()
    assert (detail["count"], detail["total_amount"]) == (6, 3 * TGXH_HANOI + 3 * TGXH_CAO_BANG)
    assert detail["scope"] == {"provinces": ["04"], "count": 3, "total_amount": 3 * TGXH_CAO_BANG}
    assert [c["commune_code"] for c in detail["by_commune"]] == [CAO_BANG_COMMUNE]
    assert {b["bank_bin"]: (b["count"], b["amount"]) for b in detail["by_bank"]} == {
        "cash": (1, TGXH_CAO_BANG), VIETCOMBANK: (2, 2 * TGXH_CAO_BANG)}
    assert detail["by_status"] == {"sent": 3}
    assert detail["skipped_count"] == 1
    assert [s["full_name"] for s in detail["skipped"]] == [people["caobang_mismatch"].full_name]

    # Its payouts: Cao Bằng's, counted over them; a Hà Nội commune is refused as elsewhere, an unknown one too.
    listed = await office.client.get(f"/api/payout-runs/{run_id}/payouts")
    assert listed.status_code == 200, listed.text
    assert listed.json()["total"] == 3 and listed.json()["scope"] == {"provinces": ["04"]}
    assert {p["commune_code"] for p in listed.json()["items"]} == {CAO_BANG_COMMUNE}
    assert {p["full_name"] for p in listed.json()["items"]} == caobang_names
    hanoi = await office.client.get(f"/api/payout-runs/{run_id}/payouts", params={"commune": HANOI_COMMUNE})
    assert hanoi.status_code == 403 and "không thuộc phạm vi" in hanoi.json()["detail"]
    unknown = await office.client.get(f"/api/payout-runs/{run_id}/payouts", params={"commune": "99999"})
    assert unknown.status_code == 404
    own = await office.client.get(f"/api/payout-runs/{run_id}/payouts", params={"commune": CAO_BANG_COMMUNE})
    assert own.json()["total"] == 3

    # The unpaid list: Cao Bằng's skipped person only, the total over them; the sheet says whose list it is.
    unpaid = (await office.client.get(f"/api/payout-runs/{run_id}/unpaid")).json()
    assert [i["national_id"] for i in unpaid["items"]] == [people["caobang_mismatch"].national_id]
    assert (unpaid["total"], unpaid["total_amount"]) == (1, TGXH_CAO_BANG)
    sheet = await office.client.get(f"/api/payout-runs/{run_id}/unpaid", params={"format": "xlsx"})
    assert sheet.status_code == 200, sheet.text
    rows = _sheet_rows(sheet.content)
    assert SCOPE in [row[0] for row in rows[:5]]
    cells = {str(cell) for row in rows for cell in row if cell is not None}
    assert people["caobang_mismatch"].national_id in cells and not hanoi_ids & cells

    # The order lists: Cao Bằng's orders at the bank, saying so; no Hà Nội name, citizen ID or account.
    xlsx = await office.client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK})
    assert xlsx.status_code == 200, xlsx.text
    rows = _sheet_rows(xlsx.content)
    assert SCOPE in [row[0] for row in rows[:3]]
    cells = {str(cell) for row in rows for cell in row if cell is not None}
    assert {people["caobang_1"].national_id, people["caobang_2"].national_id} <= cells
    assert not hanoi_ids & cells and people["hanoi_1"].account_number not in cells
    batch_sheet = openpyxl.load_workbook(io.BytesIO(xlsx.content))["Thông tin lô - Batch"]
    assert ("Phạm vi/Scope", SCOPE) in [tuple(row) for row in batch_sheet.iter_rows(values_only=True)]
    csv = await office.client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK, "format": "csv"})
    assert csv.status_code == 200
    assert people["caobang_1"].national_id in csv.text and people["caobang_2"].national_id in csv.text
    assert not any(national_id in csv.text for national_id in hanoi_ids)
    assert len(csv.text.strip().splitlines()) == 3  # the header and Cao Bằng's two orders

    # A pain.001 is the bank's batch of every province's orders: refused, and nothing is taken into a batch.
    batch = await office.client.get(f"/api/payout-runs/{run_id}/orders",
                                    params={"bank": VIETCOMBANK, "format": "pain001"})
    assert batch.status_code == 403
    assert "chỉ cán bộ không giới hạn tỉnh mới lấy được lô của ngân hàng" in batch.json()["detail"]
    assert "only an officer without a province limit can take the bank's batch" in batch.json()["detail"]
    assert await count_rows(office.engine, "SELECT count(*) FROM payment_order_batch") == 0

    # The cash handover list: Cao Bằng's cash only.
    cash = await office.client.get(f"/api/payout-runs/{run_id}/cash-handover")
    cells = {str(c) for sheet in openpyxl.load_workbook(io.BytesIO(cash.content)).worksheets
             for row in sheet.iter_rows(values_only=True) for c in row if c is not None}
    assert people["caobang_cash"].national_id in cells and people["hanoi_cash"].national_id not in cells

    # A payout of a Hà Nội person is not found for them, as an unknown one.
    async with session_scope(office.engine) as session:
        hanoi_cash = await session.scalar(text(
            """SELECT p.id FROM payout p JOIN beneficiary b ON b.id = p.beneficiary_id
                WHERE p.run_id = :run AND b.national_id = :nid"""),
            {"run": run_id, "nid": people["hanoi_cash"].national_id})
    returned = await office.post(f"/api/payout-runs/{run_id}/payouts/{hanoi_cash}/cash-return",
                                 json={"reason": "chuyển đi"})
    assert returned.status_code == 404 and "no such payout in this run" in returned.json()["detail"]

    # An auditor limited to Cao Bằng reads the same share, and gets no batch either.
    await office.be("ha.caobang")
    assert (await office.client.get(f"/api/payout-runs/{run_id}")).json()["scope"]["count"] == 3
    assert (await office.client.get(f"/api/payout-runs/{run_id}/payouts")).json()["total"] == 3
    refused = await office.client.get(f"/api/payout-runs/{run_id}/orders",
                                      params={"bank": VIETCOMBANK, "format": "pain001"})
    assert refused.status_code == 403

    # Staff without a province limit still read the whole run and take the bank's batch.
    await office.be("lan.officer")
    whole = (await office.client.get(f"/api/payout-runs/{run_id}")).json()
    assert whole["scope"] is None and len(whole["by_commune"]) == 2 and whole["skipped_count"] == 2
    assert (await office.client.get(f"/api/payout-runs/{run_id}/payouts")).json()["total"] == 6
    assert (await office.client.get(f"/api/payout-runs/{run_id}/unpaid")).json()["total"] == 2
    taken = await office.client.get(f"/api/payout-runs/{run_id}/orders",
                                    params={"bank": VIETCOMBANK, "format": "pain001"})
    assert taken.status_code == 200 and taken.headers["x-message-id"].startswith(f"ANSINH-{VIETCOMBANK}-")
    assert people["hanoi_1"].account_number in taken.text and people["caobang_1"].account_number in taken.text


async def test_the_steps_of_a_run_are_refused_to_province_limited_staff(office):
    await _people(office)
    refusal = "chỉ cán bộ không giới hạn tỉnh mới lập, tính, duyệt, gửi, hủy hoặc đóng đợt chi"

    async def status(run_id: str) -> str:
        return (await office.client.get(f"/api/payout-runs/{run_id}")).json()["status"]

    await office.be("tuan.caobang")
    created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})
    assert created.status_code == 403 and refusal in created.json()["detail"]
    assert "(tài khoản của bạn giới hạn ở Cao Bằng) / " in created.json()["detail"]  # by name, not "tỉnh 04"
    assert "(your account is limited to Cao Bằng)" in created.json()["detail"]
    assert await count_rows(office.engine, "SELECT count(*) FROM payout_run") == 0

    await office.be("lan.officer")
    run_id = str((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    await office.be("tuan.caobang")
    computed = await office.post(f"/api/payout-runs/{run_id}/compute")
    assert computed.status_code == 403 and refusal in computed.json()["detail"]
    cancelled = await office.post(f"/api/payout-runs/{run_id}/cancel", json={"reason": "nhầm kỳ"})
    assert cancelled.status_code == 403 and await status(run_id) == "draft"

    await office.compute("2026-03", run_id)
    await office.be("mai.caobang")
    approved = await office.post(f"/api/payout-runs/{run_id}/approve")
    assert approved.status_code == 403 and refusal in approved.json()["detail"]
    assert await status(run_id) == "computed"

    await office.approve(run_id)
    await office.fund(VIETCOMBANK, 2 * TGXH_HANOI + 2 * TGXH_CAO_BANG, "FT-2603")
    await office.fund_cash(run_id)
    await office.be("tuan.caobang")
    sent = await office.post(f"/api/payout-runs/{run_id}/send")
    assert sent.status_code == 403 and refusal in sent.json()["detail"]
    assert await status(run_id) == "approved"
    assert await count_rows(office.engine, "SELECT count(*) FROM payout WHERE status = 'sent'") == 0
    closed = await office.post(f"/api/payout-runs/{run_id}/close")
    assert closed.status_code == 403 and refusal in closed.json()["detail"]

    # What stays theirs: the cash of their own communes.
    funded = await office.post("/api/funding", json={"commune_code": CAO_BANG_COMMUNE, "programme": "TGXH",
                                                     "amount": 1, "reference": "TM-CB-1", "value_date": "2026-03-05"})
    assert funded.status_code == 201, funded.text


async def _money_written(office: Office) -> tuple[int, ...]:
    """What recording funding writes: funding rows, their reversals, ledger transfers and their sum, the bank's
    disbursement account's credits and debits, and the audit entries."""
    async with session_scope(office.engine) as session:
        row = (await session.execute(text(
            """SELECT (SELECT count(*) FROM funding), (SELECT count(*) FROM funding_reversal),
                      (SELECT count(*) FROM ledger_transfer), (SELECT coalesce(sum(amount), 0) FROM ledger_transfer),
                      (SELECT coalesce(sum(debits_posted + credits_posted), 0) FROM ledger_account
                        WHERE code LIKE :accounts),
                      (SELECT count(*) FROM audit_log WHERE action LIKE 'funding.%')"""),
            {"accounts": "bank:%:disbursement"})).one()
    return tuple(int(n) for n in row)


async def test_a_banks_funding_is_refused_to_province_limited_officers_and_their_communes_cash_is_not(office):
    await _people(office)
    run_id = await office.approved_run("2026-03")
    before = await _money_written(office)
    funding = {"bank_bin": VIETCOMBANK, "programme": "TGXH", "amount": 2 * TGXH_CAO_BANG, "reference": "FT-CB-1",
               "value_date": "2026-03-05"}

    # The bank's disbursement account pays every province's payouts there: not theirs to fund.
    await office.be("tuan.caobang")
    refused = await office.post("/api/funding", json=funding)
    assert refused.status_code == 403, refused.text
    detail = refused.json()["detail"]
    assert "chỉ cán bộ không giới hạn tỉnh mới ghi nhận hoặc hủy khoản cấp này" in detail
    assert "only an officer without a province limit can record or reverse it" in detail
    assert "giới hạn ở Cao Bằng)" in detail and "limited to Cao Bằng)" in detail and "Cash given to a commune in your provinces you can still record" in detail
    assert await _money_written(office) == before  # nothing recorded, the ledger as it was
    # Also when the entry is wrong otherwise (both places, no amount): the limit answers first.
    both = await office.post("/api/funding", json={**funding, "commune_code": CAO_BANG_COMMUNE, "amount": 0})
    assert both.status_code == 403 and await _money_written(office) == before

    # An officer without a province limit records it, and then it is not theirs to reverse either.
    await office.be("lan.officer")
    funded = await office.post("/api/funding", json=funding)
    assert funded.status_code == 201, funded.text
    after_bank = await _money_written(office)
    assert after_bank[0] == before[0] + 1 and after_bank[3] == before[3] + 2 * TGXH_CAO_BANG
    await office.be("tuan.caobang")
    reversal = await office.post(f"/api/funding/{funded.json()['id']}/reverse", json={"reason": "nhầm ngân hàng"})
    assert reversal.status_code == 403 and "ghi nhận hoặc hủy khoản cấp này" in reversal.json()["detail"]
    assert await _money_written(office) == after_bank

    # A commune's cash in their own province stays theirs (the cash handed over there is their communes' work);
    # another province's commune is not.
    cash = await office.post("/api/funding", json={"commune_code": CAO_BANG_COMMUNE, "programme": "TGXH",
                                                   "amount": TGXH_CAO_BANG, "reference": "TM-CB-1",
                                                   "value_date": "2026-03-05"})
    assert cash.status_code == 201, cash.text
    hanoi = await office.post("/api/funding", json={"commune_code": HANOI_COMMUNE, "programme": "TGXH",
                                                    "amount": TGXH_HANOI, "reference": "TM-HN-1",
                                                    "value_date": "2026-03-05"})
    assert hanoi.status_code == 403
    assert (await _money_written(office))[0] == after_bank[0] + 1
    async with session_scope(office.engine) as session:
        assert await session.scalar(text("SELECT status FROM payout_run WHERE id = :id"), {"id": run_id}) == "approved"
