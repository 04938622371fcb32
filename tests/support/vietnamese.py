"""The Vietnamese alphabetical order of names in Python, the same as the database's ``vietnamese_sort_key``
(migration 0039) and ``vietnamese_person_sort_key`` (0040; tests check they agree), for tests that say in
what order a list of people comes."""

from __future__ import annotations

import unicodedata

LETTER_MARKS = "\u0306\u0302\u031b"  # breve, circumflex, horn: ă â ê ô ơ ư
TONE_MARKS = "\u0300\u0309\u0303\u0301\u0323"  # huyền, hỏi, ngã, sắc, nặng
_PRIMARY = {**{ord(mark): code for mark, code in zip(LETTER_MARKS, "{|}", strict=True)},
            **{ord(mark): None for mark in TONE_MARKS}}
_TONES = {**{ord(mark): code for mark, code in zip(TONE_MARKS, "{|}~\x7f", strict=True)},
          **{ord(mark): None for mark in LETTER_MARKS}}


def vietnamese_sort_key(name: str) -> str:
    """The key of ``name``: letters in Vietnamese order, then tones, then the name (compare as code points)."""
    decomposed = unicodedata.normalize("NFD", name).replace("đ", "d~").replace("Đ", "d~")
    base = "".join(c.lower() if "A" <= c <= "Z" else c for c in decomposed)
    return base.translate(_PRIMARY) + "\x01" + base.translate(_TONES) + "\x01" + name


def person_sort_key(full_name: str) -> str:
    """The order of people in lists: by given name (the last word), then by the whole name."""
    given = full_name.strip().split()[-1] if full_name.strip() else full_name.strip()
    return vietnamese_sort_key(given) + "\x01" + vietnamese_sort_key(full_name)
