"""Reconciliation queue: returned payouts closed without reissue; bank-reported deaths that close.

- ``payout_return_closure``: a returned payout an officer closed without paying it again (the bank
  reported the holder deceased, MD07, and the like), with the mandatory reason. A returned payout is
  reissued or closed, never both (a trigger on each table, serialised by the payout's row lock), and
  the months of a closed payout can never be released to be paid again (``payout_month_guard``).
  Nothing of it touches the ledger: the return already put the money back in ``bank:K:disbursement``.
- ``statement_line.resolution`` gains ``close_without_reissue`` (a reason is required, as for ``ignore``).
- ``beneficiary_flag`` gets ``resolution`` (``death_recorded`` or ``dismissed``) and ``event_id`` (the
  death that closed it). The database closes a person's open "deceased reported by bank" flag when
  their death is recorded (``beneficiary_event`` of kind ``deceased``), and raises an already-closed
  flag when a bank reports a death that is on record; both write an audit row. A resolved flag never
  changes again, and flags are never deleted. Open flags of people already recorded deceased are
  closed here (nothing used to close them).

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-01
"""

from migrations.helpers import execute_script

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

_OLD_RESOLUTIONS = "'manual_match', 'bank_fee', 'ignore', 'reissue'"

_PAYOUT_MONTH_GUARD = """
        CREATE OR REPLACE FUNCTION payout_month_guard() RETURNS trigger LANGUAGE plpgsql AS $$
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
            END IF;{closed_check}
            RETURN NEW;
        END;
        $$;
"""

_CLOSED_CHECK = """
            IF NEW.released_at IS NOT NULL AND
               EXISTS (SELECT 1 FROM payout_return_closure c WHERE c.returned_payout_id = NEW.payout_id) THEN
                RAISE EXCEPTION 'payout % was closed without reissue: its months cannot be paid again', NEW.payout_id
                    USING ERRCODE = 'check_violation';
            END IF;"""


