"""The rules the database enforces itself: migration 0003's constraints, triggers, views and functions."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError, IntegrityError

from app.registry.fake import citizen_id_for
from app.registry.identity import fold_accents
from app.registry.rules import monthly_amount
from app.vietnam_time import VIETNAM_TODAY_SQL
from tests.app.registry.conftest import CAO_BANG, HANOI_A, HANOI_B, VIETCOMBANK


async def add_person(session, *, name="Nguyễn Thị Hoa", born=date(1940, 5, 17), sex="female", commune=HANOI_A,
                     serial=1):
    national_id = citizen_id_for(born, sex, "001", serial)
    person_id = await session.scalar(text(
        "INSERT INTO beneficiary (national_id, full_name, date_of_birth, sex, commune_code) "
        "VALUES (:n, :f, :d, :s, :c) RETURNING id"), {"n": national_id, "f": name, "d": born, "s": sex, "c": commune})
    await session.execute(text(
        "INSERT INTO beneficiary_event (beneficiary_id, kind, effective_on, status_after, commune_after, recorded_by)"
        " VALUES (:b, 'registered', DATE '2025-01-15', 'active', :c, 'test')"), {"b": person_id, "c": commune})
    return person_id


async def add_event(session, person_id, kind, effective_on, to_commune=None):
    await session.execute(text(
        "INSERT INTO beneficiary_event (beneficiary_id, kind, effective_on, from_commune, to_commune, status_after,"
        " commune_after, recorded_by) VALUES (:b, :k, :e, CASE WHEN :k = 'moved' THEN '00000' END, :t, 'active',"
        " '00070', 'test')"), {"b": person_id, "k": kind, "e": effective_on, "t": to_commune})


async def add_enrolment(session, person_id, programme, category, coefficient, start, end=None):
    return await session.scalar(text(
        "INSERT INTO enrolment (beneficiary_id, programme_code, category_code, coefficient, start_month, end_month,"
        " decision_number, created_by) VALUES (:b, :p, :c, :k, :s, :e, '1/QĐ-UBND', 'test') RETURNING id"),
        {"b": person_id, "p": programme, "c": category, "k": Decimal(coefficient), "s": start, "e": end})


def _vietnamese_letters() -> str:
    import unicodedata

    letters = []
    for base in "aăâeêioôơuưy":
        for tone in ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323"):
            letter = unicodedata.normalize("NFC", base + tone)
            letters += [letter, letter.upper()]
    return "".join(letters) + "đĐbcdghklmnpqrstvx"


VIETNAMESE_LETTERS = _vietnamese_letters()


async def test_fold_vietnamese_in_sql_equals_python(session):
    import unicodedata

    samples = [VIETNAMESE_LETTERS, "Nguyễn Thị Hoà", "  ĐẶNG   Văn  Ưng ", "Trần Thị Ngọc Hương",
               unicodedata.normalize("NFD", "Lê Thị Thuỷ Tiên")]
    for sample in samples:
        assert await session.scalar(text("SELECT fold_vietnamese(:s)"), {"s": sample}) == fold_accents(sample)
    assert fold_accents(VIETNAMESE_LETTERS).isascii()


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.text(alphabet=VIETNAMESE_LETTERS + " \t", max_size=40))
async def test_fold_vietnamese_agrees_on_any_vietnamese_text(session, name):
    assert await session.scalar(text("SELECT fold_vietnamese(:s)"), {"s": name}) == fold_accents(name)


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(base=st.integers(1, 50_000_000), hundredths=st.integers(1, 9999))
async def test_sql_monthly_amount_equals_python(session, base, hundredths):
    coefficient = Decimal(hundredths) / 100
    sql = await session.scalar(text("SELECT monthly_amount(:b, :c)"), {"b": base, "c": coefficient})
    assert sql == monthly_amount(base, coefficient)


async def test_citizen_id_structure_is_checked_by_the_database(session):
    with pytest.raises(IntegrityError, match="ck_beneficiary_citizen_id"):
        await session.execute(text(
            "INSERT INTO beneficiary (national_id, full_name, date_of_birth, sex, commune_code) "
            "VALUES ('001085012345', 'Lê Văn A', DATE '1985-03-04', 'female', :c)"), {"c": HANOI_A})


async def test_citizen_id_is_unique(session):
    await add_person(session, serial=7)
    with pytest.raises(IntegrityError, match="uq_beneficiary_national_id"):
        await add_person(session, name="Another", serial=7)


async def test_rates_in_force_national_and_hanoi_override(session):
    async def rate(programme, province, month):
        return await session.scalar(text("SELECT rate_in_force(:p, :v, :m)"), {"p": programme, "v": province,
                                                                              "m": month})
    assert await rate("TGXH", "01", date(2021, 6, 1)) is None
    assert await rate("TGXH", "01", date(2021, 7, 1)) == 360_000
    assert await rate("TGXH", "04", date(2024, 6, 1)) == 360_000
    assert await rate("TGXH", "04", date(2024, 7, 1)) == 500_000
    assert await rate("TGXH", "01", date(2025, 12, 1)) == 500_000
    assert await rate("TGXH", "01", date(2026, 1, 1)) == 650_000
    assert await rate("TGXH", "04", date(2026, 1, 1)) == 500_000
    assert await rate("NCC", "79", date(2024, 7, 1)) == 2_789_000
    rows = (await session.execute(text(
        "SELECT programme_code, province_code, base_amount FROM rates_in_force(DATE '2026-03-01') "
        "WHERE province_code IN ('01', '04') ORDER BY 1, 2"))).all()
    assert rows == [("HTXH", "01", 500_000), ("HTXH", "04", 500_000), ("NCC", "01", 2_789_000),
                    ("NCC", "04", 2_789_000), ("TGXH", "01", 650_000), ("TGXH", "04", 500_000)]


async def test_rates_are_append_only_and_start_on_the_first(session):
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text("UPDATE programme_rate SET base_amount = 1 WHERE programme_code = 'TGXH'"))
    await session.rollback()
    with pytest.raises(IntegrityError, match="programme_rate_effective_from_check"):
        await session.execute(text("INSERT INTO programme_rate (programme_code, effective_from, base_amount) "
                                   "VALUES ('TGXH', DATE '2027-01-15', 700000)"))


async def test_status_changes_only_through_events(session):
    person = await add_person(session)
    with pytest.raises(DBAPIError, match="only through beneficiary_event"):
        await session.execute(text("UPDATE beneficiary SET status = 'suspended' WHERE id = :id"), {"id": person})
    await session.rollback()
    person = await add_person(session)
    await add_event(session, person, "suspended", date(2025, 3, 10))
    assert await session.scalar(text("SELECT status FROM beneficiary WHERE id = :id"), {"id": person}) == "suspended"
    with pytest.raises(DBAPIError, match="append-only"):
        await session.execute(text("DELETE FROM beneficiary_event WHERE beneficiary_id = :id"), {"id": person})


async def test_event_transitions_are_checked_by_the_database(session):
    person = await add_person(session)
    with pytest.raises(DBAPIError, match="only a suspended beneficiary can be resumed"):
        await add_event(session, person, "resumed", date(2025, 3, 1))
    await session.rollback()
    person = await add_person(session)
    await add_event(session, person, "deceased", date(2025, 3, 1))
    row = (await session.execute(text("SELECT status, deceased_on FROM beneficiary WHERE id = :id"),
                                 {"id": person})).one()
    assert tuple(row) == ("deceased", date(2025, 3, 1))
    with pytest.raises(DBAPIError, match="deceased: no further events"):
        await add_event(session, person, "suspended", date(2025, 4, 1))


async def test_events_cannot_go_back_in_time(session):
    person = await add_person(session)
    await add_event(session, person, "suspended", date(2025, 6, 1))
    with pytest.raises(DBAPIError, match="before the last event"):
        await add_event(session, person, "resumed", date(2025, 5, 1))


async def test_a_move_changes_the_commune_and_records_both(session):
    person = await add_person(session)
    await add_event(session, person, "moved", date(2025, 6, 1), to_commune=CAO_BANG)
    row = (await session.execute(text(
        "SELECT from_commune, to_commune, commune_after FROM beneficiary_event WHERE kind = 'moved'"))).one()
    assert tuple(row) == (HANOI_A, CAO_BANG, CAO_BANG)
    assert await session.scalar(text("SELECT commune_code FROM beneficiary WHERE id = :id"), {"id": person}) == CAO_BANG


async def _active_in(session, month):
    rows = (await session.execute(text("SELECT beneficiary_id, commune_code FROM beneficiaries_active_in(:m)"),
                                  {"m": month})).all()
    return {r[0]: r[1] for r in rows}


async def test_status_by_month_for_payouts(session):
    died = await add_person(session, serial=1)
    await add_event(session, died, "deceased", date(2025, 3, 31))
    died_first = await add_person(session, serial=2)
    await add_event(session, died_first, "deceased", date(2025, 3, 1))
    paused = await add_person(session, serial=3)
    await add_event(session, paused, "suspended", date(2025, 4, 1))
    await add_event(session, paused, "resumed", date(2025, 6, 10))
    mover = await add_person(session, serial=4)
    await add_event(session, mover, "moved", date(2025, 5, 20), to_commune=HANOI_B)

    march, april, may, june = (date(2025, m, 1) for m in (3, 4, 5, 6))
    assert set(await _active_in(session, march)) == {died, died_first, paused, mover}
    april_active = await _active_in(session, april)
    assert set(april_active) == {mover}  # deaths stop payment the month after; April fully suspended
    assert (await _active_in(session, may))[mover] == HANOI_B  # the commune at the end of the month
    assert set(await _active_in(session, june)) == {paused, mover}  # resumed mid-June
    # Months before registration are payable (arrears for enrolments that started earlier).
    assert set(await _active_in(session, date(2024, 1, 1))) == {died, died_first, paused, mover}


async def test_entitlements_pay_only_the_highest_amount_per_group(session):
    person = await add_person(session, born=date(1940, 5, 17))
    await add_enrolment(session, person, "TGXH", "NCT_80", "1.0", date(2025, 1, 1))
    pension = await add_enrolment(session, person, "HTXH", "HTXH_75", "1.0", date(2025, 7, 1))
    cstt = await add_enrolment(session, person, "TGXH", "NCT_CSTT", "3.0", date(2025, 9, 1), date(2025, 12, 1))
    other = await add_person(session, serial=99, commune=CAO_BANG)
    await add_enrolment(session, other, "TGXH", "NKT_N", "1.5", date(2024, 1, 1))

    async def entitlements(month):
        rows = (await session.execute(text(
            "SELECT beneficiary_id, enrolment_id, programme_code, amount FROM entitlements_for_month(:m)"),
            {"m": month})).all()
        # The one-programme form (migration 0010) gives exactly the rows of its programme.
        for programme in ("TGXH", "HTXH"):
            alone = (await session.execute(text(
                "SELECT * FROM entitlements_for_month(:m, :p) ORDER BY 1, 2"), {"m": month, "p": programme})).all()
            filtered = (await session.execute(text(
                "SELECT * FROM entitlements_for_month(:m) WHERE programme_code = :p ORDER BY 1, 2"),
                {"m": month, "p": programme})).all()
            assert alone == filtered
        return {(r[0], r[2]): (r[1], r[3]) for r in rows}

    may = await entitlements(date(2025, 5, 1))
    assert may[(person, "TGXH")][1] == 500_000 and may[(other, "TGXH")][1] == 750_000
    # July: TGXH 1.0 and HTXH 1.0 tie at 500,000: one is paid, the earliest decision (TGXH).
    july = await entitlements(date(2025, 7, 1))
    assert [k for k in july if k[0] == person] == [(person, "TGXH")]
    october = await entitlements(date(2025, 10, 1))
    assert october[(person, "TGXH")] == (cstt, 1_500_000)
    # January 2026: CSTT ended, Hà Nội's level is 650,000: TGXH 1.0 beats the 500,000 pension.
    january = await entitlements(date(2026, 1, 1))
    assert january[(person, "TGXH")][1] == 650_000 and (person, "HTXH") not in january
    await add_event(session, person, "suspended", date(2025, 12, 1))
    assert (person, "TGXH") not in await entitlements(date(2026, 1, 1))
    assert pension > 0


async def test_one_active_bank_account_per_person_and_per_number(session):
    person = await add_person(session, serial=1)
    other = await add_person(session, name="Trần Văn Nam", sex="male", serial=2)
    insert = text("INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, created_by) "
                  "VALUES (:b, :bin, :n, :h, 'test')")
    await session.execute(insert, {"b": person, "bin": VIETCOMBANK, "n": "0011002345678", "h": "NGUYEN THI HOA"})
    with pytest.raises(IntegrityError, match="uq_bank_account_active_beneficiary"):
        async with session.begin_nested():
            await session.execute(insert, {"b": person, "bin": VIETCOMBANK, "n": "0011009999999",
                                           "h": "NGUYEN THI HOA"})
    with pytest.raises(IntegrityError, match="uq_bank_account_active_number"):
        async with session.begin_nested():
            await session.execute(insert, {"b": other, "bin": VIETCOMBANK, "n": "0011002345678",
                                           "h": "TRAN VAN NAM"})
    # Closing the old account makes room; it stays as history and cannot be edited or deleted.
    await session.execute(text(f"UPDATE bank_account SET effective_to = {VIETNAM_TODAY_SQL} WHERE beneficiary_id = :b"),
                          {"b": person})
    await session.execute(insert, {"b": other, "bin": VIETCOMBANK, "n": "0011002345678", "h": "TRAN VAN NAM"})
    with pytest.raises(DBAPIError, match="is history"):
        async with session.begin_nested():
            await session.execute(text("UPDATE bank_account SET account_number = '123456' WHERE beneficiary_id = :b"),
                                  {"b": person})
    with pytest.raises(DBAPIError, match="DELETE refused"):
        async with session.begin_nested():
            await session.execute(text("DELETE FROM bank_account WHERE beneficiary_id = :b"), {"b": person})
    with pytest.raises(DBAPIError, match="is history"):
        async with session.begin_nested():
            await session.execute(text(
                f"UPDATE bank_account SET effective_to = {VIETNAM_TODAY_SQL} + 1 WHERE beneficiary_id = :b"), {"b": person})
    assert await session.scalar(text("SELECT count(*) FROM bank_account")) == 2


async def test_holder_names_must_be_upper_case_without_accents(session):
    person = await add_person(session)
    with pytest.raises(IntegrityError, match="holder_name_check"):
        await session.execute(text(
            "INSERT INTO bank_account (beneficiary_id, bank_bin, account_number, holder_name, created_by) "
            "VALUES (:b, :bin, '0011002345678', 'Nguyễn Thị Hoa', 'test')"), {"b": person, "bin": VIETCOMBANK})


async def test_enrolment_months_start_on_the_first_and_categories_belong_to_programmes(session):
    person = await add_person(session)
    with pytest.raises(IntegrityError, match="fk_enrolment_category"):
        await add_enrolment(session, person, "HTXH", "NCT_80", "1.0", date(2025, 1, 1))
    await session.rollback()
    person = await add_person(session)
    with pytest.raises(IntegrityError, match="start_month_check"):
        await add_enrolment(session, person, "TGXH", "NCT_80", "1.0", date(2025, 1, 1) + timedelta(days=3))
