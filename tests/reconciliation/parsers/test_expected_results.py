"""Amounts, dates and references agree with the expected results published beside the samples."""

from __future__ import annotations

import json
from datetime import date, datetime
from pathlib import Path
from typing import Any

import pytest

from reconciliation.parsers import parse_statement_file
from tests.reconciliation.parsers.samples import load_mt940_expected, samples_dir
from tests.reconciliation.parsers.test_samples import MT940_STATEMENTS

GENKGO = "camt/genkgo-camt"
GENKGO_FILES = sorted(p.stem for p in (samples_dir() / GENKGO).glob("*.json"))
MT940_WITH_EXPECTED = [name for name in MT940_STATEMENTS if (samples_dir() / name).with_suffix(".yml").is_file()]


def _genkgo_details(entry: dict[str, Any]) -> list[dict[str, Any]]:
    first = entry.get("getTransactionDetail")
    return [first if detail == "__RECURSIVITY__" else detail for detail in entry.get("getTransactionDetails") or []]


def _genkgo_moment(value: dict[str, Any] | None) -> datetime | None:
    return datetime.fromisoformat(value["0"]) if value else None


@pytest.mark.parametrize("stem", GENKGO_FILES)
def test_camt_matches_genkgo_expected_result(stem: str) -> None:
    expected = json.loads((samples_dir() / GENKGO / f"{stem}.json").read_text(encoding="utf-8"))
    (statement,) = parse_statement_file((samples_dir() / GENKGO / f"{stem}.xml").read_bytes())
    lines = iter(statement.lines)
    for entry in expected["getEntries"]:
        details = _genkgo_details(entry)
        booked = _genkgo_moment(entry.get("getBookingDate"))
        valued = _genkgo_moment(entry.get("getValueDate"))
        split = len(details) > 1 and all(d.get("getAmount") for d in details)
        parts = details if split else [details[0] if len(details) == 1 else {}]
        for detail in parts:
            line = next(lines)
            money = detail["getAmount"] if split else entry["getAmount"]
            assert line.amount == int(money["getAmount"])
            assert line.currency == money["getCurrency"]["getCode"]
            assert line.is_reversal is bool(entry["getReversalIndicator"])
            if booked is not None:
                assert line.booking_date == booked.date()
                if line.booked_at is not None:
                    assert line.booked_at == booked
            assert line.value_date == (valued.date() if valued else None)
            if split or len(details) == 1:
                reference = (detail.get("getReference") or {}).get("getEndToEndId")
                assert line.end_to_end_ref == reference
            else:  # a batch without amounts: the reference its TxDtls share
                shared = {(d.get("getReference") or {}).get("getEndToEndId") for d in details}
                assert {line.end_to_end_ref} == shared
    assert next(lines, None) is None


def _yml_sign(status: str) -> int:
    return -1 if status.upper() in ("D", "RC") else 1


@pytest.mark.parametrize("name", MT940_WITH_EXPECTED)
def test_mt940_matches_library_expected_result(name: str) -> None:
    path = samples_dir() / name
    expected = load_mt940_expected(path.with_suffix(".yml"))
    lines = [line for statement in parse_statement_file(path.read_bytes()) for line in statement.lines]
    assert len(lines) == len(expected)
    for line, data in zip(lines, expected, strict=True):
        value = abs(data["amount"]["amount"]) * 100
        assert line.amount == _yml_sign(data["status"]) * int(value)
        assert line.is_reversal is data["status"].upper().startswith("R")
        assert line.value_date == data["date"]
        booking: date = data.get("entry_date") or data["date"]
        assert line.booking_date == booking
        bank_reference = data.get("bank_reference") or None
        assert line.bank_reference == (None if bank_reference in (None, "NONREF") else bank_reference.strip())
        reference = data.get("end_to_end_reference")
        if reference in ("NONREF", "NOTPROVIDED"):
            assert line.end_to_end_ref is None
        elif reference:
            assert line.end_to_end_ref == " ".join(reference.split("MTLG:")[0].split())


def test_expected_results_cover_the_corpus() -> None:
    assert len(GENKGO_FILES) == 12
    assert len(MT940_WITH_EXPECTED) >= 15
    assert Path(MT940_WITH_EXPECTED[0]).suffix == ".sta"
