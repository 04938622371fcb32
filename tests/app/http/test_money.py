"""Money in a JSON body is a JSON integer of đồng: a string, a float (even 1000.0), a boolean or null is a
422 naming the field, never coerced, and nothing is stored. Files keep their own cell parsers."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.http.money import NOT_A_JSON_INTEGER, Dong, decode_dong
from tests.support.credit import credit_payouts
from tests.support.withdrawal_world import T0, build_sent_month, iso
from tests.support.world import VIETCOMBANK, Office

# Each a JSON value an API client might send for 1,000 đồng (or for nothing) by mistake.
NOT_INTEGERS: list[Any] = ["1000", "1.000", 1000.0, 1000.5, 1e3, True, False, None]


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _count(engine, sql: str) -> int:
    async with session_scope(engine) as session:
        return int(await session.scalar(text(sql)) or 0)


def _assert_money_refused(response: Any, field: str) -> None:
    """A 422 problem whose detail and errors name ``field``, in Vietnamese then English."""
    assert response.status_code == 422, (response.status_code, response.text)
    assert response.headers["content-type"].startswith("application/problem+json")
    body = response.json()
    assert body["detail"] == (f"Số tiền phải là số nguyên JSON (số đồng): {field} / "
                              f"money must be a JSON integer of đồng: {field}")
    [error] = body["errors"]
    assert error["column"] == field and error["row"] is None
    assert error["message"].startswith(f"Trường '{field}' phải là số nguyên JSON (số đồng)")
    assert error["message_en"].startswith(f"'{field}' must be a JSON integer of đồng")


def test_only_a_json_integer_decodes_as_money():
    assert decode_dong(Dong, 650_000) == 650_000 and type(decode_dong(Dong, 650_000)) is Dong
    for value in NOT_INTEGERS:
        with pytest.raises(TypeError, match=NOT_A_JSON_INTEGER):
            decode_dong(Dong, value)


async def test_funding_takes_only_a_json_integer_amount(office, engine):
    await office.register_disbursement(VIETCOMBANK)
    for value in NOT_INTEGERS:
        refused = await office.post("/api/funding", json={"bank_bin": VIETCOMBANK, "programme": "TGXH",
                                                          "amount": value, "reference": "FT-STRICT",
                                                          "value_date": "2026-03-05"})
        _assert_money_refused(refused, "amount")
    assert await _count(engine, "SELECT count(*) FROM funding") == 0
    recorded = await office.fund(VIETCOMBANK, 1000, "FT-STRICT")
    assert recorded.status_code == 201 and recorded.json()["amount"] == 1000
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT amount FROM funding")) == 1000
    # The other fields keep their own messages: a bad date is not a money error.
    bad_date = await office.post("/api/funding", json={"bank_bin": VIETCOMBANK, "programme": "TGXH",
                                                       "amount": 1000, "reference": "FT-2", "value_date": "5/3"})
    assert bad_date.status_code == 400 and "value_date" in bad_date.text


async def test_a_rate_takes_only_a_json_integer_base_amount(office, engine):
    before = await _count(engine, "SELECT count(*) FROM programme_rate")
    for value in NOT_INTEGERS:
        refused = await office.post("/api/programmes/TGXH/rates",
                                    json={"effective_from": "2027-01-01", "base_amount": value})
        _assert_money_refused(refused, "base_amount")
    assert await _count(engine, "SELECT count(*) FROM programme_rate") == before
    added = await office.post("/api/programmes/TGXH/rates", json={"effective_from": "2027-01-01",
                                                                  "base_amount": 600_000})
    assert added.status_code == 201 and added.json()["base_amount"] == 600_000


async def test_an_assisted_withdrawal_takes_only_a_json_integer_amount(office, engine, client):
    world = await build_sent_month(office)
    await credit_payouts(engine, [world.payouts["A"]], T0)
    csrf = await world.as_commune_staff("hoa.commune")
    url = f"/api/beneficiaries/{world.ids['A']}/assisted-withdrawals"
    for value in NOT_INTEGERS:
        refused = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=1)),
                                                              "amount": value, "note": "ATM"})
        _assert_money_refused(refused, "amount")
    assert await _count(engine, "SELECT count(*) FROM withdrawal") == 0
    helped = await client.post(url, headers=csrf, json={"occurred_at": iso(T0 + timedelta(days=1)),
                                                         "amount": 1000, "note": "ATM"})
    assert helped.status_code == 201, helped.text
    assert (helped.json()["amount"], helped.json()["undrawn_amount"]) == (1000, 649_000)


async def test_bank_withdrawals_as_json_take_only_integer_amounts_and_files_keep_their_text_cells(
        office, engine, client):
    world = await build_sent_month(office)
    rows = [{**world.row("A", f"VCB-{index}", T0 + timedelta(days=1)), "amount": value}
            for index, value in enumerate(NOT_INTEGERS, start=1)]
    refused = await world.bank_post([world.row("B", "VCB-GOOD", T0 + timedelta(days=1)), *rows])
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["detail"].startswith(f"{len(NOT_INTEGERS)} dòng có lỗi; chưa lưu dòng nào")
    assert [(e["row"], e["column"]) for e in body["errors"]] == [
        (row, "Số tiền / amount") for row in range(2, len(NOT_INTEGERS) + 2)]
    assert all(e["message"].startswith("Số tiền phải là số nguyên JSON") for e in body["errors"])
    assert all(e["message_en"].startswith("amount must be a JSON integer of đồng") for e in body["errors"])
    missing = {key: value for key, value in world.row("C", "VCB-MISSING", T0).items() if key != "amount"}
    assert (await world.bank_post([missing])).status_code == 422
    assert await _count(engine, "SELECT count(*) FROM withdrawal") == 0
    taken = await world.bank_post([world.row("B", "VCB-GOOD", T0 + timedelta(days=1), amount=1000)])
    assert taken.status_code == 200 and taken.json()["accepted"] == 1
    # A CSV file is text: "650.000" there is 650,000 đồng, as the banks' exports write it.
    csv_file = ("account_number,occurred_at,amount,channel,bank_ref\r\n"
                f"{world.people['C'].account_number},12/03/2026 09:30,650.000,atm,VCB-CSV-1\r\n").encode()
    from_file = await client.post("/api/bank/withdrawals", headers=world.bank_headers,
                                  files={"file": ("rut-tien.csv", csv_file, "text/csv")})
    assert from_file.status_code == 200 and from_file.json()["accepted"] == 1, from_file.text
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT amount FROM withdrawal WHERE bank_reference = 'VCB-CSV-1'")) == 650_000


async def test_the_openapi_document_says_money_is_an_integer(client):
    components = (await client.get("/schema/openapi.json")).json()["components"]["schemas"]
    for schema, field in (("FundingInput", "amount"), ("AssistedWithdrawalIn", "amount"), ("RateIn", "base_amount")):
        assert components[schema]["properties"][field]["type"] == "integer", components[schema]
        assert field in components[schema]["required"]
