"""The Litestar application: wiring of settings, database, auth, routes and errors."""

from __future__ import annotations

from typing import Any

import structlog
from litestar import Litestar
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware
from litestar.plugins.sqlalchemy import AsyncSessionConfig, SQLAlchemyAsyncConfig, SQLAlchemyPlugin

from app.audit.routes import ROUTES as AUDIT_ROUTES
from app.auth.middleware import RequestContextMiddleware
from app.auth.routes import AdminController, AuthController
from app.database import make_engine, make_sessionmaker, migration_state
from app.health import healthz
from app.http.money import TYPE_DECODERS, DongSchemaPlugin
from app.http.openapi import describe_api_routes, openapi_config
from app.ledger_api.routes import LedgerController
from app.logging import configure_logging
from app.payouts.routes import route_handlers as payout_routes
from app.reconciliation_api.routes import route_handlers as reconciliation_routes
from app.registry.routes import ROUTES as REGISTRY_ROUTES
from app.reports_api.routes import ROUTES as REPORT_ROUTES
from app.scheduler.routes import ROUTES as SCHEDULE_ROUTES
from app.scheduler.service import SchedulerService
from app.settings import Settings
from app.uploads_api.routes import ROUTES as UPLOAD_ROUTES
from app.web.errors import EXCEPTION_HANDLERS
from app.web.routes import WEB_ROUTE_HANDLERS
from app.web.templating import template_config
from app.withdrawals_api.routes import ROUTES as WITHDRAWAL_ROUTES

log = structlog.get_logger()

# Each domain adds its controllers here.
ROUTE_HANDLERS: list[Any] = [
    healthz, AuthController, AdminController, LedgerController, *REGISTRY_ROUTES, *payout_routes,
    *reconciliation_routes, *WITHDRAWAL_ROUTES, *REPORT_ROUTES, *UPLOAD_ROUTES, *AUDIT_ROUTES,
    *SCHEDULE_ROUTES,
    *WEB_ROUTE_HANDLERS,
]


class MigrationsBehind(RuntimeError):
    pass


def create_app(settings: Settings, database_url: str) -> Litestar:
    """Build the app for an already-resolved database URL (see ``app.database.resolve_database_url``)."""
    configure_logging(settings.production)
    engine = make_engine(database_url)
    sessionmaker = make_sessionmaker(engine)
    alchemy = SQLAlchemyAsyncConfig(
        engine_instance=engine,
        # Pages answer a successful form post with a 303 redirect: that must commit too.
        before_send_handler="autocommit_include_redirects",
        session_config=AsyncSessionConfig(expire_on_commit=False),
        create_all=False,
    )

    async def check_schema(app: Litestar) -> None:
        state = await migration_state(engine)
        if not state.up_to_date:
            raise MigrationsBehind(
                f"database is at {list(state.current) or 'nothing'}, code expects {list(state.heads)}: "
                "run `ansinh db upgrade`"
            )
        log.info("app_started", revision=list(state.current))

    scheduler = SchedulerService(engine, poll_seconds=settings.scheduler_poll_seconds)

    async def start_scheduler(app: Litestar) -> None:
        if settings.scheduler_enabled:
            scheduler.start()

    async def dispose(app: Litestar) -> None:
        await scheduler.stop()
        await engine.dispose()

    app = Litestar(
        route_handlers=ROUTE_HANDLERS,
        plugins=[SQLAlchemyPlugin(config=alchemy), DongSchemaPlugin()],
        type_decoders=TYPE_DECODERS,  # money in JSON bodies: JSON integers only (app.http.money)
        middleware=[DefineMiddleware(RequestContextMiddleware)],
        # problem+json under /api, friendly pages (and sign-in redirects) elsewhere.
        exception_handlers=EXCEPTION_HANDLERS,  # type: ignore[arg-type]
        template_config=template_config(),
        openapi_config=openapi_config(),
        on_startup=[check_schema, start_scheduler],
        on_shutdown=[dispose],
        state=State({"settings": settings, "engine": engine, "sessionmaker": sessionmaker, "scheduler": scheduler}),
        request_max_body_size=200 * 1024 * 1024,
        debug=False,
    )
    describe_api_routes(app)  # who may call each operation and its problem+json errors, in the OpenAPI document
    return app
