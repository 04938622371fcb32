"""The ``ansinh`` command line."""

from __future__ import annotations

import asyncio
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import click
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from app.database import (
    make_engine,
    migration_state,
    resolve_database_url,
    session_scope,
    upgrade_database,
)
from app.logging import configure_logging
from app.settings import Settings, load_settings

T = TypeVar("T")


class CliContext:
    """Settings and the resolved database URL, shared by every command."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._url: str | None = None

    @property
    def database_url(self) -> str:
        if self._url is None:
            self._url = resolve_database_url(self.settings)
        return self._url

    def run(self, work: Callable[[AsyncEngine], Awaitable[T]]) -> T:
        """Run ``work(engine)`` in an event loop and dispose the engine after."""

        url = self.database_url  # resolved (embedded server started) before the event loop runs

        async def runner() -> T:
            engine = make_engine(url, pool_size=4)
            try:
                return await work(engine)
            finally:
                await engine.dispose()

        return asyncio.run(runner())

    def in_session(self, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
        """Run ``work(session)`` in one transaction that commits at the end."""

        async def with_session(engine: AsyncEngine) -> T:
            async with session_scope(engine) as session:
                return await work(session)

        return self.run(with_session)


pass_cli = click.make_pass_decorator(CliContext)


def fail(message: str, code: int = 1) -> None:
    """Print one error line and exit (never a traceback for expected failures)."""
    click.echo(f"error: {message}", err=True)
    sys.exit(code)


class DomainGroup(click.Group):
    """The top-level group: domain command modules are imported when the command line is read, so a
    domain module can import this one without a circular import."""

    def _load_domains(self) -> None:
        import importlib

        for module_name in DOMAIN_CLI_MODULES:
            for command in importlib.import_module(module_name).commands:
                if command.name not in self.commands:
                    self.add_command(command)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._load_domains()
        return super().list_commands(ctx)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        self._load_domains()
        return super().get_command(ctx, cmd_name)


@click.group(cls=DomainGroup)
@click.option("--data-dir", type=click.Path(path_type=Path), envvar="ANSINH_DATA_DIR",
              help="Folder for the embedded PostgreSQL and uploads (ignored for the database when DATABASE_URL is set).")
@click.pass_context
def main(ctx: click.Context, data_dir: Path | None) -> None:
    """ansinh: cashless social-security disbursement."""
    settings = load_settings().with_overrides(data_dir=data_dir)
    configure_logging(settings.production)
    ctx.obj = CliContext(settings)


@main.command()
@click.option("--host", default=None, help="Address to listen on (default 127.0.0.1).")
@click.option("--port", type=int, default=None, help="Port (default 8000).")
@click.option("--data-dir", type=click.Path(path_type=Path), default=None, help="Data folder.")
@click.pass_context
def serve(ctx: click.Context, host: str | None, port: int | None, data_dir: Path | None) -> None:
    """Serve the web application and API."""
    import uvicorn

    from app.main import create_app

    cli: CliContext = ctx.obj
    cli.settings = cli.settings.with_overrides(host=host, port=port, data_dir=data_dir)
    state = cli.run(migration_state)
    if not state.up_to_date:
        fail(f"the database is behind the code (at {list(state.current) or 'nothing'}, "
             f"expected {list(state.heads)}): run `ansinh db upgrade` first")
    if cli.settings.demo_on_empty:
        _demo_if_empty(cli)
    app = create_app(cli.settings, cli.database_url)
    click.echo(f"ansinh serving on http://{cli.settings.host}:{cli.settings.port}")
    # uvicorn re-raises SIGTERM after its graceful shutdown; turning it into SystemExit lets the
    # atexit hook stop the embedded PostgreSQL when this was its last user.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    uvicorn.run(app, host=cli.settings.host, port=cli.settings.port, log_config=None, access_log=False)


def _demo_if_empty(cli: CliContext) -> None:
    from app.demo import build_demo, database_is_empty, print_report

    async def work(engine: AsyncEngine) -> None:
        if await database_is_empty(engine):
            click.echo("empty database: building the demo world (ANSINH_DEMO=0 to skip)…")
            print_report(await build_demo(engine), cli.settings.local_url)

    cli.run(work)


@main.command()
@click.option("--beneficiaries", type=int, default=20_000, show_default=True)
@click.option("--months", type=int, default=12, show_default=True)
@click.option("--seed", type=int, default=2026, show_default=True)
@pass_cli
def demo(cli: CliContext, beneficiaries: int, months: int, seed: int) -> None:
    """Fill an empty database with a living demo world through the real code paths."""
    from app.demo import build_demo, print_report

    async def work(engine: AsyncEngine) -> None:
        print_report(await build_demo(engine, beneficiaries=beneficiaries, months=months, seed=seed),
                     cli.settings.local_url)

    cli.run(work)


@main.group()
def db() -> None:
    """Database schema."""


@db.command("upgrade")
@pass_cli
def db_upgrade(cli: CliContext) -> None:
    """Apply every pending migration."""
    upgrade_database(cli.database_url)
    state = cli.run(migration_state)
    click.echo(f"database at {', '.join(state.current)} (up to date)")


@db.command("status")
@pass_cli
def db_status(cli: CliContext) -> None:
    """Show the database revision and whether migrations are pending (exit 1 when behind)."""
    state = cli.run(migration_state)
    click.echo(f"current: {', '.join(state.current) or 'none'}")
    click.echo(f"head:    {', '.join(state.heads)}")
    if state.up_to_date:
        click.echo("up to date")
    else:
        click.echo("behind: run `ansinh db upgrade`")
        sys.exit(1)


@main.group()
def user() -> None:
    """Staff users."""


@user.command("add")
@click.argument("username")
@click.option("--role", required=True,
              type=click.Choice(["admin", "officer", "approver", "commune_staff", "auditor"]))
@click.option("--province", "provinces", multiple=True, help="Province code in scope (repeatable).")
@click.option("--commune", "communes", multiple=True, help="Commune code in scope (repeatable).")
@click.option("--full-name", default="", help="Display name.")
@pass_cli
def user_add(cli: CliContext, username: str, role: str, provinces: tuple[str, ...], communes: tuple[str, ...],
             full_name: str) -> None:
    """Add a staff user; the password is asked for, or read from standard input."""
    from app.auth.models import Role
    from app.auth.service import ScopeError, create_user

    if sys.stdin.isatty():
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    else:
        password = sys.stdin.readline().rstrip("\n")

    async def work(session: AsyncSession) -> Any:
        return await create_user(session, username=username, password=password, role=Role(role),
                                 provinces=provinces, communes=communes, full_name=full_name, actor="cli")

    try:
        created = cli.in_session(work)
    except ScopeError as exc:
        fail(str(exc))
    click.echo(f"user {created.username} ({created.role}) created")


@main.group()
def apikey() -> None:
    """Bank API keys."""


@apikey.command("create")
@click.option("--bank", "bank_bin", required=True, help="Bank BIN (6 digits).")
@click.option("--label", default="", help="What the key is for.")
@pass_cli
def apikey_create(cli: CliContext, bank_bin: str, label: str) -> None:
    """Create a key bound to one bank and print it once."""
    from app.auth.service import ScopeError, create_api_key

    try:
        key = cli.in_session(lambda s: create_api_key(s, bank_bin=bank_bin, label=label, actor="cli"))
    except ScopeError as exc:
        fail(str(exc))
    click.echo(key)


@apikey.command("revoke")
@click.argument("prefix")
@pass_cli
def apikey_revoke(cli: CliContext, prefix: str) -> None:
    """Revoke a key by its prefix (the 8 characters after ``ansinh_``)."""
    from app.auth.service import revoke_api_key

    if not cli.in_session(lambda s: revoke_api_key(s, prefix=prefix, actor="cli")):
        fail(f"no active key with prefix {prefix}")
    click.echo(f"key {prefix} revoked")


# Each domain module listed here exposes ``commands``: a list of click commands or groups.
DOMAIN_CLI_MODULES: tuple[str, ...] = (
    "app.registry.cli", "app.ledger_api.cli", "app.reconciliation_api.cli", "app.payouts.cli",
    "app.withdrawals_api.cli", "app.reports_api.cli",
)

