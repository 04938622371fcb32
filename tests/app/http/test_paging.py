"""A page number past every list's end, zero, or not a number: an empty page, the first page or a clear 400 —
never a 500 (an offset PostgreSQL cannot take). Pages name the bad value in the page's language."""

from __future__ import annotations

import pytest

from app.auth.models import Role
from app.http.paging import MAX_PAGE, page_window
from tests.support.actors import add_user, bank_key, sign_in
from tests.support.pages import signed_in_page

HUGE = "99999999999999999999"
API_LISTS = ("/api/beneficiaries", "/api/reconciliation/exceptions", "/api/reconciliation/flags", "/api/statements",
             "/api/uploads")


def test_page_window_keeps_pages_and_sizes_in_bounds():
    assert page_window(0, 0) == (1, 1)
    assert page_window(-5, 5000) == (1, 1000)
    assert page_window(10**20, 100, most=500) == (MAX_PAGE, 100)
    assert page_window(3, 700, most=500) == (3, 500)


@pytest.mark.parametrize("path", API_LISTS)
async def test_an_api_list_answers_a_huge_page_with_a_bilingual_400_and_a_last_page_with_nothing(client, engine,
                                                                                                  path):
    await add_user(engine, "lan.officer", Role.officer)
    await sign_in(client, "lan.officer")
    huge = await client.get(path, params={"page": HUGE})
    assert huge.status_code == 400, huge.text
    body = huge.json()
    assert body["detail"].startswith("Dữ liệu gửi lên không hợp lệ / ")
    assert [e["column"] for e in body["errors"]] == ["page"] and body["errors"][0]["message"].startswith("Giá trị")
    assert (await client.get(path, params={"page": "0"})).status_code == 400
    last = await client.get(path, params={"page": str(MAX_PAGE)})
    assert last.status_code == 200 and last.json()["items"] == [] and last.json()["page"] == MAX_PAGE


async def test_a_bank_s_statement_list_answers_a_huge_page_with_400(client, engine):
    headers = await bank_key(engine, "970436")
    assert (await client.get("/api/bank/statements", params={"page": HUGE}, headers=headers)).status_code == 400


@pytest.mark.parametrize("path", ["/beneficiaries", "/reconciliation/exceptions", "/uploads"])
async def test_a_page_with_a_huge_page_number_shows_an_empty_last_page(client, engine, path):
    await add_user(engine, "lan.officer", Role.officer)
    page, _ = await signed_in_page(client, "lan.officer", f"{path}?page_number={HUGE}")
    assert page.status_code == 200, page.text[:500]
    for weird in ("0", "²", "-3"):
        assert (await client.get(path, params={"page_number": weird})).status_code in (200, 400)


async def test_a_value_of_the_wrong_kind_in_a_page_address_is_named_in_the_page_s_language(client, engine):
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=("00070",))
    page, _ = await signed_in_page(client, "xa.hoankiem", "/follow-up?min_days=abc")
    assert page.status_code == 400
    assert "Có giá trị không hợp lệ" in page.text and "Giá trị của trường &#39;min_days&#39; không hợp lệ" in page.text
    assert "Validation failed" not in page.text


async def test_a_page_size_over_the_limit_says_the_limit_in_vietnamese_too(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    await sign_in(client, "lan.officer")
    for size, vi, en in ((500, "phải ≤ 200", "<= 200"), (0, "phải ≥ 1", ">= 1")):
        refused = await client.get("/api/beneficiaries/", params={"page_size": size})
        assert refused.status_code == 400
        (error,) = refused.json()["errors"]
        assert error["message"] == f"Giá trị của trường 'page_size' không hợp lệ: {vi}"
        assert error["message_en"] == f"Expected `int` {en}"
    wrong_kind = (await client.get("/api/beneficiaries/", params={"page_size": "abc"})).json()["errors"][0]
    assert wrong_kind["message"] == "Giá trị của trường 'page_size' không hợp lệ"
