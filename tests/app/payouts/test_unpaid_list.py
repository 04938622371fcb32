"""Everyone a run did not pay, whole: the run's page shows the first 200 of each list and says so, with
the true counts; ``GET /api/payout-runs/{id}/unpaid`` pages through them all (json) or gives one sheet
(xlsx) with the reason in both languages."""

from __future__ import annotations

import io

import pytest
from openpyxl import load_workbook
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker
from tests.support.actors import add_user, bank_key
from tests.support.sheets import a4_landscape_fit_width, print_setup
from tests.support.vietnamese import person_sort_key
from tests.support.world import HANOI_COMMUNE, VIETCOMBANK, Office, person


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _world(office: Office, people: int, mismatched: int) -> tuple[str, dict[str, str]]:
    """``people`` at Vietcombank, ``mismatched`` of them with an account whose holder name the bank found
    not to match; the April run computed. The run id and each mismatched person's citizen ID by name."""
    faker = BeneficiaryFaker(seed=31)
    crowd = [person(faker) for _ in range(people)]
    await office.import_people(crowd)
    async with session_scope(office.engine) as session:
        rows = (await session.execute(text(
            """UPDATE bank_account a SET verification_status = 'name_mismatch'
                 FROM beneficiary b WHERE b.id = a.beneficiary_id AND b.national_id = ANY(:ids)
               RETURNING b.full_name, b.national_id"""),
            {"ids": [p.national_id for p in crowd[:mismatched]]})).all()
    created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-04"})
    assert created.status_code == 201, created.text
    computed = await office.post(f"/api/payout-runs/{created.json()['id']}/compute")
    assert computed.status_code == 200, computed.text
    return created.json()["id"], {name: national_id for name, national_id in rows}


async def test_the_unpaid_list_pages_through_everyone_with_the_reason_in_both_languages(office):
    run_id, mismatched = await _world(office, 6, 4)
    first = await office.client.get(f"/api/payout-runs/{run_id}/unpaid", params={"page_size": 3})
    assert first.status_code == 200, first.text
    body = first.json()
    assert (body["total"], body["page"], body["page_size"], len(body["items"])) == (4, 1, 3, 3)
    second = (await office.client.get(f"/api/payout-runs/{run_id}/unpaid",
                                      params={"page_size": 3, "page": 2})).json()
    items = body["items"] + second["items"]
    assert second["total"] == 4 and len(second["items"]) == 1
    assert {i["national_id"]: i["full_name"] for i in items} == {v: k for k, v in mismatched.items()}
    assert [(i["commune_code"], i["full_name"]) for i in items] == sorted(  # names in Vietnamese order
        ((i["commune_code"], i["full_name"]) for i in items), key=lambda i: (i[0], person_sort_key(i[1])))
    assert {(i["kind"], i["reason"], i["reason_vi"], i["reason_en"], i["kind_vi"]) for i in items} == {
        ("skipped", "bank_account_name_mismatch", "Tên chủ tài khoản không khớp",
         "the account holder name does not match", "Không chi")}
    # The amount is what the person would have been paid (NCT_80 in Hà Nội, January to April arrears).
    async with session_scope(office.engine) as session:
        owed = dict((await session.execute(text(
            """SELECT b.national_id, s.amount FROM payout_run_skip s JOIN beneficiary b ON b.id = s.beneficiary_id
                WHERE s.run_id = :run"""), {"run": run_id})).all())
    assert {i["national_id"]: i["amount"] for i in items} == owed and len(owed) == 4
    assert body["total_amount"] == second["total_amount"] == sum(owed.values()) > 0
    # A page past the end still says how long the list is.
    past = (await office.client.get(f"/api/payout-runs/{run_id}/unpaid", params={"page": 9})).json()
    assert (past["items"], past["total"], past["total_amount"]) == ([], 4, sum(owed.values()))


