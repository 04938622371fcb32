"""A new bank API key is shown once on the page the admin is sent to after issuing it (POST, redirect, GET).

``api_key_reveal`` holds the key between the form's POST and that GET, sealed: XOR-ed with a SHAKE-256 stream of a
random one-time token that only the redirect's address carries; the row keeps the token's SHA-256 to be found by
and the admin's session, and is deleted as it is read (or when it expires, or with the key or the session). The
database never holds a usable key, nor the token that unseals one; a reload of the page finds nothing.

Revision ID: 0036
Revises: 0035
Create Date: 2026-12-09
"""

from migrations.helpers import execute_script

revision = "0036"
down_revision = "0035"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE api_key_reveal (
            token_hash bytea PRIMARY KEY,
            api_key_id bigint NOT NULL REFERENCES bank_api_key (id) ON DELETE CASCADE,
            session_id bigint NOT NULL REFERENCES staff_session (id) ON DELETE CASCADE,
            sealed_key bytea NOT NULL,
            expires_at timestamptz NOT NULL
        );
        CREATE INDEX ix_api_key_reveal_api_key ON api_key_reveal (api_key_id);
        CREATE INDEX ix_api_key_reveal_session ON api_key_reveal (session_id);
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE api_key_reveal;")
