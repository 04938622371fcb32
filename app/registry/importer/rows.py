"""Checking every row of an import in one pass, against reference data loaded once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

from app.auth.service import Principal
from app.registry.category_ages import category_age_problem
from app.registry.identity import Message, citizen_id_problems, fold_accents
from app.registry.importer.columns import COLUMNS
from app.registry.importer.reader import Table
from app.registry.scope import commune_in_scope
from app.registry.validation import (
    FieldError,
    is_blank,
    parse_account_number,
    parse_address,
    parse_channel,
    parse_citizen_id,
    parse_code,
    parse_coefficient,
    parse_commune_code,
    parse_date,
    parse_date_of_birth,
    parse_decision_number,
    parse_full_name,
    parse_holder_name,
    parse_month,
    parse_phone,
    parse_sex,
)

_COLUMN_BY_FIELD = {c.field: c for c in COLUMNS}


@dataclass(frozen=True)
class Reference:
    """Reference data an import checks against, loaded once per import."""

    commune_province: dict[str, str]  # commune code -> province code
    bank_by_key: dict[str, str]  # BIN, folded short name and folded name -> BIN
    category_coefficient: dict[tuple[str, str], Decimal]  # (programme, category) -> coefficient
    programmes: frozenset[str]

    def bank_bin(self, text: str) -> str | None:
        """A BIN from "970436", "Vietcombank" or "vietcom bank"."""
        key = text.strip()
        if key.isdigit():
            return key if key in self.bank_by_key else None
        return self.bank_by_key.get(fold_accents(key).replace(" ", ""))


@dataclass(slots=True)
class ImportRow:
    """One checked row: a person, one enrolment and optionally a bank account."""

    row: int
    national_id: str
    full_name: str
    date_of_birth: date
    sex: str
    commune_code: str
    address: str
    phone: str | None
    channel: str
    programme_code: str
    category_code: str
    coefficient: Decimal
    start_month: date
    decision_number: str
    decision_date: date | None
    bank_bin: str | None
    account_number: str | None
    holder_name: str | None
    channel_given: bool = True  # False: derived from the bank columns (a blank bank keeps a known account)
    account_opened: date | None = None  # the bank's opening date of a first account (else: the import day)


class RowChecker:
    """Turns cells into an ImportRow, collecting every problem of the row."""

    def __init__(self, table: Table, reference: Reference, principal: Principal | None, today: date) -> None:
        self.table = table
        self.reference = reference
        self.principal = principal
        self.today = today
        self.errors: list[dict[str, Any]] = []

    def _header(self, field: str) -> str:
        return self.table.headers.get(field) or _COLUMN_BY_FIELD[field].vi

    def error(self, row: int, field: str, message: Message) -> None:
        """Record one problem of a row, named by the column header as written in the file."""
        self.errors.append({"row": row, "column": self._header(field), "message": message.vi,
                            "message_en": message.en})

    def _cell(self, cells: list[Any], field: str) -> Any:
        index = self.table.columns.get(field)
        if index is None or index >= len(cells):
            return None
        return cells[index]

    def _parse(self, row: int, cells: list[Any], field: str, parser: Any, *args: Any) -> Any:
        try:
            return parser(self._cell(cells, field), *args)
        except FieldError as exc:
            self.error(row, field, exc.message)
            return None

    def check(self, row: int, cells: list[Any]) -> ImportRow | None:
        """The row as an ImportRow, or None after recording its errors."""
        before = len(self.errors)
        full_name = self._parse(row, cells, "full_name", parse_full_name)
        born = self._parse(row, cells, "date_of_birth", parse_date_of_birth, self.today)
        sex = self._parse(row, cells, "sex", parse_sex)
        national_id = self._parse(row, cells, "national_id", parse_citizen_id)
        if national_id is not None:
            for problem in citizen_id_problems(national_id, born, sex):
                self.error(row, "national_id", problem)
        commune = self._parse(row, cells, "commune_code", parse_commune_code)
        if commune is not None:
            province = self.reference.commune_province.get(commune)
            if province is None:
                self.error(row, "commune_code", Message(f"Mã xã '{commune}' không có trong danh mục 3.321 xã",
                                                        f"Commune code '{commune}' is not in the commune list"))
            elif not commune_in_scope(self.principal, commune, province):
                self.error(row, "commune_code", Message(f"Xã '{commune}' ngoài phạm vi quản lý của bạn",
                                                        f"Commune '{commune}' is outside your scope"))
        address = self._parse(row, cells, "address", parse_address)
        phone = self._parse(row, cells, "phone", parse_phone)
        programme = self._code(row, cells, "programme")
        category = self._code(row, cells, "category")
        default_coefficient = None
        if programme is not None and programme not in self.reference.programmes:
            self.error(row, "programme", Message(f"Chương trình '{programme}' không tồn tại (TGXH, HTXH, NCC…)",
                                                 f"Programme '{programme}' does not exist (TGXH, HTXH, NCC…)"))
        elif programme is not None and category is not None:
            default_coefficient = self.reference.category_coefficient.get((programme, category))
            if default_coefficient is None:
                self.error(row, "category", Message(
                    f"Đối tượng '{category}' không thuộc chương trình '{programme}'",
                    f"Category '{category}' is not a category of programme '{programme}'"))
        coefficient = self._parse(row, cells, "coefficient", parse_coefficient)
        start_month = self._parse(row, cells, "start_month", parse_month)
        if programme and category and default_coefficient is not None and born is not None and start_month:
            age_problem = category_age_problem(programme, category, born, start_month)
            if age_problem is not None:
                self.error(row, "category", age_problem)
        decision_number = self._parse(row, cells, "decision_number", parse_decision_number)
        decision_date = None
        if not is_blank(self._cell(cells, "decision_date")):
            decision_date = self._parse(row, cells, "decision_date", parse_date)
        bank_bin, account_number, holder_name = self._account(row, cells, full_name)
        account_opened = None
        if not is_blank(self._cell(cells, "account_opened")):
            account_opened = self._parse(row, cells, "account_opened", parse_date)
            if account_number is None and is_blank(self._cell(cells, "account_number")):
                self.error(row, "account_opened", Message("Ngày mở tài khoản cần có số tài khoản",
                                                          "An account opening date needs an account number"))
            elif account_opened is not None and account_opened > self.today:
                self.error(row, "account_opened", Message(
                    f"Ngày mở tài khoản {account_opened:%d/%m/%Y} ở tương lai",
                    f"The account opening date {account_opened:%d/%m/%Y} is in the future"))
        explicit_channel = self._parse(row, cells, "channel", parse_channel)
        if explicit_channel == "bank" and is_blank(self._cell(cells, "account_number")):
            self.error(row, "channel", Message("Nhận qua ngân hàng cần có ngân hàng và số tài khoản",
                                               "The bank channel needs a bank and an account number"))
        channel = explicit_channel or ("bank" if account_number else "cash")
        if len(self.errors) != before:
            return None
        assert programme is not None and category is not None and default_coefficient is not None
        return ImportRow(
            row=row, national_id=national_id, full_name=full_name, date_of_birth=born, sex=sex,
            commune_code=commune, address=address or "", phone=phone, channel=channel,
            programme_code=programme, category_code=category,
            coefficient=coefficient if coefficient is not None else default_coefficient,
            start_month=start_month, decision_number=decision_number, decision_date=decision_date,
            bank_bin=bank_bin, account_number=account_number, holder_name=holder_name,
            channel_given=explicit_channel is not None, account_opened=account_opened,
        )

    def _code(self, row: int, cells: list[Any], field: str) -> str | None:
        what = {"programme": ("chương trình", "programme"), "category": ("đối tượng", "category")}[field]
        try:
            return parse_code(self._cell(cells, field), what_vi=what[0], what_en=what[1])
        except FieldError as exc:
            self.error(row, field, exc.message)
            return None

    def _account(self, row: int, cells: list[Any], full_name: str | None) -> tuple[str | None, str | None, str | None]:
        bank_cell = self._cell(cells, "bank")
        number_cell = self._cell(cells, "account_number")
        holder_cell = self._cell(cells, "holder_name")
        if is_blank(bank_cell) and is_blank(number_cell) and is_blank(holder_cell):
            return None, None, None
        bank_bin = None
        if is_blank(bank_cell):
            self.error(row, "bank", Message("Thiếu ngân hàng cho số tài khoản", "The bank of the account is missing"))
        else:
            bank_bin = self.reference.bank_bin(str(bank_cell) if not isinstance(bank_cell, float)
                                               else str(int(bank_cell)))
            if bank_bin is None:
                self.error(row, "bank", Message(f"Ngân hàng '{bank_cell}' không có trong danh sách (mã BIN hoặc tên)",
                                                f"Bank '{bank_cell}' is not in the bank list (BIN or short name)"))
        number = self._parse(row, cells, "account_number", parse_account_number)
        holder = None
        if is_blank(holder_cell):
            if full_name is not None:
                holder = self._holder_from_name(row, full_name)
        else:
            holder = self._parse(row, cells, "holder_name", parse_holder_name)
        return bank_bin, number, holder

    def _holder_from_name(self, row: int, full_name: str) -> str | None:
        try:
            return parse_holder_name(full_name)
        except FieldError as exc:
            self.error(row, "holder_name", exc.message)
            return None


def check_rows(table: Table, reference: Reference, principal: Principal | None,
               today: date) -> tuple[list[ImportRow], list[dict[str, Any]]]:
    """Every data row checked; duplicates of citizen ID or bank account inside the file are errors too."""
    checker = RowChecker(table, reference, principal, today)
    rows: list[ImportRow] = []
    first_row_of_id: dict[str, int] = {}
    first_row_of_account: dict[tuple[str, str], int] = {}
    for row_number, cells in table.data_rows():
        national_id_cell = checker._cell(cells, "national_id")
        checked = checker.check(row_number, cells)
        national_id = checked.national_id if checked else _quiet_citizen_id(national_id_cell)
        if national_id is not None:
            first = first_row_of_id.setdefault(national_id, row_number)
            if first != row_number:
                checker.error(row_number, "national_id", Message(
                    f"Số CCCD {national_id} trùng với dòng {first}",
                    f"Citizen ID {national_id} is also on row {first}"))
                checked = None
        if checked is not None and checked.account_number is not None and checked.bank_bin is not None:
            key = (checked.bank_bin, checked.account_number)
            first = first_row_of_account.setdefault(key, row_number)
            if first != row_number:
                checker.error(row_number, "account_number", Message(
                    f"Số tài khoản {checked.account_number} trùng với dòng {first}",
                    f"Account {checked.account_number} is also on row {first}"))
                checked = None
        if checked is not None:
            rows.append(checked)
    return rows, checker.errors


def _quiet_citizen_id(value: Any) -> str | None:
    try:
        return parse_citizen_id(value)
    except FieldError:
        return None
