"""Join the bank statement (0007) and withdrawal (0008) branches of the schema.

Revision ID: 0009
Revises: 0007, 0008
Create Date: 2026-11-30
"""

revision = "0009"
down_revision = ("0007", "0008")
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Nothing to change: this revision only makes the history linear again."""


def downgrade() -> None:
    """Nothing to change."""
