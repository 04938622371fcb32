"""Statement pages: an officer uploads a bank's camt.053, sees each line's result, resolves exceptions."""

import re
from datetime import date

from sqlalchemy import text

from app.auth.models import Role
from app.database import session_scope
from reconciliation.writers import write_camt053, write_statement_csv, write_statement_xlsx
from tests.app.reconciliation_api.world import (
    build_world,
    debit,
    other_line,
    payout_states,
    returned,
    statement,
)
from tests.support.actors import add_user, bank_key
from tests.support.pages import csrf_in, signed_in_page
from tests.support.world import VIETCOMBANK, Office


async def _statement_file(client, engine):
    office = await Office(client, engine).setup()
    _, payouts = await build_world(office, vietcombank=3)
    lines = [debit(payouts[0]), debit(payouts[1]), debit(payouts[2]), returned(payouts[2], "AC04"),
             other_line(VIETCOMBANK, -15_000, description="Phi dich vu")]
    client.cookies.clear()
    office.current = ""
    return payouts, write_camt053(statement(VIETCOMBANK, lines))


async def test_upload_shows_every_line_and_the_exceptions_queue(client, engine):
    payouts, content = await _statement_file(client, engine)
    page, token = await signed_in_page(client, "lan.officer", "/statements")
    assert page.status_code == 200 and "Tải sao kê thay ngân hàng" in page.text
    dry = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK, "dry_run": "1"},
                            files={"file": ("sk.xml", content, "application/xml")})
    assert dry.status_code == 200 and "Chạy thử (chưa ghi nhận)" in dry.text
    assert {s for s, _ in (await payout_states_of(client, engine)).values()} == {"sent"}
    uploaded = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                                 files={"file": ("sk.xml", content, "application/xml")})
    assert uploaded.status_code == 200 and "Đã tải và đối soát sao kê" in uploaded.text
    assert uploaded.text.count('class="badge badge-matched"') == 3  # the third debit, then its return
    assert "Hoàn trả" in uploaded.text and "AC04" in uploaded.text and "Ngoại lệ" in uploaded.text
    again = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                              files={"file": ("sk.xml", content, "application/xml")})
    assert "đã được tải trước đó" in again.text

    queue = await client.get("/reconciliation/exceptions")
    assert queue.status_code == 200 and "15.000 đ" in queue.text
    fee_line = re.search(r'action="(/reconciliation/exceptions/\d+/resolve)"', queue.text.split("15.000 đ")[-1])
    assert fee_line is not None
    refused = await client.post(fee_line.group(1), data={"_csrf": csrf_in(queue.text), "action": "ignore"})
    assert refused.status_code == 422 and "Cần ghi lý do bỏ qua" in refused.text
    resolved = await client.post(fee_line.group(1), data={"_csrf": csrf_in(queue.text), "action": "bank_fee",
                                                          "note": "phí tháng 3"})
    assert resolved.status_code == 200 and "Đã xử lý dòng sao kê." in resolved.text
    states = await payout_states_of(client, engine)
    assert states[payouts[0].reference] == ("credited", None) and states[payouts[2].reference] == ("returned", "AC04")


async def payout_states_of(client, engine):
    office = Office(client, engine)
    return await payout_states(office)


async def test_a_statement_that_does_not_add_up_is_refused_on_the_page(client, engine):
    payouts, _ = await _statement_file(client, engine)
    bad = write_camt053(statement(VIETCOMBANK, [debit(payouts[0])], closing_balance=1))
    _, token = await signed_in_page(client, "lan.officer", "/statements")
    response = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                                 files={"file": ("sai.xml", bad, "application/xml")})
    assert response.status_code == 422 and "Sao kê bị từ chối" in response.text
    assert "Không có gì được ghi nhận" in response.text
    assert (await payout_states_of(client, engine))[payouts[0].reference] == ("sent", None)


async def test_auditors_read_statements_but_cannot_upload_and_commune_staff_cannot_open_them(client, engine):
    _, content = await _statement_file(client, engine)
    await add_user(engine, "xa.hoankiem", Role.commune_staff, communes=("00070",))
    page, token = await signed_in_page(client, "thu.auditor", "/statements")
    assert page.status_code == 200 and "Tải sao kê thay ngân hàng" not in page.text
    denied = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                               files={"file": ("sk.xml", content, "application/xml")})
    assert denied.status_code == 403
    client.cookies.clear()
    page, _ = await signed_in_page(client, "xa.hoankiem", "/")
    assert (await client.get("/statements")).status_code == 403
    assert (await client.get("/reconciliation/exceptions")).status_code == 403


