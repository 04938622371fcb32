"""When payouts reached their person: a BRIN index of arrival times and each run's latest arrival.

The time-to-withdrawal report counts a payout in its share withdrawn within N days only once its N days
are over. Its summary has no arrival times, so the report reads the payouts of the month that arrived in
the last 30 days, and, when those are too many, each run's latest arrival:

- ``ix_payout_arrived_brin``: a BRIN index on the arrival time (``coalesce(credited_at, sent_at)``). A payout
  that arrives is updated, so its new version goes at the table's end, with the other recent arrivals: the
  last 30 days are a few page ranges. Unlike a B-tree, it costs next to nothing to keep when a statement
  credits a run (a B-tree on (run, arrival) made crediting 50,000 payouts 2–5 s slower);
- ``payout_run_arrival``: per run, the latest time one of its payouts arrived, kept by a statement-level
  trigger on payout's updates (one pass over the changed rows). It only grows: a payout returned after its
  credit keeps its arrival here (the report then waits a little longer before calling a window over).

Downgrade drops them.

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
        CREATE INDEX ix_payout_arrived_brin ON payout USING brin ((coalesce(credited_at, sent_at)));

        CREATE TABLE payout_run_arrival (
            run_id uuid PRIMARY KEY REFERENCES payout_run (id) ON DELETE CASCADE,
            latest timestamptz NOT NULL
        );
        INSERT INTO payout_run_arrival (run_id, latest)
        SELECT run_id, max(coalesce(credited_at, sent_at)) FROM payout
         WHERE status = 'credited' OR (channel = 'cash' AND status = 'sent')
         GROUP BY run_id;

        CREATE FUNCTION payout_run_arrival_keep() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO payout_run_arrival AS a (run_id, latest)
            SELECT run_id, max(coalesce(credited_at, sent_at)) FROM new_rows
             WHERE status = 'credited' OR (channel = 'cash' AND status = 'sent')
             GROUP BY run_id
            ON CONFLICT (run_id) DO UPDATE SET latest = greatest(a.latest, excluded.latest)
             WHERE excluded.latest > a.latest;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER payout_run_arrival_keep AFTER UPDATE ON payout REFERENCING NEW TABLE AS new_rows
            FOR EACH STATEMENT EXECUTE FUNCTION payout_run_arrival_keep();
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TRIGGER payout_run_arrival_keep ON payout;
        DROP FUNCTION payout_run_arrival_keep();
        DROP TABLE payout_run_arrival;
        DROP INDEX ix_payout_arrived_brin;
        """
    )
