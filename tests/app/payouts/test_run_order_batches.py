"""An officer's payment order files of a run and a bank's fetch present each EndToEndId under one MsgId only:
the officer's pain.001 is always a batch's (the one the bank fetched, or a new one taken as the bank's fetch
would take it), and the run's xlsx / CSV are lists for checking that name each order's batch."""

from __future__ import annotations

import csv
import io
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest
import xmlschema
from defusedxml import ElementTree
from openpyxl import load_workbook
from sqlalchemy import text

from app.database import session_scope
from app.payouts.order_files import BATCH_COLUMN, NOT_IN_A_BATCH, ORDER_COLUMNS, PAIN001_NAMESPACE
from app.payouts.service import orders as order_service
from app.registry.fake import BeneficiaryFaker
from tests.support.actors import bank_key
from tests.support.credit import credit_payouts
from tests.support.withdrawal_world import T0
from tests.support.world import VIETCOMBANK, Office, person

SCHEMA_PATH = Path(__file__).parent / "schemas" / "pain.001.001.09.xsd"
NS = {"p": PAIN001_NAMESPACE}


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


@pytest.fixture(scope="module")
def schema() -> xmlschema.XMLSchema:
    return xmlschema.XMLSchema(str(SCHEMA_PATH))


def _message(content: bytes) -> tuple[str, list[str]]:
    """(MsgId, EndToEndIds) of a pain.001."""
    root = ElementTree.fromstring(content)
    return (root.findtext("p:CstmrCdtTrfInitn/p:GrpHdr/p:MsgId", namespaces=NS),
            [tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS) for tx in root.iterfind(".//p:CdtTrfTxInf", NS)])


class Presented:
    """Every (EndToEndId, MsgId) pair any file handed out so far."""

    def __init__(self) -> None:
        self.msgids: dict[str, set[str]] = defaultdict(set)

    def add(self, content: bytes) -> tuple[str, list[str]]:
        message_id, references = _message(content)
        for reference in references:
            self.msgids[reference].add(message_id)
        return message_id, references

    def assert_one_msgid_each(self) -> None:
        assert self.msgids and all(len(ids) == 1 for ids in self.msgids.values()), dict(self.msgids)


async def _bank_get(office: Office, headers: dict[str, str], path: str, **params: str) -> Any:
    office.client.cookies.clear()
    office.current = ""
    return await office.client.get(path, params=params, headers=headers)


async def _run_file(office: Office, run_id: str, user: str = "lan.officer", **params: str) -> Any:
    await office.be(user)
    return await office.client.get(f"/api/payout-runs/{run_id}/orders", params={"bank": VIETCOMBANK, **params})


async def _march(office: Office, people: int = 2) -> str:
    faker = BeneficiaryFaker(seed=57)
    await office.import_people([person(faker, category="NCT_80") for _ in range(people)])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 20_000_000, "FT-BATCH-1")).status_code == 201
    return (await office.run_cycle("2026-03"))["id"]


def _list_rows(content: bytes) -> list[dict[str, str]]:
    rows = list(csv.reader(io.StringIO(content.decode("utf-8-sig"), newline="")))
    assert rows[0] == [*(column.header for column in ORDER_COLUMNS), BATCH_COLUMN.header]
    return [dict(zip(rows[0], row, strict=True)) for row in rows[1:]]