def upgrade() -> None:
    execute_script(
        """
        -- A returned payout closed without paying it again, and why (an officer's decision, audited).
        CREATE TABLE payout_return_closure (
            returned_payout_id uuid PRIMARY KEY REFERENCES payout(id),
            line_id bigint REFERENCES statement_line(id),
            reason text NOT NULL CHECK (btrim(reason) <> ''),
            closed_by text NOT NULL,
            closed_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TRIGGER payout_return_closure_append_only BEFORE UPDATE OR DELETE ON payout_return_closure
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- A returned payout is reissued or closed, once, never both. The payout's row lock orders two
        -- officers deciding at once: the second sees the first one's row and is refused.
        CREATE FUNCTION returned_payout_decided_once() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            payout_status text;
        BEGIN
            SELECT status INTO payout_status FROM payout WHERE id = NEW.returned_payout_id FOR UPDATE;
            IF payout_status IS DISTINCT FROM 'returned' THEN
                RAISE EXCEPTION 'payout % is not returned (%): nothing to reissue or close',
                    NEW.returned_payout_id, payout_status USING ERRCODE = 'check_violation';
            END IF;
            IF TG_TABLE_NAME = 'payout_reissue' THEN
                IF EXISTS (SELECT 1 FROM payout_return_closure WHERE returned_payout_id = NEW.returned_payout_id) THEN
                    RAISE EXCEPTION 'payout % was closed without reissue: it cannot be reissued',
                        NEW.returned_payout_id USING ERRCODE = 'check_violation';
                END IF;
            ELSIF EXISTS (SELECT 1 FROM payout_reissue WHERE returned_payout_id = NEW.returned_payout_id) THEN
                RAISE EXCEPTION 'payout % is already reissued: it cannot be closed', NEW.returned_payout_id
                    USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER payout_reissue_decided_once BEFORE INSERT ON payout_reissue
            FOR EACH ROW EXECUTE FUNCTION returned_payout_decided_once();
        CREATE TRIGGER payout_return_closure_decided_once BEFORE INSERT ON payout_return_closure
            FOR EACH ROW EXECUTE FUNCTION returned_payout_decided_once();

        ALTER TABLE statement_line DROP CONSTRAINT statement_line_resolution_check;
        ALTER TABLE statement_line
            ADD CONSTRAINT statement_line_resolution_check
                CHECK (resolution IN ('manual_match', 'bank_fee', 'ignore', 'reissue', 'close_without_reissue')),
            ADD CONSTRAINT ck_statement_line_closed_reason
                CHECK (resolution IS DISTINCT FROM 'close_without_reissue' OR btrim(coalesce(resolution_note, '')) <> '');

        -- Flags: how each was resolved, and the recorded death that closed it.
        ALTER TABLE beneficiary_flag
            ADD COLUMN resolution text CHECK (resolution IN ('death_recorded', 'dismissed')),
            ADD COLUMN event_id bigint REFERENCES beneficiary_event(id);
        WITH closed AS (
            UPDATE beneficiary_flag f
               SET resolution = 'death_recorded', event_id = e.id, resolved_at = now(), resolved_by = 'system'
              FROM beneficiary_event e
             WHERE e.beneficiary_id = f.beneficiary_id AND e.kind = 'deceased' AND f.resolved_at IS NULL
            RETURNING f.id, f.beneficiary_id, f.payout_id, f.line_id, e.id AS event_id, e.effective_on)
        INSERT INTO audit_log (actor, action, object_type, object_id, before, after)
        SELECT 'system', 'reconciliation.flag_death_recorded', 'beneficiary_flag', closed.id::text,
               jsonb_build_object('resolved_at', NULL),
               jsonb_build_object('resolution', 'death_recorded', 'event_id', closed.event_id,
                                  'deceased_on', closed.effective_on, 'beneficiary_id', closed.beneficiary_id,
                                  'payout_id', closed.payout_id, 'line_id', closed.line_id, 'by', 'migration 0014')
          FROM closed;
        -- Nothing set resolved_at before; a row changed by hand is kept as dismissed, with a note.
        UPDATE beneficiary_flag
           SET resolution = 'dismissed', resolved_by = coalesce(resolved_by, 'system'),
               note = coalesce(nullif(btrim(note), ''), 'resolved before migration 0014')
         WHERE resolved_at IS NOT NULL AND resolution IS NULL;
        ALTER TABLE beneficiary_flag
            ADD CONSTRAINT ck_beneficiary_flag_resolved
                CHECK ((resolution IS NULL) = (resolved_at IS NULL) AND (resolution IS NULL) = (resolved_by IS NULL)),
            ADD CONSTRAINT ck_beneficiary_flag_death_event
                CHECK ((resolution IS NOT DISTINCT FROM 'death_recorded') = (event_id IS NOT NULL)),
            ADD CONSTRAINT ck_beneficiary_flag_dismissed_reason
                CHECK (resolution IS DISTINCT FROM 'dismissed' OR btrim(coalesce(note, '')) <> '');

        -- What the bank reported never changes; a flag is resolved once; flags are never deleted.
        CREATE FUNCTION beneficiary_flag_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'beneficiary_flag is history: DELETE refused' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF (NEW.id, NEW.beneficiary_id, NEW.kind, NEW.payout_id, NEW.line_id, NEW.raised_at)
               IS DISTINCT FROM (OLD.id, OLD.beneficiary_id, OLD.kind, OLD.payout_id, OLD.line_id, OLD.raised_at) THEN
                RAISE EXCEPTION 'beneficiary_flag % : what the bank reported is immutable', OLD.id
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF OLD.resolved_at IS NOT NULL THEN
                RAISE EXCEPTION 'beneficiary_flag % is already resolved', OLD.id USING ERRCODE = 'check_violation';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER beneficiary_flag_guard BEFORE UPDATE OR DELETE ON beneficiary_flag
            FOR EACH ROW EXECUTE FUNCTION beneficiary_flag_guard();

        -- A bank reports a death that is already on record: the flag is raised closed. The share lock
        -- waits for a death being recorded meanwhile (beneficiary_event_apply locks the person), so a
        -- flag and a death recorded at the same moment never leave an open flag behind.
        CREATE FUNCTION beneficiary_flag_raise() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            death record;
        BEGIN
            PERFORM 1 FROM beneficiary WHERE id = NEW.beneficiary_id FOR SHARE;
            SELECT id, effective_on INTO death FROM beneficiary_event
             WHERE beneficiary_id = NEW.beneficiary_id AND kind = 'deceased';
            IF FOUND THEN
                NEW.resolution := 'death_recorded';
                NEW.event_id := death.id;
                NEW.resolved_at := now();
                NEW.resolved_by := 'system';
                INSERT INTO audit_log (actor, action, object_type, object_id, before, after)
                VALUES ('system', 'reconciliation.flag_death_recorded', 'beneficiary_flag', NEW.id::text, NULL,
                        jsonb_build_object('resolution', 'death_recorded', 'event_id', death.id,
                                           'deceased_on', death.effective_on, 'beneficiary_id', NEW.beneficiary_id,
                                           'payout_id', NEW.payout_id, 'line_id', NEW.line_id,
                                           'by', 'death already recorded'));
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER beneficiary_flag_raise BEFORE INSERT ON beneficiary_flag
            FOR EACH ROW WHEN (NEW.kind = 'deceased_reported_by_bank' AND NEW.resolved_at IS NULL)
            EXECUTE FUNCTION beneficiary_flag_raise();

        -- Recording a death closes the person's open "deceased reported by bank" flags, audited as the
        -- officer who recorded it.
        CREATE FUNCTION beneficiary_flag_close_on_death() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            WITH closed AS (
                UPDATE beneficiary_flag
                   SET resolution = 'death_recorded', event_id = NEW.id, resolved_at = now(),
                       resolved_by = NEW.recorded_by
                 WHERE beneficiary_id = NEW.beneficiary_id AND kind = 'deceased_reported_by_bank'
                   AND resolved_at IS NULL
                RETURNING id, payout_id, line_id)
            INSERT INTO audit_log (actor, action, object_type, object_id, before, after)
            SELECT NEW.recorded_by, 'reconciliation.flag_death_recorded', 'beneficiary_flag', closed.id::text,
                   jsonb_build_object('resolved_at', NULL),
                   jsonb_build_object('resolution', 'death_recorded', 'event_id', NEW.id,
                                      'deceased_on', NEW.effective_on, 'beneficiary_id', NEW.beneficiary_id,
                                      'payout_id', closed.payout_id, 'line_id', closed.line_id)
              FROM closed;
            RETURN NULL;
        END;
        $$;
        CREATE TRIGGER beneficiary_event_closes_flags AFTER INSERT ON beneficiary_event
            FOR EACH ROW WHEN (NEW.kind = 'deceased') EXECUTE FUNCTION beneficiary_flag_close_on_death();
        """
        + _PAYOUT_MONTH_GUARD.format(closed_check=_CLOSED_CHECK)
    )


