"""Cancelled commune withdrawals: a mistaken assisted withdrawal or cash handover is corrected by a new
row saying so (who, when, why), never by changing or deleting the withdrawal.

A cancelled withdrawal stays in ``withdrawal`` as the record of what was typed; the allocation, the
undrawn balance and the follow-up list leave it out. Only withdrawals commune staff recorded can be
cancelled (a bank's activity is the bank's to correct), once.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE withdrawal_cancellation (
            withdrawal_id bigint PRIMARY KEY REFERENCES withdrawal(id),
            reason text NOT NULL CHECK (char_length(btrim(reason)) BETWEEN 3 AND 2000),
            cancelled_by text NOT NULL,
            cancelled_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE FUNCTION withdrawal_cancellation_check() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM withdrawal w WHERE w.id = NEW.withdrawal_id AND w.source = 'commune') THEN
                RAISE EXCEPTION 'withdrawal % was not recorded by commune staff; only the bank corrects it',
                    NEW.withdrawal_id USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER withdrawal_cancellation_check BEFORE INSERT ON withdrawal_cancellation
            FOR EACH ROW EXECUTE FUNCTION withdrawal_cancellation_check();
        CREATE TRIGGER withdrawal_cancellation_immutable BEFORE UPDATE OR DELETE ON withdrawal_cancellation
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER withdrawal_cancellation_no_truncate BEFORE TRUNCATE ON withdrawal_cancellation
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TABLE withdrawal_cancellation;
        DROP FUNCTION withdrawal_cancellation_check();
        """
    )
