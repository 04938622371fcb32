"""Payout run pages: prepare, compute, approve by a second user, fund, send, download orders."""

import re

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from app.payouts.service.runs import current_month, format_period
from app.registry.fake import BeneficiaryFaker
from tests.support.actors import add_user, bank_key
from tests.support.pages import csrf_in, signed_in_page
from tests.support.world import BIDV, CAO_BANG_COMMUNE, VIETCOMBANK, Office, person


async def _world(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=5)
    await office.import_people([person(faker), person(faker), person(faker, commune=CAO_BANG_COMMUNE, bank=None)])
    await office.register_disbursement(VIETCOMBANK)
    client.cookies.clear()
    office.current = ""  # the shared client is signed out
    return office


async def test_run_from_create_to_send_through_the_pages(client, engine):
    await _world(client, engine)
    page, token = await signed_in_page(client, "lan.officer", "/payout-runs")
    assert page.status_code == 200 and "Lập đợt chi mới" in page.text
    created = await client.post("/payout-runs", data={"_csrf": token, "programme": "TGXH", "period": "2026-03"},
                                follow_redirects=False)
    assert created.status_code == 303
    run_path = created.headers["location"]
    detail = await client.get(run_path)
    assert "Nháp" in detail.text and "Tính đợt chi" in detail.text
    computed = await client.post(run_path + "/compute", data={"_csrf": csrf_in(detail.text)})
    assert computed.status_code == 200 and "Đã tính xong đợt chi." in computed.text
    assert "Phường Hoàn Kiếm" in computed.text and "1.300.000 đ" in computed.text  # 2 × 650,000 in Hoàn Kiếm
    assert "Duyệt đợt chi" not in computed.text  # officers do not approve

    client.cookies.clear()
    page, token = await signed_in_page(client, "minh.approver", run_path)
    assert "Duyệt đợt chi" in page.text
    approved = await client.post(run_path + "/approve", data={"_csrf": token})
    assert approved.status_code == 200 and "Đã duyệt đợt chi và ghi sổ." in approved.text

    client.cookies.clear()
    page, token = await signed_in_page(client, "lan.officer", run_path)
    assert "Ngân hàng chưa đủ tiền để chi" in page.text and "còn thiếu 1.300.000 đ" in page.text
    assert "(kinh phí TGXH tại ngân hàng còn 0 đ)" in page.text
    assert "Gửi lệnh chi" not in page.text.split("Ngân hàng chưa đủ")[0].split("actions")[-1]
    funded = await client.post(run_path + "/funding", data={
        "_csrf": token, "bank_bin": VIETCOMBANK, "amount": "1.300.000", "reference": "FT2603001",
        "value_date": "2026-03-05"})
    assert funded.status_code == 200 and "Đã ghi nhận tiền cấp cho ngân hàng." in funded.text
    # The cash person's commune is funded for the cash it hands over, as a bank is.
    assert "Xã/phường chưa được cấp đủ tiền mặt để chi" in funded.text
    assert f"({CAO_BANG_COMMUNE}): còn thiếu 500.000 đ (kinh phí TGXH tại xã còn 0 đ)" in funded.text
    assert "Gửi lệnh chi" not in funded.text.split("Xã/phường chưa được")[0].split("actions")[-1]
    cash_funded = await client.post(run_path + "/funding", data={
        "_csrf": csrf_in(funded.text), "commune_code": CAO_BANG_COMMUNE, "amount": "500.000",
        "reference": "TM2603001", "value_date": "2026-03-05"})
    assert cash_funded.status_code == 200 and "Đã ghi nhận tiền mặt cấp cho xã." in cash_funded.text
    assert "Xã/phường chưa được cấp đủ tiền mặt để chi" not in cash_funded.text
    sent = await client.post(run_path + "/send", data={"_csrf": csrf_in(cash_funded.text)})
    assert sent.status_code == 200 and "Đã gửi lệnh chi tới ngân hàng." in sent.text
    orders = re.search(r'href="(/api/payout-runs/[^"]+format=xlsx)"', sent.text)
    assert orders is not None
    download = await client.get(orders.group(1).replace("&amp;", "&"))
    assert download.status_code == 200 and download.content[:2] == b"PK"
    async with session_scope(engine) as session:
        statuses = (await session.execute(text("SELECT status, count(*) FROM payout GROUP BY status"))).all()
    assert dict(statuses) == {"sent": 3}


