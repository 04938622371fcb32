"""The payout_month statement check reads a chunk's payouts and months as two key ranges, not row by row.

``payout_amount_matches_months`` (migration 0018) checks, after every INSERT into ``payout_month``, that each
payout named has the sum of all its months as its amount (and that they are one person's months). It looked
each payout and its months up by key, two index probes and an aggregate per payout: 1.6–1.9 s of every
50,000-payout chunk a compute writes, a quarter of the chunk's time (~6 s of the database's CPU at 200,000
people, 30 s at a million).

The payouts of a compute chunk have ids that grow with their serial (``compute._WRITE_PAYOUTS``), so the
chunk's payouts are one range of ``payout_pkey`` and their months one range of ``payout_month_pkey``: the
check now reads the two ranges in key order and merges them (a few thousand buffers instead of 400,000). It
does so only when the range between the smallest and the largest payout id named holds few payouts besides
them (at most four per payout named, counted with a bounded scan: the other writer's chunk interleaves);
any other insert (a reissue's months, ids made elsewhere) is checked row by row, as before. The check is the
same either way: every month of each payout named, not only the inserted ones, is summed. The range reads
are planned with their bounds (``EXECUTE … USING``) and without sequential scans, so a stale statistic of a
just-filled table cannot turn them into a scan of every month.

Downgrade restores the row-by-row function.

Revision ID: 0043
Revises: 0042
Create Date: 2026-12-02
"""

from migrations.helpers import execute_script, missing_reference

revision = "0043"
down_revision = "0042"
branch_labels = None
depends_on = None

_ENROLMENT_CHECK = f"""
            SELECT 'enrolment ' || n.enrolment_id INTO missing FROM inserted n
             WHERE {missing_reference("enrolment", "n.enrolment_id")} LIMIT 1;
            IF missing IS NOT NULL THEN
                RAISE EXCEPTION 'payout_month refers to a missing %', missing USING ERRCODE = 'foreign_key_violation';
            END IF;"""

_ROW_BY_ROW = """
            SELECT i.payout_id, p.id IS NULL AS gone, p.amount, m.total INTO bad
              FROM (SELECT DISTINCT payout_id FROM inserted) i
              LEFT JOIN LATERAL (SELECT q.id, q.amount, q.beneficiary_id FROM payout q
                                  WHERE q.id = i.payout_id OFFSET 0) p ON true
              LEFT JOIN LATERAL (SELECT sum(pm.amount) AS total, bool_and(pm.beneficiary_id = p.beneficiary_id) AS same
                                   FROM payout_month pm WHERE pm.payout_id = i.payout_id OFFSET 0) m ON true
             WHERE p.id IS NULL OR p.amount <> m.total OR NOT m.same
             LIMIT 1;"""

_RAISE = """
            IF FOUND AND bad.gone THEN
                RAISE EXCEPTION 'payout_month refers to a missing payout %', bad.payout_id
                    USING ERRCODE = 'foreign_key_violation';
            ELSIF FOUND THEN
                RAISE EXCEPTION 'payout % amount % differs from the sum of its months % (or a month is another person''s)',
                    bad.payout_id, bad.amount, bad.total
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NULL;"""

# Payouts in the range besides the ones named, per payout named (two writers' chunks interleave: about one).
_RANGE_SLACK = 4


def upgrade() -> None:
    execute_script(
        f"""
        CREATE OR REPLACE FUNCTION payout_amount_matches_months() RETURNS trigger LANGUAGE plpgsql
        SET enable_seqscan = off SET enable_nestloop = off
        AS $$
        DECLARE
            bad record;
            missing text;
            low uuid;
            high uuid;
            named bigint;
            spanned bigint;
        BEGIN{_ENROLMENT_CHECK}
            SELECT payout_id INTO low FROM inserted ORDER BY payout_id LIMIT 1;
            SELECT payout_id INTO high FROM inserted ORDER BY payout_id DESC LIMIT 1;
            SELECT count(DISTINCT payout_id) INTO named FROM inserted;
            IF named > 1 THEN
                SELECT count(*) INTO spanned
                  FROM (SELECT 1 FROM payout WHERE id BETWEEN low AND high LIMIT {_RANGE_SLACK} * named + 100) s;
            END IF;
            IF named > 1 AND spanned <= {_RANGE_SLACK} * named + 99 THEN
                EXECUTE $sql$
                    SELECT i.payout_id, p.id IS NULL AS gone, p.amount, p.total
                      FROM (SELECT DISTINCT payout_id FROM inserted) i
                      LEFT JOIN (SELECT q.id, q.amount, sum(pm.amount) AS total,
                                        bool_and(pm.beneficiary_id = q.beneficiary_id) AS same
                                   FROM payout q JOIN payout_month pm ON pm.payout_id = q.id
                                  WHERE q.id BETWEEN $1 AND $2 AND pm.payout_id BETWEEN $1 AND $2
                                  GROUP BY q.id) p ON p.id = i.payout_id
                     WHERE p.id IS NULL OR p.amount <> p.total OR NOT p.same
                     LIMIT 1 $sql$ INTO bad USING low, high;
                -- (EXECUTE leaves FOUND alone: no row read leaves bad's fields NULL.)
                IF bad.payout_id IS NULL THEN
                    RETURN NULL;
                END IF;
                IF bad.gone THEN
                    RAISE EXCEPTION 'payout_month refers to a missing payout %', bad.payout_id
                        USING ERRCODE = 'foreign_key_violation';
                END IF;
                RAISE EXCEPTION 'payout % amount % differs from the sum of its months % (or a month is another person''s)',
                    bad.payout_id, bad.amount, bad.total
                    USING ERRCODE = 'check_violation';
            END IF;{_ROW_BY_ROW}{_RAISE}
        END;
        $$;
        """
    )


def downgrade() -> None:
    execute_script(
        f"""
        CREATE OR REPLACE FUNCTION payout_amount_matches_months() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bad record;
            missing text;
        BEGIN{_ENROLMENT_CHECK}{_ROW_BY_ROW}{_RAISE}
        END;
        $$;
        """
    )
