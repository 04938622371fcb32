"""Sign-in failures are counted per address as well as per username: an index for the address count.

The lockout reads the failures of the last minutes from one client address (every username from it); without
an index that read scanned every sign-in ever recorded.

Revision ID: 0032
Revises: 0031
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0032"
down_revision = "0031"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script("CREATE INDEX ix_login_attempt_ip_at ON login_attempt (ip, at) WHERE NOT success;")


def downgrade() -> None:
    execute_script("DROP INDEX ix_login_attempt_ip_at;")