async def test_the_preparer_cannot_approve_from_the_page(client, engine):
    await _world(client, engine)
    page, token = await signed_in_page(client, "minh.approver", "/payout-runs")
    created = await client.post("/payout-runs", data={"_csrf": token, "programme": "TGXH", "period": "2026-03"},
                                follow_redirects=False)
    run_path = created.headers["location"]
    detail = await client.get(run_path)
    computed = await client.post(run_path + "/compute", data={"_csrf": csrf_in(detail.text)})
    assert "cần một người khác duyệt" in computed.text and "Duyệt đợt chi</button>" not in computed.text
    refused = await client.post(run_path + "/approve", data={"_csrf": csrf_in(computed.text)})
    assert refused.status_code == 409 and "nguyên tắc hai người" in refused.text


async def test_a_second_regular_run_is_refused_with_the_reason(client, engine):
    await _world(client, engine)
    _, token = await signed_in_page(client, "lan.officer", "/payout-runs")
    await client.post("/payout-runs", data={"_csrf": token, "programme": "TGXH", "period": "2026-03"})
    again = await client.post("/payout-runs", data={"_csrf": token, "programme": "TGXH", "period": "2026-03"})
    assert again.status_code == 422 and "Chưa lập được đợt chi" in again.text


async def test_auditor_reads_runs_but_has_no_actions_and_commune_staff_are_refused(client, engine):
    office = await _world(client, engine)
    await office.be("lan.officer")
    created = await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})
    run_id = created.json()["id"]
    client.cookies.clear()
    page, _ = await signed_in_page(client, "thu.auditor", f"/payout-runs/{run_id}")
    assert page.status_code == 200 and "<form method=\"post\" action=\"/payout-runs/" not in page.text
    forbidden = await client.post(f"/payout-runs/{run_id}/compute", data={"_csrf": csrf_in(page.text)})
    assert forbidden.status_code == 403


async def test_a_run_at_work_shows_a_live_progress_bar(client, engine):
    office = await _world(client, engine)
    await office.be("lan.officer")
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    async with session_scope(engine) as session:
        await session.execute(text(
            """UPDATE payout_run SET status = 'computing', phase = 'payouts', progress_total = 100000,
                      progress_done = 40000, progress_started_at = now() - interval '4 seconds' WHERE id = :id"""),
            {"id": run_id})
    page = await client.get(f"/payout-runs/{run_id}")
    assert page.status_code == 200
    assert f'data-run-progress="/api/payout-runs/{run_id}"' in page.text
    assert '<progress id="run-progress" max="100000" value="40000">' in page.text
    assert "Tính lại</button>" not in page.text and "Tính đợt chi</button>" not in page.text  # no second start
    polled = (await client.get(f"/api/payout-runs/{run_id}")).json()["progress"]
    assert polled["done"] == 40000 and polled["total"] == 100000 and polled["rate_per_second"] > 0
    async with session_scope(engine) as session:  # the phase over: no rate falling for ever after
        await session.execute(text("UPDATE payout_run SET status = 'draft', phase = NULL WHERE id = :id"),
                              {"id": run_id})
    assert (await client.get(f"/api/payout-runs/{run_id}")).json()["progress"]["rate_per_second"] is None


