"""Payout runs reach their last two states: ``settled`` (nothing of the run is in flight any more) and
``closed`` (an officer closed it once nothing was left open).

- ``payout_run_in_flight(run)``: whether any payout of the run still waits for an outcome — a bank payout
  sent and neither credited nor returned, or a cash payout at its commune neither handed over in full
  (``withdrawn_at``) nor given back (``returned``); a scheduled one too. Credited, returned and cancelled
  (withheld) payouts are final. Two probes through ``ix_payout_run_bank`` (``run_id``, ``bank_bin``), cash
  first (``bank_bin IS NULL``: a cash payout has no bank, ``ck_payout_bank_details``), each stopping at the
  first payout in flight. Each is an ordered ``LIMIT 1`` rather than ``EXISTS``: for an ``EXISTS`` the planner
  takes a sequential scan of every run's payouts whenever its statistics say payouts in flight are common
  (the month being paid), and reads the whole table when this run has none; the order of the index keeps it
  on the index. No new index on ``payout``, whose status updates stay HOT: an index (or a partial index's
  condition) naming ``status`` would make every credit of a million payouts write every index of the table.
- ``payout_run.closed_by``; ``ck_payout_run_settled``: a settled or closed run, and only those, has
  ``settled_at``; ``ck_payout_run_closed``: a closed run, and only it, has ``closed_at`` and ``closed_by``.
- ``payout_run_settle_close_guard``: a run is settled only from ``sent`` and only when nothing of it is in
  flight; closed only from ``settled``; a settled run changes only to ``closed``, and a closed one never
  changes status again (a bank's late return still applies to its payout: money facts are never refused
  because of a run's status, and a returned payout is final too).
- Sent runs with nothing in flight are settled, dated when their last payout became final (the latest
  credit, return or cash handover; the send if later).

Downgrade: settled and closed runs go back to ``sent`` (nothing before 0033 sets those states; who closed a
run stays in the audit log).

Revision ID: 0033
Revises: 0032
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0033"
down_revision = "0032"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE FUNCTION payout_run_in_flight(of_run uuid) RETURNS boolean LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT (SELECT 1 FROM payout p
                     WHERE p.run_id = of_run AND p.bank_bin IS NULL
                       AND p.status IN ('scheduled', 'sent') AND p.withdrawn_at IS NULL
                     ORDER BY p.run_id, p.bank_bin LIMIT 1) IS NOT NULL
                OR (SELECT 1 FROM payout p
                     WHERE p.run_id = of_run AND p.bank_bin IS NOT NULL AND p.status IN ('scheduled', 'sent')
                     ORDER BY p.run_id, p.bank_bin LIMIT 1) IS NOT NULL
        $$;

        ALTER TABLE payout_run
            ADD COLUMN closed_by text,
            ADD CONSTRAINT ck_payout_run_settled
                CHECK ((status IN ('settled', 'closed')) = (settled_at IS NOT NULL)),
            ADD CONSTRAINT ck_payout_run_closed
                CHECK ((status = 'closed') = (closed_at IS NOT NULL)
                       AND (closed_at IS NULL) = (closed_by IS NULL)
                       AND btrim(coalesce(closed_by, '-')) <> '');

        CREATE FUNCTION payout_run_settle_close_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'closed' THEN
                RAISE EXCEPTION 'payout run % is closed and stays closed', OLD.id USING ERRCODE = 'check_violation';
            END IF;
            IF OLD.status = 'settled' AND NEW.status <> 'closed' THEN
                RAISE EXCEPTION 'payout run % is settled: it can only be closed (not %)', OLD.id, NEW.status
                    USING ERRCODE = 'check_violation';
            END IF;
            IF NEW.status = 'settled' THEN
                IF OLD.status <> 'sent' THEN
                    RAISE EXCEPTION 'payout run % is %: only a sent run can be settled', OLD.id, OLD.status
                        USING ERRCODE = 'check_violation';
                END IF;
                IF payout_run_in_flight(OLD.id) THEN
                    RAISE EXCEPTION 'payout run % still has payouts in flight: it cannot be settled', OLD.id
                        USING ERRCODE = 'check_violation';
                END IF;
            END IF;
            IF NEW.status = 'closed' AND OLD.status <> 'settled' THEN
                RAISE EXCEPTION 'payout run % is %: only a settled run can be closed', OLD.id, OLD.status
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER payout_run_settle_close_guard BEFORE UPDATE OF status ON payout_run
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                               AND (OLD.status IN ('settled', 'closed') OR NEW.status IN ('settled', 'closed')))
            EXECUTE FUNCTION payout_run_settle_close_guard();

        UPDATE payout_run r
           SET status = 'settled',
               settled_at = coalesce(greatest(r.sent_at, (
                   SELECT max(greatest(p.credited_at, p.returned_at,
                                       CASE WHEN p.channel = 'cash' THEN p.withdrawn_at END))
                     FROM payout p WHERE p.run_id = r.id)), now())
         WHERE r.status = 'sent' AND NOT payout_run_in_flight(r.id);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TRIGGER payout_run_settle_close_guard ON payout_run;
        DROP FUNCTION payout_run_settle_close_guard();
        ALTER TABLE payout_run DROP CONSTRAINT ck_payout_run_closed, DROP CONSTRAINT ck_payout_run_settled;
        UPDATE payout_run SET status = 'sent', settled_at = NULL, closed_at = NULL
         WHERE status IN ('settled', 'closed');
        ALTER TABLE payout_run DROP COLUMN closed_by;
        DROP FUNCTION payout_run_in_flight(uuid);
        """
    )
