from datetime import date

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.registry.fake import citizen_id_for
from app.registry.identity import (
    bank_holder_name,
    birth_province_codes,
    century_sex_digit,
    citizen_id_problems,
    fold_accents,
    holder_name_matches,
    is_valid_citizen_id,
    mask_digits,
)


def test_birth_province_codes_are_the_old_63():
    codes = birth_province_codes()
    assert len(codes) == 63
    assert {"001", "002", "031", "079", "096"} <= codes
    assert "003" not in codes and "097" not in codes


def test_valid_citizen_ids_for_each_century_and_sex():
    assert is_valid_citizen_id("001185012345", date(1985, 3, 4), "female")
    assert is_valid_citizen_id("001085012345", date(1985, 3, 4), "male")
    assert is_valid_citizen_id("079205000001", date(2005, 12, 31), "male")
    assert is_valid_citizen_id("096307000001", date(2007, 1, 1), "female")
    assert is_valid_citizen_id("031099123456", date(1999, 6, 1), "male")


def test_citizen_id_must_be_twelve_digits():
    for bad in ("00118501234", "0011850123456", "00118501234x", ""):
        problems = citizen_id_problems(bad, date(1985, 3, 4), "female")
        assert [p.en for p in problems] == ["The citizen ID must have exactly 12 digits"]


def test_citizen_id_province_must_be_an_old_birth_registration_code():
    problems = citizen_id_problems("003185012345", date(1985, 3, 4), "female")
    assert len(problems) == 1 and "'003'" in problems[0].en and "'003'" in problems[0].vi


def test_citizen_id_digit_four_must_agree_with_sex():
    problems = citizen_id_problems("001085012345", date(1985, 3, 4), "female")
    assert len(problems) == 1 and "Digit 4 (0)" in problems[0].en and "expected 1" in problems[0].en


def test_citizen_id_digit_four_must_agree_with_century():
    problems = citizen_id_problems("001285012345", date(1985, 3, 4), "male")
    assert len(problems) == 1 and "expected 0" in problems[0].en


def test_citizen_id_digits_five_six_must_agree_with_birth_year():
    problems = citizen_id_problems("001186012345", date(1985, 3, 4), "female")
    assert len(problems) == 1 and "Digits 5-6 (86)" in problems[0].en and "1985" in problems[0].vi


def test_citizen_id_lists_every_broken_rule():
    problems = citizen_id_problems("099290012345", date(1985, 3, 4), "male")
    assert len(problems) == 3


def test_century_sex_digit():
    assert [century_sex_digit(y, s) for y, s in ((1950, "male"), (1950, "female"), (2001, "male"),
                                                  (2001, "female"), (2100, "male"))] == [0, 1, 2, 3, 4]
    assert century_sex_digit(1899, "male") is None


@given(born=st.dates(min_value=date(1900, 1, 1), max_value=date(2099, 12, 31)),
       sex=st.sampled_from(["male", "female"]), province=st.sampled_from(sorted(birth_province_codes())),
       serial=st.integers(0, 999_999))
def test_generated_citizen_ids_are_valid_and_encode_birth_year(born, sex, province, serial):
    national_id = citizen_id_for(born, sex, province, serial)
    assert is_valid_citizen_id(national_id, born, sex)
    birth_year = (int(national_id[3]) // 2 + 19) * 100 + int(national_id[4:6])
    assert birth_year == born.year
    other_sex = "female" if sex == "male" else "male"
    assert not is_valid_citizen_id(national_id, born, other_sex)


def test_fold_accents_removes_vietnamese_marks_and_case():
    assert fold_accents("  Nguyễn   Thị HOÀ ") == "nguyen thi hoa"
    assert fold_accents("Đặng Đức Ưng Ỷ") == "dang duc ung y"
    # Decomposed input (NFD) folds the same as composed input.
    import unicodedata

    assert fold_accents(unicodedata.normalize("NFD", "Trần Thị Ngọc Hương")) == "tran thi ngoc huong"


def test_holder_names_are_upper_case_without_accents():
    assert bank_holder_name("Nguyễn Thị Hoa") == "NGUYEN THI HOA"
    assert holder_name_matches("Nguyễn Thị Hoa", "NGUYEN  THI HOA")
    assert not holder_name_matches("Nguyễn Thị Hoa", "NGUYEN THI HOA B")


def test_mask_digits_keeps_last_four():
    assert mask_digits("001185012345") == "********2345"
    assert mask_digits("123") == "123"
    assert mask_digits(None) is None


def test_citizen_id_for_refuses_impossible_inputs():
    with pytest.raises(ValueError):
        citizen_id_for(date(1985, 1, 1), "male", "003", 1)
