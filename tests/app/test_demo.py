from datetime import date

import click
import pytest
from sqlalchemy import text

from app.database import session_scope
from app.demo import DemoReport, build_demo, database_is_empty, print_report
from app.settings import Settings
from ledger import verify_ledger


async def test_demo_builds_a_living_world_through_the_real_paths_and_only_once(engine):
    assert await database_is_empty(engine)
    lines: list[str] = []
    report = await build_demo(engine, beneficiaries=150, months=2, seed=5, today=date(2026, 11, 23),
                              echo=lines.append)
    assert {role for _, role, _ in report.users} == {"admin", "officer", "approver", "auditor", "commune_staff"}
    assert report.bank_key.startswith("ansinh_") and len(report.runs) == 6
    async with session_scope(engine) as session:
        people = await session.scalar(text("SELECT count(*) FROM beneficiary"))
        imports = await session.scalar(text("SELECT count(*) FROM beneficiary_import WHERE outcome = 'applied'"))
        runs = (await session.execute(text(
            "SELECT status, approved_by <> prepared_by AS four_eyes FROM payout_run"))).all()
        # Each run's page reads in the order things happened: computed on the 20th of the month before,
        # approved on the 3rd, sent on the 8th (Việt Nam time), all before the demo was built.
        timelines = (await session.execute(text(
            """SELECT to_char(period, 'YYYY-MM'),
                      to_char(computed_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI'),
                      to_char(approved_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI'),
                      to_char(sent_at AT TIME ZONE 'Asia/Ho_Chi_Minh', 'YYYY-MM-DD HH24:MI'),
                      created_at <= computed_at AND sent_at < now()
                 FROM payout_run"""))).all()
        # Settled exactly when nothing is in flight (cash not handed over keeps a run sent).
        misplaced = await session.scalar(text(
            """SELECT count(*) FROM payout_run
                WHERE (status = 'settled') = payout_run_in_flight(id) AND status IN ('sent', 'settled')"""))
        months = (await session.execute(text(
            "SELECT to_char(month, 'YYYY-MM'), count(*) FROM payout_month GROUP BY 1 ORDER BY 1"))).all()
        cash = await session.scalar(text("SELECT count(*) FROM payout WHERE channel = 'cash'"))
        report_ok = (await verify_ledger(session)).ok
        statements = await session.scalar(text("SELECT count(*) FROM bank_statement"))
        statuses = dict((await session.execute(text(
            "SELECT status, count(*) FROM payout WHERE channel = 'bank' GROUP BY status"))).all())
        withdrawn = await session.scalar(text("SELECT count(*) FROM payout WHERE withdrawn_at IS NOT NULL"))
        handovers = await session.scalar(text("SELECT count(*) FROM withdrawal WHERE channel = 'cash_handover'"))
        formats = {r[0] for r in await session.execute(text("SELECT DISTINCT format FROM bank_statement"))}
        commune_records = (await session.execute(text(
            """SELECT b.commune_code, w.channel, w.recorded_by, w.helper_name, count(*)
                 FROM withdrawal w JOIN beneficiary b ON b.id = w.beneficiary_id
                WHERE w.source = 'commune' GROUP BY 1, 2, 3, 4"""))).all()
        scopes = dict((await session.execute(text(
            "SELECT username, communes FROM staff_user WHERE role = 'commune_staff'"))).all())
    assert people == 150 and imports == 1
    assert all(status in ("sent", "settled") and four_eyes for status, four_eyes in runs)
    assert {tuple(t) for t in timelines} == {
        ("2026-10", "2026-09-20 08:00", "2026-10-03 10:00", "2026-10-08 09:00", True),
        ("2026-11", "2026-10-20 08:00", "2026-11-03 10:00", "2026-11-08 09:00", True)}
    assert misplaced == 0
    settled = sum(status == "settled" for status, _ in runs)
    assert f"demo: {settled} of 6 runs settled (every payout credited, returned or handed over)" in lines
    assert [m for m, _ in months] == ["2026-10", "2026-11"] and months[0][1] == months[1][1] > 100
    assert cash > 0
    assert report_ok
    assert statements == report.statements >= 6 and {"mt940", "xlsx"} <= {f.split(".")[0] for f in formats}
    assert any(f.startswith("camt.053") for f in formats)
    assert statuses.get("credited", 0) > 0.9 * sum(statuses.values()) and "sent" not in statuses
    assert withdrawn > 0.7 * sum(statuses.values()) and handovers > 0
    # Each assisted withdrawal and cash handover is recorded by the demo commune user whose scope holds the
    # person's commune (helped by that user, by name); the communes no demo user covers by the demo itself.
    assert scopes == {"xa.hoankiem": ["00070", "00073"], "xa.muongphang": ["03325", "03328"]}
    staff_of = {commune: user for user, communes in scopes.items() for commune in communes}
    assert all(recorded_by == staff_of.get(commune, "demo") for commune, _, recorded_by, _, _ in commune_records)
    assert {recorded_by for _, _, recorded_by, _, _ in commune_records} == {"xa.hoankiem", "xa.muongphang", "demo"}
    assert all(helper == {"xa.hoankiem": "Phạm Thị Hoa", "xa.muongphang": "Lò Văn Sơn"}[recorded_by]
               for _, channel, recorded_by, helper, _ in commune_records if channel == "assisted")
    with pytest.raises(click.ClickException, match="already in use"):
        await build_demo(engine, beneficiaries=10, months=1, echo=lines.append)


def test_the_demo_report_gives_the_sign_in_address_it_is_served_at():
    report = DemoReport(users=[("canbo.lan", "officer", "ansinh-demo-2026")], bank_key="ansinh_x", beneficiaries=1,
                        runs=[])
    lines: list[str] = []
    print_report(report, Settings(host="192.0.2.10", port=8123).local_url, echo=lines.append)
    assert "Demo sign-in / Đăng nhập thử (http://192.0.2.10:8123/login):" in lines
    assert not any("8000" in line for line in lines)


def test_local_url_is_where_a_browser_on_this_machine_reaches_the_server():
    assert Settings().local_url == "http://127.0.0.1:8000"
    assert Settings(host="0.0.0.0", port=9000).local_url == "http://127.0.0.1:9000"
    assert Settings(host="::", port=9000).local_url == "http://127.0.0.1:9000"
    assert Settings(host="::1", port=9000).local_url == "http://[::1]:9000"
    assert Settings(host="ansinh.local", port=80).local_url == "http://ansinh.local:80"
