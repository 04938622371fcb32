"""Withdrawal references checked once per statement: a bank's feed brings a million withdrawals at once.

``withdrawal.beneficiary_id`` → ``beneficiary``, ``withdrawal.bank_bin`` → ``bank`` and
``withdrawal.intake_id`` → ``withdrawal_intake`` were foreign keys: a trigger call and a row lock on the
referenced row per withdrawal written. As 0016 and 0018 did for statement lines and payouts, they are
checked once per INSERT statement over the rows it wrote (one index probe per row, no lock, no trigger
call), raising ``foreign_key_violation`` as the foreign keys did. An UPDATE may only fill in the person of
an unknown account (``withdrawal_guard``): that change is checked row by row. Referenced people and banks
cannot be deleted while a withdrawal names them (intakes are append-only already).

Revision ID: 0019
Revises: 0018
Create Date: 2026-11-30
"""

import importlib

from migrations.helpers import execute_script

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

_references = importlib.import_module("migrations.versions.0018_payout_references")

# (column, referenced table) of a withdrawal; all three may be NULL (a commune's record has no bank or intake).
_COLUMNS = (("beneficiary_id", "beneficiary"), ("bank_bin", "bank"), ("intake_id", "withdrawal_intake"))
_KEYS = {"beneficiary": "id", "bank": "bin", "withdrawal_intake": "id"}
_STILL_REFERENCED = (("beneficiary", "withdrawal", "beneficiary_id"), ("bank", "withdrawal", "bank_bin"))


def _missing(table: str, column: str) -> str:
    return f"{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{_KEYS[table]} = {column} OFFSET 0)"


def upgrade() -> None:
    statement_checks = "\n".join(f"""
            IF missing IS NULL THEN
                SELECT '{table} ' || n.{column} INTO missing FROM new_withdrawals n
                 WHERE {_missing(table, "n." + column)} LIMIT 1;
            END IF;""" for column, table in _COLUMNS)
    execute_script(
        f"""
        ALTER TABLE withdrawal DROP CONSTRAINT withdrawal_beneficiary_id_fkey;
        ALTER TABLE withdrawal DROP CONSTRAINT withdrawal_bank_bin_fkey;
        ALTER TABLE withdrawal DROP CONSTRAINT withdrawal_intake_id_fkey;

        CREATE FUNCTION withdrawal_references_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            missing text;
        BEGIN{statement_checks}
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'withdrawal refers to a missing %', missing USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER withdrawal_references_inserted AFTER INSERT ON withdrawal
            REFERENCING NEW TABLE AS new_withdrawals FOR EACH STATEMENT EXECUTE FUNCTION withdrawal_references_inserted();

        CREATE FUNCTION withdrawal_person_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF {_missing("beneficiary", "NEW.beneficiary_id")} THEN
                RAISE EXCEPTION 'withdrawal refers to a missing beneficiary %', NEW.beneficiary_id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER withdrawal_person_updated AFTER UPDATE OF beneficiary_id ON withdrawal
            FOR EACH ROW WHEN (NEW.beneficiary_id IS DISTINCT FROM OLD.beneficiary_id)
            EXECUTE FUNCTION withdrawal_person_updated();
        {"".join(_references.delete_guard(*reference, key=_KEYS[reference[0]]) for reference in _STILL_REFERENCED)}
        """
    )


def downgrade() -> None:
    execute_script(
        f"""
        {_references.drop_delete_guards(_STILL_REFERENCED)}
        DROP TRIGGER withdrawal_person_updated ON withdrawal; DROP FUNCTION withdrawal_person_updated();
        DROP TRIGGER withdrawal_references_inserted ON withdrawal; DROP FUNCTION withdrawal_references_inserted();
        ALTER TABLE withdrawal ADD CONSTRAINT withdrawal_intake_id_fkey
            FOREIGN KEY (intake_id) REFERENCES withdrawal_intake(id);
        ALTER TABLE withdrawal ADD CONSTRAINT withdrawal_bank_bin_fkey FOREIGN KEY (bank_bin) REFERENCES bank(bin);
        ALTER TABLE withdrawal ADD CONSTRAINT withdrawal_beneficiary_id_fkey
            FOREIGN KEY (beneficiary_id) REFERENCES beneficiary(id);
        """
    )
