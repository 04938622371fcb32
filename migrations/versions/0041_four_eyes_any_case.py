"""Maker-checker whatever the case of a username: ``ck_payout_run_four_eyes`` compares ``lower()``.

Usernames are one name whatever their case: ``uq_staff_user_username`` is unique on ``lower(username)`` and
sign-in and the CLI's ``--as`` find a user so. The check of 0006 (``approved_by <> prepared_by``) let a run
prepared by "Lan" be approved by "lan"; the Python check (``check_approvable``) already compared lower case,
and now the database does too, so a second process cannot break the rule.

An existing run approved by its preparer under another spelling is a breach of the rule to look into, not to
hide: the upgrade refuses, naming the runs.

Downgrade: the case-sensitive check again (every row that passes the new check passes it).

Revision ID: 0041
Revises: 0040
Create Date: 2026-12-04
"""

from migrations.helpers import execute_script

revision = "0041"
down_revision = "0040"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        DO $$
        DECLARE
            breached text;
        BEGIN
            SELECT string_agg(id::text || ' (' || prepared_by || ' / ' || approved_by || ')', ', ' ORDER BY id)
              INTO breached
              FROM payout_run WHERE lower(approved_by) = lower(prepared_by);
            IF breached IS NOT NULL THEN
                RAISE EXCEPTION 'payout runs approved by their preparer under another spelling: %', breached
                    USING HINT = 'check these runs with the labour department before migrating (maker-checker)';
            END IF;
        END $$;
        ALTER TABLE payout_run DROP CONSTRAINT ck_payout_run_four_eyes;
        -- maker-checker: the database itself refuses an approval by the preparer, whatever the case typed
        ALTER TABLE payout_run ADD CONSTRAINT ck_payout_run_four_eyes
            CHECK (approved_by IS NULL OR lower(approved_by) <> lower(prepared_by));
        """
    )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE payout_run DROP CONSTRAINT ck_payout_run_four_eyes;
        ALTER TABLE payout_run ADD CONSTRAINT ck_payout_run_four_eyes
            CHECK (approved_by IS NULL OR approved_by <> prepared_by);
        """
    )
