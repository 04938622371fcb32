"""Runs above the in-request limit: a step from the wrong state is a 409 before anything starts, and a step
that loses a race in the background leaves no error on a run that is fine."""

from __future__ import annotations

import asyncio
import dataclasses
import threading
from uuid import UUID

import pytest
from sqlalchemy import text

from app.database import make_engine, session_scope
from app.payouts.service.compute import compute_run
from app.payouts.service.runs import run_work_lock
from app.registry.fake import BeneficiaryFaker
from ledger import verify_ledger
from tests.support.background import background_done
from tests.support.pages import signed_in_page
from tests.support.world import VIETCOMBANK, Office, person

PEOPLE = 3


@pytest.fixture
def settings(settings):
    """Every step of a run of more than one payout answers 202 and works after the response."""
    return dataclasses.replace(settings, payout_sync_limit=1)


@pytest.fixture
async def office(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=21)
    await office.import_people([person(faker) for _ in range(PEOPLE)])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-STATES-1")).status_code == 201
    return office


async def _run(engine, run_id: str) -> dict:
    async with session_scope(engine) as session:
        row = (await session.execute(text(
            "SELECT status, phase, last_error, payout_count FROM payout_run WHERE id = :id"), {"id": run_id})).one()
    return dict(row._mapping)


async def _step(office: Office, run_id: str, step: str, user: str, **kwargs):
    """Start a step as ``user``; a 202 is waited for until its background work is over."""
    await office.be(user)
    response = await office.post(f"/api/payout-runs/{run_id}/{step}", **kwargs)
    if response.status_code == 202:
        await background_done()
    return response


