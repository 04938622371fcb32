"""The list of people answers commune staff's first question for each person: has the latest month's money
arrived, and has it been withdrawn (or the cash handed over)?"""

from __future__ import annotations

import html
import re

from tests.support.withdrawal_world import build_month


def _rows(page: str) -> dict[str, str]:
    """Each listed person's latest-payout cell, by name."""
    found = {}
    for row in re.findall(r"<tr>(.*?)</tr>", page, flags=re.S):
        name = re.search(r'<a href="/beneficiaries/[^"]+">([^<]+)</a>', row)
        cell = re.search(r'<td data-label="Khoản chi gần nhất">(.*?)</td>', row, flags=re.S)
        if name and cell:
            found[html.unescape(name.group(1))] = html.unescape(cell.group(1)).strip()
    return found


async def test_the_list_of_people_says_whether_the_latest_money_arrived_and_was_withdrawn(office):
    world = await build_month(office)
    await world.as_commune_staff("hoa.commune")
    page = await office.client.get("/beneficiaries/")
    assert page.status_code == 200, page.text
    assert "Khoản chi gần nhất" in page.text
    cells = _rows(page.text)
    name = {who: world.people[who].full_name for who in "ABCDEF"}
    assert cells[name["A"]] == "03/2026, 650.000 đ: đã rút hết 12/03/2026"
    assert cells[name["B"]] == "03/2026, 650.000 đ: đã rút hết 10/03/2026"  # withdrawn before, counted on arrival
    assert cells[name["C"]] == "03/2026, 650.000 đ: đã về tài khoản 10/03/2026, chưa rút"
    assert cells[name["D"]] == "03/2026, 650.000 đ: đã rút hết 14/03/2026"
    assert cells[name["E"]] == "03/2026, 650.000 đ: đã giao tiền mặt 11/03/2026"
    assert name["F"] not in cells  # another commune's person is not listed for them
    english = await office.client.get("/beneficiaries/", params={"lang": "en"})
    assert "Latest payout" in english.text and "credited 10/03/2026, not withdrawn" in english.text
