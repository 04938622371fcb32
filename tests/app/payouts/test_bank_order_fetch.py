"""A bank fetching its payment orders gets each order in one batch (file) only, under the batch's MsgId; a
lost file is fetched again by its MsgId, the same orders and bytes. Banks see only their own batches."""

from __future__ import annotations

import asyncio
import io
import re
import uuid
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from defusedxml import ElementTree
from openpyxl import load_workbook
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.database import make_sessionmaker, session_scope
from app.payouts.order_files import PAIN001_NAMESPACE, write_orders_xlsx, write_pain001
from app.payouts.service.orders import bank_message_id, batch_again, run_orders, take_new_orders
from app.registry.fake import BeneficiaryFaker
from reconciliation.writers import write_camt053
from tests.app.payouts.factories import payment_order
from tests.app.reconciliation_api.world import as_bank, build_world, debit, returned, statement, upload
from tests.support.actors import bank_key
from tests.support.world import BIDV, VIETCOMBANK, Office, person

SCHEMA_PATH = Path(__file__).parent / "schemas" / "pain.001.001.09.xsd"
NS = {"p": PAIN001_NAMESPACE}
MESSAGE_ID = re.compile(r"ANSINH-970436-[0-9A-F]{20}")


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


async def _get(office: Office, path: str, headers: dict[str, str], **params: str) -> Any:
    office.client.cookies.clear()
    office.current = ""
    return await office.client.get(path, params=params, headers=headers)


async def _fetch(office: Office, headers: dict[str, str]) -> bytes:
    response = await _get(office, "/api/bank/payment-orders", headers, format="pain001")
    assert response.status_code == 200, response.text
    return response.content


def _pain001_ids(content: bytes) -> tuple[str, str, list[str]]:
    root = ElementTree.fromstring(content)
    return (root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS),
            root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:PmtInfId", namespaces=NS),
            [tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for tx in root.iterfind(".//p:CdtTrfTxInf", NS)])


async def _two_people_paid_in_march(office: Office) -> str:
    """The March run's id: two orders sent to Vietcombank."""
    faker = BeneficiaryFaker(seed=41)
    await office.import_people([person(faker, category="NCT_80"), person(faker, category="NCT_80")])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-FETCH-1")).status_code == 201
    return (await office.run_cycle("2026-03"))["id"]


async def _fetched(office: Office, run_id: str) -> list[tuple[str, int, int]]:
    """(bank, orders, fetched by the bank) of the run, as the officer reads them."""
    await office.be("lan.officer")
    detail = (await office.client.get(f"/api/payout-runs/{run_id}")).json()
    return [(b["bank_bin"], b["count"], b["fetched"]) for b in detail["by_bank"]]


async def test_each_order_comes_in_one_batch_and_a_lost_file_is_fetched_again_by_its_msgid(office, engine, schema):
    march = await _two_people_paid_in_march(office)
    headers = await bank_key(engine, VIETCOMBANK)
    assert await _fetched(office, march) == [(VIETCOMBANK, 2, 0)]

    first = await _fetch(office, headers)
    # The officer sees that the bank has taken the run's orders (run detail, API and page), and in which batch.
    assert await _fetched(office, march) == [(VIETCOMBANK, 2, 2)]
    schema.validate(first.decode("utf-8"))
    first_id, first_batch, first_refs = _pain001_ids(first)
    page = await office.client.get(f"/payout-runs/{march}")
    assert page.status_code == 200 and "Đã vào lô lệnh" in page.text and "2 / 2" in page.text
    assert f"pain.001 {first_id}</a> — 2 lệnh của đợt" in page.text and "bởi bank:970436" in page.text
    assert MESSAGE_ID.fullmatch(first_id) and len(first_id) == 34 and first_batch == first_id
    assert len(first_refs) == 2
    # The same orders are not handed out again, in any format: an executed order not yet on a statement
    # cannot come back in a second file under another MsgId.
    again = await _get(office, "/api/bank/payment-orders", headers, format="pain001")
    assert again.status_code == 404 and "Không có lệnh chi mới" in again.json()["detail"]
    assert "/api/bank/payment-orders/batches" in again.json()["detail"]
    empty = (await _get(office, "/api/bank/payment-orders", headers)).json()
    assert (empty["message_id"], empty["items"], empty["total"]) == (None, [], 0)
    assert "/api/bank/payment-orders/batches" in empty["detail"]

    await office.run_cycle("2026-04")  # two more orders at the bank, March's still open (not credited)
    second = await _get(office, "/api/bank/payment-orders", headers)  # json this time
    assert second.status_code == 200, second.text
    body = second.json()
    assert len(body["items"]) == 2 and not {i["reference"] for i in body["items"]} & set(first_refs)
    assert {i["period"] for i in body["items"]} == {"2026-04"}
    assert MESSAGE_ID.fullmatch(body["message_id"]) and body["message_id"] != first_id

    listed = (await _get(office, "/api/bank/payment-orders/batches", headers)).json()
    assert [(b["message_id"], b["orders"], b["total_amount"], b["still_open"]) for b in listed["items"]] == [
        (body["message_id"], 2, 1_300_000, 2), (first_id, 2, 1_300_000, 2)]
    assert listed["total"] == 2
    newest = (await _get(office, "/api/bank/payment-orders/batches", headers, limit="1")).json()
    assert [b["message_id"] for b in newest["items"]] == [body["message_id"]] and newest["total"] == 2
    # The lost March file, again: the same bytes (MsgId, creation time, orders, and the debtor account it
    # named, though the bank's disbursement account has changed since).
    await office.register_disbursement(VIETCOMBANK, account_number="0011009999999")
    lost = await _get(office, f"/api/bank/payment-orders/batches/{first_id}", headers)
    assert lost.status_code == 200 and lost.content == first
    as_csv = await _get(office, f"/api/bank/payment-orders/batches/{first_id}", headers, format="csv")
    assert as_csv.status_code == 200 and all(ref in as_csv.text for ref in first_refs)


