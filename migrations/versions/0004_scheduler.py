"""Scheduler: job schedules stored in the database and a record of every run (one per fire time).

Revision ID: 0004
Revises: 0001
Create Date: 2026-11-23
"""

from migrations.helpers import execute_script

revision = "0004"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    execute_script(
        """
        CREATE TABLE job_schedule (
            name text PRIMARY KEY,
            kind text NOT NULL,
            cron text NOT NULL,
            timezone text NOT NULL DEFAULT 'Asia/Ho_Chi_Minh',
            params jsonb NOT NULL DEFAULT '{}',
            enabled boolean NOT NULL DEFAULT true,
            updated_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE job_run (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            schedule_name text NOT NULL,
            scheduled_for timestamptz NOT NULL,
            started_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            status text NOT NULL DEFAULT 'running' CHECK (status IN ('running', 'succeeded', 'failed')),
            runner text NOT NULL,
            detail text,
            CONSTRAINT uq_job_run_schedule_name UNIQUE (schedule_name, scheduled_for)
        );
        INSERT INTO job_schedule (name, kind, cron) VALUES
            ('auth.purge_expired_sessions', 'auth.purge_expired_sessions', '15 3 * * *');
        """
    )


def downgrade() -> None:
    execute_script("DROP TABLE job_run; DROP TABLE job_schedule;")
