"""Time-to-withdrawal summary trigger: a chunk of payouts looks its people up one by one.

``withdrawal_summary_payout`` keys each changed payout by its person's sex and age band. Joined as a
hash join, every statement read the whole ``beneficiary`` table into a hash (0.45 s at a million
people) — for each 50,000-payout chunk of a payout run's compute and send, and for a send that changes
nothing the summary counts (a bank payout sent is not arrived yet). A statement of at most 200,000 rows
now looks up its (changed) payouts' people through the primary key, after the changed rows are found;
larger statements keep the hash join, which is cheaper per row when most people are concerned.

Revision ID: 0017
Revises: 0016
Create Date: 2026-11-30
"""

import importlib

from migrations.helpers import execute_script

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None

_summary = importlib.import_module("migrations.versions.0012_withdrawal_summary")

FEW_ROWS = 200_000
# The person of each (changed) payout through the primary key (OFFSET 0: not flattened into a hash join).
_JOIN_BY_ROW = """JOIN payout_run r ON r.id = f.run_id
    CROSS JOIN LATERAL (SELECT p.sex, p.date_of_birth FROM beneficiary p WHERE p.id = f.beneficiary_id OFFSET 0) b"""


def upgrade() -> None:
    execute_script(_summary.payout_summary_function(replace=True, few=(FEW_ROWS, _JOIN_BY_ROW)))


def downgrade() -> None:
    execute_script(_summary.payout_summary_function(replace=True))
