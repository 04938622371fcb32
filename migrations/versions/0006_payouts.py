"""Payouts: runs, payouts, the (enrolment, month) pairs each one pays, funding, and skipped people.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from migrations.helpers import execute_script

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE payout_run (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            programme_code varchar(16) NOT NULL REFERENCES programme(code),
            period date NOT NULL CHECK (extract(day FROM period) = 1),
            kind text NOT NULL DEFAULT 'regular' CHECK (kind IN ('regular', 'supplementary')),
            status text NOT NULL DEFAULT 'draft' CHECK (status IN
                ('draft', 'computing', 'computed', 'approved', 'sending', 'sent', 'settled', 'closed')),
            arrears_from date NOT NULL CHECK (extract(day FROM arrears_from) = 1 AND arrears_from <= period),
            created_by text NOT NULL,
            prepared_by text,
            approved_by text,
            sent_by text,
            created_at timestamptz NOT NULL DEFAULT now(),
            computed_at timestamptz,
            approved_at timestamptz,
            sent_at timestamptz,
            settled_at timestamptz,
            closed_at timestamptz,
            phase text,
            last_error text,
            progress_done bigint NOT NULL DEFAULT 0,
            progress_total bigint NOT NULL DEFAULT 0,
            progress_started_at timestamptz,
            payout_count bigint NOT NULL DEFAULT 0,
            total_amount bigint NOT NULL DEFAULT 0 CHECK (total_amount >= 0),
            -- maker-checker: the database itself refuses an approval by the preparer
            CONSTRAINT ck_payout_run_four_eyes CHECK (approved_by IS NULL OR approved_by <> prepared_by),
            CONSTRAINT ck_payout_run_approved CHECK (status IN ('draft', 'computing', 'computed')
                                                     OR approved_by IS NOT NULL)
        );
        CREATE UNIQUE INDEX uq_payout_run_regular ON payout_run (programme_code, period) WHERE kind = 'regular';

        CREATE SEQUENCE payout_serial AS bigint START 1;
        CREATE TABLE payout (
            id uuid PRIMARY KEY,
            run_id uuid NOT NULL REFERENCES payout_run(id),
            serial bigint NOT NULL UNIQUE,
            reference varchar(35) NOT NULL UNIQUE CHECK (reference ~ '^[0-9A-Z]{1,35}$'),
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            -- commune, account and bank are copied from rows read in the same transaction; foreign keys on
            -- them would cost a lookup per payout in million-row runs and protect no money rule.
            commune_code varchar(5) NOT NULL,
            channel text NOT NULL CHECK (channel IN ('bank', 'cash')),
            bank_account_id bigint,
            bank_bin varchar(6),
            account_number varchar(19),
            holder_name text,
            amount bigint NOT NULL CHECK (amount > 0),
            status text NOT NULL DEFAULT 'scheduled'
                CHECK (status IN ('scheduled', 'sent', 'credited', 'returned', 'cancelled')),
            sent_at timestamptz,
            credited_at timestamptz,
            returned_at timestamptz,
            return_reason text,
            first_withdrawal_at timestamptz,
            withdrawn_at timestamptz,
            reissue_of uuid REFERENCES payout(id),
            CONSTRAINT ck_payout_bank_details CHECK (
                (channel = 'bank') = (bank_account_id IS NOT NULL AND bank_bin IS NOT NULL
                                      AND account_number IS NOT NULL)),
            CONSTRAINT uq_payout_run_beneficiary UNIQUE (run_id, beneficiary_id)
        );
        CREATE INDEX ix_payout_beneficiary ON payout (beneficiary_id);
        CREATE INDEX ix_payout_run_bank ON payout (run_id, bank_bin);
        CREATE INDEX ix_payout_run_commune ON payout (run_id, commune_code);

        -- What each payout pays: one row per (enrolment, month). A month is paid at most once per
        -- enrolment and at most once per person and benefit group (highest-amount rule), across every
        -- run. A returned payout's months can be released (by an officer) to be paid again later.
        CREATE TABLE payout_month (
            payout_id uuid NOT NULL REFERENCES payout(id),
            enrolment_id bigint NOT NULL REFERENCES enrolment(id),
            beneficiary_id uuid NOT NULL,  -- the payout's person (checked by payout_amount_matches_months)
            benefit_group text NOT NULL,
            month date NOT NULL CHECK (extract(day FROM month) = 1),
            base_amount bigint NOT NULL CHECK (base_amount > 0),
            coefficient numeric(4, 2) NOT NULL CHECK (coefficient > 0),
            amount bigint NOT NULL CHECK (amount > 0),
            released_at timestamptz,
            released_by text,
            PRIMARY KEY (payout_id, enrolment_id, month)
        );
        CREATE UNIQUE INDEX uq_payout_month_enrolment ON payout_month (enrolment_id, month)
            WHERE released_at IS NULL;
        CREATE UNIQUE INDEX uq_payout_month_group ON payout_month (beneficiary_id, benefit_group, month)
            WHERE released_at IS NULL;

        -- A payout's amount is the sum of its months (all of a payout's months are written by one
        -- statement): checked set-based at the end of every INSERT statement.
        CREATE FUNCTION payout_amount_matches_months() RETURNS trigger LANGUAGE plpgsql AS $$
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
        CREATE TRIGGER payout_month_sum AFTER INSERT ON payout_month REFERENCING NEW TABLE AS inserted
            FOR EACH STATEMENT EXECUTE FUNCTION payout_amount_matches_months();

        -- Money fields of a payout never change once written; only its lifecycle does.
        CREATE FUNCTION payout_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF (SELECT status FROM payout_run WHERE id = OLD.run_id) NOT IN ('draft', 'computing', 'computed') THEN
                    RAISE EXCEPTION 'payout % belongs to an approved run: DELETE refused', OLD.id
                        USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN OLD;
            END IF;
            IF (NEW.id, NEW.run_id, NEW.serial, NEW.reference, NEW.beneficiary_id, NEW.amount, NEW.channel,
                NEW.bank_account_id, NEW.bank_bin, NEW.account_number)
               IS DISTINCT FROM (OLD.id, OLD.run_id, OLD.serial, OLD.reference, OLD.beneficiary_id, OLD.amount,
                                 OLD.channel, OLD.bank_account_id, OLD.bank_bin, OLD.account_number) THEN
                RAISE EXCEPTION 'payout % money fields are immutable', OLD.id USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER payout_guard
            BEFORE UPDATE OF id, run_id, serial, reference, beneficiary_id, amount, channel, bank_account_id,
                             bank_bin, account_number OR DELETE ON payout
            FOR EACH ROW EXECUTE FUNCTION payout_guard();

        CREATE FUNCTION payout_month_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                IF (SELECT r.status FROM payout p JOIN payout_run r ON r.id = p.run_id WHERE p.id = OLD.payout_id)
                   NOT IN ('draft', 'computing', 'computed') THEN
                    RAISE EXCEPTION 'payout_month of an approved run: DELETE refused' USING ERRCODE = 'insufficient_privilege';
                END IF;
                RETURN OLD;
            END IF;
            IF (NEW.payout_id, NEW.enrolment_id, NEW.month, NEW.amount) IS DISTINCT FROM
               (OLD.payout_id, OLD.enrolment_id, OLD.month, OLD.amount)
               OR OLD.released_at IS NOT NULL THEN
                RAISE EXCEPTION 'payout_month is immutable except for one release' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF NEW.released_at IS NOT NULL AND
               (SELECT status FROM payout WHERE id = NEW.payout_id) NOT IN ('returned', 'cancelled') THEN
                RAISE EXCEPTION 'only the months of a returned or cancelled payout can be released'
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER payout_month_guard BEFORE UPDATE OR DELETE ON payout_month
            FOR EACH ROW EXECUTE FUNCTION payout_month_guard();

        -- People a run could not pay, and why (no active bank account, account closed, ...).
        CREATE TABLE payout_run_skip (
            run_id uuid NOT NULL REFERENCES payout_run(id),
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            reason text NOT NULL,
            amount bigint NOT NULL CHECK (amount > 0),
            PRIMARY KEY (run_id, beneficiary_id)
        );

        -- Budget that reached a bank's disbursement account for a programme.
        CREATE TABLE funding (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            programme_code varchar(16) NOT NULL REFERENCES programme(code),
            amount bigint NOT NULL CHECK (amount > 0),
            reference text NOT NULL CHECK (btrim(reference) <> ''),
            value_date date NOT NULL,
            recorded_by text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            transfer_id uuid NOT NULL UNIQUE,
            CONSTRAINT uq_funding_reference UNIQUE (bank_bin, reference)
        );
        CREATE TRIGGER funding_append_only BEFORE UPDATE OR DELETE ON funding
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- Each programme's cron schedule for computing next month's run (20th, 06:00 by default).
        INSERT INTO job_schedule (name, kind, cron, params)
        SELECT 'payouts.compute_next:' || code, 'payouts.compute_next', '0 6 20 * *',
               jsonb_build_object('programme', code)
          FROM programme;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DELETE FROM job_schedule WHERE kind = 'payouts.compute_next';
        DROP TABLE funding; DROP TABLE payout_run_skip; DROP TABLE payout_month;
        DROP FUNCTION payout_month_guard(); DROP FUNCTION payout_amount_matches_months();
        DROP TABLE payout; DROP FUNCTION payout_guard(); DROP SEQUENCE payout_serial; DROP TABLE payout_run;
        """
    )
