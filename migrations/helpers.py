"""Helpers for hand-written migrations."""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op
from sqlalchemy.util import await_only


def execute_script(sql: str) -> None:
    """Run a multi-statement SQL script (functions, triggers) in the migration's transaction.

    asyncpg prepares every statement it is given through SQLAlchemy, and a prepared
    statement holds one command; its simple-query protocol (``execute`` without
    arguments) takes a whole script.
    """
    dbapi_connection = op.get_bind().connection.dbapi_connection
    driver_connection = dbapi_connection.driver_connection  # type: ignore[union-attr]
    await_only(driver_connection.execute(sql))


# --- references checked once per statement (instead of a foreign-key trigger and row lock per row) -----

Reference = tuple[str, str, str]  # (column, referenced table, its key)


def missing_reference(table: str, column: str, key: str = "id") -> str:
    """SQL condition: ``column`` names a row of ``table`` that does not exist (NULL names none). A per-row
    index probe (OFFSET 0): as an anti join the planner would hash the whole table for a chunk of rows."""
    return f"{column} IS NOT NULL AND NOT EXISTS (SELECT 1 FROM {table} x WHERE x.{key} = {column} OFFSET 0)"


def statement_reference_check(table: str, name: str, references: Sequence[Reference]) -> str:
    """Function and trigger ``name``: once per INSERT statement on ``table``, every new row's ``references``
    exist, else ``foreign_key_violation`` as a foreign key raises it (a bulk COPY is checked too)."""
    checks = "".join(f"""
            IF missing IS NULL THEN
                SELECT '{referenced} ' || n.{column} INTO missing FROM new_rows n
                 WHERE {missing_reference(referenced, "n." + column, key)} LIMIT 1;
            END IF;""" for column, referenced, key in references)
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            missing text;
        BEGIN{checks}
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION '{table} refers to a missing %', missing USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER {name} AFTER INSERT ON {table}
            REFERENCING NEW TABLE AS new_rows FOR EACH STATEMENT EXECUTE FUNCTION {name}();
    """


def row_reference_check(table: str, name: str, references: Sequence[Reference]) -> str:
    """Function and trigger ``name``: an UPDATE of ``table`` changing one of the ``references`` (rare, never a
    bulk write) is checked row by row."""
    checks = "".join(f"""
            IF {missing_reference(referenced, "NEW." + column, key)} THEN
                RAISE EXCEPTION '{table} refers to a missing {referenced} %', NEW.{column}
                    USING ERRCODE = 'foreign_key_violation';
            END IF;""" for column, referenced, key in references)
    columns = [column for column, _, _ in references]
    changed = (f"({', '.join('NEW.' + c for c in columns)}) IS DISTINCT FROM "
               f"({', '.join('OLD.' + c for c in columns)})")
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN{checks}
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER {name} AFTER UPDATE OF {", ".join(columns)} ON {table}
            FOR EACH ROW WHEN ({changed}) EXECUTE FUNCTION {name}();
    """


def delete_guard(parent: str, child: str, column: str, key: str = "id") -> str:
    """Function and trigger ``<parent>_kept_by_<child>``: a DELETE of ``parent`` rows that ``child.column``
    still names is refused, once per statement over the deleted rows."""
    name = _guard_name(parent, child)
    return f"""
        CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            kept text;
        BEGIN
            SELECT CAST(o.{key} AS text) INTO kept FROM gone o
             WHERE EXISTS (SELECT 1 FROM {child} c WHERE c.{column} = o.{key}) LIMIT 1;
            IF kept IS NOT NULL THEN
                RAISE EXCEPTION '{parent} % is still referenced from {child}', kept
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER {name} AFTER DELETE ON {parent} REFERENCING OLD TABLE AS gone
            FOR EACH STATEMENT EXECUTE FUNCTION {name}();
    """


def drop_trigger(table: str, name: str) -> str:
    """Drop trigger ``name`` on ``table`` and its function of the same name."""
    return f"""
        DROP TRIGGER {name} ON {table}; DROP FUNCTION {name}();"""


def drop_delete_guard(parent: str, child: str) -> str:
    """Drop what ``delete_guard(parent, child, ...)`` made."""
    return drop_trigger(parent, _guard_name(parent, child))


def _guard_name(parent: str, child: str) -> str:
    return f"{parent}_kept_by_{child}"
