"""Ledger: accounts with running totals, immutable hash-chained transfers, sticky failures.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from migrations.helpers import execute_script

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        r"""
        -- A domain, not a table CHECK: a CHECK is re-evaluated on every UPDATE of the row (the
        -- running totals), a domain only when a code is written. The length is checked apart: a
        -- bounded repetition like {0,199} makes PostgreSQL's regular expression engine crawl.
        CREATE DOMAIN ledger_account_code AS text COLLATE "C"
            CHECK (char_length(VALUE) <= 200 AND VALUE ~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$');
        CREATE TABLE ledger_account (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            code ledger_account_code NOT NULL,
            type text NOT NULL
                CHECK (type IN ('asset', 'liability', 'equity', 'income', 'expense', 'memo')),
            debits_must_not_exceed_credits boolean NOT NULL DEFAULT false,
            credits_must_not_exceed_debits boolean NOT NULL DEFAULT false,
            debits_posted bigint NOT NULL DEFAULT 0 CHECK (debits_posted >= 0),
            credits_posted bigint NOT NULL DEFAULT 0 CHECK (credits_posted >= 0),
            debits_pending bigint NOT NULL DEFAULT 0 CHECK (debits_pending >= 0),
            credits_pending bigint NOT NULL DEFAULT 0 CHECK (credits_pending >= 0),
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ledger_account_one_limit
                CHECK (NOT (debits_must_not_exceed_credits AND credits_must_not_exceed_debits)),
            -- Pending amounts count against the limit, as in TigerBeetle.
            CONSTRAINT ledger_account_debits_within_credits
                CHECK (NOT debits_must_not_exceed_credits OR debits_posted + debits_pending <= credits_posted),
            CONSTRAINT ledger_account_credits_within_debits
                CHECK (NOT credits_must_not_exceed_debits OR credits_posted + credits_pending <= debits_posted)
        ) WITH (fillfactor = 50);  -- room on every page so a batch's total updates stay HOT
        CREATE UNIQUE INDEX ledger_account_code_key ON ledger_account (code);
        CREATE INDEX ledger_account_limited ON ledger_account (id)
            WHERE debits_must_not_exceed_credits OR credits_must_not_exceed_debits;

        -- An account's identity never changes and an account is never removed; only its running
        -- totals move (in create_transfers, in the same transaction as the transfer rows).
        CREATE FUNCTION ledger_account_refuse_identity_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION 'ledger_account %: code, type and limits are immutable', OLD.code
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$;
        CREATE TRIGGER ledger_account_identity_immutable BEFORE UPDATE ON ledger_account
            FOR EACH ROW WHEN (
                OLD.id IS DISTINCT FROM NEW.id OR OLD.code IS DISTINCT FROM NEW.code
                OR OLD.type IS DISTINCT FROM NEW.type
                OR OLD.debits_must_not_exceed_credits IS DISTINCT FROM NEW.debits_must_not_exceed_credits
                OR OLD.credits_must_not_exceed_debits IS DISTINCT FROM NEW.credits_must_not_exceed_debits
                OR OLD.created_at IS DISTINCT FROM NEW.created_at)
            EXECUTE FUNCTION ledger_account_refuse_identity_change();
        CREATE TRIGGER ledger_account_no_delete BEFORE DELETE ON ledger_account
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER ledger_account_no_truncate BEFORE TRUNCATE ON ledger_account
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        CREATE TABLE ledger_transfer (
            id uuid NOT NULL,
            seq bigint NOT NULL CHECK (seq > 0),
            kind text NOT NULL CHECK (kind IN ('single', 'pending', 'post', 'void')),
            debit_account_id bigint NOT NULL,
            credit_account_id bigint NOT NULL,
            amount bigint NOT NULL CHECK (amount > 0),
            pending_id uuid,
            code text NOT NULL CHECK (char_length(code) BETWEEN 1 AND 64),
            reference text CHECK (char_length(reference) BETWEEN 1 AND 140),
            metadata text CHECK (metadata IS JSON OBJECT),
            event_at timestamptz NOT NULL,
            created_at timestamptz NOT NULL,
            hash bytea NOT NULL CHECK (octet_length(hash) = 32),
            CONSTRAINT ledger_transfer_pkey PRIMARY KEY (id),
            CONSTRAINT ledger_transfer_id_not_zero CHECK (id <> '00000000-0000-0000-0000-000000000000'),
            CONSTRAINT ledger_transfer_accounts_differ CHECK (debit_account_id <> credit_account_id),
            CONSTRAINT ledger_transfer_pending_id_iff_resolution
                CHECK ((kind IN ('post', 'void')) = (pending_id IS NOT NULL))
        );
        -- A pending transfer is posted or voided at most once.
        CREATE UNIQUE INDEX ledger_transfer_resolved_once ON ledger_transfer (pending_id)
            WHERE pending_id IS NOT NULL;
        CREATE INDEX ledger_transfer_debit_account ON ledger_transfer (debit_account_id, event_at);
        CREATE INDEX ledger_transfer_credit_account ON ledger_transfer (credit_account_id, event_at);

        CREATE TRIGGER ledger_transfer_append_only BEFORE UPDATE OR DELETE ON ledger_transfer
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER ledger_transfer_no_truncate BEFORE TRUNCATE ON ledger_transfer
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        -- Set-based guard on every inserted batch: a post or void names a pending transfer with
        -- the same accounts and amount. (That both accounts exist is checked by create_transfers,
        -- which updates every account a batch touches and compares the row count, and by verify;
        -- accounts are never deleted. A per-row foreign key would cost more than the insert.)
        CREATE FUNCTION ledger_transfer_check_batch() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            bad record;
        BEGIN
            SELECT n.id, n.pending_id INTO bad
            FROM inserted_transfer n
            LEFT JOIN ledger_transfer p ON p.id = n.pending_id
            WHERE n.pending_id IS NOT NULL
              AND (p.id IS NULL OR p.kind <> 'pending'
                   OR p.debit_account_id <> n.debit_account_id
                   OR p.credit_account_id <> n.credit_account_id
                   OR p.amount <> n.amount)
            LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'ledger_transfer %: % is not a pending transfer with the same accounts and amount',
                    bad.id, bad.pending_id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER ledger_transfer_batch_check AFTER INSERT ON ledger_transfer
            REFERENCING NEW TABLE AS inserted_transfer
            FOR EACH STATEMENT EXECUTE FUNCTION ledger_transfer_check_batch();

        -- Ids whose transfer failed on the ledger's state (a limit, a missing account or
        -- pending transfer): resubmitting the id returns the same failure, never a late success.
        CREATE TABLE ledger_transfer_failure (
            id uuid PRIMARY KEY,
            result text NOT NULL,
            kind text NOT NULL,
            debit_account_id bigint,
            credit_account_id bigint,
            amount bigint,
            pending_id uuid,
            code text NOT NULL,
            reference text,
            failed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER ledger_transfer_failure_append_only BEFORE UPDATE OR DELETE ON ledger_transfer_failure
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER ledger_transfer_failure_no_truncate BEFORE TRUNCATE ON ledger_transfer_failure
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        -- The head of the hash chain. Every batch locks this one row first, which orders the
        -- chain and serialises writers to the ledger.
        CREATE TABLE ledger_chain (
            id smallint PRIMARY KEY CHECK (id = 1),
            last_seq bigint NOT NULL CHECK (last_seq >= 0),
            last_hash bytea NOT NULL CHECK (octet_length(last_hash) = 32),
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        INSERT INTO ledger_chain (id, last_seq, last_hash) VALUES (1, 0, decode(repeat('00', 32), 'hex'));
        CREATE TRIGGER ledger_chain_no_delete BEFORE DELETE ON ledger_chain
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER ledger_chain_no_truncate BEFORE TRUNCATE ON ledger_chain
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();

        -- The bytes a transfer's hash covers, rebuilt from a stored row: its fields in binary COPY
        -- form (int4 length then the value, -1 for NULL), in the order of ledger/batch.py
        -- COPY_COLUMNS. create_transfers builds the same bytes in Python.
        CREATE FUNCTION ledger_text_field(value text) RETURNS bytea
            LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN value IS NULL THEN '\xffffffff'::bytea
                        ELSE int4send(octet_length(convert_to(value, 'UTF8'))) || convert_to(value, 'UTF8') END
        $$;
        CREATE FUNCTION ledger_time_field(moment timestamptz) RETURNS bytea
            LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT '\x00000008'::bytea
                   || int8send(((extract(epoch FROM moment) - 946684800) * 1000000)::bigint)
        $$;
        CREATE FUNCTION ledger_transfer_hash(
            previous_hash bytea, id uuid, seq bigint, debit_account_id bigint, credit_account_id bigint,
            amount bigint, event_at timestamptz, created_at timestamptz, kind text, pending_id uuid, code text,
            reference text, metadata text
        ) RETURNS bytea LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT sha256(
                previous_hash
                || '\x00000010'::bytea || uuid_send(id)
                || '\x00000008'::bytea || int8send(seq)
                || '\x00000008'::bytea || int8send(debit_account_id)
                || '\x00000008'::bytea || int8send(credit_account_id)
                || '\x00000008'::bytea || int8send(amount)
                || ledger_time_field(event_at) || ledger_time_field(created_at)
                || ledger_text_field(kind)
                || CASE WHEN pending_id IS NULL THEN '\xffffffff'::bytea
                        ELSE '\x00000010'::bytea || uuid_send(pending_id) END
                || ledger_text_field(code) || ledger_text_field(reference) || ledger_text_field(metadata))
        $$;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        DROP FUNCTION ledger_transfer_hash(bytea, uuid, bigint, bigint, bigint, bigint, timestamptz, timestamptz,
                                           text, uuid, text, text, text);
        DROP FUNCTION ledger_time_field(timestamptz);
        DROP FUNCTION ledger_text_field(text);
        DROP TABLE ledger_chain;
        DROP TABLE ledger_transfer_failure;
        DROP TABLE ledger_transfer;
        DROP FUNCTION ledger_transfer_check_batch();
        DROP TABLE ledger_account;
        DROP FUNCTION ledger_account_refuse_identity_change();
        DROP DOMAIN ledger_account_code;
        """
    )
