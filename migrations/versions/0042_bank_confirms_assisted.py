"""A bank's report of a withdrawal that commune staff already recorded as assisted counts once.

Commune staff who go with a person to the ATM record the withdrawal (``assisted``) the same day; the bank's
feed later reports the same money leaving the account. Counted twice, the person would have withdrawn more
than arrived, the surplus would be held against their next payout (0 days to withdraw) and they would drop
off the follow-up list. The bank's record is the fact: the intake cancels the commune's record it confirms —
the same person and amount, within a day — with a cancellation naming the bank's withdrawal
(``withdrawal_cancellation.superseded_by``, each bank withdrawal confirming at most one record).

``ix_withdrawal_assisted`` finds the commune's assisted records around a feed's times without reading every
withdrawal.

Revision ID: 0042
Revises: 0041
Create Date: 2026-12-02
"""

from migrations.helpers import execute_script

revision = "0042"
down_revision = "0041"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        ALTER TABLE withdrawal_cancellation ADD COLUMN superseded_by bigint REFERENCES withdrawal(id);
        CREATE UNIQUE INDEX uq_withdrawal_cancellation_superseded_by ON withdrawal_cancellation (superseded_by)
            WHERE superseded_by IS NOT NULL;
        CREATE INDEX ix_withdrawal_assisted ON withdrawal (occurred_at)
            WHERE source = 'commune' AND channel = 'assisted';
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP INDEX ix_withdrawal_assisted;
        ALTER TABLE withdrawal_cancellation DROP COLUMN superseded_by;
        """
    )