async def test_a_bank_fetch_then_an_officer_download_use_the_bank_batch_msgid(office, engine, schema):
    march = await _march(office)
    vietcombank = await bank_key(engine, VIETCOMBANK)
    presented = Presented()
    fetched = await _bank_get(office, vietcombank, "/api/bank/payment-orders", format="pain001")
    assert fetched.status_code == 200, fetched.text
    message_id, references = presented.add(fetched.content)

    officer = await _run_file(office, march, format="pain001")
    assert officer.status_code == 200, officer.text
    schema.validate(officer.content.decode("utf-8"))
    # The same message, byte for byte: the bank's duplicate check on MsgId catches a second delivery.
    assert officer.content == fetched.content and officer.headers["X-Message-Id"] == message_id
    assert officer.headers["X-More-Orders"] == "false"
    assert presented.add(officer.content) == (message_id, references)
    auditor = await _run_file(office, march, "thu.auditor", format="pain001")
    assert auditor.status_code == 200 and auditor.content == fetched.content
    presented.add(auditor.content)
    presented.assert_one_msgid_each()

    # The lists name the batch of each order and carry no MsgId of their own.
    listed = _list_rows((await _run_file(office, march, format="csv")).content)
    assert {row["Mã tham chiếu/Reference"]: row[BATCH_COLUMN.header] for row in listed} == {
        reference: message_id for reference in references}
    workbook = load_workbook(io.BytesIO((await _run_file(office, march, format="xlsx")).content))
    orders_sheet = workbook["Lệnh chi - Orders"]
    assert "KHÔNG PHẢI LỆNH THANH TOÁN" in orders_sheet.cell(1, 1).value
    assert "NOT A PAYMENT INSTRUCTION" in orders_sheet.cell(1, 1).value
    assert orders_sheet.cell(2, len(ORDER_COLUMNS) + 1).value == BATCH_COLUMN.header
    assert {orders_sheet.cell(row, len(ORDER_COLUMNS) + 1).value for row in (3, 4)} == {message_id}
    facts = dict(workbook["Thông tin lô - Batch"].iter_rows(min_row=2, values_only=True))
    assert "Mã lô lệnh/Message ID" not in facts and "Ngày thực hiện/Requested execution date" not in facts
    assert "không phải lệnh thanh toán" in facts["Loại tệp/Kind"]
    assert facts["Lô lệnh/Batches (MsgId)"] == f"{message_id} (2 lệnh/orders)"
    # The run says which batch holds its orders, and who took it.
    detail = (await office.client.get(f"/api/payout-runs/{march}")).json()
    [bank] = detail["by_bank"]
    assert (bank["fetched"], bank["not_in_a_batch"]) == (2, 0)
    assert [(b["message_id"], b["fetched_by"], b["run_orders"]) for b in bank["batches"]] == [
        (message_id, f"bank:{VIETCOMBANK}", 2)]


async def test_an_officer_download_then_a_bank_fetch_use_the_officer_batch_msgid(office, engine, schema):
    march = await _march(office)
    page = await office.client.get(f"/payout-runs/{march}")
    new_batch_link = f'href="/api/payout-runs/{march}/orders?bank={VIETCOMBANK}&amp;format=pain001"'
    assert new_batch_link in page.text and "lập lô mới cho 2 lệnh chưa vào lô" in page.text
    presented = Presented()
    first = await _run_file(office, march, format="pain001")
    assert first.status_code == 200, first.text
    schema.validate(first.content.decode("utf-8"))
    message_id, references = presented.add(first.content)
    assert message_id == first.headers["X-Message-Id"] and message_id.startswith(f"ANSINH-{VIETCOMBANK}-")
    assert len(references) == 2
    again = await _run_file(office, march, format="pain001")  # the same click again: the same message
    assert again.status_code == 200 and again.content == first.content
    async with session_scope(engine) as session:
        batches = (await session.execute(text("SELECT message_id, fetched_by, order_count FROM payment_order_batch")))
        assert [tuple(b) for b in batches] == [(message_id, "lan.officer", 2)]
        audited = (await session.execute(text(
            "SELECT actor, object_id, after FROM audit_log WHERE action = 'payment_orders.batch_taken'"))).all()
    assert [(a.actor, a.object_id, a.after["orders"], a.after["run_id"]) for a in audited] == [
        ("lan.officer", message_id, 2, march)]
    page = await office.client.get(f"/payout-runs/{march}")
    assert new_batch_link not in page.text and f"pain.001 {message_id}</a>" in page.text
    assert "bởi lan.officer" in page.text

    vietcombank = await bank_key(engine, VIETCOMBANK)
    nothing_new = await _bank_get(office, vietcombank, "/api/bank/payment-orders", format="pain001")
    assert nothing_new.status_code == 404 and "Không có lệnh chi mới" in nothing_new.json()["detail"]
    listed = (await _bank_get(office, vietcombank, "/api/bank/payment-orders/batches")).json()["items"]
    assert [(b["message_id"], b["fetched_by"], b["orders"], b["still_open"]) for b in listed] == [
        (message_id, "lan.officer", 2, 2)]
    by_msgid = await _bank_get(office, vietcombank, f"/api/bank/payment-orders/batches/{message_id}")
    assert by_msgid.status_code == 200 and by_msgid.content == first.content
    presented.add(by_msgid.content)
    presented.assert_one_msgid_each()