async def test_a_fetch_repeated_with_its_request_id_gets_its_batch_again(office, engine):
    """A response lost on the way: the bank repeats the fetch with the same request_id and gets the same
    batch, not an empty one (and not the orders of a later run)."""
    await _two_people_paid_in_march(office)
    headers = await bank_key(engine, VIETCOMBANK)
    first = await _get(office, "/api/bank/payment-orders", headers, format="pain001", request_id="VCB-20260310-1")
    assert first.status_code == 200, first.text
    await office.run_cycle("2026-04")
    again = await _get(office, "/api/bank/payment-orders", headers, format="pain001", request_id="VCB-20260310-1")
    assert again.status_code == 200 and again.content == first.content
    other = (await _get(office, "/api/bank/payment-orders", headers, request_id="VCB-20260310-2")).json()
    assert len(other["items"]) == 2 and {i["period"] for i in other["items"]} == {"2026-04"}
    too_long = await _get(office, "/api/bank/payment-orders", headers, request_id="x" * 101)
    assert too_long.status_code == 400


async def test_a_batch_holds_at_most_limit_orders_and_says_when_there_are_more(office, engine):
    await _two_people_paid_in_march(office)
    headers = await bank_key(engine, VIETCOMBANK)
    first = await _get(office, "/api/bank/payment-orders", headers, format="pain001", limit="1")
    assert first.status_code == 200 and first.headers["X-More-Orders"] == "true"
    assert len(_pain001_ids(first.content)[2]) == 1
    second = await _get(office, "/api/bank/payment-orders", headers, limit="1")
    body = second.json()
    assert len(body["items"]) == 1 and body["more"] is False and second.headers["X-More-Orders"] == "false"
    assert body["items"][0]["reference"] not in _pain001_ids(first.content)[2]
    assert (await _get(office, "/api/bank/payment-orders", headers, format="csv")).status_code == 404
    for bad in ("0", "100001", "-5"):
        refused = await _get(office, "/api/bank/payment-orders", headers, limit=bad)
        assert refused.status_code == 400 and "limit" in refused.json()["detail"]