async def test_a_file_with_more_bad_lines_than_the_page_lists_says_how_many_there_are(client, engine):
    await _statement_file(client, engine)
    lines = [other_line(VIETCOMBANK, -1_000, description="x") for _ in range(503)]
    good = write_statement_csv(statement(VIETCOMBANK, lines)).decode("utf-8-sig")
    bad = good.replace(",10/03/2026,10/03/2026,", ",31/02/2026,10/03/2026,")  # no 31 February: every line
    _, token = await signed_in_page(client, "lan.officer", "/statements")
    response = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                                 files={"file": ("sai.csv", bad.encode("utf-8-sig"), "text/csv")})
    assert response.status_code == 422 and "Sao kê bị từ chối" in response.text
    assert response.text.count('<tr><th scope="row" data-label=') == 500
    assert "Đang hiện 500 / 503 lỗi đầu." in response.text


async def test_the_statements_and_kept_files_name_who_uploaded_them(client, engine):
    payouts, content = await _statement_file(client, engine)
    async with session_scope(engine) as session:
        await session.execute(text("UPDATE staff_user SET full_name = 'Trần Thị Lan' WHERE username = 'lan.officer'"))
    page, token = await signed_in_page(client, "lan.officer", "/statements")
    uploaded = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                                 files={"file": ("sk.xml", content, "application/xml")})
    assert uploaded.status_code == 200 and "Đã tải và đối soát sao kê" in uploaded.text
    # the bank's own upload of its next statement: its key, not a person
    client.cookies.clear()
    bank_file = write_statement_csv(statement(VIETCOMBANK, [other_line(VIETCOMBANK, 20_000, bank_reference="FT2")],
                                              statement_id="SK-2"))
    headers = await bank_key(engine, VIETCOMBANK)
    bank_upload = await client.post("/api/bank/statements", headers=headers,
                                    files={"file": ("sk2.csv", bank_file, "text/csv")})
    assert bank_upload.status_code == 201, bank_upload.text
    listed = (await signed_in_page(client, "thu.auditor", "/statements"))[0].text
    assert re.search(r"[0-9/: ]+ · Trần Thị Lan \(lan\.officer\)</td>", listed)
    assert re.search(r"[0-9/: ]+ · bank:970436</td>", listed)
    kept = (await client.get("/uploads")).text
    assert re.search(r"[0-9/: ]+ · Trần Thị Lan \(lan\.officer\)</td>", kept)
    assert len(payouts) == 3


async def test_a_gap_is_a_sentence_with_money_in_dong_and_the_list_names_files_and_periods(client, engine):
    await _statement_file(client, engine)
    headers = await bank_key(engine, VIETCOMBANK)
    one = statement(VIETCOMBANK, [], opening=11_695_000, opening_date=date(2026, 3, 9), closing_date=date(2026, 3, 10))
    two = statement(VIETCOMBANK, [], opening=20_292_000, opening_date=date(2026, 3, 15),
                    closing_date=date(2026, 3, 15))
    first = await client.post("/api/bank/statements", headers=headers,
                              files={"file": ("sao-ke-0903.csv", write_statement_csv(one), "text/csv")})
    second = await client.post("/api/bank/statements", headers=headers,
                               files={"file": ("sao-ke-1503.xlsx", write_statement_xlsx(two), "application/octet-stream")})
    assert (first.status_code, second.status_code) == (201, 201), second.text
    first_id, second_id = first.json()["statement_id"], second.json()["statement_id"]
    internal = second.json()["statements"][0]["bank_statement_id"]
    assert internal.startswith("sha256:")

    detail, _ = await signed_in_page(client, "lan.officer", f"/statements/{second_id}")
    assert detail.status_code == 200
    assert ("Số dư đầu kỳ 20.292.000 đ khác số dư cuối kỳ của sao kê trước (11.695.000 đ), lệch 8.597.000 đ"
            in detail.text)
    assert "Chưa có sao kê nào cho các ngày từ 11/03/2026 đến 14/03/2026" in detail.text
    assert f'<a href="/statements/{first_id}">Xem sao kê trước: sao-ke-0903.csv (09/03/2026 – 10/03/2026)</a>' in detail.text
    assert "expected_opening_balance" not in detail.text and "{" not in detail.text.split("<main")[1].split("</main>")[0]
    assert "<h1>Sao kê sao-ke-1503.xlsx</h1>" in detail.text and internal in detail.text
    english = await client.get(f"/statements/{second_id}", params={"lang": "en"})
    assert ("The opening balance 20.292.000 đ differs from the previous statement&#39;s closing balance (11.695.000 đ) "
            "by 8.597.000 đ") in english.text
    assert "No statement covers the days from 11/03/2026 to 14/03/2026" in english.text
    assert f'<a href="/statements/{first_id}">Open the previous statement: sao-ke-0903.csv' in english.text

    listed = (await client.get("/statements", params={"lang": "vi"})).text
    row = next(r for r in listed.split("<tr>") if f'href="/statements/{second_id}"' in r)
    assert f'<a href="/statements/{second_id}">sao-ke-1503.xlsx</a>' in row
    assert '<span class="badge badge-gap">⚠ Không liền mạch</span>' in row
    assert f'<span class="code">{internal} · 0011004455667</span>' in row  # the internal id: secondary text
    assert "<td data-label=\"Kỳ sao kê\">15/03/2026 – 15/03/2026</td>" in row
    earlier = next(r for r in listed.split("<tr>") if f'href="/statements/{first_id}"' in r)
    assert "09/03/2026 – 10/03/2026" in earlier and "badge-gap" not in earlier


