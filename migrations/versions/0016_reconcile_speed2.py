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

from migrations.helpers import drop_trigger, execute_script, row_reference_check, statement_reference_check

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


_LINE_REFERENCES = (("statement_id", "bank_statement", "id"), ("funding_id", "funding", "id"))
_POSITION_REFERENCES = (("beneficiary_id", "beneficiary", "id"),)


def upgrade() -> None:
    execute_script(
        f"""
        ALTER TABLE statement_line DROP CONSTRAINT statement_line_statement_id_fkey;
        ALTER TABLE statement_line DROP CONSTRAINT statement_line_funding_id_fkey;
        ALTER TABLE undrawn_position DROP CONSTRAINT undrawn_position_beneficiary_id_fkey;
        {statement_reference_check("statement_line", "statement_line_references_inserted", _LINE_REFERENCES)}
        {row_reference_check("statement_line", "statement_line_references_updated", _LINE_REFERENCES)}
        {statement_reference_check("undrawn_position", "undrawn_position_person_inserted", _POSITION_REFERENCES)}
        {row_reference_check("undrawn_position", "undrawn_position_person_updated", _POSITION_REFERENCES)}
        """
    )


def downgrade() -> None:
    execute_script(
        f"""
        {drop_trigger("undrawn_position", "undrawn_position_person_updated")}
        {drop_trigger("undrawn_position", "undrawn_position_person_inserted")}
        {drop_trigger("statement_line", "statement_line_references_updated")}
        {drop_trigger("statement_line", "statement_line_references_inserted")}
        ALTER TABLE undrawn_position ADD CONSTRAINT undrawn_position_beneficiary_id_fkey
            FOREIGN KEY (beneficiary_id) REFERENCES beneficiary(id);
        ALTER TABLE statement_line ADD CONSTRAINT statement_line_funding_id_fkey
            FOREIGN KEY (funding_id) REFERENCES funding(id);
        ALTER TABLE statement_line ADD CONSTRAINT statement_line_statement_id_fkey
            FOREIGN KEY (statement_id) REFERENCES bank_statement(id);
        """
    )
