"""A bank fetching its payment orders gets the same MsgId for the same orders, so a bank that de-duplicates
on MsgId does not execute them twice; other orders get another MsgId."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
import xmlschema
from defusedxml import ElementTree

from app.payouts.order_files import PAIN001_NAMESPACE
from app.payouts.service.orders import bank_message_id
from app.registry.fake import BeneficiaryFaker
from tests.app.payouts.factories import payment_order
from tests.support.actors import bank_key
from tests.support.world import VIETCOMBANK, Office, person

SCHEMA_PATH = Path(__file__).parent / "schemas" / "pain.001.001.09.xsd"
NS = {"p": PAIN001_NAMESPACE}
MESSAGE_ID = re.compile(r"ANSINH-970436-[0-9A-F]{20}")


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


async def _fetch(office: Office, headers: dict[str, str]) -> bytes:
    office.client.cookies.clear()
    office.current = ""
    response = await office.client.get("/api/bank/payment-orders", params={"format": "pain001"}, headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def _pain001_ids(content: bytes) -> tuple[str, str, list[str]]:
    root = ElementTree.fromstring(content)
    return (root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS),
            root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", namespaces=NS),
            [tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for tx in root.iterfind(".//p:CdtTrfTxInf", NS)])


async def test_the_same_orders_fetched_again_keep_their_msgid_and_new_orders_get_another(office, engine, schema):
    faker = BeneficiaryFaker(seed=41)
    await office.import_people([person(faker, category="NCT_80"), person(faker, category="NCT_80")])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-FETCH-1")).status_code == 201
    await office.run_cycle("2026-03")
    headers = await bank_key(engine, VIETCOMBANK)

    first = await _fetch(office, headers)
    second = await _fetch(office, headers)
    schema.validate(first.decode("utf-8"))
    schema.validate(second.decode("utf-8"))
    first_id, first_batch, first_refs = _pain001_ids(first)
    second_id, _, second_refs = _pain001_ids(second)
    assert MESSAGE_ID.fullmatch(first_id) and len(first_id) == 34
    assert second_id == first_id and first_batch == first_id
    assert len(first_refs) == 2 and second_refs == first_refs

    await office.run_cycle("2026-04")  # two more orders at the bank, March's still open
    third = await _fetch(office, headers)
    schema.validate(third.decode("utf-8"))
    third_id, _, third_refs = _pain001_ids(third)
    assert len(third_refs) == 4 and set(first_refs) < set(third_refs)
    assert MESSAGE_ID.fullmatch(third_id) and third_id != first_id
    assert _pain001_ids(await _fetch(office, headers))[0] == third_id


def test_bank_message_id_depends_on_the_set_of_orders_only():
    orders = [payment_order(serial) for serial in range(1, 6)]
    message_id = bank_message_id(VIETCOMBANK, orders)
    assert message_id == bank_message_id(VIETCOMBANK, list(reversed(orders)))
    assert len(message_id) <= 35 and re.fullmatch(r"[A-Za-z0-9-]+", message_id)
    assert bank_message_id(VIETCOMBANK, orders[:4]) != message_id
    other = [*orders[:4], payment_order(5, payout_id=uuid.uuid4())]
    assert bank_message_id(VIETCOMBANK, other) != message_id
    assert bank_message_id("970418", orders) != message_id
