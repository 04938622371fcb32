"""Reconciliation: statement uploads (kept raw), bank statements, their lines and what each matched.

The database enforces "nothing applied twice": a file (SHA-256) is accepted once, a bank's statement
id is accepted once, a payout is credited by at most one statement line and returned by at most one,
a funding credit is matched by at most one line, a returned payout is reissued at most once.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- Every uploaded statement file, as sent (accepted or rejected), for audit.
        CREATE TABLE statement_upload (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            filename text,
            sha256 bytea NOT NULL CHECK (length(sha256) = 32),
            size bigint NOT NULL CHECK (size >= 0),
            content bytea NOT NULL,
            format text,
            status text NOT NULL CHECK (status IN ('accepted', 'rejected')),
            rejection jsonb,
            uploaded_by text NOT NULL,
            uploaded_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_statement_upload_rejection CHECK ((status = 'rejected') = (rejection IS NOT NULL))
        );
        -- The same file is accepted once (rejected attempts may repeat).
        CREATE UNIQUE INDEX uq_statement_upload_sha256 ON statement_upload (sha256) WHERE status = 'accepted';
        CREATE INDEX ix_statement_upload_bank ON statement_upload (bank_bin, uploaded_at);
        CREATE TRIGGER statement_upload_append_only BEFORE UPDATE OR DELETE ON statement_upload
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- One account statement of a bank's disbursement account (a file may hold several).
        CREATE TABLE bank_statement (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            upload_id uuid NOT NULL REFERENCES statement_upload(id),
            position int NOT NULL CHECK (position >= 1),
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            account text NOT NULL,
            statement_id text NOT NULL,
            sha256 bytea NOT NULL,
            format text NOT NULL,
            currency char(3) NOT NULL CHECK (currency = 'VND'),
            opening_balance bigint NOT NULL,
            closing_balance bigint NOT NULL,
            opening_date date,
            closing_date date,
            line_count int NOT NULL CHECK (line_count >= 0),
            credit_total bigint NOT NULL CHECK (credit_total >= 0),
            debit_total bigint NOT NULL CHECK (debit_total >= 0),
            previous_statement uuid REFERENCES bank_statement(id),
            gap jsonb,
            uploaded_by text NOT NULL,
            uploaded_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_bank_statement_bank_id UNIQUE (bank_bin, statement_id),
            CONSTRAINT uq_bank_statement_file_position UNIQUE (sha256, position),
            CONSTRAINT ck_bank_statement_adds_up CHECK (opening_balance + credit_total - debit_total = closing_balance)
        );
        CREATE INDEX ix_bank_statement_account ON bank_statement (bank_bin, account, closing_date);
        CREATE TRIGGER bank_statement_append_only BEFORE UPDATE OR DELETE ON bank_statement
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- Each line of a statement, its parsed fields, the rule that matched it and its resolution.
        CREATE TABLE statement_line (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            statement_id uuid NOT NULL REFERENCES bank_statement(id),
            line_no int NOT NULL CHECK (line_no >= 1),
            bank_bin varchar(6) NOT NULL,
            booking_date date NOT NULL,
            value_date date,
            booked_at timestamptz,
            amount bigint NOT NULL CHECK (amount <> 0),
            bank_reference text,
            end_to_end_ref text,
            counterparty_account text,
            counterparty_name text,
            description text,
            return_reason text,
            is_reversal boolean NOT NULL DEFAULT false,
            status text NOT NULL CHECK (status IN ('matched', 'returned', 'exception', 'ignored', 'fee')),
            rule text CHECK (rule IN ('reference', 'return', 'bulk', 'account_amount_date', 'funding',
                                      'manual_match', 'bank_fee', 'ignore')),
            exception_reason text,
            payout_count int NOT NULL DEFAULT 0 CHECK (payout_count >= 0),
            funding_id uuid REFERENCES funding(id),
            resolution text CHECK (resolution IN ('manual_match', 'bank_fee', 'ignore', 'reissue')),
            resolution_note text,
            resolved_by text,
            resolved_at timestamptz,
            CONSTRAINT uq_statement_line_no UNIQUE (statement_id, line_no),
            CONSTRAINT ck_statement_line_rule CHECK ((status = 'exception') = (rule IS NULL)),
            CONSTRAINT ck_statement_line_resolution CHECK ((resolution IS NULL) = (resolved_at IS NULL)),
            CONSTRAINT ck_statement_line_ignored_reason CHECK (
                status <> 'ignored' OR btrim(coalesce(resolution_note, '')) <> '')
        );
        CREATE INDEX ix_statement_line_open ON statement_line (id) WHERE resolved_at IS NULL
            AND status IN ('exception', 'returned');
        -- A funding credit is recognised by one line only.
        CREATE UNIQUE INDEX uq_statement_line_funding ON statement_line (funding_id) WHERE funding_id IS NOT NULL;

        -- Parsed fields never change; only the match and the resolution do (and never back to unmatched).
        CREATE FUNCTION statement_line_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'statement_line is history: DELETE refused' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF (NEW.statement_id, NEW.line_no, NEW.bank_bin, NEW.booking_date, NEW.value_date, NEW.booked_at,
                NEW.amount, NEW.bank_reference, NEW.end_to_end_ref, NEW.counterparty_account, NEW.description,
                NEW.return_reason, NEW.is_reversal)
               IS DISTINCT FROM (OLD.statement_id, OLD.line_no, OLD.bank_bin, OLD.booking_date, OLD.value_date,
                OLD.booked_at, OLD.amount, OLD.bank_reference, OLD.end_to_end_ref, OLD.counterparty_account,
                OLD.description, OLD.return_reason, OLD.is_reversal) THEN
                RAISE EXCEPTION 'statement_line % parsed fields are immutable', OLD.id
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.resolved_at IS NOT NULL THEN
                RAISE EXCEPTION 'statement_line % is already resolved', OLD.id USING ERRCODE = 'check_violation';
            END IF;
            IF OLD.status <> 'exception' AND NEW.status <> OLD.status THEN
                RAISE EXCEPTION 'statement_line % is % and cannot become %', OLD.id, OLD.status, NEW.status
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER statement_line_guard BEFORE UPDATE OR DELETE ON statement_line
            FOR EACH ROW EXECUTE FUNCTION statement_line_guard();

        -- Which payouts a line credited or returned: a payout is credited at most once and returned at
        -- most once, whatever the rule (reference, bulk, account/amount/date, manual match).
        -- Rows are written from payouts and lines read in the same transaction: foreign keys would cost two
        -- lookups per row on million-line statements and protect no money rule.
        CREATE TABLE statement_match (
            payout_id uuid NOT NULL,
            effect text NOT NULL CHECK (effect IN ('credit', 'return')),
            line_id bigint NOT NULL,
            rule text NOT NULL,
            transfer_id uuid NOT NULL UNIQUE,
            matched_at timestamptz NOT NULL DEFAULT now(),
            PRIMARY KEY (payout_id, effect)
        );
        CREATE INDEX ix_statement_match_line ON statement_match (line_id);
        CREATE TRIGGER statement_match_append_only BEFORE UPDATE OR DELETE ON statement_match
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- People an officer must look at: a return for a deceased account holder (MD07), and the like.
        CREATE TABLE beneficiary_flag (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            kind text NOT NULL CHECK (kind IN ('deceased_reported_by_bank')),
            payout_id uuid REFERENCES payout(id),
            line_id bigint REFERENCES statement_line(id),
            raised_at timestamptz NOT NULL DEFAULT now(),
            resolved_by text,
            resolved_at timestamptz,
            note text
        );
        CREATE UNIQUE INDEX uq_beneficiary_flag_open ON beneficiary_flag (beneficiary_id, kind)
            WHERE resolved_at IS NULL;

        -- A returned payout paid again, to a corrected account, in a later run (at most once).
        CREATE TABLE payout_reissue (
            returned_payout_id uuid PRIMARY KEY REFERENCES payout(id),
            bank_account_id bigint NOT NULL REFERENCES bank_account(id),
            line_id bigint REFERENCES statement_line(id),
            requested_by text NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT now()
        );
        -- The payout that pays a returned one again (compute links it through payout.reissue_of).
        CREATE UNIQUE INDEX uq_payout_reissue_of ON payout (reissue_of) WHERE reissue_of IS NOT NULL;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP INDEX uq_payout_reissue_of; DROP TABLE payout_reissue; DROP TABLE beneficiary_flag; DROP TABLE statement_match;
        DROP TABLE statement_line; DROP FUNCTION statement_line_guard(); DROP TABLE bank_statement;
        DROP TABLE statement_upload;
        """
    )
