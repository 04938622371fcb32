"""Funding of a commune's cash: budget a programme hands to a commune for its cash-channel payouts
(``cash:commune:C`` ← ``funding:P``), beside the funding that reaches a bank's disbursement account.

``funding`` gets a nullable ``commune_code`` and its ``bank_bin`` becomes nullable: exactly one of the two is
set (``ck_funding_bank_or_commune``). A reference is unique per bank (``uq_funding_reference``, as before; a
commune funding's NULL bank does not collide) and per commune (``uq_funding_commune_reference``). The send check
finds a programme's funding at a commune through ``ix_funding_programme_commune``.

Downgrade refuses while a commune funding exists (the table is append-only: nothing to drop it to).

Revision ID: 0023
Revises: 0022
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        ALTER TABLE funding ALTER COLUMN bank_bin DROP NOT NULL;
        ALTER TABLE funding ADD COLUMN commune_code varchar(5) REFERENCES commune(code);
        ALTER TABLE funding ADD CONSTRAINT ck_funding_bank_or_commune
            CHECK (num_nonnulls(bank_bin, commune_code) = 1);
        CREATE UNIQUE INDEX uq_funding_commune_reference ON funding (commune_code, reference)
            WHERE commune_code IS NOT NULL;
        CREATE INDEX ix_funding_programme_commune ON funding (programme_code, commune_code)
            WHERE commune_code IS NOT NULL;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DO $$ BEGIN
            IF EXISTS (SELECT 1 FROM funding WHERE commune_code IS NOT NULL) THEN
                RAISE EXCEPTION 'funding of communes exists: downgrading below 0023 would lose it';
            END IF;
        END $$;
        DROP INDEX ix_funding_programme_commune, uq_funding_commune_reference;
        ALTER TABLE funding DROP CONSTRAINT ck_funding_bank_or_commune;
        ALTER TABLE funding DROP COLUMN commune_code;
        ALTER TABLE funding ALTER COLUMN bank_bin SET NOT NULL;
        """
    )