async def test_a_fetch_repeated_with_its_request_id_still_says_there_are_more_orders(office, engine):
    """A bank repeating a lost fetch (the same request_id) gets the same batch and is still told to fetch the
    rest, in every format; once the rest is taken the same batch again says there is nothing more."""
    await _two_people_paid_in_march(office)
    headers = await bank_key(engine, VIETCOMBANK)
    first = await _get(office, "/api/bank/payment-orders", headers, request_id="VTB-A", limit="1")
    assert first.status_code == 200 and first.json()["more"] is True and first.headers["X-More-Orders"] == "true"
    message_id = first.json()["message_id"]
    again = await _get(office, "/api/bank/payment-orders", headers, request_id="VTB-A", limit="1")
    assert again.json()["message_id"] == message_id and again.json()["items"] == first.json()["items"]
    assert again.json()["more"] is True and again.headers["X-More-Orders"] == "true"
    for file_format in ("csv", "pain001"):
        as_file = await _get(office, "/api/bank/payment-orders", headers, request_id="VTB-A", limit="1",
                             format=file_format)
        assert as_file.status_code == 200 and message_id in as_file.headers["Content-Disposition"]
        assert as_file.headers["X-More-Orders"] == "true"
    by_id = await _get(office, f"/api/bank/payment-orders/batches/{message_id}", headers)
    assert by_id.headers["X-More-Orders"] == "true"
    rest = await _get(office, "/api/bank/payment-orders", headers, request_id="VTB-B", limit="1")
    assert len(rest.json()["items"]) == 1 and rest.json()["more"] is False
    done = await _get(office, "/api/bank/payment-orders", headers, request_id="VTB-A", limit="1")
    assert done.json()["message_id"] == message_id
    assert done.json()["more"] is False and done.headers["X-More-Orders"] == "false"


async def test_credited_and_returned_orders_say_how_many_there_are_and_why_one_came_back(office, engine):
    _, payouts = await build_world(office, vietcombank=4)
    statement_file = write_camt053(statement(VIETCOMBANK, [debit(payouts[0]), debit(payouts[1]), debit(payouts[2]),
                                                           returned(payouts[3], "AC04")]))
    headers = await as_bank(office, VIETCOMBANK)
    assert (await upload(office, headers, statement_file, "SK-1.xml")).status_code == 201
    credited = (await _get(office, "/api/bank/payment-orders", headers, status="credited", limit="2")).json()
    assert (len(credited["items"]), credited["total"], credited["page"], credited["page_size"]) == (2, 3, 1, 2)
    assert {item["return_reason"] for item in credited["items"]} == {None}
    back = (await _get(office, "/api/bank/payment-orders", headers, status="returned")).json()
    assert back["total"] == 1 and [(i["reference"], i["return_reason"]) for i in back["items"]] == [
        (payouts[3].reference, "AC04")]


async def test_a_bank_sees_only_its_own_batches_and_staff_cannot_fetch_orders(office, engine):
    await _two_people_paid_in_march(office)
    vietcombank, bidv = await bank_key(engine, VIETCOMBANK), await bank_key(engine, BIDV)
    taken = (await _get(office, "/api/bank/payment-orders", vietcombank)).json()
    assert len(taken["items"]) == 2
    # BIDV has no orders, no batches, and cannot read Vietcombank's batch by its MsgId.
    assert (await _get(office, "/api/bank/payment-orders", bidv)).json()["items"] == []
    assert (await _get(office, "/api/bank/payment-orders/batches", bidv)).json() == {"items": [], "total": 0}
    other = await _get(office, f"/api/bank/payment-orders/batches/{taken['message_id']}", bidv)
    assert other.status_code == 404 and "Không có lô lệnh chi" in other.json()["detail"]
    for odd in ("%00abc", "x" * 2000, "ANSINH-970436-%27%3B"):  # not a MsgId: not found, and not echoed
        response = await _get(office, f"/api/bank/payment-orders/batches/{odd}", vietcombank)
        assert response.status_code == 404 and "x" * 50 not in response.text and "abc" not in response.text
    # Staff are not banks: the order fetch belongs to the bank's key (an officer has the run's files).
    await office.be("lan.officer")
    assert (await office.client.get("/api/bank/payment-orders")).status_code == 403
    assert (await office.client.get("/api/bank/payment-orders/batches")).status_code == 403
    for status in ("credited", "returned"):
        listed = await _get(office, "/api/bank/payment-orders", vietcombank, status=status)
        assert listed.status_code == 200 and listed.json()["items"] == []
    refused = await _get(office, "/api/bank/payment-orders", vietcombank, status="credited", format="pain001")
    assert refused.status_code == 400