async def test_a_run_in_several_batches_is_one_file_per_batch(office, engine):
    march = await _march(office)
    vietcombank = await bank_key(engine, VIETCOMBANK)
    presented = Presented()
    part = await _bank_get(office, vietcombank, "/api/bank/payment-orders", format="pain001", limit="1")
    first_id, first_refs = presented.add(part.content)
    april = (await office.run_cycle("2026-04"))["id"]
    rest = await _bank_get(office, vietcombank, "/api/bank/payment-orders", format="pain001")
    second_id, second_refs = presented.add(rest.content)
    assert len(first_refs) == 1 and len(second_refs) == 3  # March's other order and April's two

    several = await _run_file(office, march, format="pain001")
    assert several.status_code == 409
    body = several.json()
    assert "nằm trong 2 lô" in body["detail"] and "in 2 batches" in body["detail"]
    assert [(b["message_id"], b["run_orders"], b["orders"]) for b in body["batches"]] == [
        (first_id, 1, 1), (second_id, 1, 3)]
    for listed, bank_file in zip(body["batches"], (part, rest), strict=True):
        assert listed["url"] == (f"/api/payout-runs/{march}/orders?bank={VIETCOMBANK}&format=pain001"
                                 f"&batch={listed['message_id']}")
        one = await office.client.get(listed["url"])
        assert one.status_code == 200 and one.content == bank_file.content  # the whole batch, as handed out
        presented.add(one.content)
    # April's orders are all in the second batch: its file is that batch's.
    april_file = await _run_file(office, april, format="pain001")
    assert april_file.status_code == 200 and april_file.content == rest.content
    presented.add(april_file.content)
    presented.assert_one_msgid_each()
    # A batch that holds none of the run's orders, or any other text, is not found (and not echoed).
    assert (await _run_file(office, april, format="pain001", batch=first_id)).status_code == 404
    odd = await _run_file(office, march, format="pain001", batch="ANSINH-<script>")
    assert odd.status_code == 404 and "<script>" not in odd.text
    march_list = _list_rows((await _run_file(office, march, format="csv")).content)
    assert sorted(row[BATCH_COLUMN.header] for row in march_list) == sorted([first_id, second_id])
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM payment_order_batch")) == 2


async def test_an_officer_takes_a_large_run_in_batches_of_the_bank_size(office, engine, monkeypatch):
    march = await _march(office, people=3)
    monkeypatch.setattr(order_service, "BATCH_ORDERS", 2)
    presented = Presented()
    first = await _run_file(office, march, format="pain001")
    assert first.status_code == 200 and first.headers["X-More-Orders"] == "true"
    assert len(presented.add(first.content)[1]) == 2
    second = await _run_file(office, march, format="pain001")
    assert second.status_code == 200 and second.headers["X-More-Orders"] == "false"
    assert len(presented.add(second.content)[1]) == 1
    presented.assert_one_msgid_each()
    assert len(presented.msgids) == 3
    assert (await _run_file(office, march, format="pain001")).status_code == 409  # two batches now


async def test_an_auditor_reads_the_batches_but_never_takes_orders(office, engine):
    march = await _march(office)
    refused = await _run_file(office, march, "thu.auditor", format="pain001")
    assert refused.status_code == 409
    assert refused.json()["not_in_a_batch"] == 2 and refused.json()["batches"] == []
    assert "chưa vào lô nào" in refused.json()["detail"] and "not in a batch yet" in refused.json()["detail"]
    listed = _list_rows((await _run_file(office, march, "thu.auditor", format="csv")).content)
    assert [row[BATCH_COLUMN.header] for row in listed] == [NOT_IN_A_BATCH] * 2
    page = await office.client.get(f"/payout-runs/{march}")
    assert "lập lô mới" not in page.text  # the auditor is not offered to take orders
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM payment_order_batch")) == 0
    taken = await _run_file(office, march, format="pain001")
    assert taken.status_code == 200
    read = await _run_file(office, march, "thu.auditor", format="pain001")
    assert read.status_code == 200 and read.content == taken.content
    # Nobody else gets a run's files: a bank has its own fetch.
    vietcombank = await bank_key(engine, VIETCOMBANK)
    denied = await _bank_get(office, vietcombank, f"/api/payout-runs/{march}/orders", bank=VIETCOMBANK,
                             format="pain001")
    assert denied.status_code == 403


async def test_orders_credited_before_any_batch_are_not_made_into_a_payment_message(office, engine):
    march = await _march(office)
    async with session_scope(engine) as session:
        payouts = [row[0] for row in await session.execute(text("SELECT id FROM payout WHERE run_id = :r"),
                                                           {"r": march})]
    await credit_payouts(engine, payouts, T0)  # executed from a file handed out before batches existed
    refused = await _run_file(office, march, format="pain001")
    assert refused.status_code == 404
    assert "đã được ghi có hoặc hoàn trả trước khi vào lô nào" in refused.json()["detail"]
    assert "credited or returned before any batch took them" in refused.json()["detail"]
    listed = _list_rows((await _run_file(office, march, format="csv")).content)
    assert [row[BATCH_COLUMN.header] for row in listed] == [NOT_IN_A_BATCH] * 2
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM payment_order_batch")) == 0
