"""A category bound to an age (the elderly 80+, the social pension at 75, a child or elderly person with a
disability) refuses a person who does not have that age in the enrolment's start month: in an import (the
whole file, every bad row listed), on registration and on a new enrolment. A corrected date of birth is not
refused: it is saved, with a warning for each active enrolment it no longer fits."""

from datetime import date

from sqlalchemy import text

from app.registry.category_ages import (
    age_on,
    category_age_bands,
    category_age_problem,
    enrolment_age_warnings,
)
from app.registry.fake import CATEGORY_AGES, IMPORT_HEADERS, BeneficiaryFaker, import_file_bytes
from app.registry.models import Enrolment
from app.registry.reference import read_reference_csv
from app.registry.sheets import rows_xlsx
from tests.app.registry.conftest import HANOI_A, create_person, person_json
from tests.app.registry.test_importer import counts, row_of, upload


def test_age_on_counts_whole_years_and_leap_days():
    assert age_on(date(1946, 3, 15), date(2026, 3, 14)) == 79
    assert age_on(date(1946, 3, 15), date(2026, 3, 15)) == 80
    assert age_on(date(1944, 2, 29), date(2024, 2, 28)) == 79
    assert age_on(date(1944, 2, 29), date(2024, 2, 29)) == 80
    assert age_on(date(2026, 5, 1), date(2026, 4, 1)) == -1


def test_a_category_is_met_from_the_month_of_the_birthday_and_until_the_month_before_the_upper_age():
    born = date(1946, 3, 15)  # 80 on 15/03/2026
    assert category_age_problem("TGXH", "NCT_NGHEO_80", born, date(2026, 2, 1)) is not None
    assert category_age_problem("TGXH", "NCT_NGHEO_80", born, date(2026, 3, 1)) is None  # turns 80 in March
    assert category_age_problem("TGXH", "NCT_NGHEO_60_80", born, date(2026, 3, 1)) is None  # still 79 on 1 March
    late = category_age_problem("TGXH", "NCT_NGHEO_60_80", born, date(2026, 4, 1))
    assert late is not None and "80 tuổi" in late.vi and "is 80 in the start month 04/2026" in late.en
    # A child or an elderly person: either band; an adult of 40 neither.
    assert category_age_problem("TGXH", "NKT_DBN_TE_NCT", date(2015, 6, 1), date(2026, 1, 1)) is None
    assert category_age_problem("TGXH", "NKT_DBN_TE_NCT", date(1960, 6, 1), date(2026, 1, 1)) is None
    adult = category_age_problem("TGXH", "NKT_DBN_TE_NCT", date(1986, 6, 1), date(2026, 1, 1))
    assert adult is not None
    assert adult.vi == ("Đối tượng NKT_DBN_TE_NCT dành cho người dưới 16 tuổi (trẻ em) hoặc từ đủ 60 tuổi "
                        "(người cao tuổi); người sinh ngày 01/06/1986 được 39 tuổi vào tháng bắt đầu hưởng 01/2026")
    # Categories without an age condition, and NCT_80 from 75 (communes of ethnic minorities and mountains).
    assert category_age_problem("TGXH", "NKT_DBN", date(1986, 6, 1), date(2026, 1, 1)) is None
    assert category_age_problem("NCC", "MVNAH", date(1940, 1, 1), date(2026, 1, 1)) is None
    assert category_age_problem("TGXH", "NCT_80", date(1950, 1, 1), date(2026, 1, 1)) is None
    assert category_age_problem("TGXH", "NCT_80", date(1952, 1, 2), date(2026, 1, 1)) is not None


def test_every_age_band_names_a_shipped_category_and_the_faker_fits_them():
    shipped = {(r["programme"], r["category"]) for r in read_reference_csv("categories")}
    assert set(category_age_bands()) <= shipped
    assert {category for _, category in category_age_bands()} <= set(CATEGORY_AGES)
    faker = BeneficiaryFaker(seed=5)
    for person in faker.people(2000):
        assert category_age_problem(person.programme, person.category, person.date_of_birth,
                                    person.start_month) is None, person


