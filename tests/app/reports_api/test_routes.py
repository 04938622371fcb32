"""The report routes: time to withdrawal, the follow-up list (json and printable xlsx), the monthly
workbook, each limited to the caller's scope."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import json
import re
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from click.testing import CliRunner
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import BeneficiaryFaker
from app.registry.identity import bank_holder_name
from app.reports_api.routes import XLSX
from reconciliation.withdrawals import reallocate
from reports.time_to_withdrawal import share_by_day
from tests.support.actors import add_user
from tests.support.credit import credit_payouts
from tests.support.sheets import a4_landscape_fit_width, print_setup
from tests.support.withdrawal_world import AMOUNT, T0, build_month, build_sent_month, iso
from tests.support.world import VIETCOMBANK, Office, person


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


@pytest.fixture
async def world(office):
    return await build_month(office)


async def test_time_to_withdrawal_route_is_scoped_for_commune_staff(world, client):
    await world.office.be("lan.officer")
    everything = await client.get("/api/reports/time-to-withdrawal", params={"period": "2026-03"})
    assert everything.status_code == 200, everything.text
    assert [r["group"] for r in everything.json()["items"]] == ["00070", "00073"]
    await world.as_commune_staff("nam.commune")
    own = await client.get("/api/reports/time-to-withdrawal", params={"period": "2026-03", "group_by": "bank"})
    assert [(r["group"], r["payouts"], r["median_days"]) for r in own.json()["items"]] == [("970436", 1, 10.0)]
    other = await client.get("/api/reports/time-to-withdrawal", params={"period": "2026-03", "commune": "00070"})
    assert other.status_code == 403
    bad = await client.get("/api/reports/time-to-withdrawal", params={"period": "2026-3"})
    assert bad.status_code == 400 and "YYYY-MM" in bad.json()["detail"]


async def test_follow_up_list_oldest_waits_with_last_contact(world, client):
    csrf = await world.as_commune_staff("hoa.commune")
    note = await client.post(f"/api/beneficiaries/{world.ids['C']}/follow-up-notes", headers=csrf,
                             json={"kind": "visit", "text": "Bà ốm, hẹn tuần sau", "at": iso(T0 + timedelta(days=6))})
    assert note.status_code == 201
    as_of = iso(T0 + timedelta(days=8))
    listed = await client.get("/api/reports/follow-up", params={"commune": "00070", "min_days": 7, "as_of": as_of})
    assert listed.status_code == 200, listed.text
    items = listed.json()["items"]
    assert [(i["full_name"], i["amount_waiting"], i["days_waiting"], i["last_contact_kind"]) for i in items] == [
        (world.people["C"].full_name, AMOUNT, 8, "visit")]
    assert items[0]["phone"] == world.people["C"].phone and items[0]["address"] == world.people["C"].address
    assert (await client.get("/api/reports/follow-up", params={"commune": "00070", "min_days": 9,
                                                               "as_of": as_of})).json()["items"] == []
    denied = await client.get("/api/reports/follow-up", params={"commune": "00073"})
    assert denied.status_code == 403
    sheet_response = await client.get("/api/reports/follow-up", params={"commune": "00070", "format": "xlsx",
                                                                        "as_of": as_of})
    assert sheet_response.status_code == 200
    book = openpyxl.load_workbook(io.BytesIO(sheet_response.content))
    sheet = book.active
    assert print_setup(sheet) == a4_landscape_fit_width(3, gridlines=True)  # outcomes are written by hand
    values = [[c for c in row] for row in sheet.iter_rows(values_only=True)]
    assert "Phường Hoàn Kiếm" in values[0][0]
    header = values[2]
    assert header[1] == "Họ và tên / Full name"
    assert values[3][1] == world.people["C"].full_name and values[3][5] == AMOUNT
    assert values[4][5] == "=SUM(F4:F4)"
    waiting_since = (T0 + timedelta(hours=7)).replace(tzinfo=None, hour=0)  # the day in Việt Nam
    contacted = (T0 + timedelta(days=6, hours=7)).replace(tzinfo=None, hour=0)
    assert (values[3][6], values[3][8], values[3][9]) == (waiting_since, contacted, "Thăm nhà / visit")
    assert sheet["G4"].number_format == sheet["I4"].number_format == "dd/mm/yyyy"


async def test_follow_up_api_pages_through_the_list_with_the_totals_of_the_whole_list(office, client):
    world = await build_sent_month(office)  # nobody withdraws: A–D (bank) and E (cash) wait in 00070, F in 00073
    await credit_payouts(office.engine, [world.payouts[n] for n in "ABCDF"], T0)
    async with session_scope(office.engine) as session:
        await session.execute(text("UPDATE payout SET sent_at = :t0 WHERE id = :p"), {"t0": T0, "p": world.payouts["E"]})
    await world.as_commune_staff("hoa.commune")
    query = {"min_days": 7, "as_of": iso(T0 + timedelta(days=8))}

    async def listed(**params):
        response = await client.get("/api/reports/follow-up", params={**query, **params})
        assert response.status_code == 200, response.text
        return response.json()

    whole = await listed()
    assert (whole["page"], whole["page_size"], whole["total"], whole["total_amount"]) == (1, 100, 5, 5 * AMOUNT)
    everyone = [item["beneficiary_id"] for item in whole["items"]]
    assert sorted(everyone) == sorted(world.ids[n] for n in "ABCDE")
    pages = [await listed(page=number, page_size=2) for number in (1, 2, 3, 4)]
    assert [[item["beneficiary_id"] for item in p["items"]] for p in pages] == [
        everyone[0:2], everyone[2:4], everyone[4:5], []]  # page 2 is the next two, the last page one, then nobody
    assert {(p["total"], p["total_amount"], p["page_size"]) for p in pages} == {(5, 5 * AMOUNT, 2)}
    assert [p["page"] for p in pages] == [1, 2, 3, 4]
    assert pages[1]["items"][0]["amount_waiting"] == AMOUNT and pages[1]["items"][0]["days_waiting"] == 8
    far = await listed(page=1000, page_size=1000)
    assert (far["items"], far["total"], far["total_amount"], far["page"]) == ([], 5, 5 * AMOUNT, 1000)
    assert (await listed(commune="00070", page=2, page_size=4))["items"] == whole["items"][4:]
    for bad in ({"page": 0}, {"page_size": 0}, {"page_size": 1001}):
        refused = await client.get("/api/reports/follow-up", params={**query, **bad})
        assert refused.status_code == 400, bad
    # The workbook still lists everyone, whatever page was asked for.
    sheet = await client.get("/api/reports/follow-up", params={**query, "format": "xlsx", "page": 2, "page_size": 1})
    rows = list(openpyxl.load_workbook(io.BytesIO(sheet.content)).active.iter_rows(values_only=True))
    assert [r[5] for r in rows[3:]] == [AMOUNT] * 5 + ["=SUM(F4:F8)"]
    # Another commune's people stay out of sight: neither listed nor counted.
    assert (await client.get("/api/reports/follow-up", params={**query, "commune": "00073", "page": 2})).status_code == 403
    await world.as_commune_staff("nam.commune")
    own = await listed(page=1, page_size=1)
    assert [i["beneficiary_id"] for i in own["items"]] == [world.ids["F"]] and (own["total"], own["total_amount"]) == (
        1, AMOUNT)
    beyond = await listed(page=2, page_size=1)
    assert (beyond["items"], beyond["total"], beyond["total_amount"]) == ([], 1, AMOUNT)
    assert (await client.get("/api/reports/follow-up", params={**query, "commune": "00070"})).status_code == 403


async def test_follow_up_file_is_named_after_the_communes_in_scope(world, client):
    as_of = {"as_of": iso(T0 + timedelta(days=8)), "format": "xlsx"}
    await world.as_commune_staff("hoa.commune")
    own = await client.get("/api/reports/follow-up", params=as_of)
    assert own.status_code == 200
    assert own.headers["content-disposition"] == 'attachment; filename="theo-doi-00070.xlsx"'
    await add_user(world.office.engine, "binh.commune", Role.commune_staff, communes=("00073", "00070"))
    await world.as_commune_staff("binh.commune")
    both = await client.get("/api/reports/follow-up", params=as_of)
    assert both.headers["content-disposition"] == 'attachment; filename="theo-doi-00070-00073.xlsx"'
    one = await client.get("/api/reports/follow-up", params={**as_of, "commune": "00073"})
    assert one.headers["content-disposition"] == 'attachment; filename="theo-doi-00073.xlsx"'
    await world.office.be("lan.officer")  # an officer of every province: the whole country
    everything = await client.get("/api/reports/follow-up", params=as_of)
    assert everything.headers["content-disposition"] == 'attachment; filename="theo-doi-all.xlsx"'


async def test_monthly_workbook_holds_the_figures_as_numbers_and_formulas(world, client):
    await world.office.be("thu.auditor")
    response = await client.get("/api/reports/monthly", params={"period": "2026-03", "province": "01"})
    assert response.status_code == 200, response.text
    book = openpyxl.load_workbook(io.BytesIO(response.content))
    summary = book.worksheets[0]
    assert summary.freeze_panes == "A3" and summary.auto_filter.ref.startswith("A2:")
    rows = list(summary.iter_rows(values_only=True))
    assert rows[1][0] == "Mã xã / Commune code" and rows[1][6] == "Trung vị số ngày / Median days"
    hoan_kiem = rows[2]
    assert hoan_kiem[:8] == ("00070", "Phường Hoàn Kiếm", 5, 5 * AMOUNT, 5, 4, 2, "chưa đạt / not reached")
    assert hoan_kiem[9] == 0.6 and hoan_kiem[12:14] == (1, AMOUNT)
    assert rows[4][3] == "=SUM(D3:D4)"
    assert rows[4][6:10] == (3, "chưa đạt / not reached", 0.1667, 0.5)  # the whole province, not a sum
    assert summary["D3"].number_format == "#,##0"
    assert len(summary._charts) == 1
    assert [ws.title for ws in book.worksheets[1:]] == ["00070 Phường Hoàn Kiếm", "00073 Phường Cửa Nam"]
    assert [print_setup(ws) for ws in book.worksheets] == [a4_landscape_fit_width(2)] * 3
    commune_rows = list(book.worksheets[1].iter_rows(values_only=True))
    assert len(commune_rows) == 2 + 5 + 1 and commune_rows[-1][4] == "=SUM(E3:E7)"
    assert sorted(r[8] for r in commune_rows[2:7] if r[8] is not None) == [0, 1.5, 2, 4]
    by_channel = {r[3]: r for r in commune_rows[2:7]}
    cash, bank = by_channel["Tiền mặt / cash"], by_channel["Tài khoản / bank account"]
    assert cash[5] == "Đã gửi về xã / sent to the commune" and bank[5] == "Đã về TK / credited"
    assert bank[6] == datetime(2026, 3, 10, 8, 0)  # T0 in Việt Nam time, a real date cell
    assert book.worksheets[1].cell(row=3, column=7).number_format == "dd/mm/yyyy hh:mm"
    await world.as_commune_staff()
    assert (await client.get("/api/reports/monthly", params={"period": "2026-03"})).status_code == 403


async def test_monthly_workbook_of_an_unknown_province_is_a_404_and_other_provinces_stay_refused(world, client):
    await world.office.be("thu.auditor")
    unknown = await client.get("/api/reports/monthly", params={"period": "2026-03", "province": "99",
                                                                 "format": "xlsx"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["detail"] == "Không có tỉnh/thành phố mã 99 / unknown province 99"
    await add_user(world.office.engine, "ha.provincial", Role.officer, provinces=("01",))
    await world.office.be("ha.provincial")
    for province in ("99", "04"):  # outside the caller's province, known or not: refused as before
        refused = await client.get("/api/reports/monthly", params={"period": "2026-03", "province": province})
        assert refused.status_code == 403
        assert refused.json()["detail"] == "Tỉnh này không thuộc phạm vi của bạn / This province is outside your scope"
    own = await client.get("/api/reports/monthly", params={"period": "2026-03", "province": "01"})
    assert own.status_code == 200 and own.headers["content-type"].startswith(XLSX)


async def test_time_to_withdrawal_of_an_unknown_province_is_a_404_like_the_monthly_workbook(world, client):
    await world.office.be("lan.officer")
    params = {"period": "2026-03", "province": "99"}
    unknown = await client.get("/api/reports/time-to-withdrawal", params=params)
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    assert unknown.json()["detail"] == "Không có tỉnh/thành phố mã 99 / unknown province 99"
    assert (await client.get("/api/reports/monthly", params=params)).json() == unknown.json()
    known = await client.get("/api/reports/time-to-withdrawal", params={"period": "2026-03", "province": "01"})
    assert known.status_code == 200 and known.json()["totals"]["payouts"] > 0
    await add_user(world.office.engine, "ha.provincial", Role.officer, provinces=("01",))
    await world.office.be("ha.provincial")
    refused = await client.get("/api/reports/time-to-withdrawal", params=params)  # outside the scope: 403 first
    assert refused.status_code == 403
    # An empty province (a form's "all provinces") is every province in scope on every report, not a 404.
    for path in ("/api/reports/time-to-withdrawal", "/api/reports/overpaid"):
        everything = await client.get(path, params={"period": "2026-03", "province": ""})
        assert everything.status_code == 200, (path, everything.text)
        assert everything.json() == (await client.get(path, params={"period": "2026-03"})).json()
    assert (await client.get("/api/reports/overpaid", params={"province": ""})).status_code == 200


async def test_beneficiary_detail_shows_days_to_withdraw_for_bank_and_cash(world, client):
    await world.office.be("lan.officer")
    days = {}
    for name in "ADE":
        detail = (await client.get(f"/api/beneficiaries/{world.ids[name]}")).json()
        payout = detail["payouts"][0]
        days[name] = (payout["days_to_withdraw"], payout["withdrawn_at"] is not None)
    assert days == {"A": (2.0, True), "D": (4.0, True), "E": (1.5, True)}


async def test_cash_arrives_when_it_reaches_the_commune_on_the_person_page_the_api_and_the_report(world, client):
    """A cash payout has no credited_at (no bank credits it): it arrived when it was sent to the commune, as the
    time-to-withdrawal report counts it, and its days to withdraw run from then to the handover. A bank payout
    arrived when it was credited. The person's page shows both arrivals, the cash one saying where."""
    await world.office.be("lan.officer")
    cash = (await client.get(f"/api/beneficiaries/{world.ids['E']}")).json()["payouts"][0]
    assert (cash["channel"], cash["status"], cash["credited_at"]) == ("cash", "sent", None)
    assert datetime.fromisoformat(cash["arrived_at"]) == datetime.fromisoformat(cash["sent_at"]) == T0
    assert datetime.fromisoformat(cash["withdrawn_at"]) == T0 + timedelta(days=1, hours=12)
    assert cash["days_to_withdraw"] == 1.5
    bank = (await client.get(f"/api/beneficiaries/{world.ids['A']}")).json()["payouts"][0]
    assert datetime.fromisoformat(bank["arrived_at"]) == datetime.fromisoformat(bank["credited_at"]) == T0
    assert bank["days_to_withdraw"] == 2.0
    # the report's cash row: the same payout, the same 1.5 days
    report = (await client.get("/api/reports/time-to-withdrawal",
                               params={"period": "2026-03", "group_by": "channel"})).json()
    (cash_row,) = [row for row in report["items"] if row["group"] == "cash"]
    assert (cash_row["payouts"], cash_row["credited"], cash_row["withdrawn"], cash_row["median_days"]) == (1, 1, 1, 1.5)
    arrived = (T0 + timedelta(hours=7)).strftime("%d/%m/%Y %H:%M")
    for query, heading, note in (("", "Tiền về", "tiền mặt về xã/phường"),
                                 ("?lang=en", "Arrived", "cash reached the commune")):
        page = await client.get(f"/beneficiaries/{world.ids['E']}{query}")
        assert page.status_code == 200
        row = page.text[page.text.index(cash["reference"]):].split("</tr>")[0]
        assert f"{arrived}<br><span class=\"payout-reason\">{note}</span>" in row, row
        assert ">1,5<" in row or ">1.5<" in row, row
        assert f">{heading}</th>" in page.text
    bank_page = await client.get(f"/beneficiaries/{world.ids['A']}")
    row = bank_page.text[bank_page.text.index(bank["reference"]):].split("</tr>")[0]
    assert arrived in row and "tiền mặt về xã" not in row
    # commune staff of another commune do not see the person (and so nothing of the payout)
    await world.as_commune_staff("nam.commune")
    assert (await client.get(f"/api/beneficiaries/{world.ids['E']}")).status_code in (403, 404)