async def test_the_unpaid_sheet_lists_everyone_with_a_total_formula_and_prints_on_a4(office):
    run_id, mismatched = await _world(office, 5, 3)
    response = await office.client.get(f"/api/payout-runs/{run_id}/unpaid", params={"format": "xlsx"})
    assert response.status_code == 200, response.text
    assert 'filename="khong-chi-' in response.headers["content-disposition"]
    sheet = load_workbook(io.BytesIO(response.content)).active
    rows = [list(r) for r in sheet.iter_rows(values_only=True)]
    assert rows[0][0].startswith("Danh sách không chi / Not paid — TGXH 2026-04")
    header_at = next(i for i, r in enumerate(rows) if r[0] == "STT\nNo.")
    assert rows[header_at][3] == "Họ và tên\nFull name" and rows[header_at][9] == "Số tiền (đ)\nAmount (VND)"
    data = rows[header_at + 1:header_at + 4]
    assert [r[0] for r in data] == [1, 2, 3]
    assert {r[3]: r[4] for r in data} == mismatched
    assert {(r[5], r[6], r[7]) for r in data} == {
        ("Không chi", "Tên chủ tài khoản không khớp", "the account holder name does not match")}
    total_row = rows[header_at + 4]
    assert total_row[3] == "Tổng cộng / Total"
    assert total_row[9] == f"=SUM(J{header_at + 2}:J{header_at + 4})"
    assert sheet.cell(row=header_at + 2, column=10).number_format == "#,##0"
    assert print_setup(sheet) == a4_landscape_fit_width(header_at + 1)
    assert sheet.freeze_panes == f"A{header_at + 2}"
    total = sum(r[9] for r in data)
    dotted = f"{total:,}".replace(",", ".")
    assert rows[1][0] == f"3 người, {dotted} đ / 3 people, {total:,} VND"


async def test_a_run_that_paid_everyone_has_no_unpaid_sheet_and_others_may_not_read_it(office):
    run_id, _ = await _world(office, 2, 0)
    listed = (await office.client.get(f"/api/payout-runs/{run_id}/unpaid")).json()
    assert (listed["items"], listed["total"], listed["total_amount"]) == ([], 0, 0)
    sheet = await office.client.get(f"/api/payout-runs/{run_id}/unpaid", params={"format": "xlsx"})
    assert sheet.status_code == 404 and "không bỏ sót ai" in sheet.text
    assert (await office.client.get(f"/api/payout-runs/{run_id}/unpaid",
                                    params={"format": "pdf"})).status_code == 400
    unknown = await office.client.get("/api/payout-runs/00000000-0000-0000-0000-000000000000/unpaid")
    assert unknown.status_code == 404
    await office.be("thu.auditor")
    assert (await office.client.get(f"/api/payout-runs/{run_id}/unpaid")).status_code == 200
    await add_user(office.engine, "hoa.xa", Role.commune_staff, communes=(HANOI_COMMUNE,))
    await office.be("hoa.xa")
    assert (await office.client.get(f"/api/payout-runs/{run_id}/unpaid")).status_code == 403
    headers = await bank_key(office.engine, VIETCOMBANK)
    office.client.cookies.clear()
    office.current = ""
    assert (await office.client.get(f"/api/payout-runs/{run_id}/unpaid")).status_code == 401
    assert (await office.client.get(f"/api/payout-runs/{run_id}/unpaid", headers=headers)).status_code == 403


async def test_the_run_page_gives_the_true_count_and_says_it_shows_the_first_200(office):
    run_id, _ = await _world(office, 203, 201)
    page = await office.client.get(f"/payout-runs/{run_id}")
    assert page.status_code == 200
    assert "Không chi (201 người)" in page.text
    assert "Đang hiện 200 / 201 dòng đầu." in page.text
    assert f'href="/api/payout-runs/{run_id}/unpaid?format=xlsx"' in page.text
    assert page.text.count("Tên chủ tài khoản không khớp") == 200
    assert "the account holder name does not match" not in page.text  # one language per page
    detail = (await office.client.get(f"/api/payout-runs/{run_id}")).json()
    assert detail["skipped_count"] == 201 and len(detail["skipped"]) == 201
