"""Beneficiary pages: search (accents optional) in the caller's scope, detail, import with every bad row."""

import html
import io
import re

import openpyxl
from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.registry.fake import IMPORT_HEADERS, BeneficiaryFaker, import_file_bytes
from app.registry.importer.columns import COLUMNS as IMPORT_COLUMNS
from app.web.forms import fold
from reconciliation.writers import write_camt053
from tests.app.reconciliation_api.world import as_bank, build_world, returned, statement, upload
from tests.support.actors import add_user
from tests.support.pages import csrf_in, signed_in_page
from tests.support.world import CAO_BANG_COMMUNE, HANOI_COMMUNE, VIETCOMBANK, Office, person

XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
    # The enrolment reads in words, its codes beside them; the registration says it came from a list file.
    text_of = html.unescape(detail.text)
    assert "Người từ 80 tuổi trở lên không có lương hưu, trợ cấp bảo hiểm xã hội hằng tháng" in text_of
    assert '<span class="code">NCT_80</span>' in detail.text
    assert "theo tệp danh sách đã nhập" in text_of and not re.search(r"import [0-9a-f-]{36}", text_of)
    english = html.unescape((await client.get(link.group(1) + "?lang=en")).text)
    assert "Elderly 80+ without a pension or monthly social-insurance benefit" in english
    assert "from an imported list file" in english


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
    other = person(faker)
    page, token = await signed_in_page(client, "lan.officer", "/beneficiaries/import")
    assert page.status_code == 200 and 'enctype="multipart/form-data"' in page.text
    assert "Số CCCD / Citizen ID — <strong>bắt buộc</strong>" in page.text
    assert "Ngày mở tài khoản / Account opened</li>" in page.text
    template = await client.get("/beneficiaries/import/template.xlsx")
    assert template.status_code == 200 and template.content[:2] == b"PK"
    book = openpyxl.load_workbook(io.BytesIO(template.content))
    assert book.sheetnames == ["Danh sách", "Hướng dẫn - Guide", "Đối tượng - Categories", "Ngân hàng - Banks"]
    header = next(book.active.iter_rows(values_only=True))
    assert header[:4] == ("Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD") and len(header) == len(IMPORT_COLUMNS)
    guide = {row[0]: row for row in book["Hướng dẫn - Guide"].iter_rows(min_row=2, values_only=True)}
    assert len(guide) == len(IMPORT_COLUMNS) and guide["Số CCCD / Citizen ID"][1] == "Bắt buộc / Required"
    assert guide["Số CCCD / Citizen ID"][4] == "001140123456"
    categories = {row[1]: row for row in book["Đối tượng - Categories"].iter_rows(min_row=2, values_only=True)}
    assert categories["NCT_80"][4] == "1,00" and categories["NCT_80"][5].startswith("từ đủ 80 tuổi")
    assert categories["NKT_N_TE_NCT"][6] == "under 16 (children) or aged 60 or more (the elderly)"
    assert categories["MVNAH"][5] is None  # no age condition (an empty cell)
    banks = [row[:2] for row in book["Ngân hàng - Banks"].iter_rows(min_row=2, values_only=True)]
    assert ("970436", "Vietcombank") in banks
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
    # Filled in on its first sheet, the template imports as it is (the other sheets are not lists).
    filled = openpyxl.load_workbook(io.BytesIO(template.content))
    values = dict(zip(IMPORT_HEADERS, other.import_row(), strict=True))
    filled["Danh sách"].append([values.get(column.vi, "") for column in IMPORT_COLUMNS])
    saved = io.BytesIO()
    filled.save(saved)
    from_template = await client.post(
        "/beneficiaries/import", data={"_csrf": csrf_in(listing.text)},
        files={"file": ("mau.xlsx", saved.getvalue(), XLSX_TYPE)})
    assert from_template.status_code == 200 and "Đã nhập mau.xlsx" in from_template.text, from_template.text


async def test_import_without_a_file_says_so(client, engine):
    await add_user(engine, "lan.officer", Role.officer)
    _, token = await signed_in_page(client, "lan.officer", "/beneficiaries/import")
    response = await client.post("/beneficiaries/import", data={"_csrf": token})
    assert response.status_code == 422 and "Hãy chọn một tệp xlsx hoặc csv." in response.text


