"""Programme usage: what each programme's payouts took at each bank and commune, kept as they change.

Send checks that a programme's funding at a bank (or, for cash, at a commune) covers the run: funded minus
what the programme's payouts took there. "Took" was summed from every payout of every run the programme
had sent — a million rows more each month, read at every send and on every approved run's page (0.7 s a
month of history at a million people, 2.2 s for the whole check with the first month alone).

``programme_usage`` holds that sum per (programme, bank or commune): the amount of the programme's payouts
that are sent or credited (a returned payout gives its amount back; a scheduled or cancelled one never took
any). The statements that move a payout into or out of that state keep it, in the same statement
(``app.payouts.service.usage``): send, a bank's return, a commune's cash return. Triggers on ``payout``
would keep it too, but every update of a payout pays for them — a million withdrawal times took twice as
long. The backfill sums the payouts as they are.

Revision ID: 0027
Revises: 0026
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0027"
down_revision = "0026"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE programme_usage (
            programme_code text NOT NULL REFERENCES programme (code),
            by_bank boolean NOT NULL,  -- place is a bank's BIN (bank payouts) or a commune's code (cash)
            place text NOT NULL,
            used bigint NOT NULL CHECK (used >= 0),
            PRIMARY KEY (programme_code, by_bank, place)
        );
        COMMENT ON TABLE programme_usage IS
            'Per programme and bank (or commune, for cash): the amount of its payouts sent or credited.';
        INSERT INTO programme_usage (programme_code, by_bank, place, used)
        SELECT r.programme_code, p.channel = 'bank', CASE p.channel WHEN 'bank' THEN p.bank_bin ELSE p.commune_code END,
               sum(p.amount)::bigint
          FROM payout p JOIN payout_run r ON r.id = p.run_id
         WHERE p.status IN ('sent', 'credited') AND p.channel IN ('bank', 'cash')
         GROUP BY 1, 2, 3;
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE programme_usage")
