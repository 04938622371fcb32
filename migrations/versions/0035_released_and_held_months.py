"""Months owed from before a run's arrears window are found through two small partial indexes.

A run pays arrears from 12 months back (``arrears_from``), but a month that was already due and left
unpaid by the system is paid by the next run whatever its age (``app.payouts.service.compute``):

- a month **released** for payment again (a bank return reissued, a payout withheld at approval or send,
  a commune's cash return): its ``payout_month`` row has ``released_at`` set. ``ix_payout_month_released``
  holds only those rows — a return or a withholding each, never the million a run writes: a row is
  written with ``released_at`` NULL (outside the index: the insert only evaluates the predicate) and
  enters the index when it is released.
- a month of an earlier run's window in which that run **held** the person (an account a bank return
  blocked, a death a bank reported and nobody checked yet): ``ix_payout_run_skip_held`` holds only the
  skip rows with a hold reason (``app.payouts.service.runs.HOLD_REASONS``), not the people skipped for
  missing or unusable account data.

Both indexes only speed up reads; downgrade drops them.

Revision ID: 0035
Revises: 0034
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0035"
down_revision = "0034"
branch_labels = None
depends_on = None

INDEXES = ("ix_payout_month_released", "ix_payout_run_skip_held")
# The skip reasons that are holds (``runs.HOLD_REASONS``; a test keeps the two the same). The queries that
# use the index name them as literals, so that the planner sees they imply its predicate.
HOLD_REASONS = ("deceased_reported", "bank_account_unusable")


def upgrade() -> None:
    held = ", ".join(f"'{reason}'" for reason in HOLD_REASONS)
    execute_script(
        f"""
        CREATE INDEX ix_payout_month_released ON payout_month (benefit_group, month)
            WHERE released_at IS NOT NULL;
        CREATE INDEX ix_payout_run_skip_held ON payout_run_skip (run_id) WHERE reason IN ({held});
        """
    )


def downgrade() -> None:
    execute_script(f"DROP INDEX {', '.join(INDEXES)};")
