"""A bank account row written without a start date starts on today's date in Việt Nam, not the server's.

``bank_account.effective_from`` defaulted to ``current_date``: the date in the session's time zone, UTC on
the embedded server. From 00:00 to 07:00 in Việt Nam that is still the day before, while the service closes
and opens accounts on Việt Nam's date (``app.vietnam_time.vietnam_today``): an account replaced at 01:00 by
SQL (a bank's or an operator's script) started the day before the one it replaced had ended, and the period
check refused closing it on "today". The default is now Việt Nam's date whatever the session's time zone.
The service itself always gives the date; nothing stored changes.

Revision ID: 0044
Revises: 0043
Create Date: 2026-12-02
"""

from migrations.helpers import execute_script

revision = "0044"
down_revision = "0043"
branch_labels = None
depends_on = None

VIETNAM_TODAY = "((now() AT TIME ZONE 'Asia/Ho_Chi_Minh')::date)"


def upgrade() -> None:
    execute_script(f"ALTER TABLE bank_account ALTER COLUMN effective_from SET DEFAULT {VIETNAM_TODAY}")


def downgrade() -> None:
    execute_script("ALTER TABLE bank_account ALTER COLUMN effective_from SET DEFAULT current_date")
