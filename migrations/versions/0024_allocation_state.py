"""The allocation's per-person state: room on each page to rewrite it in place, and what each person withdrew.

A bank's monthly feed rewrites a row of ``allocation_frontier`` and of ``undrawn_position`` for each
person who withdrew (a million). On full pages every new row version also goes into the primary key
(12 buffer touches a row, 9 s for a million positions); with half-empty pages it stays on its page as a
heap-only tuple and the index is not touched (1.6 s). The setting applies to pages written from now on;
a deployment with many rows already can run ``VACUUM FULL`` on both tables in a quiet hour.

``allocation_frontier.withdrawn`` is the total a person had withdrawn when their frontier was saved. When it
equals what was allocated, every withdrawal was used up, so what follows the frontier is only what the
reallocating transaction noted, and a bank's feed reads its own rows instead of the withdrawal table. NULL
(frontiers saved before this migration): unknown, read from the table and learnt at the next reallocation.

Revision ID: 0024
Revises: 0023
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0024"
down_revision = "0023"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        ALTER TABLE allocation_frontier SET (fillfactor = 50);
        ALTER TABLE undrawn_position SET (fillfactor = 50);
        ALTER TABLE allocation_frontier ADD COLUMN withdrawn bigint
            CONSTRAINT ck_allocation_frontier_withdrawn CHECK (withdrawn >= withdrawal_upto);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE allocation_frontier DROP COLUMN withdrawn;
        ALTER TABLE allocation_frontier SET (fillfactor = 80);
        ALTER TABLE undrawn_position RESET (fillfactor);
        """
    )
