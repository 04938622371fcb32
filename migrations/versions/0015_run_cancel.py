"""Cancelled payout runs: a run not approved yet can be cancelled, and its period run again.

- ``payout_run.status`` takes ``cancelled``; a cancelled run records who cancelled it, when and why, and
  was never approved.
- ``payout_run_cancel_guard``: only a run before approval (draft, computing, computed) becomes
  cancelled, only once its payouts are gone, and a cancelled run stays cancelled (compute, approve and
  send all start with a status change, so none of them can touch it).
- ``uq_payout_run_regular`` (one regular run per programme and period) leaves cancelled runs out, so
  the period can get a new regular run.
- Runs that are sent, settled or closed lose a stored ``last_error``: only a step refused after the
  run had moved on could have left it there (a banner on a run that is fine).

Downgrade deletes the cancelled runs (they hold no payouts; the audit log keeps their history), so
the original unique index and status check can come back.

Revision ID: 0015
Revises: 0014
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        ALTER TABLE payout_run
            ADD COLUMN cancelled_by text,
            ADD COLUMN cancelled_at timestamptz,
            ADD COLUMN cancel_reason text,
            DROP CONSTRAINT payout_run_status_check,
            ADD CONSTRAINT payout_run_status_check CHECK (status IN
                ('draft', 'computing', 'computed', 'approved', 'sending', 'sent', 'settled', 'closed', 'cancelled')),
            DROP CONSTRAINT ck_payout_run_approved,
            ADD CONSTRAINT ck_payout_run_approved CHECK (status IN ('draft', 'computing', 'computed', 'cancelled')
                                                         OR approved_by IS NOT NULL),
            ADD CONSTRAINT ck_payout_run_cancelled CHECK ((status = 'cancelled') = (cancelled_at IS NOT NULL)
                AND (status <> 'cancelled' OR (approved_by IS NULL AND cancelled_by IS NOT NULL
                                               AND btrim(coalesce(cancel_reason, '')) <> '')));

        DROP INDEX uq_payout_run_regular;
        CREATE UNIQUE INDEX uq_payout_run_regular ON payout_run (programme_code, period)
            WHERE kind = 'regular' AND status <> 'cancelled';

        CREATE FUNCTION payout_run_cancel_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF OLD.status = 'cancelled' THEN
                RAISE EXCEPTION 'payout run % is cancelled and stays so (make a new run)', OLD.id
                    USING ERRCODE = 'check_violation';
            END IF;
            IF OLD.status NOT IN ('draft', 'computing', 'computed') THEN
                RAISE EXCEPTION 'payout run % is %: its money is in the ledger, it cannot be cancelled', OLD.id, OLD.status
                    USING ERRCODE = 'check_violation';
            END IF;
            IF EXISTS (SELECT 1 FROM payout WHERE run_id = OLD.id) THEN
                RAISE EXCEPTION 'payout run % still has payouts: remove them before cancelling it', OLD.id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER payout_run_cancel_guard BEFORE UPDATE OF status ON payout_run
            FOR EACH ROW WHEN (OLD.status IS DISTINCT FROM NEW.status
                               AND 'cancelled' IN (OLD.status, NEW.status))
            EXECUTE FUNCTION payout_run_cancel_guard();

        UPDATE payout_run SET last_error = NULL
         WHERE status IN ('sent', 'settled', 'closed') AND last_error IS NOT NULL;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TRIGGER payout_run_cancel_guard ON payout_run;
        DROP FUNCTION payout_run_cancel_guard();
        DELETE FROM payout_run_skip WHERE run_id IN (SELECT id FROM payout_run WHERE status = 'cancelled');
        DELETE FROM payout_run WHERE status = 'cancelled';
        DROP INDEX uq_payout_run_regular;
        CREATE UNIQUE INDEX uq_payout_run_regular ON payout_run (programme_code, period) WHERE kind = 'regular';
        ALTER TABLE payout_run
            DROP CONSTRAINT ck_payout_run_cancelled,
            DROP CONSTRAINT ck_payout_run_approved,
            ADD CONSTRAINT ck_payout_run_approved CHECK (status IN ('draft', 'computing', 'computed')
                                                         OR approved_by IS NOT NULL),
            DROP CONSTRAINT payout_run_status_check,
            ADD CONSTRAINT payout_run_status_check CHECK (status IN
                ('draft', 'computing', 'computed', 'approved', 'sending', 'sent', 'settled', 'closed')),
            DROP COLUMN cancel_reason,
            DROP COLUMN cancelled_at,
            DROP COLUMN cancelled_by;
        """
    )