def _assert_conflict(response, vietnamese: str, english: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    detail = response.json()["detail"]
    assert vietnamese in detail and english in detail, detail


async def test_large_run_steps_from_the_wrong_state_are_refused_before_answering(office, engine, client):
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    assert (await _step(office, run_id, "compute", "lan.officer")).status_code == 202
    assert (await _run(engine, run_id))["status"] == "computed"

    early = await _step(office, run_id, "send", "lan.officer")
    _assert_conflict(early, "Chỉ gửi được đợt chi đã duyệt (đợt chi này đã tính, chưa duyệt)",
                     "only an approved run can be sent (it is computed)")
    assert await _run(engine, run_id) == {"status": "computed", "phase": None, "last_error": None,
                                          "payout_count": PEOPLE}

    assert (await _step(office, run_id, "approve", "minh.approver")).status_code == 202
    assert (await _step(office, run_id, "send", "lan.officer")).status_code == 202
    assert await _run(engine, run_id) == {"status": "sent", "phase": None, "last_error": None,
                                          "payout_count": PEOPLE}

    _assert_conflict(await _step(office, run_id, "send", "lan.officer"),
                     "Đợt chi đã gửi ngân hàng, không gửi lại được", "run is sent; it cannot be sent again")
    _assert_conflict(await _step(office, run_id, "compute", "lan.officer"),
                     "Đợt chi đã gửi ngân hàng, không tính lại được nữa", "run is sent; it can no longer be computed")
    _assert_conflict(await _step(office, run_id, "approve", "minh.approver"),
                     "Đợt chi đã được duyệt", "the run is already approved")
    _assert_conflict(await _step(office, run_id, "cancel", "lan.officer", json={"reason": "muộn rồi"}),
                     "Đợt chi đã gửi ngân hàng: tiền đã được ghi sổ kế toán nên không hủy được",
                     "the run is sent: its money has already moved through the ledger")
    assert await _run(engine, run_id) == {"status": "sent", "phase": None, "last_error": None,
                                          "payout_count": PEOPLE}

    client.cookies.clear()
    office.current = ""
    page, _ = await signed_in_page(client, "lan.officer", f"/payout-runs/{run_id}")
    assert "Đã gửi ngân hàng" in page.text and 'id="error-summary"' not in page.text
    async with session_scope(engine) as session:
        sent = await session.scalar(text("SELECT count(*) FROM payout WHERE run_id = :id AND status = 'sent'"),
                                    {"id": run_id})
        report = await verify_ledger(session)
    assert sent == PEOPLE and report.ok, report.problems


async def test_a_large_run_is_cancelled_after_the_answer(office, engine):
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    await _step(office, run_id, "compute", "lan.officer")
    blank = await _step(office, run_id, "cancel", "lan.officer", json={"reason": ""})
    assert blank.status_code == 422 and "a reason is required" in blank.json()["detail"]
    started = await _step(office, run_id, "cancel", "lan.officer", json={"reason": "Lập nhầm chương trình"})
    assert started.status_code == 202
    assert await _run(engine, run_id) == {"status": "cancelled", "phase": None, "last_error": None,
                                          "payout_count": 0}
    _assert_conflict(await _step(office, run_id, "compute", "lan.officer"), "Đợt chi đã bị hủy", "the run is cancelled")
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM payout")) == 0


async def test_a_step_on_a_run_at_work_is_refused_before_answering(office, engine):
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    async with run_work_lock(engine, UUID(run_id)):  # another process computing it
        busy = await _step(office, run_id, "compute", "lan.officer")
    _assert_conflict(busy, "Đợt chi đang được xử lý, hãy chờ", "this run is being processed; wait for it")
    assert (await _run(engine, run_id))["status"] == "draft"


class OtherProcess(threading.Thread):
    """Another app process that takes the run right after a request has checked it: it holds the run's
    row until a request waits for it (past the request's state check), then takes the run's work lock,
    lets the request go on, and keeps the lock until told to stop."""

    def __init__(self, database_url: str, run_id: UUID) -> None:
        super().__init__(daemon=True)
        self.database_url, self.run_id = database_url, run_id
        self.holding_row, self.stop = threading.Event(), threading.Event()
        self.failure: BaseException | None = None

    def run(self) -> None:
        try:
            asyncio.run(self._work())
        except BaseException as error:  # noqa: BLE001 - reported to the test
            self.failure = error
            self.holding_row.set()

    async def _work(self) -> None:
        engine = make_engine(self.database_url, pool_size=2)
        try:
            async with engine.connect() as row_holder, engine.connect() as watcher:
                await row_holder.execute(text("SELECT 1 FROM payout_run WHERE id = :id FOR UPDATE"),
                                         {"id": self.run_id})
                self.holding_row.set()
                for _ in range(1200):
                    waiting = await watcher.scalar(text(
                        """SELECT count(*) FROM pg_stat_activity
                            WHERE datname = current_database() AND wait_event_type = 'Lock'
                              AND query LIKE 'UPDATE payout_run SET last_error = NULL%'"""))
                    await watcher.rollback()  # a fresh statistics snapshot for the next look
                    if waiting:
                        break
                    await asyncio.sleep(0.05)
                else:
                    raise AssertionError("no request came to wait for the run")
                async with run_work_lock(engine, self.run_id):
                    await row_holder.rollback()
                    await asyncio.to_thread(self.stop.wait, 60)
        finally:
            await engine.dispose()


async def test_a_step_superseded_in_the_background_leaves_no_error_on_the_run(office, engine, client, database_url):
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    await _step(office, run_id, "compute", "lan.officer")
    await _step(office, run_id, "approve", "minh.approver")
    await office.be("lan.officer")
    other = OtherProcess(database_url, UUID(run_id))
    other.start()
    other.holding_row.wait(30)
    try:
        # Checked while the run is approved and free: 202. Its background work then finds the run taken.
        started = await office.post(f"/api/payout-runs/{run_id}/send")
        assert started.status_code == 202, started.text
        await background_done()
    finally:
        other.stop.set()
        other.join(30)
    assert other.failure is None, other.failure
    assert await _run(engine, run_id) == {"status": "approved", "phase": None, "last_error": None,
                                          "payout_count": PEOPLE}
    client.cookies.clear()
    office.current = ""
    page, _ = await signed_in_page(client, "lan.officer", f"/payout-runs/{run_id}")
    assert 'id="error-summary"' not in page.text and "Gửi lệnh chi</button>" in page.text
    assert (await _step(office, run_id, "send", "lan.officer")).status_code == 202
    assert (await _run(engine, run_id))["status"] == "sent"
    async with session_scope(engine) as session:
        report = await verify_ledger(session)
    assert report.ok, report.problems


async def test_a_step_that_finishes_clears_an_error_left_by_an_earlier_attempt(office, engine):
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE payout_run SET last_error = 'RuntimeError: lost connection' WHERE id = :id"),
                              {"id": run_id})
    await compute_run(engine, UUID(run_id), actor="lan.officer")  # the scheduler or the command line, not a request
    assert await _run(engine, run_id) == {"status": "computed", "phase": None, "last_error": None,
                                          "payout_count": PEOPLE}