async def test_an_officer_cancels_a_run_before_approval_from_its_page(client, engine):
    office = await _world(client, engine)
    await office.be("lan.officer")
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    assert (await office.post(f"/api/payout-runs/{run_id}/compute")).status_code == 200
    client.cookies.clear()
    page, token = await signed_in_page(client, "lan.officer", f"/payout-runs/{run_id}")
    assert f'action="/payout-runs/{run_id}/cancel"' in page.text
    assert 'data-confirm="Hủy đợt chi TGXH kỳ 03/2026? Không hoàn tác được."' in page.text
    assert '<textarea id="reason" name="reason" rows="2" maxlength="500" required' in page.text

    blank = await client.post(f"/payout-runs/{run_id}/cancel", data={"_csrf": token, "reason": " "})
    assert blank.status_code == 422 and "Cần ghi lý do hủy đợt chi" in blank.text
    cancelled = await client.post(f"/payout-runs/{run_id}/cancel", data={"_csrf": token, "reason": "Lập nhầm"})
    assert cancelled.status_code == 200 and "Đã hủy đợt chi." in cancelled.text
    assert '<span class="badge badge-cancelled" id="run-status">Đã hủy</span>' in cancelled.text
    assert '<dd id="cancel-reason">Lập nhầm</dd>' in cancelled.text
    assert f'action="/payout-runs/{run_id}/cancel"' not in cancelled.text
    assert "Tính lại</button>" not in cancelled.text and "Tính đợt chi</button>" not in cancelled.text
    listed = await client.get("/payout-runs")
    assert "Đã hủy" in listed.text
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM payout")) == 0


async def test_no_cancel_once_approved_nor_for_an_approver(client, engine):
    office = await _world(client, engine)
    await office.be("lan.officer")
    run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"]
    await office.post(f"/api/payout-runs/{run_id}/compute")
    client.cookies.clear()
    office.current = ""
    page, token = await signed_in_page(client, "minh.approver", f"/payout-runs/{run_id}")
    assert "/cancel" not in page.text  # officers cancel
    assert (await client.post(f"/payout-runs/{run_id}/approve", data={"_csrf": token})).status_code == 200
    client.cookies.clear()
    page, token = await signed_in_page(client, "lan.officer", f"/payout-runs/{run_id}")
    assert "/cancel" not in page.text
    refused = await client.post(f"/payout-runs/{run_id}/cancel", data={"_csrf": token, "reason": "muộn"})
    assert refused.status_code == 409 and "tiền đã được ghi sổ kế toán nên không hủy được" in refused.text


async def test_month_pickers_offer_approved_runs_only(client, engine):
    office = await _world(client, engine)
    await office.be("lan.officer")
    mistaken = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-04"})).json()["id"]
    assert (await office.post(f"/api/payout-runs/{mistaken}/cancel", json={"reason": "Lập nhầm kỳ"})).status_code == 200
    assert (await office.fund(VIETCOMBANK, 5_000_000, "NS-2026-03")).status_code == 201
    await office.run_cycle("2026-03")
    await office.be("lan.officer")
    proposal = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-05"})).json()["id"]
    assert (await office.post(f"/api/payout-runs/{proposal}/compute")).status_code == 200  # computed, not approved
    client.cookies.clear()
    office.current = ""
    dashboard, _ = await signed_in_page(client, "lan.officer", "/dashboard")
    assert '<option value="2026-03" selected>03/2026</option>' in dashboard.text  # the URL's YYYY-MM, read MM/YYYY
    assert 'value="2026-04"' not in dashboard.text and 'value="2026-05"' not in dashboard.text
    assert re.search(r'data-label="Tháng">03/2026</th>', dashboard.text)  # the 12-month trend's table
    reports = await client.get("/reports")
    assert '<option value="2026-03" selected>03/2026</option>' in reports.text
    assert 'value="2026-04"' not in reports.text and 'value="2026-05"' not in reports.text


