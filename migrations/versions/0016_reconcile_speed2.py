"""Reconciliation speed: set-based reference checks for statement lines and undrawn positions.

A statement import writes a row of ``statement_line`` per line and, through the withdrawal
allocation, a row of ``undrawn_position`` per person credited. Their foreign keys
(``statement_line.statement_id`` → ``bank_statement``, ``statement_line.funding_id`` → ``funding``,
``undrawn_position.beneficiary_id`` → ``beneficiary``) were checked row by row: a trigger call and an
index probe each, half the cost of writing those rows on a million-line statement.

They are replaced by statement-level triggers that check the same references once per statement over the
rows it wrote (``REFERENCING NEW TABLE``: one anti-join), raising the error a foreign key raises
(``foreign_key_violation``). An UPDATE that changes a reference is checked row by row (rare: a line's
resolution, never a bulk write). The referenced rows cannot go away: ``bank_statement`` and ``funding``
refuse DELETE (append-only), and a beneficiary with an undrawn position has payouts, whose own
foreign key keeps them.

Revision ID: 0016
Revises: 0015
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        ALTER TABLE statement_line DROP CONSTRAINT statement_line_statement_id_fkey;
        ALTER TABLE statement_line DROP CONSTRAINT statement_line_funding_id_fkey;
        ALTER TABLE undrawn_position DROP CONSTRAINT undrawn_position_beneficiary_id_fkey;

        CREATE FUNCTION statement_line_references_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            missing text;
        BEGIN
            SELECT 'bank_statement ' || n.statement_id INTO missing FROM new_lines n
             WHERE NOT EXISTS (SELECT 1 FROM bank_statement s WHERE s.id = n.statement_id) LIMIT 1;
            IF missing IS NULL THEN
                SELECT 'funding ' || n.funding_id INTO missing FROM new_lines n
                 WHERE n.funding_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM funding f WHERE f.id = n.funding_id)
                 LIMIT 1;
            END IF;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'statement_line refers to a missing %', missing USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER statement_line_references_inserted AFTER INSERT ON statement_line
            REFERENCING NEW TABLE AS new_lines FOR EACH STATEMENT EXECUTE FUNCTION statement_line_references_inserted();

        CREATE FUNCTION statement_line_references_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM bank_statement s WHERE s.id = NEW.statement_id) THEN
                RAISE EXCEPTION 'statement_line refers to a missing bank_statement %', NEW.statement_id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            IF NEW.funding_id IS NOT NULL AND NOT EXISTS (SELECT 1 FROM funding f WHERE f.id = NEW.funding_id) THEN
                RAISE EXCEPTION 'statement_line refers to a missing funding %', NEW.funding_id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER statement_line_references_updated AFTER UPDATE OF statement_id, funding_id ON statement_line
            FOR EACH ROW WHEN ((NEW.statement_id, NEW.funding_id) IS DISTINCT FROM (OLD.statement_id, OLD.funding_id))
            EXECUTE FUNCTION statement_line_references_updated();

        CREATE FUNCTION undrawn_position_person_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            missing uuid;
        BEGIN
            SELECT n.beneficiary_id INTO missing FROM new_positions n
             WHERE NOT EXISTS (SELECT 1 FROM beneficiary b WHERE b.id = n.beneficiary_id) LIMIT 1;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'undrawn_position refers to a missing beneficiary %', missing
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER undrawn_position_person_inserted AFTER INSERT ON undrawn_position
            REFERENCING NEW TABLE AS new_positions FOR EACH STATEMENT EXECUTE FUNCTION undrawn_position_person_inserted();
        CREATE FUNCTION undrawn_position_person_updated() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF NOT EXISTS (SELECT 1 FROM beneficiary b WHERE b.id = NEW.beneficiary_id) THEN
                RAISE EXCEPTION 'undrawn_position refers to a missing beneficiary %', NEW.beneficiary_id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER undrawn_position_person_updated AFTER UPDATE OF beneficiary_id ON undrawn_position
            FOR EACH ROW WHEN (NEW.beneficiary_id IS DISTINCT FROM OLD.beneficiary_id)
            EXECUTE FUNCTION undrawn_position_person_updated();
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TRIGGER undrawn_position_person_updated ON undrawn_position;
        DROP TRIGGER undrawn_position_person_inserted ON undrawn_position;
        DROP FUNCTION undrawn_position_person_updated(); DROP FUNCTION undrawn_position_person_inserted();
        DROP TRIGGER statement_line_references_updated ON statement_line;
        DROP TRIGGER statement_line_references_inserted ON statement_line;
        DROP FUNCTION statement_line_references_updated(); DROP FUNCTION statement_line_references_inserted();
        ALTER TABLE undrawn_position ADD CONSTRAINT undrawn_position_beneficiary_id_fkey
            FOREIGN KEY (beneficiary_id) REFERENCES beneficiary(id);
        ALTER TABLE statement_line ADD CONSTRAINT statement_line_funding_id_fkey
            FOREIGN KEY (funding_id) REFERENCES funding(id);
        ALTER TABLE statement_line ADD CONSTRAINT statement_line_statement_id_fkey
            FOREIGN KEY (statement_id) REFERENCES bank_statement(id);
        """
    )
