"""End-to-end references for payouts: short, upper-case alphanumeric, with a check character.

Layout (14 characters, e.g. ``AS26010000FA3K``)::

    AS      fixed prefix ("an sinh"), lets a parser spot the reference in free text
    2601    period of the payout run, YYMM
    0000FA3 serial number of the payout, 7 Crockford base32 symbols (up to 32**7 - 1 ≈ 34 billion)
    K       check symbol

Every character is in [0-9A-Z] minus I, L, O, U (Crockford's alphabet), so the reference survives
upper-casing, the SWIFT MT940 character set and every bank's remittance field; on reading, the
look-alikes O, I and L are taken as 0, 1 and 1.

The check symbol is Damm's algorithm over GF(32) (the quasigroup ``x * y = 2x + y``, which is totally
anti-symmetric), so every single-symbol substitution and every swap of two adjacent different symbols,
the check symbol included, gives an invalid reference.

Uniqueness comes from the serial: the caller draws it from one database sequence for all payouts (and
the payout table keeps a UNIQUE constraint on the reference); the period only helps people read it.
"""

from __future__ import annotations

import re
from typing import NamedTuple

REFERENCE_PREFIX = "AS"
SERIAL_SYMBOLS = 7
REFERENCE_LENGTH = len(REFERENCE_PREFIX) + 4 + SERIAL_SYMBOLS + 1
MAX_SERIAL = 32**SERIAL_SYMBOLS - 1

CROCKFORD_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
_VALUE_OF = {symbol: value for value, symbol in enumerate(CROCKFORD_ALPHABET)}
# Crockford decoding: look-alike letters read as the digits they resemble.
_LOOK_ALIKES = {"O": "0", "I": "1", "L": "1"}
_CANONICAL = {**{symbol: symbol for symbol in CROCKFORD_ALPHABET}, **_LOOK_ALIKES}

_PERIOD = re.compile(r"(20\d\d)-(0[1-9]|1[0-2])")
_NOT_ALPHANUMERIC = re.compile(r"[^0-9A-Z]+")

# GF(32) with the primitive polynomial x^5 + x^2 + 1; _TIMES_TWO[v] is 2·v in that field.
_TIMES_TWO = tuple(((value << 1) ^ 0b100101) if value & 0b10000 else value << 1 for value in range(32))


class ReferenceParts(NamedTuple):
    """What a reference encodes."""

    period: str  # 'YYYY-MM'
    serial: int


def _damm_interim(symbols: str) -> int:
    interim = 0
    for symbol in symbols:
        interim = _TIMES_TWO[interim] ^ _VALUE_OF[symbol]
    return interim


def _check_symbol(symbols: str) -> str:
    # The check symbol c makes the fold end at zero: 2·interim + c = 0, i.e. c = 2·interim in GF(2^5).
    return CROCKFORD_ALPHABET[_TIMES_TWO[_damm_interim(symbols)]]


def _encode_serial(serial: int) -> str:
    symbols = []
    for _ in range(SERIAL_SYMBOLS):
        serial, remainder = divmod(serial, 32)
        symbols.append(CROCKFORD_ALPHABET[remainder])
    return "".join(reversed(symbols))


def make_reference(period: str, serial: int) -> str:
    """The end-to-end reference of the payout with this serial in this 'YYYY-MM' period."""
    match = _PERIOD.fullmatch(period)
    if match is None:
        raise ValueError(f"period must be 'YYYY-MM' between 2000-01 and 2099-12, got {period!r}")
    if isinstance(serial, bool) or not isinstance(serial, int) or not 0 <= serial <= MAX_SERIAL:
        raise ValueError(f"serial must be an integer from 0 to {MAX_SERIAL}, got {serial!r}")
    body = f"{REFERENCE_PREFIX}{match.group(1)[2:]}{match.group(2)}{_encode_serial(serial)}"
    return body + _check_symbol(body)


def _canonical(candidate: str) -> str | None:
    """The canonical reference spelled by ``candidate`` (upper case, look-alikes allowed), or None."""
    if len(candidate) != REFERENCE_LENGTH or not candidate.startswith(REFERENCE_PREFIX):
        return None
    symbols = []
    for character in candidate[len(REFERENCE_PREFIX):]:
        canonical = _CANONICAL.get(character)
        if canonical is None:
            return None
        symbols.append(canonical)
    reference = REFERENCE_PREFIX + "".join(symbols)
    month = reference[4:6]
    if not reference[2:6].isdigit() or not "01" <= month <= "12":
        return None
    if _damm_interim(reference) != 0:
        return None
    return reference


def is_valid_reference(text: str) -> bool:
    """Whether ``text`` is exactly a well-formed reference with a correct check symbol."""
    return _canonical(text) == text


def decode_reference(reference: str) -> ReferenceParts:
    """The period and serial of a valid reference; ValueError if it is not one."""
    if not is_valid_reference(reference):
        raise ValueError(f"not a valid payout reference: {reference!r}")
    serial = 0
    for symbol in reference[6:6 + SERIAL_SYMBOLS]:
        serial = serial * 32 + _VALUE_OF[symbol]
    return ReferenceParts(period=f"20{reference[2:4]}-{reference[4:6]}", serial=serial)


def _first_reference_in(run: str) -> str | None:
    start = run.find(REFERENCE_PREFIX)
    while start != -1 and start + REFERENCE_LENGTH <= len(run):
        reference = _canonical(run[start:start + REFERENCE_LENGTH])
        if reference is not None:
            return reference
        start = run.find(REFERENCE_PREFIX, start + 1)
    return None


def parse_reference(text: str) -> str | None:
    """The first valid reference inside free remittance text, in canonical form, or None.

    Case does not matter. A reference standing within one word is preferred; failing that, spaces,
    dots, dashes and line breaks that a bank inserted inside the reference are ignored.
    """
    words = [word for word in _NOT_ALPHANUMERIC.split(text.upper()) if word]
    for word in words:
        reference = _first_reference_in(word)
        if reference is not None:
            return reference
    return _first_reference_in("".join(words))