async def test_person_page_says_whether_cash_was_handed_over_and_shows_no_arrival_for_returned_money(office, client):
    """A cash payout at the commune reads "waiting to be handed over" until the commune hands some of it over
    (partly), then all of it (handed over); a payout that came back shows no arrival (it never reached the
    person), whatever the bank's credit said before."""
    world = await build_sent_month(office)
    async with session_scope(office.engine) as session:  # the cash left for the commune at T0
        await session.execute(text("UPDATE payout SET sent_at = :t0 WHERE id = :p"), {"t0": T0, "p": world.payouts["E"]})
        await reallocate(session, [world.ids["E"]])
    await credit_payouts(office.engine, [world.payouts["A"]], T0)
    async with session_scope(office.engine) as session:  # the bank then sent A's money back
        await session.execute(text("UPDATE payout SET status = 'returned', return_reason = 'AC04' WHERE id = :p"),
                              {"p": world.payouts["A"]})
    await office.be("lan.officer")
    reference = (await client.get(f"/api/beneficiaries/{world.ids['E']}")).json()["payouts"][0]["reference"]

    async def cash_row(query: str = "?lang=vi") -> str:  # the language chosen sticks: each asks for its own
        page = await client.get(f"/beneficiaries/{world.ids['E']}{query}")
        assert page.status_code == 200
        return page.text[page.text.index(reference):].split("</tr>")[0]

    assert "Đã gửi về xã, chờ giao tiền mặt" in await cash_row()
    csrf = await world.as_commune_staff()
    for amount, note in ((200_000, "Giao một phần"), (AMOUNT - 200_000, "Giao nốt")):
        handed = await client.post(f"/api/beneficiaries/{world.ids['E']}/assisted-withdrawals", headers=csrf,
                                   json={"occurred_at": iso(T0 + timedelta(days=1)), "amount": amount, "note": note})
        assert handed.status_code == 201, handed.text
        row = await cash_row()
        if amount == 200_000:
            assert "Đã giao một phần tiền mặt, còn chờ giao" in row and "chờ giao tiền mặt" not in row, row
            assert "Cash partly handed over" in await cash_row("?lang=en")
    assert "Đã giao tiền mặt" in row and "chờ giao" not in row and "một phần" not in row, row
    assert "Cash handed over" in await cash_row("?lang=en")
    await office.be("lan.officer")
    returned = (await client.get(f"/api/beneficiaries/{world.ids['A']}")).json()["payouts"][0]
    assert returned["status"] == "returned" and returned["credited_at"] and returned["arrived_at"] is None
    page = await client.get(f"/beneficiaries/{world.ids['A']}?lang=vi")
    row = page.text[page.text.index(returned["reference"]):].split("</tr>")[0]
    credited = (T0 + timedelta(hours=7)).strftime("%d/%m/%Y %H:%M")
    assert "Bị trả lại" in row and credited not in row, row
    assert re.search(r'data-label="Tiền về">—</td>', row), row