async def test_dashboard_opens_on_the_latest_month_with_payouts_sent(client, engine):
    office = await _world(client, engine)
    assert (await office.fund(VIETCOMBANK, 5_000_000, "NS-2026-03")).status_code == 201

    async def approved(period: str) -> str:
        await office.be("lan.officer")
        run_id = (await office.post("/api/payout-runs", json={"programme": "TGXH", "period": period})).json()["id"]
        assert (await office.post(f"/api/payout-runs/{run_id}/compute")).status_code == 200
        await office.be("minh.approver")
        assert (await office.post(f"/api/payout-runs/{run_id}/approve")).status_code == 200
        return run_id

    async def chosen() -> list[str]:
        client.cookies.clear()
        office.current = ""
        dashboard, _ = await signed_in_page(client, "lan.officer", "/dashboard")
        assert dashboard.status_code == 200
        return re.findall(r'<option value="(\d{4}-\d{2})" selected>', dashboard.text)

    # Nothing sent yet (March approved, not sent): the current month, shown as the chosen one.
    march = await approved("2026-03")
    assert await chosen() == [format_period(current_month())]
    await office.fund_cash(march)
    await office.be("lan.officer")
    assert (await office.post(f"/api/payout-runs/{march}/send")).status_code == 200
    assert await chosen() == ["2026-03"]
    # April approved ahead, not sent (no payout credited anywhere either): March still.
    await approved("2026-04")
    assert await chosen() == ["2026-03"]


async def test_a_settled_run_is_closed_from_its_page_once_nothing_is_open(client, engine):
    from reconciliation.writers import write_camt053
    from tests.app.reconciliation_api.world import as_bank, build_world, debit, returned, statement, upload

    office = await Office(client, engine).setup()
    _, payouts = await build_world(office, vietcombank=2)
    run_path = f"/payout-runs/{payouts[0].run_id}"
    headers = await as_bank(office, VIETCOMBANK)
    lines = [debit(payouts[0]), debit(payouts[1]), returned(payouts[1], "AC04")]
    assert (await upload(office, headers, write_camt053(statement(VIETCOMBANK, lines)), "s.xml")).status_code == 201

    # Settled, with a return the officer has not decided on: listed, and no close button.
    page, _ = await signed_in_page(client, "lan.officer", run_path)
    assert 'id="run-status">Đã đối soát</span>' in page.text and 'id="run-settled-at"' in page.text
    assert "Chưa đóng được đợt chi, còn những việc sau:" in page.text
    assert f"Khoản {payouts[1].reference} bị ngân hàng hoàn trả (AC04): chưa chi lại hoặc đóng" in page.text
    assert "Đóng đợt chi này" not in page.text
    refused = await client.post(run_path + "/close", data={"_csrf": csrf_in(page.text)})
    assert refused.status_code == 409 and "khoản bị hoàn trả chưa chi lại hoặc đóng" in refused.text

    line_id = (await client.get("/api/reconciliation/exceptions")).json()["items"][0]["id"]
    decided = await client.post(f"/reconciliation/exceptions/{line_id}/resolve", data={
        "_csrf": csrf_in(refused.text), "action": "close_without_reissue", "note": "Tài khoản đã đóng"})
    assert decided.status_code == 200, decided.text
    page = await client.get(run_path)
    assert "Đóng đợt chi này" in page.text and "Đợt chi {programme}" not in page.text
    assert "Đóng đợt chi TGXH kỳ 03/2026? Không mở lại được." in page.text

    client.cookies.clear()
    auditor_page, _ = await signed_in_page(client, "thu.auditor", run_path)
    assert "Đóng đợt chi này" not in auditor_page.text  # auditors read, officers close

    client.cookies.clear()
    page, token = await signed_in_page(client, "lan.officer", run_path)
    closed = await client.post(run_path + "/close", data={"_csrf": token})
    assert closed.status_code == 200 and "Đã đóng đợt chi." in closed.text
    assert 'id="run-status">Đã đóng</span>' in closed.text
    assert re.search(r'id="run-closed">lan\.officer · \d\d/\d\d/\d{4}', closed.text)
    assert "Đóng đợt chi này" not in closed.text
    listed = await client.get("/payout-runs")
    assert '<span class="badge badge-closed">Đã đóng</span>' in listed.text
    english = await client.get(run_path, params={"lang": "en"})
    assert 'id="run-status">Closed</span>' in english.text and "Settled at" in english.text


