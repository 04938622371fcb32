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

from migrations.helpers import (
    delete_guard,
    drop_delete_guard,
    drop_trigger,
    execute_script,
    row_reference_check,
    statement_reference_check,
)

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

# (column, referenced table, its key); all three may be NULL (a commune's record has no bank or intake).
_REFERENCES = (("beneficiary_id", "beneficiary", "id"), ("bank_bin", "bank", "bin"),
               ("intake_id", "withdrawal_intake", "id"))
# (referenced table, referencing table, column, key): a DELETE of named rows is refused.
_STILL_REFERENCED = (("beneficiary", "withdrawal", "beneficiary_id", "id"), ("bank", "withdrawal", "bank_bin", "bin"))


def upgrade() -> None:
    execute_script(
        f"""
        ALTER TABLE withdrawal DROP CONSTRAINT withdrawal_beneficiary_id_fkey;
        ALTER TABLE withdrawal DROP CONSTRAINT withdrawal_bank_bin_fkey;
        ALTER TABLE withdrawal DROP CONSTRAINT withdrawal_intake_id_fkey;
        {statement_reference_check("withdrawal", "withdrawal_references_inserted", _REFERENCES)}
        {row_reference_check("withdrawal", "withdrawal_person_updated", _REFERENCES[:1])}
        {"".join(delete_guard(*reference) for reference in _STILL_REFERENCED)}
        """
    )


def downgrade() -> None:
    execute_script(
        f"""
        {"".join(drop_delete_guard(parent, child) for parent, child, _, _ in _STILL_REFERENCED)}
        {drop_trigger("withdrawal", "withdrawal_person_updated")}
        {drop_trigger("withdrawal", "withdrawal_references_inserted")}
        ALTER TABLE withdrawal ADD CONSTRAINT withdrawal_intake_id_fkey
            FOREIGN KEY (intake_id) REFERENCES withdrawal_intake(id);
        ALTER TABLE withdrawal ADD CONSTRAINT withdrawal_bank_bin_fkey FOREIGN KEY (bank_bin) REFERENCES bank(bin);
        ALTER TABLE withdrawal ADD CONSTRAINT withdrawal_beneficiary_id_fkey
            FOREIGN KEY (beneficiary_id) REFERENCES beneficiary(id);
        """
    )
