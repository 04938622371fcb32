"""Supplementary runs: one at a time beside the period's other runs, shown as such on the pages, and
computed in the request when they pay a few people, however large the programme."""

from __future__ import annotations

import dataclasses
import re
from typing import Any

import pytest

from app.registry.fake import BeneficiaryFaker
from tests.support.world import VIETCOMBANK, Office, person

RUN = {"programme": "TGXH", "period": "2026-03"}
SUPPLEMENTARY = {**RUN, "kind": "supplementary"}


@pytest.fixture
def settings(settings):
    """Steps of runs of more than one payout answer 202: the one person of March's run is paid in the request."""
    return dataclasses.replace(settings, payout_sync_limit=1)


@pytest.fixture
async def office(client, engine):
    office = await Office(client, engine).setup()
    await office.import_people([person(BeneficiaryFaker(seed=41), start="2026-03")])
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "FT-SUPPLEMENTARY-1")).status_code == 201
    return office


async def _create(office: Office, body: dict[str, str]) -> Any:
    await office.be("lan.officer")
    return await office.post("/api/payout-runs", json=body)


async def _step(office: Office, run_id: str, step: str, **kwargs: Any) -> dict[str, Any]:
    await office.be("minh.approver" if step == "approve" else "lan.officer")
    response = await office.post(f"/api/payout-runs/{run_id}/{step}", **kwargs)
    assert response.status_code == 200, response.text
    return response.json()


def _assert_refused_beside(response: Any, kind_vi: str, kind_en: str, status_vi: str, status_en: str) -> None:
    assert response.status_code == 409, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert response.json()["detail"] == (
        f"Đợt chi {kind_vi} TGXH 2026-03 {status_vi}: hãy gửi hoặc hủy đợt đó trước khi lập đợt bổ sung / "
        f"the {kind_en} run for TGXH 2026-03 is {status_en}: send or cancel it before creating a supplementary run")


async def _runs_of_march(office: Office) -> list[tuple[str, str]]:
    listed = (await office.client.get("/api/payout-runs", params={"period": "2026-03"})).json()["items"]
    return sorted((run["kind"], run["status"]) for run in listed)


async def test_a_supplementary_run_waits_until_the_regular_run_is_sent(office):
    regular = (await _create(office, RUN)).json()["id"]
    _assert_refused_beside(await _create(office, SUPPLEMENTARY), "thường kỳ", "regular", "còn là nháp", "draft")
    await _step(office, regular, "compute")
    _assert_refused_beside(await _create(office, SUPPLEMENTARY), "thường kỳ", "regular",
                           "đã tính, chưa duyệt", "computed")
    await _step(office, regular, "approve")
    _assert_refused_beside(await _create(office, SUPPLEMENTARY), "thường kỳ", "regular", "đã được duyệt", "approved")
    assert await _runs_of_march(office) == [("regular", "approved")]  # none of the refused ones was made

    await _step(office, regular, "send")
    allowed = await _create(office, SUPPLEMENTARY)
    assert allowed.status_code == 201, allowed.text
    assert (allowed.json()["kind"], allowed.json()["status"]) == ("supplementary", "draft")


async def test_a_second_supplementary_run_waits_until_the_first_is_sent_or_cancelled(office):
    await office.run_cycle("2026-03")
    first = await _create(office, SUPPLEMENTARY)
    assert first.status_code == 201, first.text
    _assert_refused_beside(await _create(office, SUPPLEMENTARY), "bổ sung", "supplementary", "còn là nháp", "draft")
    await _step(office, first.json()["id"], "compute")
    _assert_refused_beside(await _create(office, SUPPLEMENTARY), "bổ sung", "supplementary",
                           "đã tính, chưa duyệt", "computed")

    await _step(office, first.json()["id"], "cancel", json={"reason": "Lập nhầm"})
    second = await _create(office, SUPPLEMENTARY)
    assert second.status_code == 201, second.text
    _assert_refused_beside(await _create(office, SUPPLEMENTARY), "bổ sung", "supplementary", "còn là nháp", "draft")

    for step in ("compute", "approve", "send"):
        await _step(office, second.json()["id"], step)
    third = await _create(office, SUPPLEMENTARY)
    assert third.status_code == 201, third.text
    # The second supplementary run had nothing to pay: with nothing in flight, its send settled it.
    assert await _runs_of_march(office) == [("regular", "sent"), ("supplementary", "cancelled"),
                                            ("supplementary", "draft"), ("supplementary", "settled")]


async def test_the_pages_say_which_runs_are_supplementary(office):
    regular = (await office.run_cycle("2026-03"))["id"]
    supplementary = (await _create(office, SUPPLEMENTARY)).json()["id"]
    listed = await office.client.get("/payout-runs")
    assert listed.status_code == 200
    kinds = re.findall(r'<a href="/payout-runs/([0-9a-f-]+)">03/2026</a></th>\s*<td[^>]*>TGXH</td>\s*'
                       r'<td data-label="Loại đợt chi" class="run-kind">([^<]+)</td>', listed.text)
    assert sorted(kinds) == sorted([(regular, "Thường kỳ"), (supplementary, "Bổ sung")])
    for run_id, vi, en in ((regular, "Thường kỳ", "Regular"), (supplementary, "Bổ sung", "Supplementary")):
        detail = await office.client.get(f"/payout-runs/{run_id}", params={"lang": "vi"})  # ?lang= is kept
        assert f'<dt>Loại đợt chi</dt><dd id="run-kind">{vi}</dd>' in detail.text
        english = await office.client.get(f"/payout-runs/{run_id}", params={"lang": "en"})
        assert f'<dt>Kind</dt><dd id="run-kind">{en}</dd>' in english.text


async def test_a_supplementary_run_paying_one_person_is_computed_in_the_request(office):
    await office.run_cycle("2026-03")
    # A second person enrolled from March, imported after March was paid: the programme has two enrolments
    # (more than the limit of one) but the supplementary run pays only the newcomer.
    await office.import_people([person(BeneficiaryFaker(seed=42), start="2026-03")])
    run_id = (await _create(office, SUPPLEMENTARY)).json()["id"]
    computed = await office.post(f"/api/payout-runs/{run_id}/compute")
    assert computed.status_code == 200, computed.text
    assert (computed.json()["status"], computed.json()["count"], computed.json()["total_amount"]) == (
        "computed", 1, 650_000)
    # Recomputing counts the run's own payout too (it is removed first), still within the limit.
    again = await office.post(f"/api/payout-runs/{run_id}/compute")
    assert again.status_code == 200 and again.json()["count"] == 1, again.text
