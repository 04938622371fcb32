"""Every beneficiary's two ledger accounts are opened when the person is registered.

``payable:beneficiary:<id>`` (liability: what the state owes the person once a run is approved) and
``undrawn:<id>`` (memo: what reached the person and is not withdrawn yet) were opened by the first
approval and the first credit that touched the person — a million accounts in the middle of the month's
run and of the bank's first statement. A statement-level trigger on ``beneficiary`` now opens both for
the people an INSERT registers (any path: the import, a single registration, the demo), and existing
people get theirs here. Codes are the ones ``app.payouts.accounts.payable_account`` and
``reconciliation.withdrawals.undrawn_account`` build (a test holds them equal). A code already taken by
an account of another type is left alone: approval and allocation refuse it where they read it.

Revision ID: 0020
Revises: 0019
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

# The accounts of the people in ``{people}`` (a table or transition table with an ``id`` column).
_OPEN = """
    INSERT INTO ledger_account (code, type)
    SELECT a.code, a.type
      FROM {people} p
     CROSS JOIN LATERAL (VALUES (CAST('payable:beneficiary:' || p.id AS text), 'liability'),
                                (CAST('undrawn:' || p.id AS text), 'memo')) AS a(code, type)
     ORDER BY a.code COLLATE "C"
    ON CONFLICT (code) DO NOTHING
"""


def upgrade() -> None:
    execute_script(
        f"""
        CREATE FUNCTION beneficiary_open_accounts() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            {_OPEN.format(people="registered")};
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER beneficiary_accounts AFTER INSERT ON beneficiary REFERENCING NEW TABLE AS registered
            FOR EACH STATEMENT EXECUTE FUNCTION beneficiary_open_accounts();
        {_OPEN.format(people="beneficiary")};
        """
    )


def downgrade() -> None:
    # The accounts stay: ledger accounts are never deleted (and approval and allocation open missing ones).
    execute_script(
        """
        DROP TRIGGER beneficiary_accounts ON beneficiary;
        DROP FUNCTION beneficiary_open_accounts();
        """
    )
