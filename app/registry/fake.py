"""Valid made-up beneficiaries for demos, tests and benchmarks (seeded, no external dependencies).

Names are Vietnamese, citizen IDs follow the structure for the date of birth and sex, ages fit the
category, account numbers are unique per bank and holder names are the name as banks print it.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from app.registry.identity import bank_holder_name, birth_province_codes, century_sex_digit
from app.registry.reference import read_reference_csv
from app.registry.sheets import rows_csv, rows_xlsx

SURNAMES = (("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 5), ("Huỳnh", 4), ("Phan", 4),
            ("Vũ", 4), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 1), ("Hồ", 1), ("Ngô", 1), ("Dương", 1), ("Lý", 1))
MIDDLE_NAMES = {"male": ("Văn", "Văn", "Hữu", "Đức", "Minh", "Quang", "Thanh", "Công", "Xuân", "Đình", "Ngọc"),
                "female": ("Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Kim", "Mai", "Hồng", "Bích")}
GIVEN_NAMES = {"male": ("An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hùng", "Khánh", "Long", "Nam", "Phong",
                        "Quân", "Sơn", "Tài", "Thắng", "Toàn", "Trung", "Tuấn", "Việt", "Vinh", "Lộc", "Hòa"),
               "female": ("Anh", "Chi", "Dung", "Giang", "Hà", "Hằng", "Hoa", "Hương", "Lan", "Linh", "Mai",
                          "Ngọc", "Nhung", "Oanh", "Phương", "Thảo", "Thủy", "Trang", "Vân", "Yến", "Hoà", "Huệ")}
MOBILE_PREFIXES = ("032", "033", "034", "035", "036", "037", "038", "039", "056", "058", "070", "076", "077",
                   "078", "079", "081", "082", "083", "084", "085", "086", "088", "089", "090", "091", "093",
                   "094", "096", "097", "098")
# Ages (in years on the first day of the start month) that fit each category (``category_ages``); others
# get 18-90.
CATEGORY_AGES = {"NCT_NGHEO_60_80": (60, 79), "NCT_NGHEO_80": (80, 99), "NCT_80": (80, 99), "NCT_CSTT": (60, 95),
                 "NKT_DBN": (16, 59), "NKT_DBN_TE_NCT": (60, 90), "NKT_N": (16, 59), "NKT_N_TE_NCT": (60, 90),
                 "HTXH_75": (75, 99), "HTXH_70_NGHEO": (70, 74), "MVNAH": (90, 104)}
ACCOUNT_LENGTHS = {"970436": 13, "970405": 13, "970418": 14, "970415": 12}
IMPORT_HEADERS = ("Họ và tên", "Ngày sinh", "Giới tính", "Số CCCD", "Mã xã", "Địa chỉ", "Điện thoại",
                  "Chương trình", "Đối tượng", "Hệ số", "Tháng bắt đầu", "Số quyết định", "Ngân hàng",
                  "Số tài khoản", "Tên chủ tài khoản", "Ngày mở tài khoản")


@dataclass(frozen=True)
class FakePerson:
    """One made-up beneficiary with an enrolment and (usually) a bank account."""

    national_id: str
    full_name: str
    date_of_birth: date
    sex: str
    commune_code: str
    address: str
    phone: str | None
    programme: str
    category: str
    start_month: date
    decision_number: str
    bank_bin: str | None
    account_number: str | None
    holder_name: str | None
    account_opened: date | None = None

    def import_row(self) -> list[Any]:
        """The person as a row under IMPORT_HEADERS, written the way an officer types it."""
        return [self.full_name, self.date_of_birth.strftime("%d/%m/%Y"), "Nữ" if self.sex == "female" else "Nam",
                self.national_id, self.commune_code, self.address, self.phone or "", self.programme, self.category,
                "", self.start_month.strftime("%m/%Y"), self.decision_number, self.bank_bin or "",
                self.account_number or "", self.holder_name or "",
                self.account_opened.strftime("%d/%m/%Y") if self.account_opened else ""]


def citizen_id_for(date_of_birth: date, sex: str, birth_province: str, serial: int) -> str:
    """The citizen ID with this birth-registration province, date of birth, sex and 6-digit serial."""
    digit = century_sex_digit(date_of_birth.year, sex)
    if digit is None or birth_province not in birth_province_codes():
        raise ValueError("no citizen ID exists for this birth year, sex or province")
    return f"{birth_province}{digit}{date_of_birth.year % 100:02d}{serial % 1_000_000:06d}"


class BeneficiaryFaker:
    """A seeded source of valid, unique beneficiaries."""

    def __init__(self, seed: int = 0, *, communes: Sequence[str] | None = None, banks: Sequence[str] | None = None,
                 today: date | None = None, bank_share: float = 0.9) -> None:
        self.rng = random.Random(seed)
        self.communes = list(communes) if communes else [r["commune_code"] for r in read_reference_csv("communes")]
        self.banks = list(banks) if banks else [r["bin"] for r in read_reference_csv("banks")]
        self.categories = [(r["programme"], r["category"]) for r in read_reference_csv("categories")]
        self.birth_provinces = sorted(birth_province_codes())
        self.today = today or date(2026, 1, 1)
        self.bank_share = bank_share
        self._surnames = [name for name, _ in SURNAMES]
        self._surname_weights = [weight for _, weight in SURNAMES]
        self._ids: set[str] = set()
        self._accounts: set[tuple[str, str]] = set()
        self._decision = 0

    def full_name(self, sex: str) -> str:
        """A Vietnamese name: surname, middle name, given name."""
        surname = self.rng.choices(self._surnames, self._surname_weights)[0]
        return f"{surname} {self.rng.choice(MIDDLE_NAMES[sex])} {self.rng.choice(GIVEN_NAMES[sex])}"

    def date_of_birth(self, min_age: int, max_age: int, on: date | None = None) -> date:
        """A birth date giving an age between min_age and max_age on ``on`` (the reference date by default)."""
        day = on or self.today
        latest = day.replace(year=day.year - min_age) - timedelta(days=1)
        earliest = day.replace(year=day.year - max_age - 1) + timedelta(days=1)
        return earliest + timedelta(days=self.rng.randrange((latest - earliest).days + 1))

    def citizen_id(self, date_of_birth: date, sex: str) -> str:
        """A citizen ID for the birth date and sex, never returned twice by this faker."""
        while True:
            national_id = citizen_id_for(date_of_birth, sex, self.rng.choice(self.birth_provinces),
                                         self.rng.randrange(1_000_000))
            if national_id not in self._ids:
                self._ids.add(national_id)
                return national_id

    def phone(self) -> str | None:
        """A mobile number, or None for one person in five."""
        if self.rng.random() < 0.2:
            return None
        return self.rng.choice(MOBILE_PREFIXES) + f"{self.rng.randrange(10_000_000):07d}"

    def account(self, bank_bin: str | None = None) -> tuple[str, str]:
        """(bank BIN, account number) not handed out before."""
        while True:
            bank = bank_bin or self.rng.choice(self.banks)
            length = ACCOUNT_LENGTHS.get(bank) or self.rng.randint(9, 14)
            number = "".join(str(self.rng.randrange(10)) for _ in range(length))
            if (bank, number) not in self._accounts:
                self._accounts.add((bank, number))
                return bank, number

    def person(self, *, commune_code: str | None = None, with_bank: bool | None = None,
               category: tuple[str, str] | None = None, start_month: date | None = None) -> FakePerson:
        """One beneficiary whose age in the start month (given, or drawn from 07/2021-12/2025) fits the
        (programme, category) given, or a randomly chosen one."""
        programme, category_code = category or self.rng.choice(self.categories)
        return self._person(programme, category_code, commune_code, with_bank, start_month)

    def _person(self, programme: str, category: str, commune_code: str | None,
                with_bank: bool | None, start_month: date | None = None) -> FakePerson:
        min_age, max_age = CATEGORY_AGES.get(category, (18, 90))
        if start_month is None:
            start_year = self.rng.randint(2021, 2025)
            start_month = date(start_year, self.rng.randint(7 if start_year == 2021 else 1, 12), 1)
        sex = self.rng.choice(("male", "female"))
        if category == "MVNAH":
            sex = "female"
        born = self.date_of_birth(min_age, max_age, on=start_month.replace(day=1))
        full_name = self.full_name(sex)
        has_bank = self.rng.random() < self.bank_share if with_bank is None else with_bank
        bank_bin, number = self.account() if has_bank else (None, None)
        self._decision += 1
        return FakePerson(
            national_id=self.citizen_id(born, sex), full_name=full_name, date_of_birth=born, sex=sex,
            commune_code=commune_code or self.rng.choice(self.communes),
            address=f"Số {self.rng.randint(1, 300)}, tổ {self.rng.randint(1, 40)}", phone=self.phone(),
            programme=programme, category=category, start_month=start_month,
            decision_number=f"{self._decision}/QĐ-UBND", bank_bin=bank_bin, account_number=number,
            holder_name=bank_holder_name(full_name) if has_bank else None,
        )

    def people(self, count: int, **options: Any) -> list[FakePerson]:
        """``count`` beneficiaries."""
        return [self.person(**options) for _ in range(count)]


def import_rows(people: Iterable[FakePerson]) -> list[list[Any]]:
    """Header row plus one row per person, as an import file holds them."""
    return [list(IMPORT_HEADERS), *(person.import_row() for person in people)]


def import_file_bytes(people: Iterable[FakePerson], *, kind: str = "xlsx") -> bytes:
    """An import file (xlsx or csv) for these people."""
    rows = import_rows(people)
    return rows_csv(rows) if kind == "csv" else rows_xlsx(rows, title="Danh sách")


def write_import_file(people: Iterable[FakePerson], path: Path) -> Path:
    """Write an import file; the format follows the suffix (.csv or .xlsx)."""
    path.write_bytes(import_file_bytes(people, kind="csv" if path.suffix.lower() == ".csv" else "xlsx"))
    return path

