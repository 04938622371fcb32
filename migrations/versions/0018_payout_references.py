"""Payout references checked once per statement: a payout run's compute writes a million payouts and months.

``payout.run_id`` → ``payout_run``, ``payout.beneficiary_id`` → ``beneficiary``, ``payout_month.payout_id``
→ ``payout`` and ``payout_month.enrolment_id`` → ``enrolment`` were foreign keys: a trigger call and a
row lock on the referenced row for every row written — a third of the time of writing a run's payouts
and months. They are replaced, as 0016 did for statement lines, by checks the database runs once per
statement over the rows it wrote (``REFERENCING NEW TABLE``), raising ``foreign_key_violation`` as the
foreign keys did:

- ``payout_references_inserted``: each new payout's run and person exist;
- ``payout_amount_matches_months`` (the months' statement check) now also finds a month whose payout
  or enrolment does not exist; each inserted payout's months and row are looked up by key (it joined
  the whole payout table into a hash for every chunk of a run);
- the referenced rows cannot go while referenced: a DELETE of runs, people, enrolments or payouts still
  referenced is refused by a statement-level check over the deleted rows (payouts and months are only
  deleted before approval, months first). The references never change: ``payout_guard`` and
  ``payout_month_guard`` refuse any UPDATE of them.

Revision ID: 0018
Revises: 0017
Create Date: 2026-11-30
"""

from migrations.helpers import (
    delete_guard,
    drop_delete_guard,
    drop_trigger,
    execute_script,
    missing_reference,
    statement_reference_check,
)

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None

# (referenced table, referencing table, column): a DELETE of referenced rows is refused while referenced.
_STILL_REFERENCED = (
    ("payout_run", "payout", "run_id"),
    ("beneficiary", "payout", "beneficiary_id"),
    ("enrolment", "payout_month", "enrolment_id"),
    ("payout", "payout_month", "payout_id"),
)


_PAYOUT_REFERENCES = (("run_id", "payout_run", "id"), ("beneficiary_id", "beneficiary", "id"))


def upgrade() -> None:
    execute_script(
        f"""
        ALTER TABLE payout DROP CONSTRAINT payout_run_id_fkey;
        ALTER TABLE payout DROP CONSTRAINT payout_beneficiary_id_fkey;
        ALTER TABLE payout_month DROP CONSTRAINT payout_month_payout_id_fkey;
        ALTER TABLE payout_month DROP CONSTRAINT payout_month_enrolment_id_fkey;

        {statement_reference_check("payout", "payout_references_inserted", _PAYOUT_REFERENCES)}

        -- A payout's amount is the sum of its months (all of a payout's months are written by one
        -- statement), every month's payout and enrolment exist: checked at the end of every INSERT statement.
        CREATE OR REPLACE FUNCTION payout_amount_matches_months() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bad record;
            missing text;
        BEGIN
            SELECT 'enrolment ' || n.enrolment_id INTO missing FROM inserted n
             WHERE {missing_reference("enrolment", "n.enrolment_id")} LIMIT 1;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'payout_month refers to a missing %', missing USING ERRCODE = 'foreign_key_violation';
            END IF;
            SELECT i.payout_id, p.id IS NULL AS gone, p.amount, m.total INTO bad
              FROM (SELECT DISTINCT payout_id FROM inserted) i
              LEFT JOIN LATERAL (SELECT q.id, q.amount, q.beneficiary_id FROM payout q
                                  WHERE q.id = i.payout_id OFFSET 0) p ON true
              LEFT JOIN LATERAL (SELECT sum(pm.amount) AS total, bool_and(pm.beneficiary_id = p.beneficiary_id) AS same
                                   FROM payout_month pm WHERE pm.payout_id = i.payout_id OFFSET 0) m ON true
             WHERE p.id IS NULL OR p.amount <> m.total OR NOT m.same
             LIMIT 1;
            IF FOUND AND bad.gone THEN
                RAISE EXCEPTION 'payout_month refers to a missing payout %', bad.payout_id
                    USING ERRCODE = 'foreign_key_violation';
            ELSIF FOUND THEN
                RAISE EXCEPTION 'payout % amount % differs from the sum of its months % (or a month is another person''s)',
                    bad.payout_id, bad.amount, bad.total
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        {"".join(delete_guard(*reference) for reference in _STILL_REFERENCED)}
        """
    )


def downgrade() -> None:
    execute_script(
        f"""
        {"".join(drop_delete_guard(parent, child) for parent, child, _ in _STILL_REFERENCED)}
        {drop_trigger("payout", "payout_references_inserted")}
        CREATE OR REPLACE FUNCTION payout_amount_matches_months() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bad record;
        BEGIN
            SELECT p.id, p.amount, m.total INTO bad
              FROM (SELECT pm.payout_id, sum(pm.amount) AS total, bool_and(pm.beneficiary_id = p2.beneficiary_id) AS same
                      FROM payout_month pm JOIN payout p2 ON p2.id = pm.payout_id
                     WHERE pm.payout_id IN (SELECT DISTINCT payout_id FROM inserted)
                     GROUP BY pm.payout_id) m
              JOIN payout p ON p.id = m.payout_id
             WHERE p.amount <> m.total OR NOT m.same
             LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'payout % amount % differs from the sum of its months % (or a month is another person''s)',
                    bad.id, bad.amount, bad.total
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        ALTER TABLE payout_month ADD CONSTRAINT payout_month_enrolment_id_fkey
            FOREIGN KEY (enrolment_id) REFERENCES enrolment(id);
        ALTER TABLE payout_month ADD CONSTRAINT payout_month_payout_id_fkey
            FOREIGN KEY (payout_id) REFERENCES payout(id);
        ALTER TABLE payout ADD CONSTRAINT payout_beneficiary_id_fkey
            FOREIGN KEY (beneficiary_id) REFERENCES beneficiary(id);
        ALTER TABLE payout ADD CONSTRAINT payout_run_id_fkey
            FOREIGN KEY (run_id) REFERENCES payout_run(id);
        """
    )
