"""A return that says the account cannot receive money blocks the account; runs hold people who cannot be paid.

- ``bank_account_block``: one row per bank account a bank returned a payout from with a reason code that
  says the account cannot receive money (AC01 incorrect number, AC04 closed, AC06 blocked, AC13 invalid
  account type, BE01 name does not match, MD07 holder deceased: ``reconciliation.matching.
  ACCOUNT_UNUSABLE_REASONS``), with the reason, the returned payout, the statement line and when the bank
  booked the return. The account row itself is not touched (its history stays as it was); at most one
  block is open per account, and the open ones are the small set a compute anti-joins against. A block is
  released once (an MD07 whose flag an officer dismissed: the bank was wrong) and never deleted. A person
  whose account is blocked is paid again once an officer registers a corrected account (a new row).
- ``payout_run_skip`` gets ``since`` (when the cause arose) and ``detail`` (the bank's return code), so a
  run shows who it held, why and since when.
- Existing returns are backfilled: each account's latest such return, unless the account was credited
  after it, or it was an MD07 whose flag an officer dismissed.

Revision ID: 0021
Revises: 0020
Create Date: 2026-11-30
"""

from migrations.helpers import execute_script

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None

# The codes as of this migration (the backfill); ``reconciliation.matching.ACCOUNT_UNUSABLE_REASONS`` is
# the list the application uses (a test holds them equal).
UNUSABLE_REASONS = ("AC01", "AC04", "AC06", "AC13", "BE01", "MD07")


def upgrade() -> None:
    codes = ", ".join(f"'{code}'" for code in UNUSABLE_REASONS)
    execute_script(
        f"""
        CREATE TABLE bank_account_block (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            bank_account_id bigint NOT NULL REFERENCES bank_account(id),
            reason text NOT NULL CHECK (reason ~ '^[A-Z0-9]{{4}}$'),
            payout_id uuid REFERENCES payout(id),
            line_id bigint REFERENCES statement_line(id),
            returned_at timestamptz NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            released_at timestamptz,
            released_by text,
            release_note text,
            CONSTRAINT ck_bank_account_block_released
                CHECK ((released_at IS NULL) = (released_by IS NULL)
                       AND (released_at IS NULL OR btrim(coalesce(release_note, '')) <> ''))
        );
        -- At most one open block per account: the set a compute holds people against.
        CREATE UNIQUE INDEX uq_bank_account_block_open ON bank_account_block (bank_account_id)
            WHERE released_at IS NULL;
        CREATE INDEX ix_bank_account_block_payout ON bank_account_block (payout_id);

        -- What the bank returned never changes; a block is released once; blocks are never deleted.
        CREATE FUNCTION bank_account_block_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'bank_account_block is history: DELETE refused'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF (NEW.id, NEW.bank_account_id, NEW.reason, NEW.payout_id, NEW.line_id, NEW.returned_at,
                NEW.recorded_at)
               IS DISTINCT FROM (OLD.id, OLD.bank_account_id, OLD.reason, OLD.payout_id, OLD.line_id,
                                 OLD.returned_at, OLD.recorded_at) THEN
                RAISE EXCEPTION 'bank_account_block % : what the bank returned is immutable', OLD.id
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.released_at IS NOT NULL THEN
                RAISE EXCEPTION 'bank_account_block % is already released', OLD.id USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER bank_account_block_guard BEFORE UPDATE OR DELETE ON bank_account_block
            FOR EACH ROW EXECUTE FUNCTION bank_account_block_guard();

        ALTER TABLE payout_run_skip ADD COLUMN since timestamptz, ADD COLUMN detail text;

        INSERT INTO bank_account_block (bank_account_id, reason, payout_id, line_id, returned_at)
        SELECT DISTINCT ON (p.bank_account_id) p.bank_account_id, p.return_reason, p.id, m.line_id,
               coalesce(p.returned_at, now())
          FROM payout p
          LEFT JOIN statement_match m ON m.payout_id = p.id AND m.effect = 'return'
         WHERE p.status = 'returned' AND p.bank_account_id IS NOT NULL AND p.return_reason IN ({codes})
           AND NOT EXISTS (SELECT 1 FROM payout q
                            WHERE q.bank_account_id = p.bank_account_id AND q.credited_at > p.returned_at)
           AND NOT EXISTS (SELECT 1 FROM beneficiary_flag f
                            WHERE f.payout_id = p.id AND f.resolution = 'dismissed')
         ORDER BY p.bank_account_id, p.returned_at DESC NULLS LAST;
        """
    )


def downgrade() -> None:
    execute_script(
        """
        ALTER TABLE payout_run_skip DROP COLUMN since, DROP COLUMN detail;
        DROP TABLE bank_account_block;
        DROP FUNCTION bank_account_block_guard();
        """
    )