async def test_cli_follow_up_prints_the_list_and_writes_the_sheet(world, database_url, tmp_path, monkeypatch):
    from app.cli import main

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()
    listed = await asyncio.to_thread(runner.invoke, main, ["reports", "follow-up", "--commune", "00070",
                                                          "--min-days", "7"])
    assert listed.exit_code == 0, listed.output
    people = [json.loads(line) for line in listed.output.splitlines() if line.startswith("{")]
    assert [p["full_name"] for p in people] == [world.people["C"].full_name]  # never withdrew
    sheet = tmp_path / "theo-doi.xlsx"
    written = await asyncio.to_thread(runner.invoke, main, ["reports", "follow-up", "-o", str(sheet)])
    assert written.exit_code == 0, written.output
    rows = list(openpyxl.load_workbook(sheet).active.iter_rows(values_only=True))
    assert world.people["C"].full_name in [r[1] for r in rows]
    unknown = await asyncio.to_thread(runner.invoke, main, ["reports", "follow-up", "--commune", "99999"])
    assert unknown.exit_code == 1 and "Không có xã/phường mã 99999" in unknown.output


async def test_cli_reports_check_the_period_as_the_api_does(world, database_url, tmp_path, monkeypatch):
    """``reports time-to-withdrawal`` and ``reports monthly`` take the months the report routes take
    (``report_period``: YYYY-MM, from ansinh's first payable month to the month after the current one); any other
    is one clear line and exit 2 (a bad argument, as click's own), with nothing written."""
    from app.cli import main
    from app.payouts.service.runs import add_months, current_month

    monkeypatch.setenv("DATABASE_URL", database_url)
    runner = CliRunner()

    async def cli(*args: str):
        return await asyncio.to_thread(runner.invoke, main, ["reports", *args])

    too_far = f"{add_months(current_month(), 2):%Y-%m}"
    sheet = tmp_path / "thang.xlsx"
    for command in (("time-to-withdrawal",), ("monthly", "-o", str(sheet))):
        early = await cli(*command, "--period", "2024-12")
        assert early.exit_code == 2, early.output
        assert ("error: Kỳ 12/2024 quá sớm: báo cáo có từ kỳ 01/2025 (kỳ đầu tiên ansinh chi trả) / period 2024-12 "
                "is too early: reports start at 2025-01 (the first period ansinh pays)") in early.output
        late = await cli(*command, "--period", too_far)
        assert late.exit_code == 2, late.output
        assert f"period {too_far} is too far ahead: reports go up to" in late.output and "quá xa" in late.output
        far_year = await cli(*command, "--period", "9999-12")
        assert far_year.exit_code == 2 and "Traceback" not in far_year.output and "quá xa" in far_year.output
        bad = await cli(*command, "--period", "3/2026")
        assert bad.exit_code == 2 and "Kỳ phải có dạng YYYY-MM / period must be YYYY-MM" in bad.output
        assert "Traceback" not in early.output + late.output + bad.output
    assert not sheet.exists()
    # The same answers as the API's, which says 422 to a month out of range (400 to one not YYYY-MM).
    await world.office.be("lan.officer")
    for period, status, said in (("2024-12", 422, early), (too_far, 422, late), ("3/2026", 400, bad)):
        api = await world.office.client.get("/api/reports/time-to-withdrawal", params={"period": period})
        assert api.status_code == status and f"error: {api.json()['detail']}" in said.output
    # A month in range is reported, as before.
    report = await cli("time-to-withdrawal", "--period", "2026-03")
    assert report.exit_code == 0, report.output
    assert {row["group"] for row in json.loads(report.output)["items"]} == {"00070", "00073"}
    written = await cli("monthly", "--period", "2026-03", "-o", str(sheet))
    assert written.exit_code == 0 and written.output.strip() == str(sheet)
    assert openpyxl.load_workbook(sheet).sheetnames