async def test_two_fetches_at_once_split_the_orders_and_the_database_refuses_an_order_in_two_batches(
        office, engine):
    await _two_people_paid_in_march(office)
    first, second = (make_sessionmaker(engine)() for _ in range(2))
    try:
        taken = await take_new_orders(first, VIETCOMBANK, "key-1")
        waiting = asyncio.ensure_future(take_new_orders(second, VIETCOMBANK, "key-2"))
        await asyncio.sleep(0.5)
        assert not waiting.done()  # the second fetch waits for the first's transaction
        await first.commit()
        assert await waiting is None  # ... and then finds nothing new: no order in two files
        await second.commit()
    finally:
        await first.close()
        await second.close()
    assert taken is not None and len(taken.orders) == 2
    async with session_scope(engine) as session:
        batch_id = await session.scalar(text("SELECT max(id) FROM payment_order_batch"))
        payout_id = taken.orders[0].payout_id
    with pytest.raises(IntegrityError, match="payment_order_batch_item_pkey"):
        async with session_scope(engine) as session:
            other = await session.scalar(text(
                """INSERT INTO payment_order_batch (bank_bin, message_id, fetched_by, order_count, total_amount,
                                                   debtor_account_number, debtor_bank_name, requested_execution_date)
                   VALUES ('970436', 'ANSINH-TEST-AGAIN', 'test', 1, 650000, '0011004455667', 'Vietcombank',
                           current_date) RETURNING id"""))
            await session.execute(text("INSERT INTO payment_order_batch_item VALUES (:p, :b)"),
                                  {"p": payout_id, "b": other})
    with pytest.raises(DBAPIError, match="append-only"):
        async with session_scope(engine) as session:
            await session.execute(text("DELETE FROM payment_order_batch_item WHERE batch_id = :b"), {"b": batch_id})


async def test_order_files_are_requested_for_the_vietnam_date_not_the_utc_one(office, engine):
    march = await _two_people_paid_in_march(office)
    # 06:57 on 01/12 in Việt Nam is still 30/11 in UTC.
    before_seven = datetime(2026, 11, 30, 23, 57, tzinfo=UTC)
    async with session_scope(engine) as session:
        batch = await take_new_orders(session, VIETCOMBANK, "key-1", now=before_seven)
        assert batch is not None
        run_header, _ = await run_orders(session, uuid.UUID(march), VIETCOMBANK, now=before_seven)
    assert batch.header.requested_execution_date == date(2026, 12, 1)
    assert run_header.requested_execution_date == date(2026, 12, 1)
    root = ElementTree.fromstring(write_pain001(batch.header, batch.orders))
    assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-12-01"
    async with session_scope(engine) as session:
        stored = await session.scalar(text("SELECT requested_execution_date FROM payment_order_batch"))
        again = await batch_again(session, VIETCOMBANK, batch.header.message_id)
    assert stored == date(2026, 12, 1)
    assert again.header.requested_execution_date == date(2026, 12, 1)


async def test_order_files_name_the_debtor_in_vietnamese_and_banks_get_the_same_latin_name(office, engine):
    march = await _two_people_paid_in_march(office)
    async with session_scope(engine) as session:
        header, orders = await run_orders(session, uuid.UUID(march), VIETCOMBANK)
    assert header.debtor_name == "Sở Lao động - Thương binh và Xã hội / Labour department"
    batch_sheet = load_workbook(io.BytesIO(write_orders_xlsx(header, orders)))["Thông tin lô - Batch"]
    assert dict(batch_sheet.iter_rows(values_only=True))["Đơn vị chi trả/Debtor"] == header.debtor_name
    # In a bank's file, ISO 20022 Latin: what it was before the name had its accents (a batch fetched again
    # gives the same bytes).
    async with session_scope(engine) as session:
        batch = await take_new_orders(session, VIETCOMBANK, "key-1")
    assert batch is not None and batch.header.debtor_name == header.debtor_name
    root = ElementTree.fromstring(write_pain001(batch.header, batch.orders))
    latin = "SO LAO DONG - THUONG BINH VA XA HOI / LABOUR DEPARTMENT"
    assert root.findtext("p:CstmrCdtTrfInitn/p:PmtInf/p:Dbtr/p:Nm", namespaces=NS) == latin
    assert root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:InitgPty/p:Nm", namespaces=NS) == latin


def test_bank_message_id_depends_on_the_set_of_orders_only():
    orders = [payment_order(serial) for serial in range(1, 6)]
    message_id = bank_message_id(VIETCOMBANK, orders)
    assert message_id == bank_message_id(VIETCOMBANK, list(reversed(orders)))
    assert len(message_id) <= 35 and re.fullmatch(r"[A-Za-z0-9-]+", message_id)
    assert bank_message_id(VIETCOMBANK, orders[:4]) != message_id
    other = [*orders[:4], payment_order(5, payout_id=uuid.uuid4())]
    assert bank_message_id(VIETCOMBANK, other) != message_id
    assert bank_message_id("970418", orders) != message_id
