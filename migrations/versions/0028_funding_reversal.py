"""Funding reversals: an officer's funding entry recorded by mistake is taken back by a new entry, never edited.

``funding`` is append-only. A reversal is a row of ``funding_reversal`` (one per funding: its primary key)
with the reason, who and when, and the ledger transfer that takes the money back out of the bank's
disbursement account or the commune's cash (``funding:P`` ← holder). A reversed funding no longer counts in
the programme's budget, nor as a candidate for a bank statement's unreferenced credit. A funding the bank's
statement already confirmed cannot be reversed, nor one whose money the programme's payouts have taken.

Funding amounts are capped at 10^15 đ a entry (the ledger's balances are bigint; the service says so in
Vietnamese and English before the database would).

Revision ID: 0028
Revises: 0027
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0028"
down_revision = "0027"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE funding_reversal (
            funding_id uuid PRIMARY KEY REFERENCES funding (id),
            reason text NOT NULL CHECK (btrim(reason) <> '' AND char_length(reason) <= 500),
            reversed_by text NOT NULL,
            reversed_at timestamptz NOT NULL DEFAULT now(),
            transfer_id uuid NOT NULL UNIQUE
        );
        CREATE TRIGGER funding_reversal_append_only BEFORE UPDATE OR DELETE ON funding_reversal
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER funding_reversal_no_truncate BEFORE TRUNCATE ON funding_reversal
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
        ALTER TABLE funding ADD CONSTRAINT ck_funding_amount_max CHECK (amount <= 1000000000000000) NOT VALID;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE funding DROP CONSTRAINT ck_funding_amount_max;
        DROP TABLE funding_reversal;
        """
    )