async def test_a_commune_whose_money_arrived_two_days_ago_has_no_share_within_3_7_or_30_days_yet(office, client):
    world = await build_sent_month(office)
    now = datetime.now(UTC)
    await credit_payouts(office.engine, [world.payouts[n] for n in "ABCD"], T0)
    await credit_payouts(office.engine, [world.payouts["F"]], now - timedelta(days=2))  # Cửa Nam's only payout
    posted = await world.bank_post([world.row("A", "A-1", T0 + timedelta(days=1))])
    assert posted.json()["accepted"] == 1, posted.text
    await office.be("lan.officer")
    report = (await client.get("/api/reports/time-to-withdrawal", params={"period": "2026-03"})).json()
    cua_nam = {row["group"]: row for row in report["items"]}["00073"]
    assert [(cua_nam[f"within_{n}d"], cua_nam[f"within_{n}d_pending"]) for n in (1, 3, 7, 30)] == [
        (0.0, 0), (None, 1), (None, 1), (None, 1)]
    # A of A, B, C and D within 1 day; F in the 1-day share only; E's cash went to the commune when the run
    # was sent, just now: in none.
    totals = report["totals"]
    assert [(totals[f"within_{n}d"], totals[f"within_{n}d_pending"]) for n in (1, 3, 7, 30)] == [
        (0.2, 1), (0.25, 2), (0.25, 2), (0.25, 2)]
    workbook = await client.get("/api/reports/monthly", params={"period": "2026-03", "province": "01"})
    rows = list(openpyxl.load_workbook(io.BytesIO(workbook.content)).worksheets[0].iter_rows(values_only=True))
    assert rows[2][:2] == ("00070", "Phường Hoàn Kiếm") and rows[2][8:12] == (0.25, 0.25, 0.25, 0.25)
    assert rows[3][:2] == ("00073", "Phường Cửa Nam") and rows[3][8:12] == (
        0, "chưa đủ 3 ngày / window not over yet", "chưa đủ 7 ngày / window not over yet",
        "chưa đủ 30 ngày / window not over yet")
    assert rows[4][8:12] == (0.2, 0.25, 0.25, 0.25)  # the whole province
    dashboard = await client.get("/dashboard", params={"period": "2026-03", "commune": "00073"})
    assert dashboard.status_code == 200
    assert re.search(r'id="within-3d"><abbr title="[^"]*">chưa đủ 3 ngày</abbr>', dashboard.text), dashboard.text
    # The share by day since arrival follows the same rule: day N counts the payouts that arrived N days ago
    # or more. Cửa Nam's only payout arrived 2 days ago: nothing to say from day 3 on.
    assert "Sau 1 ngày: 0,0 % · 3 ngày: chưa đủ 3 ngày · 7 ngày: chưa đủ 7 ngày · 30 ngày: chưa đủ 30 ngày" \
        in dashboard.text, dashboard.text
    async with session_scope(office.engine) as session:
        everyone = await share_by_day(session, period=date(2026, 3, 1))
        cua_nam_by_day = await share_by_day(session, period=date(2026, 3, 1), commune="00073")
        counted_by_run = await share_by_day(session, period=date(2026, 3, 1), exact_window_limit=0)
    assert cua_nam_by_day[:3] == [0.0, 0.0, 0.0] and cua_nam_by_day[3:] == [None] * 28
    # A withdrew within 1 day; E's cash arrived just now (out from day 1), F two days ago (out from day 3).
    assert everyone[:4] == [0.0, 0.2, 0.2, 0.25] and everyone[4:] == [0.25] * 27
    # Too many recent arrivals to read one by one: the days the month's latest arrival is still inside are None.
    assert counted_by_run == [0.0] + [None] * 30
    whole = await client.get("/dashboard", params={"period": "2026-03"})
    assert "Sau 1 ngày: 20,0 % · 3 ngày: 25,0 % · 7 ngày: 25,0 % · 30 ngày: 25,0 %" in whole.text


