"""Lists of people in the order Vietnamese lists use: by given name (tên), then by the whole name.

A Vietnamese name is written family name first ("Nguyễn Thị Lan"); official lists (danh sách chi trả, a
class's roll) are ordered by the given name, the last word, and only then by the family and middle names —
otherwise half a commune's list sits under "N" for Nguyễn. ``vietnamese_person_sort_key(full_name)`` is
``vietnamese_sort_key`` (migration 0039) of the given name, then of the whole name; ``beneficiary.name_sort_key``
is now that key. Names of places keep ``vietnamese_sort_key``.

The two keys are joined by ``\\x01``, which sorts below every character a key holds after its last
``\\x01``, so two people compare by their given names first, and by their whole names only when those are
the same.

Downgrade gives the column its previous key and drops the function.

Revision ID: 0040
Revises: 0039
Create Date: 2026-12-02
"""

from migrations.helpers import execute_script

revision = "0040"
down_revision = "0039"
branch_labels = None
depends_on = None


def _sort_key_column(expression: str) -> str:
    return f"""
        ALTER TABLE beneficiary DROP COLUMN name_sort_key;
        ALTER TABLE beneficiary
            ADD COLUMN name_sort_key text COLLATE "C" GENERATED ALWAYS AS ({expression}) STORED;
    """


def upgrade() -> None:
    execute_script(
        r"""
        CREATE FUNCTION vietnamese_person_sort_key(full_name text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT vietnamese_sort_key(regexp_replace(btrim(full_name), '^.*\s', '')) || E'\x01'
                   || vietnamese_sort_key(full_name)
        $$;
        """
        + _sort_key_column("vietnamese_person_sort_key(full_name)")
    )


def downgrade() -> None:
    execute_script(_sort_key_column("vietnamese_sort_key(full_name)")
                   + "DROP FUNCTION vietnamese_person_sort_key(text);")
