from datetime import date

from app.registry.fake import CATEGORY_AGES, BeneficiaryFaker
from app.registry.identity import HOLDER_NAME_PATTERN, bank_holder_name, is_valid_citizen_id


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


def test_fake_people_are_valid_unique_and_fit_their_category():
    faker = BeneficiaryFaker(seed=11, today=date(2026, 1, 1))
    people = faker.people(3000)
    assert len({p.national_id for p in people}) == 3000
    accounts = [(p.bank_bin, p.account_number) for p in people if p.account_number]
    assert len(set(accounts)) == len(accounts) and 0.8 < len(accounts) / 3000 < 0.97
    for person in people:
        assert is_valid_citizen_id(person.national_id, person.date_of_birth, person.sex)
        low, high = CATEGORY_AGES[person.category]
        assert low <= _age(person.date_of_birth, person.start_month) <= high
        if person.account_number:
            assert 6 <= len(person.account_number) <= 19 and person.account_number.isdigit()
            assert person.holder_name == bank_holder_name(person.full_name)
            assert HOLDER_NAME_PATTERN.match(person.holder_name)
        assert person.phone is None or (len(person.phone) == 10 and person.phone.startswith("0"))
        assert person.start_month >= date(2021, 7, 1) and person.start_month.day == 1


def test_same_seed_same_people():
    assert BeneficiaryFaker(seed=3).people(50) == BeneficiaryFaker(seed=3).people(50)
    assert BeneficiaryFaker(seed=3).people(5) != BeneficiaryFaker(seed=4).people(5)
