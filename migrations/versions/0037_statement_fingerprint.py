"""A bank statement is accepted once by its content, whatever the file format (``bank_statement.fingerprint``).

A statement was refused a second time by its file's SHA-256 or its bank statement id only. A CSV or xlsx
export has no statement id (the import made one from the file's bytes), so the same statement saved again in
another format was imported again: every line a duplicate or unmatched in the exceptions queue, and a bank
fee line could be resolved as a fee twice. Now each statement has a fingerprint, the SHA-256 of a canonical
text of what it says (``reconciliation.fingerprint``: bank, account, period, balances, each line's booking
date, signed amount and bank reference, sorted), and the database accepts one statement per bank and
fingerprint (``uq_bank_statement_fingerprint``).

The statements imported before get theirs computed here in SQL from their stored rows (``FINGERPRINT_SQL``,
the same text as the Python function: a test checks that they agree). A statement imported twice before this
migration keeps its rows (the table is append-only, and its lines may have been worked in the queue): the
later copies name the first in ``duplicate_of`` and stay outside the unique index; nothing else can set
``duplicate_of`` (an INSERT with it is refused), so every statement imported from now on is unique.

Downgrade drops the two columns, the index and the trigger; the statements stay.

Revision ID: 0037
Revises: 0036
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0037"
down_revision = "0036"
branch_labels = None
depends_on = None

FINGERPRINT_VERSION = "ansinh-statement-v2"  # reconciliation.fingerprint.FINGERPRINT_VERSION


def _counted(column: str) -> str:
    """SQL: a text column as ``<characters>:<text>``, NULL as ``0:``."""
    return f"length(coalesce({column}, '')) || ':' || coalesce({column}, '')"


# The fingerprint of the bank_statement row ``s`` from its stored lines (concat_ws skips the NULL line list of
# an empty statement, as the Python side joins no line).
FINGERPRINT_SQL = f"""sha256(convert_to(concat_ws(E'\\n',
    '{FINGERPRINT_VERSION}', s.bank_bin, {_counted("s.account")},
    coalesce(to_char(s.opening_date, 'YYYY-MM-DD'), ''), coalesce(to_char(s.closing_date, 'YYYY-MM-DD'), ''),
    s.opening_balance::text, s.closing_balance::text,
    (SELECT count(*) FROM statement_line c WHERE c.statement_id = s.id)::text,
    (SELECT string_agg(to_char(l.booking_date, 'YYYY-MM-DD') || '|' || l.amount::text
                       || '|' || {_counted("l.bank_reference")}, E'\\n'
                       ORDER BY l.booking_date, l.amount, coalesce(l.bank_reference, '') COLLATE "C")
       FROM statement_line l WHERE l.statement_id = s.id)), 'UTF8'))"""


def upgrade() -> None:
    execute_script(
        f"""
        ALTER TABLE bank_statement
            ADD COLUMN fingerprint bytea,
            ADD COLUMN duplicate_of uuid REFERENCES bank_statement(id);
        -- The only change ever made to imported statements: their fingerprint, once.
        ALTER TABLE bank_statement DISABLE TRIGGER bank_statement_append_only;
        UPDATE bank_statement s SET fingerprint = {FINGERPRINT_SQL};
        UPDATE bank_statement s SET duplicate_of = f.first_id
          FROM (SELECT id, first_value(id) OVER (PARTITION BY bank_bin, fingerprint
                                                 ORDER BY uploaded_at, position, id) AS first_id
                  FROM bank_statement) f
         WHERE f.id = s.id AND f.first_id <> s.id;
        ALTER TABLE bank_statement ENABLE TRIGGER bank_statement_append_only;
        ALTER TABLE bank_statement
            ALTER COLUMN fingerprint SET NOT NULL,
            ADD CONSTRAINT ck_bank_statement_fingerprint CHECK (length(fingerprint) = 32);
        CREATE UNIQUE INDEX uq_bank_statement_fingerprint ON bank_statement (bank_bin, fingerprint)
            WHERE duplicate_of IS NULL;

        -- Only this migration marks copies imported before: an import never writes a second copy.
        CREATE FUNCTION bank_statement_new_copy() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'bank_statement: a new statement cannot be a copy of %', NEW.duplicate_of
                USING ERRCODE = 'unique_violation';
        END;
        $$;
        CREATE TRIGGER bank_statement_new_copy BEFORE INSERT ON bank_statement
            FOR EACH ROW WHEN (NEW.duplicate_of IS NOT NULL) EXECUTE FUNCTION bank_statement_new_copy();
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TRIGGER bank_statement_new_copy ON bank_statement;
        DROP FUNCTION bank_statement_new_copy();
        DROP INDEX uq_bank_statement_fingerprint;
        ALTER TABLE bank_statement DROP COLUMN duplicate_of, DROP COLUMN fingerprint;
        """
    )