async def test_monthly_workbook_lists_a_communes_people_by_given_name_in_vietnamese_order(office, client):
    faker = BeneficiaryFaker(seed=23)
    names = ["Nguyễn Văn Tư", "Trần Văn Đức", "Lê Thị Dung", "Nguyễn Thị Ân", "Phạm Văn Bình", "Nguyễn Văn An",
             "Hoàng Thị Ấn", "Bùi Thị An"]
    people = []
    for name in names:
        made = person(faker, category="NCT_80", start="2026-03")
        people.append(dataclasses.replace(made, full_name=name, holder_name=bank_holder_name(name)))
    await office.import_people(people)
    await office.register_disbursement(VIETCOMBANK)
    assert (await office.fund(VIETCOMBANK, 10_000_000, "NS-2026-03")).status_code in (200, 201)
    await office.run_cycle("2026-03")
    await office.be("thu.auditor")
    response = await client.get("/api/reports/monthly", params={"period": "2026-03", "province": "01"})
    assert response.status_code == 200, response.text
    sheet = openpyxl.load_workbook(io.BytesIO(response.content)).worksheets[1]
    listed = [row[1] for row in sheet.iter_rows(min_row=3, values_only=True) if isinstance(row[0], int)]
    # By given name, as Vietnamese lists go, then by the whole name; a ă â … d đ … z, not the database's "C"
    # order (Đ, Â after Z); tones only between the same letters (Ân before Ấn).
    assert listed == ["Bùi Thị An", "Nguyễn Văn An", "Nguyễn Thị Ân", "Hoàng Thị Ấn", "Phạm Văn Bình", "Lê Thị Dung",
                      "Trần Văn Đức", "Nguyễn Văn Tư"]