async def test_the_run_pages_name_staff_by_their_full_names_and_a_bank_by_its_key(client, engine):
    office = await _world(client, engine)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE staff_user SET full_name = 'Trần Thị Lan' WHERE username = 'lan.officer'"))
    run_id = await office.approved_run("2026-03")
    assert (await office.fund(VIETCOMBANK, 1_300_000, "FT2603001")).status_code == 201
    await office.fund_cash(run_id)
    assert (await office.post(f"/api/payout-runs/{run_id}/send")).status_code == 200
    client.cookies.clear()
    office.current = ""
    fetched = await client.get("/api/bank/payment-orders?format=json", headers=await bank_key(engine, VIETCOMBANK))
    assert fetched.status_code == 200 and len(fetched.json()["items"]) == 2

    detail, _ = await signed_in_page(client, "thu.auditor", f"/payout-runs/{run_id}")
    facts = detail.text[detail.text.index('id="status-heading"'):detail.text.index("</dl>")]
    # the officer has a full name; the approver none, so their username alone
    assert re.search(r"Người lập</dt><dd>Trần Thị Lan \(lan\.officer\) ·", facts)
    assert re.search(r"Người duyệt</dt><dd>minh\.approver ·", facts)
    assert re.search(r"Người gửi</dt><dd>Trần Thị Lan \(lan\.officer\) ·", facts)
    assert "bởi bank:970436" in detail.text  # the bank fetched the batch with its key: no person to name
    listed = await client.get("/payout-runs")
    assert "Trần Thị Lan (lan.officer) · minh.approver" in listed.text
    # The API keeps the usernames.
    run = (await client.get(f"/api/payout-runs/{run_id}")).json()
    assert run["prepared_by"] == "lan.officer" and run["sent_by"] == "lan.officer"


async def test_a_province_limited_officer_sees_their_provinces_of_a_run_and_none_of_its_steps(client, engine):
    office = await _world(client, engine)
    await add_user(engine, "tuan.caobang", Role.officer, provinces=("04",))
    run_id = str((await office.compute("2026-03"))["id"])
    client.cookies.clear()
    office.current = ""

    listing, token = await signed_in_page(client, "tuan.caobang", "/payout-runs")
    assert listing.status_code == 200 and "Lập đợt chi mới" not in listing.text
    created = await client.post("/payout-runs", data={"_csrf": token, "programme": "TGXH", "period": "2026-04"},
                                follow_redirects=False)
    assert created.status_code == 403
    run_path = f"/payout-runs/{run_id}"
    page = await client.get(run_path)
    assert page.status_code == 200
    assert ("Trong phạm vi của bạn (Cao Bằng (04)): 1 khoản chi, 500.000 đ. Các bảng và danh sách dưới đây chỉ gồm "
            "người hưởng thuộc phạm vi này") in page.text
    assert "trong phạm vi của bạn" in page.text.split('id="commune-heading"')[1].split("</h2>")[0]
    assert CAO_BANG_COMMUNE in page.text and "Phường Hoàn Kiếm" not in page.text and "1.300.000 đ" not in page.text
    assert "chỉ cán bộ không giới hạn tỉnh mới lập, tính, duyệt, gửi, hủy hoặc đóng đợt chi" in page.text
    assert "Tính lại" not in page.text and "Hủy đợt chi này" not in page.text
    refused = await client.post(run_path + "/compute", data={"_csrf": csrf_in(page.text)})
    assert refused.status_code == 403 and "chỉ cán bộ không giới hạn tỉnh" in refused.text
    cancel = await client.post(run_path + "/cancel", data={"_csrf": csrf_in(page.text), "reason": "nhầm"})
    assert cancel.status_code == 403
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT status FROM payout_run WHERE id = :id"), {"id": run_id}) == "computed"

    # Sent by staff without a limit: the order lists are offered within the scope, the bank's batch is not.
    await office.approve(run_id)
    await office.fund(VIETCOMBANK, 1_300_000, "FT2603001")
    await office.fund_cash(run_id)
    assert (await office.post(f"/api/payout-runs/{run_id}/send")).status_code == 200
    client.cookies.clear()
    office.current = ""
    page, _ = await signed_in_page(client, "tuan.caobang", run_path)
    assert "Phường Hoàn Kiếm" not in page.text and "Vietcombank" not in page.text  # no Cao Bằng bank payout
    assert 'cash-handover"' in page.text and "format=pain001" not in page.text


