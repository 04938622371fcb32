"""Withdrawal activity files are kept as sent, as statement files and registry imports are.

``withdrawal_intake`` recorded what a bank's withdrawal upload gave (rows, accepted, duplicates) and the
file's SHA-256, but not the file: an auditor could not see what the bank had sent. Now ``content`` keeps the
bytes as received (the CSV or xlsx file, or the body of a JSON post); the SHA-256 is that of the content
(a CHECK). Intakes before this have none (NULL). The table stays append-only.

Downgrade drops the column and with it the files kept since the upgrade (take a backup first if they
matter); the intakes' counts and hashes stay.

Revision ID: 0031
Revises: 0030
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0031"
down_revision = "0030"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        ALTER TABLE withdrawal_intake
            ADD COLUMN content bytea,
            ADD CONSTRAINT ck_withdrawal_intake_content_sha256
                CHECK (content IS NULL OR sha256 = sha256(content));
        -- A bank lists its own intakes, newest first.
        CREATE INDEX ix_withdrawal_intake_bank ON withdrawal_intake (bank_bin, uploaded_at);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP INDEX ix_withdrawal_intake_bank;
        ALTER TABLE withdrawal_intake DROP COLUMN content;
        """
    )
