"""The ``ansinh`` command as an administrator uses it: real processes, real PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path

import asyncpg
import httpx
import pytest

from app.database import EMBEDDED_SETTINGS, to_libpq_url
from tests.support.processes import base_env, free_port, run_cli, start_server, stop_server


@pytest.fixture
def empty_database_url(pg_server):
    name = f"cli_{os.getpid()}_{time.monotonic_ns()}"

    async def admin(sql: str) -> None:
        conn = await asyncpg.connect(pg_server.admin_url)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(admin(f'CREATE DATABASE "{name}"'))
    yield pg_server.url_for(name)
    asyncio.run(admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_db_status_upgrade_and_serve_refusing_a_database_that_is_behind(empty_database_url):
    env = base_env(DATABASE_URL=empty_database_url)
    status = run_cli("db", "status", env=env)
    assert status.returncode == 1 and "behind: run `ansinh db upgrade`" in status.stdout
    serve = run_cli("serve", "--port", "0", env=env)
    assert serve.returncode == 1 and "ansinh db upgrade" in serve.stderr
    upgrade = run_cli("db", "upgrade", env=env)
    assert upgrade.returncode == 0, upgrade.stderr
    status = run_cli("db", "status", env=env)
    assert status.returncode == 0 and "up to date" in status.stdout


def test_user_add_reads_password_from_stdin_and_rejects_duplicates(database_url):
    env = base_env(DATABASE_URL=database_url)
    created = run_cli("user", "add", "minh", "--role", "commune_staff", "--commune", "00070", env=env,
                      stdin="a long password\n")
    assert created.returncode == 0, created.stderr
    assert "user minh (commune_staff) created" in created.stdout
    again = run_cli("user", "add", "minh", "--role", "officer", env=env, stdin="a long password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    bad_scope = run_cli("user", "add", "lan", "--role", "commune_staff", env=env, stdin="a long password\n")
    assert bad_scope.returncode == 1 and "--commune" in bad_scope.stderr


def test_apikey_create_prints_the_key_once_and_revoke_works(database_url):
    env = base_env(DATABASE_URL=database_url)
    created = run_cli("apikey", "create", "--bank", "970405", env=env)
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()
    assert key.startswith("ansinh_") and len(key) > 40
    revoked = run_cli("apikey", "revoke", key.split("_")[1], env=env)
    assert revoked.returncode == 0
    unknown_bank = run_cli("apikey", "create", "--bank", "000000", env=env)
    assert unknown_bank.returncode == 1 and "unknown bank" in unknown_bank.stderr


def test_demo_prints_the_sign_in_address_of_the_configured_host_and_port(database_url):
    env = base_env(DATABASE_URL=database_url, ANSINH_HOST="192.0.2.10", ANSINH_PORT="8123")
    done = run_cli("demo", "--beneficiaries", "40", "--months", "1", env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "Demo sign-in / Đăng nhập thử (http://192.0.2.10:8123/login):" in done.stdout
    assert "127.0.0.1:8000" not in done.stdout


def _postmaster_running(pgdata: Path) -> bool:
    pid_file = pgdata / "postmaster.pid"
    if not pid_file.exists():
        return False
    pid = int(pid_file.read_text().splitlines()[0])
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


@pytest.mark.slow
def test_embedded_server_keeps_data_across_restarts_and_commands_attach_to_a_running_serve(tmp_path):
    data_dir = tmp_path / "ansinh-data"
    env = base_env(ANSINH_DATA_DIR=str(data_dir))
    assert run_cli("db", "upgrade", env=env).returncode == 0
    created = run_cli("user", "add", "root", "--role", "admin", env=env, stdin="a long password\n")
    assert created.returncode == 0, created.stderr
    assert not _postmaster_running(data_dir / "pgdata"), "a one-off command left the server running"
    # a restart keeps the data: the same user cannot be added twice
    again = run_cli("user", "add", "root", "--role", "admin", env=env, stdin="a long password\n")
    assert again.returncode == 1 and "already exists" in again.stderr
    # the new data folder got the embedded server's settings once, before its first start
    conf = (data_dir / "pgdata" / "postgresql.conf").read_text()
    assert conf.count("# ansinh: embedded server settings") == 1
    assert all(f"{name} = '{value}'" in conf for name, value in EMBEDDED_SETTINGS.items())

    port = free_port()
    server = start_server(env, port)
    try:
        base = f"http://127.0.0.1:{port}"
        # an administrator adds a user while the service runs; the command attaches and leaves it up
        added = run_cli("user", "add", "lan", "--role", "officer", env=env, stdin="another long pw\n")
        assert added.returncode == 0, added.stderr
        assert httpx.get(f"{base}/healthz", timeout=5).json()["database"] == "ok"
        login = httpx.post(f"{base}/api/auth/login", json={"username": "lan", "password": "another long pw"})
        assert login.status_code == 200 and login.json()["role"] == "officer"
    finally:
        stop_server(server)
    deadline = time.time() + 20
    while _postmaster_running(data_dir / "pgdata") and time.time() < deadline:
        time.sleep(0.25)
    assert not _postmaster_running(data_dir / "pgdata")


def test_libpq_url_conversion():
    assert to_libpq_url("postgresql+asyncpg://u:p@h/db") == "postgresql://u:p@h/db"
