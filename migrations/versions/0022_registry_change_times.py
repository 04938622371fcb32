"""Registry changes found by when they were written: approval and sending look for people whose events or
enrolments changed after the run was computed (or approved) — ``app.payouts.service.recheck`` — through
indexes on ``beneficiary_event.recorded_at`` and ``enrolment.updated_at`` / ``created_at`` instead of a
scan of every event and enrolment (about 0.2–0.3 s per million rows, twice per run).

Revision ID: 0022
Revises: 0021
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None

INDEXES = ("ix_beneficiary_event_recorded_at", "ix_enrolment_updated_at", "ix_enrolment_created_at")


def upgrade() -> None:
    execute_script(
        """
        CREATE INDEX ix_beneficiary_event_recorded_at ON beneficiary_event (recorded_at);
        CREATE INDEX ix_enrolment_updated_at ON enrolment (updated_at);
        CREATE INDEX ix_enrolment_created_at ON enrolment (created_at);
        """
    )


def downgrade() -> None:
    execute_script(f"DROP INDEX {', '.join(INDEXES)};")
