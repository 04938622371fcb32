"""Names in Vietnamese alphabetical order: ``vietnamese_sort_key(text)`` and ``beneficiary.name_sort_key``.

PostgreSQL sorted people by the database's collation: with "C" (the embedded server's) or a collation that
knows no Vietnamese, "Đặng" came after "Zương" and "Ân" after "Bình". ICU's "vi" collation would do it, but a
server built without ICU (the embedded one) has none, so the order is spelled out here and works on any
server.

The key is three strings, compared in turn: the letters in the order of the Vietnamese alphabet
(a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y, with f j w z where the Latin alphabet has
them), case and tone marks ignored; then the tones, ngang < huyền < hỏi < ngã < sắc < nặng (the
dictionary's order, ICU's too), letter by letter; then the name itself (capitals first), so that two names
differ in their keys whenever they differ. The name is decomposed (NFD) and lowered in ASCII: a letter's
marks follow it, ă â ê ô ơ ư keep theirs as { | } after any plain letter (a < ă < â < b, o < ô < ơ < p),
đ becomes "d~" (d < đ < e). Other characters (spaces, hyphens) keep their place: a space sorts before any
letter, so "An Bình" comes before "Anh". The key is compared byte by byte: collation "C".

The people's key is a stored column, ``beneficiary.name_sort_key`` (collated "C"), computed when a name is
written rather than on every sort: the function costs some microseconds a name, a million in a month's
workbook. Lists of people order by it; other names (a commune's) by ``vietnamese_sort_key(name) COLLATE "C"``.

Downgrade drops the column and the function.

Revision ID: 0039
Revises: 0038
Create Date: 2026-12-02
"""

from migrations.helpers import execute_script

revision = "0039"
down_revision = "0038"
branch_labels = None
depends_on = None

# Combining marks (NFD): the letters' own (breve ă, circumflex â ê ô, horn ơ ư) and the tones in their
# order (huyền, hỏi, ngã, sắc, nặng; ngang has none).
LETTER_MARKS = "\u0306\u0302\u031b"
TONE_MARKS = "\u0300\u0309\u0303\u0301\u0323"
# The name decomposed, đ as "d~", ASCII letters lowered (lower() under "C" touches nothing else).
_BASE = """lower(replace(replace(normalize(name, NFD), 'đ', 'd~'), 'Đ', 'd~') COLLATE "C")"""


def upgrade() -> None:
    execute_script(
        f"""
        CREATE FUNCTION vietnamese_sort_key(name text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT translate({_BASE}, '{LETTER_MARKS}{TONE_MARKS}', '{{|}}') || E'\\x01'
                   || translate({_BASE}, '{TONE_MARKS}{LETTER_MARKS}', '{{|}}~' || chr(127)) || E'\\x01' || name
        $$;
        ALTER TABLE beneficiary
            ADD COLUMN name_sort_key text COLLATE "C" GENERATED ALWAYS AS (vietnamese_sort_key(full_name)) STORED;
        """
    )


def downgrade() -> None:
    execute_script("ALTER TABLE beneficiary DROP COLUMN name_sort_key; DROP FUNCTION vietnamese_sort_key(text);")