async def _two_banks_and_two_communes(client, engine) -> tuple[Office, str]:
    """An approved March run short of money at two banks (Vietcombank 1.300.000, BIDV 1.950.000) and at two
    communes' cash (Cao Bằng 500.000, Hoàn Kiếm 650.000); the officer signed in on the page."""
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=7)
    await office.import_people([*(person(faker) for _ in range(2)), *(person(faker, bank=BIDV) for _ in range(3)),
                                person(faker, commune=CAO_BANG_COMMUNE, bank=None), person(faker, bank=None)])
    await office.register_disbursement(VIETCOMBANK)
    await office.register_disbursement(BIDV, "0022004455668")
    run_id = await office.approved_run("2026-03")
    client.cookies.clear()
    office.current = ""
    return office, run_id


def _options(html: str, select_id: str) -> dict[str, str]:
    select = re.search(rf'<select id="{select_id}".*?</select>', html, re.S)
    assert select is not None, select_id
    return dict(re.findall(r'<option value="(\w+)" data-shortfall="(\d+)">', select.group(0)))


async def test_each_bank_and_commune_of_the_funding_forms_carries_its_own_shortfall(client, engine):
    _, run_id = await _two_banks_and_two_communes(client, engine)
    page, token = await signed_in_page(client, "lan.officer", f"/payout-runs/{run_id}")
    assert page.status_code == 200
    assert _options(page.text, "bank_bin") == {VIETCOMBANK: "1300000", BIDV: "1950000"}
    assert _options(page.text, "commune_code") == {CAO_BANG_COMMUNE: "500000", "00070": "650000"}
    assert 'data-shortfall-for="amount"' in page.text and 'data-shortfall-for="commune_amount"' in page.text
    # No figure of one bank or commune waits in the box while another is chosen: blank until one is picked
    # (ansinh.js fills in the chosen one's), and each option says its shortfall for a browser without scripts.
    assert '<input type="text" id="amount" name="amount" inputmode="numeric" value="" required' in page.text
    assert '<input type="text" id="commune_amount" name="amount" inputmode="numeric" value="" required' in page.text
    assert "1300000" not in page.text.replace('data-shortfall="1300000"', "")
    assert ">BIDV — còn thiếu 1.950.000 đ</option>" in page.text
    # The server reads the amount written with its thousands.
    funded = await client.post(f"/payout-runs/{run_id}/funding", data={
        "_csrf": token, "bank_bin": BIDV, "amount": "1.950.000", "reference": "FT-BIDV-03", "value_date": "2026-03-05"})
    assert funded.status_code == 200 and "Đã ghi nhận tiền cấp cho ngân hàng." in funded.text
    assert _options(funded.text, "bank_bin") == {VIETCOMBANK: "1300000"}
    # One bank left: its shortfall is the only one there can be, so it is written in, with its thousands.
    assert '<input type="text" id="amount" name="amount" inputmode="numeric" value="1.300.000" required' in funded.text


async def _funding_written(engine) -> tuple[int, int, int]:
    """Funding rows, ledger transfers and what the banks' disbursement accounts took."""
    async with session_scope(engine) as session:
        row = (await session.execute(text(
            """SELECT (SELECT count(*) FROM funding), (SELECT count(*) FROM ledger_transfer),
                      (SELECT coalesce(sum(debits_posted), 0) FROM ledger_account WHERE code LIKE :accounts)"""),
            {"accounts": "bank:%:disbursement"})).one()
    return int(row[0]), int(row[1]), int(row[2])


