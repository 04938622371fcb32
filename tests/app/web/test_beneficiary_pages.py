"""Beneficiary pages: search (accents optional) in the caller's scope, detail, import with every bad row."""

import io
import re

import openpyxl

from app.auth.models import Role
from app.registry.fake import BeneficiaryFaker, import_file_bytes
from app.registry.importer.columns import COLUMNS as IMPORT_COLUMNS
from app.web.forms import fold
from tests.support.actors import add_user
from tests.support.pages import csrf_in, signed_in_page
from tests.support.world import CAO_BANG_COMMUNE, HANOI_COMMUNE, Office, person


async def _two_communes(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=11)
    hanoi = person(faker, commune=HANOI_COMMUNE)
    rural = person(faker, commune=CAO_BANG_COMMUNE, bank=None)
    await office.import_people([hanoi, rural])
    client.cookies.clear()
    return hanoi, rural


async def test_search_without_accents_finds_the_person_and_opens_the_detail(client, engine):
    hanoi, _ = await _two_communes(client, engine)
    folded = fold(hanoi.full_name)
    assert folded != hanoi.full_name.lower()
    page, _ = await signed_in_page(client, "lan.officer", f"/beneficiaries?q={folded}")
    assert page.status_code == 200
    assert hanoi.full_name in page.text and "Tìm thấy 1 người" in page.text
    link = re.search(r'href="(/beneficiaries/[0-9a-f-]{36})"', page.text)
    assert link is not None
    detail = await client.get(link.group(1))
    assert detail.status_code == 200
    assert hanoi.national_id in detail.text and "Lịch sử tài khoản ngân hàng" in detail.text
    assert "Chưa có lần chi trả nào." in detail.text


async def test_commune_staff_see_only_their_commune(client, engine):
    hanoi, rural = await _two_communes(client, engine)
    await add_user(engine, "xa.caobang", Role.commune_staff, communes=(CAO_BANG_COMMUNE,))
    page, _ = await signed_in_page(client, "xa.caobang", "/beneficiaries")
    assert rural.full_name in page.text and hanoi.full_name not in page.text
    assert "Nhập danh sách từ tệp" not in page.text  # import is for officers
    office_page = await client.get("/beneficiaries/import")
    assert office_page.status_code == 403
    hidden = await client.get("/beneficiaries?q=" + hanoi.national_id)
    assert "Tìm thấy 0 người" in hidden.text


async def test_import_page_lists_every_bad_row_and_stores_nothing(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    faker = BeneficiaryFaker(seed=3)
    good = person(faker)
    bad_id = person(faker)
    bad_id = bad_id.__class__(**{**bad_id.__dict__, "national_id": "123"})
    page, token = await signed_in_page(client, "lan.officer", "/beneficiaries/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert "Số CCCD / Citizen ID — <strong>bắt buộc</strong>" in page.text
    assert "Ngày mở tài khoản / Account opened</li>" in page.text
    template = await client.get("/beneficiaries/import/template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"
    header = next(openpyxl.load_workbook(io.BytesIO(template.content)).active.iter_rows(values_only=True))
    assert header[:4] == ("Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD") and len(header) == len(IMPORT_COLUMNS)
    rejected = await client.post("/beneficiaries/import", data={"_csrf": token},
                                 files={"file": ("ds.csv", import_file_bytes([good, bad_id], kind="csv"), "text/csv")})
    assert rejected.status_code == 422
    assert "Tệp bị từ chối" in rejected.text and "Chưa lưu dòng nào" in rejected.text
    assert "/errors" in rejected.text  # the annotated copy
    listing = await client.get("/beneficiaries")
    assert "Tìm thấy 0 người" in listing.text
    accepted = await client.post("/beneficiaries/import", data={"_csrf": csrf_in(listing.text)},
                                 files={"file": ("ds.csv", import_file_bytes([good], kind="csv"), "text/csv")})
    assert accepted.status_code == 200 and "Đã nhập ds.csv" in accepted.text
    assert (await client.get("/beneficiaries")).text.count("/beneficiaries/") >= 1
    assert good.full_name in (await client.get("/beneficiaries")).text


async def test_import_without_a_file_says_so(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    _, token = await signed_in_page(client, "lan.officer", "/beneficiaries/import")
    response = await client.post("/beneficiaries/import", data={"_csrf": token})
    assert response.status_code == 422 and "Hãy chọn một tệp xlsx hoặc csv." in response.text