async def test_an_import_with_a_person_too_young_for_the_category_is_rejected_whole(client, callers, session):
    officer = await callers.officer()
    faker = BeneficiaryFaker(seed=21, communes=[HANOI_A])
    fine = faker.person(category=("TGXH", "NCT_80"), start_month=date(2026, 1, 1))
    young = faker.person(category=("TGXH", "NKT_DBN"), start_month=date(2026, 1, 1))  # aged 16 to 59
    pension = faker.person(category=("HTXH", "HTXH_70_NGHEO"), start_month=date(2026, 1, 1))
    rows = [list(IMPORT_HEADERS), row_of(fine), row_of(young, **{"Đối tượng": "NCT_80"}),
            row_of(pension, **{"Tháng bắt đầu": "01/2031"})]  # past 75 by then
    before = await counts(session)
    response = await upload(client, officer, rows_xlsx(rows))
    assert response.status_code == 422, response.text
    errors = response.json()["errors"]
    assert [(e["row"], e["column"]) for e in errors] == [(3, "Đối tượng"), (4, "Đối tượng")]
    age = age_on(young.date_of_birth, date(2026, 1, 1))
    assert errors[0]["message"].startswith("Đối tượng NCT_80 dành cho người từ đủ 80 tuổi")
    assert f"được {age} tuổi vào tháng bắt đầu hưởng 01/2026" in errors[0]["message"]
    assert f"is {age} in the start month 01/2026" in errors[0]["message_en"]
    assert "aged 70 to 74" in errors[1]["message_en"]
    assert await counts(session) == before  # nothing applied
    kept = (await session.execute(text("SELECT outcome, jsonb_array_length(errors) FROM beneficiary_import"))).one()
    assert tuple(kept) == ("rejected", 2)
    # Corrected (the young person in the category that fits), the file goes in.
    assert (await upload(client, officer, import_file_bytes([fine, young]))).status_code == 200


async def test_registration_and_a_new_enrolment_check_the_age(client, callers):
    officer = await callers.officer()
    body = person_json(born=date(1990, 5, 17), serial=654321,
                       enrolments=[{"programme": "HTXH", "category": "HTXH_75", "start_month": "2026-01",
                                    "decision_number": "3/QĐ-UBND"}])
    refused = await client.post("/api/beneficiaries", json=body, headers=officer)
    assert refused.status_code == 422, refused.text
    assert [(e["column"], e["message_en"]) for e in refused.json()["errors"]] == [
        ("enrolments[0].category", "Category HTXH_75 is for people aged 75 or more; someone born on 17/05/1990 "
                                   "is 35 in the start month 01/2026")]
    person = await create_person(client, officer, born=date(1990, 5, 17), serial=654321)
    url = f"/api/beneficiaries/{person['id']}/enrolments"
    elderly = await client.post(url, json={"programme": "TGXH", "category": "NCT_CSTT", "start_month": "2026-01",
                                           "decision_number": "4/QĐ-UBND"}, headers=officer)
    assert elderly.status_code == 422 and elderly.json()["errors"][0]["column"] == "category"
    assert "từ đủ 60 tuổi" in elderly.json()["errors"][0]["message"]
    disability = await client.post(url, json={"programme": "TGXH", "category": "NKT_DBN", "start_month": "2026-01",
                                              "decision_number": "5/QĐ-UBND"}, headers=officer)
    assert disability.status_code == 201, disability.text


