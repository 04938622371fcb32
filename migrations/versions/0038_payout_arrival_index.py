"""The payouts of a run that reached their person, by when they arrived (``ix_payout_run_arrived``).

The time-to-withdrawal report counts a payout in its share withdrawn within N days only once its N days
are over. Its summary has no arrival times, so the report reads the payouts of the month that arrived in
the last 30 days, and, when those are too many, the latest arrival of each run: both a range or an end of
this index (run, arrival), over the arrived payouts only (credited, or cash sent to the commune).

Downgrade drops the index.

Revision ID: 0038
Revises: 0037
Create Date: 2026-12-02
"""

from migrations.helpers import execute_script

revision = "0038"
down_revision = "0037"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE INDEX ix_payout_run_arrived ON payout (run_id, (coalesce(credited_at, sent_at)))
            WHERE status = 'credited' OR (channel = 'cash' AND status = 'sent');
        """
    )


def downgrade() -> None:
    execute_script("DROP INDEX ix_payout_run_arrived;")