async def test_the_same_rows_saved_as_xlsx_are_the_statement_already_imported_on_the_upload_page(client, engine):
    payouts, _ = await _statement_file(client, engine)
    fee = other_line(VIETCOMBANK, -15_000, description="Phi dich vu", counterparty_account=None)
    same = statement(VIETCOMBANK, [debit(payouts[0]), debit(payouts[1]), fee])
    headers = await bank_key(engine, VIETCOMBANK)
    first = await client.post("/api/bank/statements", headers=headers,
                              files={"file": ("sao-ke-vcb.csv", write_statement_csv(same), "text/csv")})
    assert first.status_code == 201, first.text
    statement_id = first.json()["statement_id"]
    page, token = await signed_in_page(client, "lan.officer", "/statements")
    queue_before = (await client.get("/reconciliation/exceptions")).text.count("15.000 đ")
    for dry_run in ({"dry_run": "1"}, {}):
        again = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK, **dry_run},
                                  files={"file": ("sao-ke-vcb.xlsx", write_statement_xlsx(same),
                                                  "application/octet-stream")})
        assert again.status_code == 200
        assert "Sao kê này đã được tải trước đó; không thay đổi gì: sao-ke-vcb.xlsx" in again.text
        assert "Cùng tài khoản, kỳ, số dư và các dòng với sao kê đã nhập" in again.text
        assert (f'<a href="/statements/{statement_id}">Xem sao kê sao-ke-vcb.csv (09/03/2026 – 12/03/2026)</a>'
                in again.text)
        assert "Chạy thử (chưa ghi nhận)" not in again.text
        answer = again.text.split('id="outcome-heading"')[1].split("</section>")[0]
        assert "sha256:" not in answer  # the statement by its file and period, not its internal id
    english = await client.post("/statements", params={"lang": "en"},
                                data={"_csrf": token, "bank": VIETCOMBANK},
                                files={"file": ("sao-ke-vcb.xlsx", write_statement_xlsx(same), "application/octet-stream")})
    assert "The same account, period, balances and lines as a statement already imported" in english.text
    async with session_scope(engine) as session:
        assert await session.scalar(text("SELECT count(*) FROM bank_statement")) == 1
    assert (await client.get("/reconciliation/exceptions", params={"lang": "vi"})).text.count("15.000 đ") == queue_before


async def test_a_statement_uploaded_again_says_whether_its_file_was_of_another_format(client, engine):
    """The same statement again with only a description changed (the same format), then as an MT940: the page
    says "from a file of the same format" for the first and "of another format" for the second, as the API does."""
    from dataclasses import replace

    from reconciliation.writers import write_mt940

    office = await Office(client, engine).setup()
    _, payouts = await build_world(office, vietcombank=2)
    first = statement(VIETCOMBANK, [debit(payouts[0]), debit(payouts[1])])
    client.cookies.clear()
    office.current = ""
    page, token = await signed_in_page(client, "lan.officer", "/statements")
    uploaded = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                                 files={"file": ("sk.xml", write_camt053(first), "application/xml")})
    assert "Đã tải và đối soát sao kê" in uploaded.text
    changed = replace(first, lines=(replace(first.lines[0], description="Chi tro cap (sua)"), first.lines[1]))
    same_format = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                                     files={"file": ("sk-sua.xml", write_camt053(changed), "application/xml")})
    assert "từ tệp cùng định dạng, chỉ khác ở phần khác như nội dung diễn giải" in same_format.text
    assert "định dạng khác" not in same_format.text
    other_format = await client.post("/statements", data={"_csrf": token, "bank": VIETCOMBANK},
                                     files={"file": ("sk.sta", write_mt940(changed), "text/plain")})
    assert "với sao kê đã nhập từ tệp định dạng khác" in other_format.text
    assert "cùng định dạng" not in other_format.text
