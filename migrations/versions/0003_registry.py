"""Registry: beneficiaries, status history, bank accounts, programmes, rates, enrolments, imports.

Revision ID: 0003
Revises: 0001
Create Date: 2026-11-23
"""

from datetime import date

import sqlalchemy as sa
from alembic import op

from app.registry.reference import read_reference_csv
from migrations.helpers import execute_script

revision = "0003"
down_revision = "0001"
branch_labels = None
depends_on = None

# Social assistance (Decree 20/2021) and the social pension (Decree 176/2025) are paid "the higher of
# the two, not both": they share a benefit group. Every other programme is its own group.
BENEFIT_GROUPS = {"TGXH": "TGXH_HTXH", "HTXH": "TGXH_HTXH"}


def upgrade() -> None:
    birth_codes = ",".join(row["code"] for row in read_reference_csv("birth_provinces"))
    execute_script(
        f"""
        -- Accent folding without the unaccent extension: decompose (NFD), drop the combining marks
        -- U+0300-U+036F (tones, circumflex, breve, horn), map đ/Đ to d, lower-case, single spaces.
        -- (normalize() is ~4x faster than translate() over the ~130 toned letters.)
        CREATE FUNCTION fold_vietnamese(value text) RETURNS text
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT btrim(regexp_replace(
                lower(translate(regexp_replace(normalize(value, NFD), '[\\u0300-\\u036f]', '', 'g'), 'đĐ', 'dd')),
                '\\s+', ' ', 'g'))
        $$;

        CREATE FUNCTION holder_name_matches(full_name text, holder_name text) RETURNS boolean
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT upper(fold_vietnamese(full_name)) = btrim(regexp_replace(holder_name, '\\s+', ' ', 'g'))
        $$;

        -- Citizen ID structure (Decree 137/2015 Art. 13): birth-registration province code (old 63),
        -- digit 4 = century and sex, digits 5-6 = birth year. No checksum exists.
        CREATE FUNCTION citizen_id_is_valid(national_id text, date_of_birth date, sex text) RETURNS boolean
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE WHEN national_id ~ '^[0-9]{{12}}$' THEN
                substr(national_id, 1, 3) = ANY ('{{{birth_codes}}}'::text[])
                AND substr(national_id, 4, 1)::int
                    = (extract(year FROM date_of_birth)::int / 100 - 19) * 2
                      + CASE sex WHEN 'female' THEN 1 WHEN 'male' THEN 0 END
                AND substr(national_id, 5, 2)::int = extract(year FROM date_of_birth)::int % 100
            ELSE false END
        $$;

        -- Money rule: base amount (whole đồng) x coefficient (two decimals), rounded half up.
        -- numeric arithmetic is exact and round() rounds halves away from zero (= up for amounts > 0).
        CREATE FUNCTION monthly_amount(base_amount bigint, coefficient numeric) RETURNS bigint
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT round(base_amount::numeric * coefficient)::bigint
        $$;

        CREATE TABLE programme (
            code varchar(16) PRIMARY KEY CHECK (code ~ '^[A-Z][A-Z0-9_]*$'),
            name_vi text NOT NULL,
            name_en text NOT NULL,
            pay_day smallint NOT NULL CHECK (pay_day BETWEEN 1 AND 28),
            benefit_group text NOT NULL
        );
        CREATE TABLE programme_category (
            programme_code varchar(16) NOT NULL REFERENCES programme(code),
            code varchar(32) NOT NULL CHECK (code ~ '^[A-Z][A-Z0-9_]*$'),
            coefficient numeric(4, 2) NOT NULL CHECK (coefficient > 0),
            name_vi text NOT NULL,
            name_en text NOT NULL,
            CONSTRAINT pk_programme_category PRIMARY KEY (programme_code, code)
        );
        CREATE TABLE programme_rate (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            programme_code varchar(16) NOT NULL REFERENCES programme(code),
            province_code varchar(2) REFERENCES province(code),
            effective_from date NOT NULL CHECK (extract(day FROM effective_from) = 1),
            base_amount bigint NOT NULL CHECK (base_amount > 0),
            legal_basis text NOT NULL DEFAULT '',
            created_by text NOT NULL DEFAULT 'system',
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_programme_rate_effective
                UNIQUE NULLS NOT DISTINCT (programme_code, province_code, effective_from)
        );
        CREATE TRIGGER programme_rate_append_only BEFORE UPDATE OR DELETE ON programme_rate
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- The base amount in force: the higher of the national level and the province's own level,
        -- each the latest entry effective on or before the month (entries start on a 1st).
        CREATE FUNCTION rate_in_force(programme text, province text, month date) RETURNS bigint
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT max(base_amount) FROM (
                (SELECT r.base_amount FROM programme_rate r
                  WHERE r.programme_code = programme AND r.province_code IS NULL AND r.effective_from <= month
                  ORDER BY r.effective_from DESC LIMIT 1)
                UNION ALL
                (SELECT r.base_amount FROM programme_rate r
                  WHERE r.programme_code = programme AND r.province_code = province AND r.effective_from <= month
                  ORDER BY r.effective_from DESC LIMIT 1)
            ) levels
        $$;

        CREATE FUNCTION rates_in_force(month date)
        RETURNS TABLE (programme_code varchar, province_code varchar, base_amount bigint)
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT p.code, pr.code, rate_in_force(p.code, pr.code, month)
              FROM programme p CROSS JOIN province pr
             WHERE rate_in_force(p.code, pr.code, month) IS NOT NULL
        $$;

        CREATE TABLE beneficiary (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            national_id varchar(12) NOT NULL,
            full_name text NOT NULL
                CHECK (full_name = btrim(full_name) AND full_name <> '' AND length(full_name) <= 120),
            search_name text GENERATED ALWAYS AS (fold_vietnamese(full_name)) STORED,
            date_of_birth date NOT NULL CHECK (date_of_birth >= DATE '1900-01-01'),
            sex text NOT NULL CHECK (sex IN ('male', 'female')),
            commune_code varchar(5) NOT NULL REFERENCES commune(code),
            address text NOT NULL DEFAULT '',
            phone varchar(11) CHECK (phone ~ '^0[0-9]{{9,10}}$'),
            channel text NOT NULL DEFAULT 'cash' CHECK (channel IN ('bank', 'cash')),
            status text NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'suspended', 'deceased')),
            deceased_on date,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT uq_beneficiary_national_id UNIQUE (national_id),
            CONSTRAINT ck_beneficiary_citizen_id CHECK (citizen_id_is_valid(national_id, date_of_birth, sex)),
            CONSTRAINT ck_beneficiary_deceased CHECK ((status = 'deceased') = (deceased_on IS NOT NULL))
        );
        CREATE INDEX ix_beneficiary_commune ON beneficiary (commune_code, search_name);
        CREATE INDEX ix_beneficiary_search ON beneficiary USING gin (to_tsvector('simple', search_name));
        CREATE INDEX ix_beneficiary_phone ON beneficiary (phone) WHERE phone IS NOT NULL;

        -- Status history. Rows are never changed; the current status and commune on beneficiary follow
        -- from them and may only be changed by inserting an event.
        CREATE TABLE beneficiary_event (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            kind text NOT NULL CHECK (kind IN ('registered', 'suspended', 'resumed', 'deceased', 'moved')),
            effective_on date NOT NULL,
            -- from_commune and commune_after are copied from beneficiary.commune_code (a foreign key) by
            -- beneficiary_event_apply; only to_commune comes from the caller and is checked here.
            from_commune varchar(5),
            to_commune varchar(5) REFERENCES commune(code),
            status_after text NOT NULL CHECK (status_after IN ('active', 'suspended', 'deceased')),
            commune_after varchar(5) NOT NULL,
            reason text NOT NULL DEFAULT '',
            recorded_by text NOT NULL,
            recorded_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_beneficiary_event_move
                CHECK ((kind = 'moved') = (from_commune IS NOT NULL AND to_commune IS NOT NULL)
                       AND (kind <> 'moved' OR from_commune <> to_commune)),
            CONSTRAINT ck_beneficiary_event_registered CHECK (kind <> 'registered' OR status_after = 'active')
        );
        CREATE UNIQUE INDEX uq_beneficiary_event_registered ON beneficiary_event (beneficiary_id)
            WHERE kind = 'registered';
        CREATE INDEX ix_beneficiary_event_beneficiary ON beneficiary_event (beneficiary_id, effective_on, id);
        CREATE TRIGGER beneficiary_event_append_only BEFORE UPDATE OR DELETE ON beneficiary_event
            FOR EACH ROW EXECUTE FUNCTION refuse_change();

        -- Applies an event to the person: checks the transition, fills status_after/commune_after and
        -- updates beneficiary. 'registered' rows are written together with the person and skip it
        -- (the WHEN clause keeps bulk imports free of a PL/pgSQL call per row).
        CREATE FUNCTION beneficiary_event_apply() RETURNS trigger LANGUAGE plpgsql AS $$
        DECLARE
            person beneficiary%ROWTYPE;
            last_effective date;
        BEGIN
            SELECT * INTO person FROM beneficiary WHERE id = NEW.beneficiary_id FOR UPDATE;
            IF NOT FOUND THEN
                RAISE EXCEPTION 'beneficiary % does not exist', NEW.beneficiary_id
                    USING ERRCODE = 'foreign_key_violation';
            END IF;
            IF person.status = 'deceased' THEN
                RAISE EXCEPTION 'beneficiary % is deceased: no further events', NEW.beneficiary_id
                    USING ERRCODE = 'check_violation';
            END IF;
            -- The registration date does not bound later events: a death may be reported late.
            SELECT max(effective_on) INTO last_effective FROM beneficiary_event
             WHERE beneficiary_id = NEW.beneficiary_id AND kind <> 'registered';
            IF NEW.effective_on < coalesce(last_effective, person.date_of_birth)
               OR NEW.effective_on < person.date_of_birth THEN
                RAISE EXCEPTION 'event on % is before the last event (%) or the birth date',
                    NEW.effective_on, last_effective USING ERRCODE = 'check_violation';
            END IF;
            NEW.status_after := person.status;
            NEW.commune_after := person.commune_code;
            CASE NEW.kind
                WHEN 'suspended' THEN
                    IF person.status <> 'active' THEN
                        RAISE EXCEPTION 'only an active beneficiary can be suspended (is %)', person.status
                            USING ERRCODE = 'check_violation';
                    END IF;
                    NEW.status_after := 'suspended';
                WHEN 'resumed' THEN
                    IF person.status <> 'suspended' THEN
                        RAISE EXCEPTION 'only a suspended beneficiary can be resumed (is %)', person.status
                            USING ERRCODE = 'check_violation';
                    END IF;
                    NEW.status_after := 'active';
                WHEN 'deceased' THEN
                    NEW.status_after := 'deceased';
                WHEN 'moved' THEN
                    NEW.from_commune := person.commune_code;
                    IF NEW.to_commune = person.commune_code THEN
                        RAISE EXCEPTION 'beneficiary % already lives in commune %', NEW.beneficiary_id,
                            NEW.to_commune USING ERRCODE = 'check_violation';
                    END IF;
                    NEW.commune_after := NEW.to_commune;
            END CASE;
            PERFORM set_config('ansinh.applying_event', 'on', true);
            UPDATE beneficiary
               SET status = NEW.status_after,
                   commune_code = NEW.commune_after,
                   deceased_on = CASE WHEN NEW.kind = 'deceased' THEN NEW.effective_on ELSE deceased_on END,
                   updated_at = now()
             WHERE id = NEW.beneficiary_id;
            PERFORM set_config('ansinh.applying_event', 'off', true);
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER beneficiary_event_apply BEFORE INSERT ON beneficiary_event
            FOR EACH ROW WHEN (NEW.kind <> 'registered') EXECUTE FUNCTION beneficiary_event_apply();

        -- A person is registered active; afterwards status, commune and date of death change only while
        -- beneficiary_event_apply runs (it sets ansinh.applying_event for the transaction's statement).
        CREATE FUNCTION beneficiary_status_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'INSERT' THEN
                RAISE EXCEPTION 'a beneficiary is registered active; later status comes from beneficiary_event'
                    USING ERRCODE = 'check_violation';
            END IF;
            IF coalesce(current_setting('ansinh.applying_event', true), 'off') <> 'on' THEN
                RAISE EXCEPTION 'status and commune of a beneficiary change only through beneficiary_event'
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER beneficiary_registered_active BEFORE INSERT ON beneficiary
            FOR EACH ROW WHEN (NEW.status <> 'active' OR NEW.deceased_on IS NOT NULL)
            EXECUTE FUNCTION beneficiary_status_guard();
        CREATE TRIGGER beneficiary_status_guard BEFORE UPDATE ON beneficiary
            FOR EACH ROW WHEN ((NEW.status, NEW.commune_code, NEW.deceased_on)
                               IS DISTINCT FROM (OLD.status, OLD.commune_code, OLD.deceased_on))
            EXECUTE FUNCTION beneficiary_status_guard();

        -- Periods of constant status and commune. A death on day d takes effect on d + 1 (the person was
        -- alive that day); the first period is open to the past, so enrolments that start before the
        -- registration date are payable (arrears). valid_to is exclusive; NULL = still in force.
        CREATE VIEW beneficiary_status_period AS
        SELECT beneficiary_id, event_id, kind, status, commune_code,
               CASE WHEN position = 1 THEN DATE '-infinity' ELSE starts_on END AS valid_from,
               lead(starts_on) OVER (PARTITION BY beneficiary_id ORDER BY position) AS valid_to
          FROM (SELECT e.beneficiary_id, e.id AS event_id, e.kind, e.status_after AS status,
                       e.commune_after AS commune_code,
                       CASE WHEN e.kind = 'deceased' THEN e.effective_on + 1 ELSE e.effective_on END AS starts_on,
                       row_number() OVER (PARTITION BY e.beneficiary_id
                                          ORDER BY e.kind <> 'registered', e.effective_on, e.id) AS position
                  FROM beneficiary_event e) ordered;

        -- People active on at least one day of the month, with the commune of their last active period in it.
        CREATE FUNCTION beneficiaries_active_in(month date)
        RETURNS TABLE (beneficiary_id uuid, commune_code varchar)
        LANGUAGE sql STABLE PARALLEL SAFE AS $$
            SELECT DISTINCT ON (p.beneficiary_id) p.beneficiary_id, p.commune_code
              FROM beneficiary_status_period p
             WHERE p.status = 'active'
               AND p.valid_from < (date_trunc('month', month) + interval '1 month')::date
               AND (p.valid_to IS NULL OR (p.valid_to > date_trunc('month', month)::date
                                           AND p.valid_to > p.valid_from))
             ORDER BY p.beneficiary_id, p.valid_from DESC
        $$;

        CREATE TABLE bank_account (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            account_number varchar(19) NOT NULL CHECK (account_number ~ '^[0-9]{{6,19}}$'),
            holder_name text NOT NULL CHECK (holder_name ~ '^[A-Z0-9]+( [A-Z0-9]+)*$'),
            verification_status text NOT NULL DEFAULT 'unverified'
                CHECK (verification_status IN ('unverified', 'verified', 'name_mismatch', 'closed')),
            effective_from date NOT NULL DEFAULT current_date,
            effective_to date,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_bank_account_period CHECK (effective_to IS NULL OR effective_to >= effective_from)
        );
        -- At most one active account per person, and an account number active for one person only.
        CREATE UNIQUE INDEX uq_bank_account_active_beneficiary ON bank_account (beneficiary_id)
            WHERE effective_to IS NULL;
        CREATE UNIQUE INDEX uq_bank_account_active_number ON bank_account (bank_bin, account_number)
            WHERE effective_to IS NULL;
        CREATE INDEX ix_bank_account_beneficiary ON bank_account (beneficiary_id, effective_from);

        -- An account stays as history: only its verification status may change, and it is closed once.
        CREATE FUNCTION bank_account_guard() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF TG_OP = 'DELETE' THEN
                RAISE EXCEPTION 'bank_account rows are history: DELETE refused' USING ERRCODE = 'insufficient_privilege';
            END IF;
            IF (NEW.beneficiary_id, NEW.bank_bin, NEW.account_number, NEW.holder_name, NEW.effective_from,
                NEW.created_by, NEW.created_at)
               IS DISTINCT FROM (OLD.beneficiary_id, OLD.bank_bin, OLD.account_number, OLD.holder_name,
                                 OLD.effective_from, OLD.created_by, OLD.created_at)
               OR (OLD.effective_to IS NOT NULL AND NEW.effective_to IS DISTINCT FROM OLD.effective_to) THEN
                RAISE EXCEPTION 'bank_account % is history: only verification_status and closing may change', OLD.id
                    USING ERRCODE = 'insufficient_privilege';
            END IF;
            RETURN NEW;
        END;
        $$;
        CREATE TRIGGER bank_account_guard BEFORE UPDATE OR DELETE ON bank_account
            FOR EACH ROW EXECUTE FUNCTION bank_account_guard();

        -- Commune staff ask for an account change; an officer confirms (or rejects) it.
        CREATE TABLE bank_account_request (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            account_number varchar(19) NOT NULL CHECK (account_number ~ '^[0-9]{{6,19}}$'),
            holder_name text NOT NULL CHECK (holder_name ~ '^[A-Z0-9]+( [A-Z0-9]+)*$'),
            note text NOT NULL DEFAULT '',
            status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'confirmed', 'rejected')),
            requested_by text NOT NULL,
            requested_at timestamptz NOT NULL DEFAULT now(),
            decided_by text,
            decided_at timestamptz,
            decision_note text NOT NULL DEFAULT '',
            bank_account_id bigint REFERENCES bank_account(id),
            CONSTRAINT ck_bank_account_request_decided CHECK ((status = 'pending') = (decided_by IS NULL)),
            CONSTRAINT ck_bank_account_request_two_people CHECK (decided_by IS NULL OR decided_by <> requested_by),
            CONSTRAINT ck_bank_account_request_account CHECK ((status = 'confirmed') = (bank_account_id IS NOT NULL))
        );
        CREATE UNIQUE INDEX uq_bank_account_request_pending ON bank_account_request (beneficiary_id)
            WHERE status = 'pending';

        CREATE TABLE enrolment (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            beneficiary_id uuid NOT NULL REFERENCES beneficiary(id),
            programme_code varchar(16) NOT NULL,
            category_code varchar(32) NOT NULL,
            coefficient numeric(4, 2) NOT NULL CHECK (coefficient > 0),
            start_month date NOT NULL CHECK (extract(day FROM start_month) = 1),
            end_month date CHECK (end_month IS NULL
                                  OR (extract(day FROM end_month) = 1 AND end_month >= start_month)),
            decision_number text NOT NULL CHECK (btrim(decision_number) <> ''),
            decision_date date,
            created_by text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT fk_enrolment_category FOREIGN KEY (programme_code, category_code)
                REFERENCES programme_category (programme_code, code),
            CONSTRAINT uq_enrolment_decision UNIQUE (beneficiary_id, programme_code, category_code, start_month)
        );
        CREATE INDEX ix_enrolment_programme ON enrolment (programme_code, start_month);

        -- What each person is paid for a month: active that month, enrolment covering it (end_month is
        -- the last paid month), the rate in force for the commune's province, and only the highest amount
        -- per benefit group (ties: earliest start month, then lowest enrolment id).
        CREATE FUNCTION entitlements_for_month(month date)
        RETURNS TABLE (beneficiary_id uuid, enrolment_id bigint, programme_code varchar, category_code varchar,
                       benefit_group text, commune_code varchar, province_code varchar, base_amount bigint,
                       coefficient numeric, amount bigint)
        LANGUAGE sql STABLE AS $$
            WITH candidate AS (
                SELECT a.beneficiary_id, e.id AS enrolment_id, e.programme_code, e.category_code,
                       p.benefit_group, a.commune_code, c.province_code, r.base_amount, e.coefficient,
                       monthly_amount(r.base_amount, e.coefficient) AS amount, e.start_month
                  FROM beneficiaries_active_in(month) a
                  JOIN enrolment e ON e.beneficiary_id = a.beneficiary_id
                  JOIN programme p ON p.code = e.programme_code
                  JOIN commune c ON c.code = a.commune_code
                  JOIN rates_in_force(month) r
                    ON r.programme_code = e.programme_code AND r.province_code = c.province_code
                 WHERE e.start_month <= date_trunc('month', month)::date
                   AND (e.end_month IS NULL OR e.end_month >= date_trunc('month', month)::date)
            )
            SELECT DISTINCT ON (c.beneficiary_id, c.benefit_group)
                   c.beneficiary_id, c.enrolment_id, c.programme_code, c.category_code, c.benefit_group,
                   c.commune_code, c.province_code, c.base_amount, c.coefficient, c.amount
              FROM candidate c
             ORDER BY c.beneficiary_id, c.benefit_group, c.amount DESC, c.start_month, c.enrolment_id
        $$;

        -- The account at each bank from which payouts leave and into which budget arrives.
        CREATE TABLE disbursement_account (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            account_number varchar(19) NOT NULL CHECK (account_number ~ '^[0-9]{{6,19}}$'),
            registered_by text NOT NULL,
            registered_at timestamptz NOT NULL DEFAULT now(),
            closed_at timestamptz,
            CONSTRAINT uq_disbursement_account_number UNIQUE (bank_bin, account_number)
        );
        CREATE UNIQUE INDEX uq_disbursement_account_active ON disbursement_account (bank_bin)
            WHERE closed_at IS NULL;

        -- Every uploaded import file, kept as sent, with its outcome.
        CREATE TABLE beneficiary_import (
            id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
            filename text NOT NULL,
            size_bytes bigint NOT NULL CHECK (size_bytes >= 0),
            sha256 bytea NOT NULL CHECK (length(sha256) = 32),
            content bytea NOT NULL,
            uploaded_by text NOT NULL,
            uploaded_at timestamptz NOT NULL DEFAULT now(),
            outcome text NOT NULL CHECK (outcome IN ('applied', 'rejected')),
            row_count integer NOT NULL DEFAULT 0,
            created integer NOT NULL DEFAULT 0,
            updated integer NOT NULL DEFAULT 0,
            unchanged integer NOT NULL DEFAULT 0,
            errors jsonb NOT NULL DEFAULT '[]'
        );
        CREATE INDEX ix_beneficiary_import_sha256 ON beneficiary_import (sha256);
        CREATE TRIGGER beneficiary_import_append_only BEFORE UPDATE OR DELETE ON beneficiary_import
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        """
    )
    op.bulk_insert(
        sa.table("programme", sa.column("code"), sa.column("name_vi"), sa.column("name_en"),
                 sa.column("pay_day", sa.SmallInteger), sa.column("benefit_group")),
        [
            {"code": r["programme"], "name_vi": r["name_vi"], "name_en": r["name_en"], "pay_day": int(r["pay_day"]),
             "benefit_group": BENEFIT_GROUPS.get(r["programme"], r["programme"])}
            for r in read_reference_csv("programmes")
        ],
    )
    op.bulk_insert(
        sa.table("programme_category", sa.column("programme_code"), sa.column("code"),
                 sa.column("coefficient", sa.Numeric(4, 2)), sa.column("name_vi"), sa.column("name_en")),
        [
            {"programme_code": r["programme"], "code": r["category"], "coefficient": r["coefficient"],
             "name_vi": r["name_vi"], "name_en": r["name_en"]}
            for r in read_reference_csv("categories")
        ],
    )
    op.bulk_insert(
        sa.table("programme_rate", sa.column("programme_code"), sa.column("province_code"),
                 sa.column("effective_from", sa.Date), sa.column("base_amount", sa.BigInteger),
                 sa.column("legal_basis"), sa.column("created_by")),
        [
            {"programme_code": r["programme"], "province_code": r["province_code"] or None,
             "effective_from": date.fromisoformat(r["effective_from"]), "base_amount": int(r["base_amount"]),
             "legal_basis": r.get("legal_basis") or "", "created_by": "reference data"}
            for r in read_reference_csv("rates")
        ],
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TABLE beneficiary_import;
        DROP TABLE disbursement_account;
        DROP FUNCTION entitlements_for_month(date);
        DROP TABLE enrolment;
        DROP TABLE bank_account_request;
        DROP TABLE bank_account;
        DROP FUNCTION bank_account_guard();
        DROP FUNCTION beneficiaries_active_in(date);
        DROP VIEW beneficiary_status_period;
        DROP TABLE beneficiary_event;
        DROP FUNCTION beneficiary_event_apply();
        DROP TABLE beneficiary;
        DROP FUNCTION beneficiary_status_guard();
        DROP FUNCTION rates_in_force(date);
        DROP FUNCTION rate_in_force(text, text, date);
        DROP TABLE programme_rate;
        DROP TABLE programme_category;
        DROP TABLE programme;
        DROP FUNCTION monthly_amount(bigint, numeric);
        DROP FUNCTION citizen_id_is_valid(text, date, text);
        DROP FUNCTION holder_name_matches(text, text);
        DROP FUNCTION fold_vietnamese(text);
        """
    )
