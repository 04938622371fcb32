"""A run's count and total are of the payouts it pays: payouts withheld at approval or send (cancelled by the
registry re-check) no longer count in ``payout_run.payout_count`` / ``total_amount``, as they do not in the
run's tables by bank and commune nor in the reports. From now on the re-check lowers them as it withholds;
this corrects the runs that withheld payouts before.

Revision ID: 0029
Revises: 0028
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0029"
down_revision = "0028"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        UPDATE payout_run r SET payout_count = r.payout_count - w.count, total_amount = r.total_amount - w.amount
          FROM (SELECT run_id, count(*) AS count, sum(amount)::bigint AS amount FROM payout
                 WHERE status = 'cancelled' GROUP BY run_id) w
         WHERE w.run_id = r.id AND r.status <> 'cancelled';
        """
    )


def downgrade() -> None:
    execute_script(
        """
        UPDATE payout_run r SET payout_count = r.payout_count + w.count, total_amount = r.total_amount + w.amount
          FROM (SELECT run_id, count(*) AS count, sum(amount)::bigint AS amount FROM payout
                 WHERE status = 'cancelled' GROUP BY run_id) w
         WHERE w.run_id = r.id AND r.status <> 'cancelled';
        """
    )