async def test_a_corrected_birth_date_is_saved_and_warns_of_each_enrolment_it_no_longer_fits(client, callers,
                                                                                             session):
    officer = await callers.officer()
    # 80 on 15/01/2026: the 80+ category fits from January 2026; the disability category has no age condition.
    person = await create_person(client, officer, born=date(1946, 1, 15), serial=246810, enrolments=[
        {"programme": "TGXH", "category": "NCT_NGHEO_80", "start_month": "2026-01", "decision_number": "7/QĐ-UBND"}])
    url = f"/api/beneficiaries/{person['id']}"
    enrolment_id = person["enrolments"][0]["id"]
    assert person["warnings"] == []

    # Still 80 in January: nothing to warn of, and nothing in the audit entry but the correction.
    fits = await client.patch(url, json={"date_of_birth": "1946-01-02"}, headers=officer)
    assert fits.status_code == 200, fits.text
    assert fits.json()["date_of_birth"] == "1946-01-02" and fits.json()["warnings"] == []
    audited = (await session.execute(text(
        "SELECT before, after FROM audit_log WHERE action = 'beneficiary.update' ORDER BY id"))).all()
    assert [tuple(row) for row in audited] == [({"date_of_birth": "1946-01-15"}, {"date_of_birth": "1946-01-02"})]

    # Born in February: 79 all of January. The correction is a fact: saved, with a warning, not refused.
    breaks = await client.patch(url, json={"date_of_birth": "1946-02-20"}, headers=officer)
    assert breaks.status_code == 200, breaks.text
    body = breaks.json()
    assert body["date_of_birth"] == "1946-02-20"
    assert [(w["enrolment_id"], w["programme"], w["category"], w["start_month"]) for w in body["warnings"]] == [
        (enrolment_id, "TGXH", "NCT_NGHEO_80", "2026-01")]
    warning = body["warnings"][0]
    assert warning["message"].startswith("Quyết định số 7/QĐ-UBND (TGXH, hưởng từ tháng 01/2026) không còn hợp với "
                                         "ngày sinh: Đối tượng NCT_NGHEO_80 dành cho người từ đủ 80 tuổi")
    assert "người sinh ngày 20/02/1946 được 79 tuổi vào tháng bắt đầu hưởng 01/2026" in warning["message"]
    assert "Hãy kết thúc quyết định này và lập quyết định theo đúng đối tượng" in warning["message"]
    assert "someone born on 20/02/1946 is 79 in the start month 01/2026" in warning["message_en"]
    # Staff read months as MM/YYYY in both languages; the API's start_month field stays YYYY-MM.
    assert warning["message_en"].startswith("Decision 7/QĐ-UBND (TGXH, from 01/2026) no longer fits")
    assert "2026-01" not in warning["message"] and "2026-01" not in warning["message_en"]
    assert warning["message_en"].endswith("or correct the date of birth if it was mistyped")
    stored = await session.scalar(text("SELECT date_of_birth FROM beneficiary WHERE id = :id"), {"id": person["id"]})
    assert stored == date(1946, 2, 20)
    before, after = (await session.execute(text(
        "SELECT before, after FROM audit_log WHERE action = 'beneficiary.update' ORDER BY id DESC LIMIT 1"))).one()
    assert before == {"date_of_birth": "1946-01-02"}
    assert after == {"date_of_birth": "1946-02-20", "warnings": [warning]}

    # The warning lasts as long as the mismatch: on reading the person, and on another correction.
    assert (await client.get(url)).json()["warnings"] == [warning]
    phone = await client.patch(url, json={"phone": "0987654321"}, headers=officer)
    assert phone.status_code == 200 and phone.json()["warnings"] == [warning]
    # Corrected again to a date that fits: the warning is gone.
    back = await client.patch(url, json={"date_of_birth": "1946-01-15"}, headers=officer)
    assert back.status_code == 200 and back.json()["warnings"] == []
    # A correction that is no date stays refused, and changes nothing.
    future = await client.patch(url, json={"date_of_birth": "2099-01-01"}, headers=officer)
    assert future.status_code == 422 and future.json()["errors"][0]["column"] == "date_of_birth"
    assert (await client.get(url)).json()["date_of_birth"] == "1946-01-15"


def test_only_active_enrolments_of_a_living_person_are_warned_of():
    born = date(1950, 6, 1)  # 75 in 2026: too young for 80+
    enrolments = [
        Enrolment(id=1, programme_code="TGXH", category_code="NCT_NGHEO_80", start_month=date(2026, 1, 1),
                  end_month=date(2026, 2, 1), decision_number="1/QĐ"),  # ended before this month
        Enrolment(id=2, programme_code="TGXH", category_code="NCT_NGHEO_80", start_month=date(2026, 1, 1),
                  end_month=date(2026, 3, 1), decision_number="2/QĐ"),  # ends this month
        Enrolment(id=3, programme_code="TGXH", category_code="NCT_NGHEO_80", start_month=date(2026, 6, 1),
                  end_month=None, decision_number="3/QĐ"),  # starts later
        Enrolment(id=4, programme_code="TGXH", category_code="NKT_DBN", start_month=date(2026, 1, 1),
                  end_month=None, decision_number="4/QĐ"),  # no age condition
        Enrolment(id=5, programme_code="TGXH", category_code="NCT_NGHEO_60_80", start_month=date(2026, 1, 1),
                  end_month=None, decision_number="5/QĐ"),  # fits
    ]
    warned = enrolment_age_warnings(born, enrolments, this_month=date(2026, 3, 1))
    assert [w.enrolment_id for w in warned] == [2, 3]
    assert warned[1].start_month == "2026-06" and "(TGXH, hưởng từ tháng 06/2026)" in warned[1].message
    assert "(TGXH, from 06/2026)" in warned[1].message_en and "2026-06" not in warned[1].message_en
    assert enrolment_age_warnings(born, enrolments, this_month=date(2026, 3, 1), deceased=True) == []