async def test_a_province_limited_officer_funds_their_communes_cash_but_not_a_bank(client, engine):
    _, run_id = await _two_banks_and_two_communes(client, engine)
    await add_user(engine, "tuan.caobang", Role.officer, provinces=("04",))
    run_path = f"/payout-runs/{run_id}"
    page, token = await signed_in_page(client, "tuan.caobang", run_path)
    assert page.status_code == 200
    # The banks' shortfalls are the whole run's, and say so; no form to fund a bank, and why, instead.
    heading = page.text.split('id="funding-heading"')[1].split("</h2>")[0]
    assert "(toàn đợt)" in heading
    assert "Vietcombank: còn thiếu 1.300.000 đ" in page.text and "BIDV: còn thiếu 1.950.000 đ" in page.text
    assert 'id="bank_bin"' not in page.text and "Ghi nhận tiền cấp</button>" not in page.text
    assert ("Tiền cấp vào tài khoản chi của ngân hàng dùng để chi cho người hưởng của mọi tỉnh trong đợt chi: chỉ "
            "cán bộ không giới hạn tỉnh mới ghi nhận khoản cấp này.") in page.text
    # The run's own count and total are labelled the whole run's, beside their scope's.
    assert re.search(r'<dt>Số người <span class="hint whole-run">\(toàn đợt\)</span></dt><dd id="run-count">7</dd>',
                     page.text)
    assert re.search(r'<dt>Tổng tiền <span class="hint whole-run">\(toàn đợt\)</span></dt>'
                     r'<dd id="run-total">4.400.000 đ</dd>', page.text)
    # Their communes' cash: the form, with Cao Bằng only (Hoàn Kiếm is another province's).
    assert _options(page.text, "commune_code") == {CAO_BANG_COMMUNE: "500000"}
    assert "trong phạm vi của bạn" in page.text.split('id="commune-funding-heading"')[1].split("</h2>")[0]
    in_english = await client.get(run_path + "?lang=en")
    assert "Banks short of funds <span class=\"hint whole-run\">(whole run)</span>" in in_english.text
    assert "only an officer without a province limit can record it" in in_english.text
    assert (await client.get(run_path + "?lang=vi")).status_code == 200  # back to Vietnamese

    # A bank's funding posted anyway: 403 with the reason on the page, nothing recorded.
    before = await _funding_written(engine)
    refused = await client.post(run_path + "/funding", data={
        "_csrf": token, "bank_bin": BIDV, "amount": "1.950.000", "reference": "FT-BIDV-03", "value_date": "2026-03-05"})
    assert refused.status_code == 403
    assert "chỉ cán bộ không giới hạn tỉnh mới ghi nhận hoặc hủy khoản cấp này" in refused.text
    assert "only an officer" not in refused.text  # the page's language only
    assert await _funding_written(engine) == before
    # Their commune's cash is recorded.
    cash = await client.post(run_path + "/funding", data={
        "_csrf": token, "commune_code": CAO_BANG_COMMUNE, "amount": "500.000", "reference": "TM-CB-03",
        "value_date": "2026-03-05"})
    assert cash.status_code == 200 and "Đã ghi nhận tiền mặt cấp cho xã." in cash.text
    assert (await _funding_written(engine))[0] == before[0] + 1

    # The runs list labels its counts and totals the whole run's for them, and not for an officer without a limit.
    listing = await client.get("/payout-runs")
    assert listing.text.count('<span class="hint whole-run">(toàn đợt)</span>') == 2
    client.cookies.clear()
    officer, token = await signed_in_page(client, "lan.officer", run_path)
    assert "toàn đợt" not in officer.text and 'id="bank-funding-national"' not in officer.text
    assert "toàn đợt" not in (await client.get("/payout-runs")).text
    funded = await client.post(run_path + "/funding", data={
        "_csrf": token, "bank_bin": BIDV, "amount": "1.950.000", "reference": "FT-BIDV-03", "value_date": "2026-03-05"})
    assert funded.status_code == 200 and "Đã ghi nhận tiền cấp cho ngân hàng." in funded.text
    after = await _funding_written(engine)
    assert after[0] == before[0] + 2 and after[2] == before[2] + 1_950_000


