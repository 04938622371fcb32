"""Foundation: reference data, staff users, sessions, bank API keys, append-only audit log.

Revision ID: 0001
Revises:
Create Date: 2026-11-23
"""

import sqlalchemy as sa
from alembic import op

from app.registry.reference import read_reference_csv
from migrations.helpers import execute_script

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE province (
            code varchar(2) PRIMARY KEY CHECK (code ~ '^[0-9]{2}$'),
            name text NOT NULL,
            division_type text NOT NULL
        );
        CREATE TABLE commune (
            code varchar(5) PRIMARY KEY CHECK (code ~ '^[0-9]{5}$'),
            name text NOT NULL,
            division_type text NOT NULL,
            province_code varchar(2) NOT NULL REFERENCES province(code)
        );
        CREATE INDEX ix_commune_province ON commune(province_code);
        CREATE TABLE bank (
            bin varchar(6) PRIMARY KEY CHECK (bin ~ '^[0-9]{6}$'),
            short_name text NOT NULL UNIQUE,
            name text NOT NULL
        );
        CREATE TABLE staff_user (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            username varchar(64) NOT NULL,
            full_name text NOT NULL DEFAULT '',
            password_hash text NOT NULL,
            role varchar(32) NOT NULL
                CHECK (role IN ('admin', 'officer', 'approver', 'commune_staff', 'auditor')),
            provinces text[] NOT NULL DEFAULT '{}',
            communes text[] NOT NULL DEFAULT '{}',
            is_active boolean NOT NULL DEFAULT true,
            created_at timestamptz NOT NULL DEFAULT now(),
            updated_at timestamptz NOT NULL DEFAULT now(),
            CONSTRAINT ck_staff_user_commune_scope CHECK (role <> 'commune_staff' OR cardinality(communes) > 0)
        );
        CREATE UNIQUE INDEX uq_staff_user_username ON staff_user (lower(username));
        CREATE TABLE staff_session (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            token_hash bytea NOT NULL UNIQUE,
            csrf_token text NOT NULL,
            user_id bigint NOT NULL REFERENCES staff_user(id),
            created_at timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL,
            revoked_at timestamptz,
            ip text
        );
        CREATE TABLE login_attempt (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            username text NOT NULL,
            ip text,
            success boolean NOT NULL,
            at timestamptz NOT NULL DEFAULT now()
        );
        CREATE INDEX ix_login_attempt_username_at ON login_attempt (lower(username), at);
        CREATE TABLE bank_api_key (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            bank_bin varchar(6) NOT NULL REFERENCES bank(bin),
            prefix varchar(16) NOT NULL UNIQUE,
            key_hash bytea NOT NULL UNIQUE,
            label text NOT NULL DEFAULT '',
            created_by text NOT NULL DEFAULT '',
            created_at timestamptz NOT NULL DEFAULT now(),
            revoked_at timestamptz,
            last_used_at timestamptz
        );
        CREATE TABLE audit_log (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT clock_timestamp(),
            actor text NOT NULL,
            actor_role text,
            action text NOT NULL,
            object_type text NOT NULL,
            object_id text,
            before jsonb,
            after jsonb,
            request_id text
        );
        CREATE INDEX ix_audit_log_object ON audit_log (object_type, object_id);

        -- Shared guard for append-only tables (audit log, ledger history, raw uploads).
        CREATE FUNCTION refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            RAISE EXCEPTION '% is append-only: % refused', TG_TABLE_NAME, TG_OP
                USING ERRCODE = 'insufficient_privilege';
        END;
        $$;
        CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log
            FOR EACH ROW EXECUTE FUNCTION refuse_change();
        CREATE TRIGGER audit_log_no_truncate BEFORE TRUNCATE ON audit_log
            FOR EACH STATEMENT EXECUTE FUNCTION refuse_change();
        """
    )
    op.bulk_insert(
        sa.table("province", sa.column("code"), sa.column("name"), sa.column("division_type")),
        [
            {"code": r["province_code"], "name": r["name"], "division_type": r["division_type"]}
            for r in read_reference_csv("provinces")
        ],
    )
    op.bulk_insert(
        sa.table(
            "commune", sa.column("code"), sa.column("name"), sa.column("division_type"), sa.column("province_code")
        ),
        [
            {
                "code": r["commune_code"],
                "name": r["name"],
                "division_type": r["division_type"],
                "province_code": r["province_code"],
            }
            for r in read_reference_csv("communes")
        ],
    )
    op.bulk_insert(
        sa.table("bank", sa.column("bin"), sa.column("short_name"), sa.column("name")),
        [{"bin": r["bin"], "short_name": r["short_name"], "name": r["name"]} for r in read_reference_csv("banks")],
    )


def downgrade() -> None:
    execute_script(
        """
        DROP TABLE audit_log; DROP FUNCTION refuse_change();
        DROP TABLE bank_api_key; DROP TABLE login_attempt; DROP TABLE staff_session; DROP TABLE staff_user;
        DROP TABLE bank; DROP TABLE commune; DROP TABLE province;
        """
    )
