"""Which periods a run may have: from 2025-01 (and the programme's first base amount) to the month after
the current one in Việt Nam — refused with the same 422 from the API, the command line and the page."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.errors import PayoutError
from app.payouts.service.runs import add_months, create_run, format_period, payable_periods
from app.vietnam_time import VIETNAM, month_text
from tests.support.pages import signed_in_page
from tests.support.processes import base_env, run_cli
from tests.support.world import Office


def _next_month() -> str:
    return format_period(add_months(datetime.now(VIETNAM).date().replace(day=1), 1))


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


async def _runs(engine) -> list[tuple[str, str]]:
    async with session_scope(engine) as session:
        rows = await session.execute(text(
            "SELECT programme_code, to_char(period, 'YYYY-MM') FROM payout_run ORDER BY 1, 2"))
    return [tuple(r) for r in rows]


async def test_api_refuses_periods_too_far_ahead_or_too_early(office, engine):
    last = _next_month()
    ahead = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2030-01"})
    assert ahead.status_code == 422 and ahead.headers["content-type"].startswith("application/problem+json")
    shown = month_text(last)  # months in messages as staff write them: MM/YYYY
    assert ahead.json()["detail"] == (
        f"Kỳ 01/2030 quá xa: chỉ lập được đợt chi đến kỳ {shown} (tháng sau của tháng hiện tại) / "
        f"period 01/2030 is too far ahead: runs can be prepared up to {shown} (the month after the current one)")
    early = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2020-01"})
    assert early.status_code == 422
    assert "Kỳ 01/2020 quá sớm: TGXH chỉ chi trả được từ kỳ 01/2025" in early.json()["detail"]
    assert "period 01/2020 is too early: TGXH can be paid from 01/2025 on" in early.json()["detail"]
    # HTXH (Decree 176/2025) has a base amount from 2025-07 only
    before_rate = await office.post("/api/payout-runs", json={"programme": "HTXH", "period": "2025-06"})
    assert before_rate.status_code == 422 and "HTXH can be paid from 07/2025 on" in before_rate.json()["detail"]
    assert await _runs(engine) == []

    for programme, period in (("TGXH", "2025-01"), ("HTXH", "2025-07"), ("TGXH", last)):
        created = await office.post("/api/payout-runs", json={"programme": programme, "period": period})
        assert created.status_code == 201, created.text
    assert await _runs(engine) == [("HTXH", "2025-07"), ("TGXH", "2025-01"), ("TGXH", last)]


async def test_the_last_period_follows_the_calendar_in_vietnam(session):
    # In March, April may be prepared (the 20th's schedule computes it), May not yet.
    assert await payable_periods(session, "TGXH", today=date(2026, 3, 1)) == (date(2025, 1, 1), date(2026, 4, 1))
    run = await create_run(session, programme="TGXH", period="2026-04", actor="lan", today=date(2026, 3, 1))
    assert run.period == date(2026, 4, 1)
    with pytest.raises(PayoutError, match="up to 04/2026") as refused:
        await create_run(session, programme="TGXH", period="2026-05", actor="lan", today=date(2026, 3, 31))
    assert refused.value.status == 422 and "đến kỳ 04/2026" in refused.value.vi
    await session.execute(text("INSERT INTO programme (code, name_vi, name_en, pay_day, benefit_group) "
                               "VALUES ('MOI', 'Chương trình mới', 'New programme', 10, 'MOI')"))
    assert await payable_periods(session, "MOI", today=date(2026, 3, 1)) == (None, date(2026, 4, 1))
    with pytest.raises(PayoutError, match="has no base amount yet"):
        await create_run(session, programme="MOI", period="2026-03", actor="lan")


async def test_a_supplementary_run_keeps_to_the_same_periods(office):
    refused = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2024-12",
                                                          "kind": "supplementary"})
    assert refused.status_code == 422 and "too early" in refused.json()["detail"]


def test_cli_refuses_a_future_period_and_creates_nothing(database_url):
    env = base_env(DATABASE_URL=database_url)
    assert run_cli("user", "add", "lan", "--role", "officer", env=env, stdin="a long password\n").returncode == 0
    refused = run_cli("payouts", "run", "--programme", "TGXH", "--period", "2030-01", "--as", "lan", env=env)
    assert refused.returncode == 1
    assert "Kỳ 01/2030 quá xa" in refused.stderr and "period 01/2030 is too far ahead" in refused.stderr
    assert "Traceback" not in refused.stderr
    early = run_cli("payouts", "run", "--programme", "TGXH", "--period", "2020-01", "--as", "lan", env=env)
    assert early.returncode == 1 and "period 01/2020 is too early" in early.stderr


async def test_the_page_form_shows_the_refusal_next_to_the_period(client, engine):
    await Office(client, engine).setup()
    client.cookies.clear()
    page, token = await signed_in_page(client, "lan.officer", "/payout-runs")
    last = _next_month()
    shown = month_text(last)
    assert f"Lập được từ kỳ 01/2025 đến kỳ {shown}" in page.text and f'value="{shown}"' in page.text
    refused = await client.post("/payout-runs", data={"_csrf": token, "programme": "TGXH", "period": "2030-01"})
    assert refused.status_code == 422
    assert "Chưa lập được đợt chi" in refused.text and "Kỳ 01/2030 quá xa" in refused.text
    assert 'value="2030-01"' in refused.text  # what was typed stays in the field
    english = await client.post("/payout-runs?lang=en", data={"_csrf": token, "programme": "TGXH",
                                                              "period": "2020-01"})
    assert english.status_code == 422 and "period 01/2020 is too early" in english.text
    assert await _runs(engine) == []
    # A month as staff write it (MM/YYYY) makes the run of that period; a malformed one says both forms.
    made = await client.post("/payout-runs", data={"_csrf": token, "programme": "TGXH", "period": shown},
                             follow_redirects=False)
    assert made.status_code == 303, made.text
    assert await _runs(engine) == [("TGXH", last)]
    wrong = await client.post("/payout-runs", data={"_csrf": token, "programme": "HTXH", "period": "3/2026"})
    assert wrong.status_code == 422 and "period must be MM/YYYY (for example 03/2026) or YYYY-MM" in wrong.text  # ?lang=en stays