async def test_person_page_says_why_a_payout_was_withheld_and_that_the_account_is_blocked(client, engine):
    # March was sent; April is computed, then the bank returns March's payout with AC04 (account closed):
    # the account is blocked and approval withholds the person's April payout.
    office = await Office(client, engine).setup()
    _, paid = await build_world(office, vietcombank=2)
    march = paid[0]
    await office.be("lan.officer")
    created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-04"})
    assert (await office.post(f"/api/payout-runs/{created.json()['id']}/compute")).status_code == 200
    returns = write_camt053(statement(VIETCOMBANK, [returned(march, "AC04")]))
    uploaded = await upload(office, await as_bank(office, VIETCOMBANK), returns, "s.xml")
    assert uploaded.status_code == 201 and uploaded.json()["returned"] == 1, uploaded.text
    await office.be("minh.approver")
    approved = await office.post(f"/api/payout-runs/{created.json()['id']}/approve")
    assert approved.json()["by_status"] == {"scheduled": 1, "cancelled": 1}, approved.text

    await office.be("lan.officer")
    page = await client.get(f"/beneficiaries/{march.beneficiary_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert "withheld:" not in text
    # The withheld April payout: its status and why, in Vietnamese with English alongside.
    assert ("Đã hủy<br><span class=\"payout-reason\">Giữ lại, không chi: Ngân hàng hoàn trả vì tài khoản không "
            "nhận được tiền / withheld, not paid: the bank returned a payout because the account cannot receive "
            "money</span>") in text
    # The returned March payout: the bank's code in words.
    assert "Bị trả lại<br><span class=\"payout-reason\">AC04: Tài khoản đã đóng / AC04: account closed</span>" in text
    # The block: what, since when (the bank booked the return 12/03/2026 14:00 Việt Nam time), why.
    notice = re.search(r'<section class="blocked-account".*?</section>', text, re.S)
    assert notice is not None
    cells = re.findall(r"<d[td][^>]*>(.*?)</d[td]>", notice.group(0))
    facts = [re.sub(r"<[^>]+>", "", cell).strip() for cell in cells]
    assert facts == ["Tài khoản", f"Vietcombank {march.account_number}", "Bị chặn từ", "12/03/2026 14:00",
                     "Lý do ngân hàng trả lại tiền", "AC04: Tài khoản đã đóng / AC04: account closed",
                     "Khoản chi bị trả lại", march.reference]
    assert "Tài khoản ngân hàng đang bị chặn" in notice.group(0)
    assert "cho đến khi cán bộ đăng ký một tài khoản khác, hoặc gỡ chặn khi ngân hàng xác nhận" in notice.group(0)
    assert "Đăng ký lại chính số tài khoản này sẽ bị từ chối" in notice.group(0)
    # The officer may release it from here (reason required); the form posts to the block itself.
    assert re.search(r'action="/beneficiaries/[0-9a-f-]{36}/blocks/\d+/release"', notice.group(0))
    english = html.unescape((await client.get(f"/beneficiaries/{march.beneficiary_id}?lang=en")).text)
    assert "Bank account blocked" in english and "Blocked since" in english
    assert "until an officer registers a different account, or releases the block" in english

    # Once a corrected account is registered the person is paid again: no notice, the old account's history
    # still says it was blocked.
    corrected = await office.post(f"/api/beneficiaries/{march.beneficiary_id}/bank-accounts",
                                  json={"bank_bin": VIETCOMBANK, "account_number": "9704000123456"})
    assert corrected.status_code == 201, corrected.text
    after = html.unescape((await client.get(f"/beneficiaries/{march.beneficiary_id}?lang=vi")).text)
    assert "blocked-account" not in after and "Tài khoản ngân hàng đang bị chặn" not in after
    assert "bị chặn từ 12/03/2026 (AC04)" in after
    # Someone else's page says nothing of it.
    other = html.unescape((await client.get(f"/beneficiaries/{paid[1].beneficiary_id}")).text)
    assert "blocked-account" not in other and "bị chặn" not in other


async def test_a_cash_payout_on_its_way_says_it_went_to_the_commune_not_to_a_bank(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=12)
    rural = person(faker, commune=CAO_BANG_COMMUNE, bank=None)
    await office.import_people([rural])
    await office.run_cycle("2026-03")
    person_id = await office.beneficiary_id(rural.national_id)
    page = html.unescape((await client.get(f"/beneficiaries/{person_id}")).text)
    assert "Đã gửi về xã, chờ giao tiền mặt" in page and "Đã gửi ngân hàng" not in page
    english = html.unescape((await client.get(f"/beneficiaries/{person_id}?lang=en")).text)
    assert "Sent to the commune, cash to hand over" in english and "Sent to bank" not in english


async def test_an_officer_releases_a_block_from_the_persons_page_with_a_reason(client, engine):
    office = await Office(client, engine).setup()
    _, paid = await build_world(office, vietcombank=2)
    closed = paid[0]
    returns = write_camt053(statement(VIETCOMBANK, [returned(closed, "AC04")]))
    uploaded = await upload(office, await as_bank(office, VIETCOMBANK), returns, "s.xml")
    assert uploaded.status_code == 201 and uploaded.json()["returned"] == 1, uploaded.text
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=(HANOI_COMMUNE,))
    path = f"/beneficiaries/{closed.beneficiary_id}"

    officer_page = await _officer_page(office, path)
    action = re.search(r'/blocks/(\d+)/release', officer_page.text)
    assert action is not None
    release = f"{path}/blocks/{action.group(1)}/release"
    # Commune staff see the block, but releasing it is an officer's decision.
    await office.be("xa.hoankiem")
    staff_page = await client.get(path)
    assert 'class="blocked-account"' in staff_page.text and "/release" not in staff_page.text
    denied = await client.post(release, data={"_csrf": csrf_in(staff_page.text), "reason": "ngân hàng xác nhận"})
    assert denied.status_code == 403

    officer_page = await _officer_page(office, path)
    token = csrf_in(officer_page.text)
    # No reason: the page again, saying what is missing, the block still there.
    missing = await client.post(release, data={"_csrf": token, "reason": " "})
    assert missing.status_code == 422
    assert "Cần ghi lý do gỡ chặn" in missing.text and 'class="blocked-account"' in missing.text
    # A block that is not on this person's accounts.
    other = await client.post(f"/beneficiaries/{paid[1].beneficiary_id}/blocks/{action.group(1)}/release",
                              data={"_csrf": token, "reason": "nhầm người"})
    assert other.status_code == 404 and "không có khoá đang mở" in other.text
    done = await client.post(release, data={"_csrf": token, "reason": "Vietcombank xác nhận TK đã mở lại"})
    assert done.status_code == 200 and "Đã gỡ chặn tài khoản" in done.text
    assert 'class="blocked-account"' not in done.text and "bị chặn từ" not in done.text
    async with session_scope(engine) as session:
        note = await session.scalar(text("SELECT release_note FROM bank_account_block"))
    assert note == "Vietcombank xác nhận TK đã mở lại"


async def _officer_page(office: Office, path: str):
    await office.be("lan.officer")
    page = await office.client.get(path)
    assert page.status_code == 200
    return page