def downgrade() -> None:
    execute_script(
        _PAYOUT_MONTH_GUARD.format(closed_check="")
        + f"""
        DROP TRIGGER beneficiary_event_closes_flags ON beneficiary_event;
        DROP FUNCTION beneficiary_flag_close_on_death();
        DROP TRIGGER beneficiary_flag_raise ON beneficiary_flag; DROP FUNCTION beneficiary_flag_raise();
        DROP TRIGGER beneficiary_flag_guard ON beneficiary_flag; DROP FUNCTION beneficiary_flag_guard();
        ALTER TABLE beneficiary_flag DROP CONSTRAINT ck_beneficiary_flag_dismissed_reason,
            DROP CONSTRAINT ck_beneficiary_flag_death_event, DROP CONSTRAINT ck_beneficiary_flag_resolved,
            DROP COLUMN event_id, DROP COLUMN resolution;
        ALTER TABLE statement_line DROP CONSTRAINT ck_statement_line_closed_reason,
            DROP CONSTRAINT statement_line_resolution_check;
        -- Fails on lines closed without reissue: 0013 has no way to say it.
        ALTER TABLE statement_line ADD CONSTRAINT statement_line_resolution_check
            CHECK (resolution IN ({_OLD_RESOLUTIONS}));
        DROP TRIGGER payout_reissue_decided_once ON payout_reissue;
        DROP TABLE payout_return_closure;
        DROP FUNCTION returned_payout_decided_once();
        """
    )
