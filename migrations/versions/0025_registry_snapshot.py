"""Which registry writes a payout run's compute (and approval) could not see: the oldest transaction then running.

Approval and send re-check the people whose registry rows were written after the run's registry was read
(``app/payouts/service/recheck.py``). A row's time (``recorded_at``, ``updated_at``) is its transaction's
start, so a transaction that began before compute and committed after it carries an earlier time: the
re-check looked ten minutes further back, and counted every person enrolled in those ten minutes as
changed — a million people for a run computed right after a registry import, each checked twice.

``payout_run.computed_xmin`` / ``approved_xmin`` keep ``pg_snapshot_xmin`` of the moment the step first read
the registry: every transaction that had not committed then has a transaction id at or above it (its
subtransactions too), and every one below it had finished. So a row within the time window is a change
compute could not have seen only when ``xid_full(xmin) >= computed_xmin``; rows of transactions finished
before compute are left out, however recent their time. NULL (runs computed before this migration): the
time window alone, as before.

``computed_oldest`` / ``approved_oldest`` keep the start of the oldest transaction then open in the database
(``pg_stat_activity.xact_start``): a transaction open for longer than the ten minutes writes rows timed
before the window, so the window starts there instead (the transaction ids keep it cheap).

``xid_full`` widens a row's 32-bit ``xmin`` to the 64-bit transaction id (``xid8``): the one nearest the
current snapshot's ``xmax``, within two billion either side (a transaction's own id can lie above it).

Revision ID: 0025
Revises: 0024
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0025"
down_revision = "0024"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        ALTER TABLE payout_run ADD COLUMN computed_xmin bigint, ADD COLUMN approved_xmin bigint,
                               ADD COLUMN computed_oldest timestamptz, ADD COLUMN approved_oldest timestamptz;
        CREATE FUNCTION xid_full(x xid) RETURNS bigint LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT pg_snapshot_xmax(pg_current_snapshot())::text::bigint
                   + ((x::text::bigint - pg_snapshot_xmax(pg_current_snapshot())::text::bigint) % 4294967296
                      + 4294967296 + 2147483648) % 4294967296 - 2147483648
        $$;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP FUNCTION xid_full(xid);
        ALTER TABLE payout_run DROP COLUMN computed_xmin, DROP COLUMN approved_xmin, DROP COLUMN computed_oldest,
                               DROP COLUMN approved_oldest;
        """
    )
