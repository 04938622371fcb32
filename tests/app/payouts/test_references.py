from __future__ import annotations

import re
from datetime import date

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from app.payouts.references import (
    CROCKFORD_ALPHABET,
    MAX_SERIAL,
    REFERENCE_LENGTH,
    ReferenceParts,
    decode_reference,
    is_valid_reference,
    make_reference,
    parse_reference,
)

periods = st.dates(min_value=date(2000, 1, 1), max_value=date(2099, 12, 31)).map(lambda day: f"{day:%Y-%m}")
serials = st.integers(min_value=0, max_value=MAX_SERIAL)
references = st.builds(make_reference, periods, serials)
# Free text around a reference: no digits and none of the look-alikes O, I, L, so that the text itself
# cannot spell a second reference.
filler = st.text(alphabet="abcdefghjkmnpqrstuvwxyzăâđêôơư ABCDEFGHJKMNPQRSTUVWXYZ.,:;/-_()", max_size=40)


def test_reference_layout_is_prefix_period_serial_check():
    reference = make_reference("2026-01", 1)
    assert reference == "AS260100000014"
    assert decode_reference(reference) == ReferenceParts(period="2026-01", serial=1)
    assert make_reference("2099-12", MAX_SERIAL).startswith("AS9912ZZZZZZZ")


@given(periods, serials)
def test_round_trip(period, serial):
    reference = make_reference(period, serial)
    assert len(reference) == REFERENCE_LENGTH <= 20
    assert re.fullmatch(r"[A-Z0-9]+", reference)
    assert reference.upper() == reference
    assert is_valid_reference(reference)
    assert decode_reference(reference) == (period, serial)
    assert parse_reference(reference) == reference


@given(periods, serials, periods, serials)
def test_different_payouts_get_different_references(period_a, serial_a, period_b, serial_b):
    assume((period_a, serial_a) != (period_b, serial_b))
    assert make_reference(period_a, serial_a) != make_reference(period_b, serial_b)


@given(references, st.data())
def test_check_symbol_catches_every_single_substitution(reference, data):
    position = data.draw(st.integers(min_value=0, max_value=REFERENCE_LENGTH - 1))
    replacement = data.draw(st.sampled_from(CROCKFORD_ALPHABET).filter(lambda symbol: symbol != reference[position]))
    mistyped = reference[:position] + replacement + reference[position + 1:]
    assert not is_valid_reference(mistyped)
    assert parse_reference(mistyped) is None


def test_check_symbol_catches_all_substitutions_and_transpositions_exhaustively():
    for reference in (make_reference("2026-01", 0), make_reference("2031-07", 987_654_321)):
        for position in range(REFERENCE_LENGTH):
            for replacement in CROCKFORD_ALPHABET:
                if replacement != reference[position]:
                    assert parse_reference(reference[:position] + replacement + reference[position + 1:]) is None
        for position in range(REFERENCE_LENGTH - 1):
            swapped = (reference[:position] + reference[position + 1] + reference[position]
                       + reference[position + 2:])
            if swapped != reference:
                assert parse_reference(swapped) is None, swapped


@given(references, st.data())
def test_check_symbol_catches_adjacent_transpositions(reference, data):
    position = data.draw(st.integers(min_value=0, max_value=REFERENCE_LENGTH - 2))
    assume(reference[position] != reference[position + 1])
    swapped = reference[:position] + reference[position + 1] + reference[position] + reference[position + 2:]
    assert not is_valid_reference(swapped)
    assert parse_reference(swapped) is None


@given(references, filler, filler, st.lists(st.sampled_from([" ", ".", "-", "\n", "  ", "/"]),
                                            min_size=REFERENCE_LENGTH - 1, max_size=REFERENCE_LENGTH - 1),
       st.lists(st.booleans(), min_size=REFERENCE_LENGTH - 1, max_size=REFERENCE_LENGTH - 1), st.booleans())
def test_found_in_mangled_remittance_text(reference, before, after, separators, split_here, lower):
    spelled = reference.lower() if lower else reference
    mangled = spelled[0] + "".join(
        (separator if split else "") + character
        for separator, split, character in zip(separators, split_here, spelled[1:], strict=True)
    )
    assert parse_reference(f"{before} {mangled} {after}") == reference


@pytest.mark.parametrize(
    "text",
    [
        "MBVCB.1234567890.AS260100000014.TGXH 2026-01 CT tu 0011004455667",
        "TGXH2026-01AS260100000014",
        "as2601 0000 0014 tgxh",
        "Chuyển tiền trợ cấp AS2601-00000014 tháng 01",
        "REF AS26O1OOOOOOI4 (typed from a phone call)",
        "AS260100000015 AS260100000014",  # the first has a wrong check symbol
    ],
)
def test_parse_reference_in_real_looking_bank_descriptions(text):
    assert parse_reference(text) == "AS260100000014"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "TGXH 2026-01 chuyen tien tro cap",
        "AS2601000000",  # too short
        "AS261300000014",  # month 13
        "AS2601U0000014",  # U is not a Crockford symbol
        "XS260100000014",
        "AS260100000015",  # wrong check symbol
    ],
)
def test_parse_reference_finds_nothing_without_a_valid_reference(text):
    assert parse_reference(text) is None


def test_look_alikes_are_read_but_only_canonical_is_valid():
    assert parse_reference("as26o1ooooooi4") == "AS260100000014"
    assert not is_valid_reference("AS26O100000014")
    assert not is_valid_reference("as260100000014")


@pytest.mark.parametrize(
    ("period", "serial"),
    [("2026-1", 1), ("2026-13", 1), ("1999-12", 1), ("2026-01", -1), ("2026-01", MAX_SERIAL + 1),
     ("2026-01", 1.0), ("2026-01", True)],
)
def test_make_reference_refuses_bad_input(period, serial):
    with pytest.raises(ValueError):
        make_reference(period, serial)


def test_decode_refuses_an_invalid_reference():
    with pytest.raises(ValueError, match="not a valid payout reference"):
        decode_reference("AS260100000015")


async def test_sql_payout_reference_is_make_reference(session):
    """Compute writes references in SQL (migration 0010): the same text as ``make_reference`` for every symbol."""
    import random

    from sqlalchemy import text

    chooser = random.Random(5)
    cases = [(period, serial) for period in ("2000-01", "2026-03", "2031-10", "2099-12")
             for serial in (0, 1, 31, 32, 1023, 987_654_321, MAX_SERIAL,
                            *(chooser.randrange(MAX_SERIAL + 1) for _ in range(500)))]
    rows = (await session.execute(text(
        "SELECT payout_reference(p, s) FROM unnest(CAST(:p AS date[]), CAST(:s AS bigint[])) WITH ORDINALITY AS x(p, s, n)"
        " ORDER BY n"),
        {"p": [date(int(p[:4]), int(p[5:]), 1) for p, _ in cases], "s": [s for _, s in cases]})).scalars().all()
    assert rows == [make_reference(period, serial) for period, serial in cases]
