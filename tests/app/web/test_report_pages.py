"""The reports page and the overpaid page: the province to choose, "all provinces" for an officer of every
province, only their own provinces for one limited to some, names from the province table."""

from __future__ import annotations

import io
import re

import openpyxl

from app.auth.models import Role
from app.registry.fake import BeneficiaryFaker
from tests.support.actors import add_user
from tests.support.pages import signed_in_page
from tests.support.world import CAO_BANG_COMMUNE, HANOI_COMMUNE, Office, person

MUONG_PHANG_COMMUNE = "03325"  # Xã Mường Phăng, Điện Biên (11)


def _options(page: str, select_id: str) -> list[tuple[str, str]]:
    """(value, text) of each option of the select ``select_id``, in order."""
    select = re.search(rf'<select id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert select is not None, page
    return re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(1))


async def _people_in_three_provinces(client, engine) -> None:
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=41)
    await office.import_people([person(faker, commune=commune, bank=None)
                                for commune in (HANOI_COMMUNE, CAO_BANG_COMMUNE, MUONG_PHANG_COMMUNE)])
    await add_user(engine, "hai.tinh", Role.officer, provinces=("01", "11"))
    client.cookies.clear()


async def test_an_officer_of_every_province_may_take_all_provinces_others_only_their_own(client, engine):
    await _people_in_three_provinces(client, engine)
    page, _ = await signed_in_page(client, "lan.officer", "/reports")
    assert page.status_code == 200
    # Every province with people, named as the province table names them, in Vietnamese order (Đ before T),
    # after "all provinces", which is chosen.
    assert _options(page.text, "province") == [("", "Tất cả các tỉnh"), ("04", "Cao Bằng"), ("11", "Điện Biên"),
                                               ("01", "Thành phố Hà Nội")]
    assert '<option value="" selected>Tất cả các tỉnh</option>' in page.text
    # The form as sent with "all provinces": every province's workbook, titled so.
    everything = await client.get("/api/reports/monthly", params={"format": "xlsx", "period": "2026-03",
                                                                  "province": ""})
    assert everything.status_code == 200, everything.text
    title = openpyxl.load_workbook(io.BytesIO(everything.content)).worksheets[0]["A1"].value
    assert title.endswith("— Tất cả các tỉnh / All provinces"), title
    one = await client.get("/api/reports/monthly", params={"format": "xlsx", "period": "2026-03", "province": "11"})
    title = openpyxl.load_workbook(io.BytesIO(one.content)).worksheets[0]["A1"].value
    assert title.endswith("— Điện Biên"), title
    overpaid = await client.get("/reports/overpaid")
    assert _options(overpaid.text, "province")[:2] == [("", "Tất cả các tỉnh"), ("04", "Cao Bằng")]

    client.cookies.clear()
    limited, _ = await signed_in_page(client, "hai.tinh", "/reports")
    assert _options(limited.text, "province") == [("11", "Điện Biên"), ("01", "Thành phố Hà Nội")]
    assert "Tất cả các tỉnh" not in limited.text
    theirs = await client.get("/api/reports/monthly", params={"format": "xlsx", "period": "2026-03"})
    title = openpyxl.load_workbook(io.BytesIO(theirs.content)).worksheets[0]["A1"].value
    assert title.endswith("— Điện Biên, Thành phố Hà Nội"), title
    refused = await client.get("/api/reports/monthly", params={"format": "xlsx", "period": "2026-03",
                                                               "province": "04"})
    assert refused.status_code == 403
    # On the overpaid list, both of their provinces at once is "all my provinces", not every province.
    overpaid = await client.get("/reports/overpaid")
    assert _options(overpaid.text, "province") == [("", "Tất cả tỉnh/thành phố của tôi"), ("11", "Điện Biên"),
                                                   ("01", "Thành phố Hà Nội")]
