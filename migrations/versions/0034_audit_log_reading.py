"""The audit log is read: indexes for its list, newest first, filtered by actor, action or object.

``audit_log`` had one index, on (object_type, object_id): listing it newest first sorted the whole table,
and a filter by actor or action read every row. Each filter now has a b-tree ending in (at, id), so a page
of any filter, newest first, is an index scan that stops after the page (and the capped count after the
cap): (at, id) for the whole log and date ranges, (actor, at, id), (action, at, id), and (object_type,
object_id, at, id) in place of the old (object_type, object_id), whose lookups it serves as well.

Plain CREATE INDEX: migrations run while ``ansinh serve`` is stopped (it refuses a database that is behind),
so the write lock while the indexes build blocks nobody.

Revision ID: 0034
Revises: 0033
Create Date: 2026-12-02
"""

from migrations.helpers import execute_script

revision = "0034"
down_revision = "0033"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE INDEX ix_audit_log_at ON audit_log (at, id);
        CREATE INDEX ix_audit_log_actor_at ON audit_log (actor, at, id);
        CREATE INDEX ix_audit_log_action_at ON audit_log (action, at, id);
        CREATE INDEX ix_audit_log_object_at ON audit_log (object_type, object_id, at, id);
        DROP INDEX ix_audit_log_object;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        CREATE INDEX ix_audit_log_object ON audit_log (object_type, object_id);
        DROP INDEX ix_audit_log_object_at;
        DROP INDEX ix_audit_log_action_at;
        DROP INDEX ix_audit_log_actor_at;
        DROP INDEX ix_audit_log_at;
        """
    )