async def test_an_approver_does_not_recompute_a_run_and_a_preparer_is_told_the_way_out(client, engine):
    office = await _world(client, engine)
    run_id = str((await office.compute("2026-03"))["id"])  # the officer prepared it
    client.cookies.clear()
    page, _ = await signed_in_page(client, "minh.approver", f"/payout-runs/{run_id}")
    assert "Duyệt đợt chi</button>" in page.text
    assert "Tính lại</button>" not in page.text and f'action="/payout-runs/{run_id}/compute"' not in page.text
    # A draft run an approver prepares: computing it makes them its preparer, and the page asks first.
    created = await client.post("/payout-runs", data={"_csrf": csrf_in(page.text), "programme": "TGXH",
                                                      "period": "2026-04"},
                                follow_redirects=False)
    draft = await client.get(created.headers["location"])
    assert re.search(r'action="/payout-runs/[^"]+/compute" class="inline" data-confirm="Bạn sẽ trở thành người lập '
                     r'đợt chi và không thể tự duyệt\. Tiếp tục\?"', draft.text)
    computed = await client.post(created.headers["location"] + "/compute", data={"_csrf": csrf_in(draft.text)})
    assert computed.status_code == 200 and "Duyệt đợt chi</button>" not in computed.text
    way_out = re.search(r'<p class="hint" id="self-approval">(.*?)</p>', computed.text, re.S)
    assert way_out is not None
    assert way_out.group(1).startswith("Bạn đã lập đợt chi này; cần một người khác duyệt. Cách tiếp tục: một người "
                                       "phê duyệt khác duyệt đợt chi; hoặc một cán bộ nghiệp vụ bấm")
    assert "Tính lại</button>" not in computed.text  # no second click that changes nothing but the time
    in_english = await client.get(created.headers["location"] + "?lang=en")
    assert "or an officer recomputes it (becoming its preparer) and then you approve it." in in_english.text
    # The officer's recompute is the way out: no question for them, and then the approver approves.
    client.cookies.clear()
    officer_page, token = await signed_in_page(client, "lan.officer", created.headers["location"])
    assert re.search(r'action="/payout-runs/[^"]+/compute" class="inline"><input', officer_page.text)
    recomputed = await client.post(created.headers["location"] + "/compute", data={"_csrf": token})
    assert recomputed.status_code == 200
    client.cookies.clear()
    back, token = await signed_in_page(client, "minh.approver", created.headers["location"])
    assert "Duyệt đợt chi</button>" in back.text and 'id="self-approval"' not in back.text
    approved = await client.post(created.headers["location"] + "/approve", data={"_csrf": token})
    assert approved.status_code == 200 and "Đã duyệt đợt chi và ghi sổ." in approved.text


async def test_the_run_and_person_pages_say_months_as_staff_write_them(client, engine):
    office = await _world(client, engine)
    await office.fund(VIETCOMBANK, 5_000_000, "NS-2026-03")
    await office.run_cycle("2026-03")
    client.cookies.clear()
    office.current = ""
    runs, _ = await signed_in_page(client, "lan.officer", "/payout-runs")
    run_path = re.search(r'<a href="(/payout-runs/[0-9a-f-]+)">03/2026</a>', runs.text)
    assert run_path is not None
    page = await client.get(run_path.group(1))
    assert "<h1>Đợt chi TGXH kỳ 03/2026</h1>" in page.text and "<title>Đợt chi TGXH kỳ 03/2026 —" in page.text
    assert re.search(r"<dt>Truy lĩnh từ</dt><dd>\d{2}/\d{4}</dd>", page.text)
    assert not re.search(r">[^<]*\b2026-\d{2}\b[^<]*<", page.text)  # no YYYY-MM a person reads
    english = await client.get(run_path.group(1) + "?lang=en")
    assert "<h1>Run TGXH for 03/2026</h1>" in english.text
    async with session_scope(engine) as session:
        person_id = await session.scalar(text("SELECT beneficiary_id FROM payout LIMIT 1"))
    person_page = await client.get(f"/beneficiaries/{person_id}?lang=vi")
    assert person_page.status_code == 200
    assert re.search(r'data-label="Tháng">03/2026 <span class="code">', person_page.text), \
        re.findall(r'data-label="Tháng">[^<]*', person_page.text)
    assert "01/2026 → …" in person_page.text
