"""Report periods and moments outside the months ansinh can pay are refused (422, bilingual) by every report
route and the dashboard, the same range a payout run may have, instead of failing on the calendar's ends."""

from __future__ import annotations

from datetime import date

import pytest

from app.payouts.service.runs import add_months, current_month
from app.reports_api.routes import report_period
from tests.support.pages import signed_in_page
from tests.support.world import Office

LAST = add_months(current_month(), 1)  # the month after the current one: the last a run may pay
TOO_FAR = add_months(current_month(), 2)


@pytest.fixture
async def office(client, engine):
    office = await Office(client, engine).setup()
    await office.be("lan.officer")
    return office


@pytest.mark.parametrize("route", ["/api/reports/time-to-withdrawal", "/api/reports/monthly"])
async def test_report_routes_refuse_periods_outside_the_payable_months(office, client, route):
    for period in ("9999-12", "0001-01", "2024-12", f"{TOO_FAR:%Y-%m}"):
        refused = await client.get(route, params={"period": period})
        assert refused.status_code == 422, (period, refused.text)
        detail = refused.json()["detail"]
        assert ("quá sớm" in detail and "01/2025" in detail and "too early" in detail) or \
            ("quá xa" in detail and f"{LAST:%m/%Y}" in detail and "too far ahead" in detail), detail
    for period in ("2025-01", f"{LAST:%Y-%m}"):  # the first and the last payable month answer
        assert (await client.get(route, params={"period": period})).status_code == 200, period
    assert (await client.get(route, params={"period": "2025-1"})).status_code == 400


async def test_follow_up_refuses_a_moment_outside_the_payable_months(office, client):
    for as_of in ("0001-01-02T00:00:00+07:00", "2024-12-31T23:59:59+07:00",
                  f"{TOO_FAR:%Y-%m}-01T00:00:00+07:00", "9999-12-31T23:59:59+07:00"):
        refused = await client.get("/api/reports/follow-up", params={"as_of": as_of})
        assert refused.status_code == 422, (as_of, refused.text)
        assert "as_of phải từ 00:00 01/01/2025" in refused.json()["detail"]
        assert "as_of must be from 2025-01-01T00:00:00+07:00" in refused.json()["detail"]
    naive = await client.get("/api/reports/follow-up", params={"as_of": "2026-01-11T12:00:00"})
    assert naive.status_code == 422 and "múi giờ" in naive.json()["detail"]
    fine = await client.get("/api/reports/follow-up", params={"as_of": "2025-01-01T00:00:00+07:00"})
    assert fine.status_code == 200 and fine.json()["items"] == []
    xlsx = await client.get("/api/reports/follow-up", params={"as_of": "0001-01-02T00:00:00+07:00",
                                                              "format": "xlsx"})
    assert xlsx.status_code == 422


async def test_dashboard_says_which_periods_it_shows(office, client):
    client.cookies.clear()
    page, _ = await signed_in_page(client, "lan.officer", "/dashboard?period=0001-01")
    assert page.status_code == 422 and "text/html" in page.headers["content-type"]
    assert "Kỳ 01/0001 quá sớm: báo cáo có từ kỳ 01/2025" in page.text and "too early" in page.text
    far = await client.get("/dashboard?period=9999-12")
    assert far.status_code == 422 and "Kỳ 12/9999 quá xa" in far.text
    assert (await client.get("/dashboard?period=2025-01")).status_code == 200


def test_the_range_follows_the_clock():
    today = date(2026, 12, 31)
    assert report_period(None, today=today) == date(2026, 12, 1)
    assert report_period("2027-01", today=today) == date(2027, 1, 1)
    with pytest.raises(Exception, match="quá xa"):
        report_period("2027-02", today=today)
