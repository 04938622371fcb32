"""Withdrawals: bank activity and assisted withdrawals, their FIFO allocation to payouts, follow-up notes,
and the undrawn position each person has in the memo ledger.

Revision ID: 0008
Revises: 0006 (0007, bank statements, is built in parallel from 0006; a merge revision joins them)
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0008"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        -- One upload or JSON post of withdrawal activity (or one CLI import): what came and what it gave.
        CREATE TABLE withdrawal_intake (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            source_name text NOT NULL DEFAULT '',
            format text NOT NULL CHECK (format IN ('json', 'csv', 'xlsx')),
            sha256 bytea,
            rows integer NOT NULL CHECK (rows >= 0),
            accepted integer NOT NULL CHECK (accepted >= 0),
            duplicates integer NOT NULL CHECK (duplicates >= 0),
            unknown_accounts integer NOT NULL CHECK (unknown_accounts >= 0),
            uploaded_by text NOT NULL,
            uploaded_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER withdrawal_intake_append_only BEFORE UPDATE OR DELETE ON withdrawal_intake
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- A withdrawal from a beneficiary's account (bank feed) or one recorded by commune staff
        -- (assisted withdrawal, cash handed over). Rows from the bank whose account is unknown are kept
        -- with beneficiary_id NULL, reported, and resolved when the account becomes known.
        CREATE TABLE withdrawal (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            source text NOT NULL CHECK (source IN ('bank', 'commune')),
            intake_id uuid REFERENCES withdrawal_intake(id),
            bank_bin varchar(6) REFERENCES bank(bin),
            bank_reference text CHECK (char_length(bank_reference) BETWEEN 1 AND 64),
            account_number varchar(19),
            beneficiary_id uuid REFERENCES beneficiary(id),
            occurred_at timestamptz NOT NULL,
            amount bigint NOT NULL CHECK (amount > 0),
            channel text NOT NULL CHECK (channel IN
                ('atm', 'counter', 'transfer', 'qr', 'pos', 'agent', 'assisted', 'cash_handover')),
            recorded_by text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            helper_name text,
            note text NOT NULL DEFAULT '',
            CONSTRAINT uq_withdrawal_bank_reference UNIQUE (bank_bin, bank_reference),
            CONSTRAINT ck_withdrawal_bank_fields CHECK (
                source <> 'bank' OR (bank_bin IS NOT NULL AND bank_reference IS NOT NULL AND account_number IS NOT NULL)),
            CONSTRAINT ck_withdrawal_commune_person CHECK (source <> 'commune' OR beneficiary_id IS NOT NULL)
        );
        CREATE INDEX ix_withdrawal_beneficiary ON withdrawal (beneficiary_id, occurred_at, id);
        CREATE INDEX ix_withdrawal_unknown ON withdrawal (bank_bin, account_number) WHERE beneficiary_id IS NULL;
        CREATE INDEX ix_bank_account_number ON bank_account (bank_bin, account_number);

        -- Withdrawals are facts: only an unknown account's person may be filled in, once.
        CREATE FUNCTION withdrawal_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' OR OLD.beneficiary_id IS NOT NULL
               OR (NEW.id, NEW.source, NEW.intake_id, NEW.bank_bin, NEW.bank_reference, NEW.account_number,
                   NEW.occurred_at, NEW.amount, NEW.channel, NEW.recorded_by, NEW.recorded_at, NEW.helper_name,
                   NEW.note)
                  IS DISTINCT FROM
                  (OLD.id, OLD.source, OLD.intake_id, OLD.bank_bin, OLD.bank_reference, OLD.account_number,
                   OLD.occurred_at, OLD.amount, OLD.channel, OLD.recorded_by, OLD.recorded_at, OLD.helper_name,
                   OLD.note) THEN
                RAISE EXCEPTION 'withdrawal % is immutable (only an unknown account may be resolved)', OLD.id
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER withdrawal_guard BEFORE UPDATE OR DELETE ON withdrawal
            FOR EACH ROW EXECUTE FUNCTION withdrawal_guard();

        -- The FIFO allocation of withdrawals to payouts, recomputed per person from scratch (so it is
        -- derived data: reproducible from withdrawal and payout at any time). effective_at is when the
        -- money counts as withdrawn: the withdrawal's time, or the payout's credit for money withdrawn
        -- before it arrived. No foreign keys: the rows are rewritten in bulk from withdrawal and payout
        -- (a lookup per row would double the cost of reallocating a million people).
        CREATE TABLE withdrawal_allocation (
            withdrawal_id bigint NOT NULL,
            payout_id uuid NOT NULL,
            beneficiary_id uuid NOT NULL,
            amount bigint NOT NULL CHECK (amount > 0),
            effective_at timestamptz NOT NULL,
            PRIMARY KEY (payout_id, withdrawal_id)
        );
        CREATE INDEX ix_withdrawal_allocation_beneficiary ON withdrawal_allocation (beneficiary_id);

        -- What has been posted to the memo ledger per person (undrawn:B <-> undrawn:control): the
        -- amount credited to them and the amount drawn; the ledger is brought to new totals by new entries.
        CREATE TABLE undrawn_position (
            beneficiary_id uuid PRIMARY KEY REFERENCES beneficiary(id),
            credited bigint NOT NULL CHECK (credited >= 0),
            drawn bigint NOT NULL CHECK (drawn >= 0 AND drawn <= credited),
            updated_at timestamptz NOT NULL DEFAULT now()
        );

        -- Visits, calls and notes of commune staff about a person who has not withdrawn.
        CREATE TABLE follow_up_note (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            kind text NOT NULL CHECK (kind IN ('visit', 'call', 'note')),
            at timestamptz NOT NULL,
            recorded_by text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            text text NOT NULL DEFAULT '' CHECK (char_length(text) <= 2000)
        );
        CREATE INDEX ix_follow_up_note_beneficiary ON follow_up_note (beneficiary_id, at);
        CREATE TRIGGER follow_up_note_append_only BEFORE UPDATE OR DELETE ON follow_up_note
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- The follow-up list reads a commune's payouts that reached people. No index names
        -- first_withdrawal_at or withdrawn_at (not even in a predicate), and payout pages keep free room,
        -- so that reallocating a million people can update those two columns as HOT updates.
        CREATE INDEX ix_payout_commune_arrived ON payout (commune_code) WHERE status IN ('credited', 'sent');
        ALTER TABLE payout SET (fillfactor = 70);
        """
    )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE payout RESET (fillfactor); DROP INDEX ix_payout_commune_arrived;
        DROP TABLE follow_up_note; DROP TABLE undrawn_position; DROP TABLE withdrawal_allocation;
        DROP TABLE withdrawal; DROP FUNCTION withdrawal_guard(); DROP TABLE withdrawal_intake;
        DROP INDEX ix_bank_account_number;
        """
    )
