"""Reconciliation and withdrawal allocation speed: a per-person allocation frontier, HOT status updates.

``allocation_frontier`` remembers, per person, where their FIFO allocation stands: the amount allocated,
the last withdrawal and the last payout that received any of it (their order keys and cumulative
totals) and how many withdrawals order up to that last one. ``reallocate`` checks each person's
history against it: when nothing arrived or was withdrawn before that point (nothing back-dated, no
allocated payout returned), the allocation so far stands and only the continuation is computed and
appended; otherwise the person is recomputed from scratch. It is derived data like
``withdrawal_allocation``: a missing row only means "recompute this person from scratch".

Revision ID: 0011
Revises: 0010 (the HOT-friendly payout index it also wanted is made by 0010)
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE allocation_frontier (
            beneficiary_id uuid PRIMARY KEY,
            allocated bigint NOT NULL CHECK (allocated >= 0),
            withdrawal_at timestamptz NOT NULL,
            withdrawal_id bigint NOT NULL,
            withdrawal_upto bigint NOT NULL CHECK (withdrawal_upto >= allocated),
            withdrawal_count bigint NOT NULL CHECK (withdrawal_count >= 0),
            payout_at timestamptz NOT NULL,
            payout_serial bigint NOT NULL,
            payout_upto bigint NOT NULL CHECK (payout_upto >= allocated)
        ) WITH (fillfactor = 80);

        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TABLE allocation_frontier;
        """
    )
