"""Request id, structured request logs and caller resolution (session cookie or bank API key)."""

from __future__ import annotations

import time
import uuid
from typing import Any

import structlog
from litestar.datastructures import Headers
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from app.auth import service

log = structlog.get_logger()

SESSION_COOKIE = "ansinh_session"
CSRF_COOKIE = "ansinh_csrf"


def _cookie(headers: Headers, name: str) -> str | None:
    for part in (headers.get("cookie") or "").split(";"):
        key, _, value = part.strip().partition("=")
        if key == name and value:
            return value
    return None


class RequestContextMiddleware:
    """Binds request id and caller to the log context and sets ``scope['user']``."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers.from_scope(scope)
        request_id = (headers.get("x-request-id") or uuid.uuid4().hex)[:64]
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        principal = await self._resolve(scope, headers)
        scope["user"] = principal  # type: ignore[typeddict-unknown-key]
        if principal is not None:
            structlog.contextvars.bind_contextvars(user=principal.name, role=principal.role.value)
        started = time.perf_counter()
        status_holder: dict[str, int] = {}

        async def send_wrapper(message: Message) -> None:
            if message["type"] == "http.response.start":
                status_holder["status"] = message["status"]
                message["headers"] = [*message.get("headers", []), (b"x-request-id", request_id.encode())]
            await send(message)

        try:
            await self.app(scope, receive, send_wrapper)
        finally:
            log.info(
                "request",
                method=scope.get("method"),
                path=scope.get("path"),
                status=status_holder.get("status"),
                ms=round((time.perf_counter() - started) * 1000, 1),
            )
            structlog.contextvars.clear_contextvars()

    async def _resolve(self, scope: Scope, headers: Headers) -> service.Principal | None:
        authorization = headers.get("authorization") or ""
        token = _cookie(headers, SESSION_COOKIE)
        if not authorization.lower().startswith("bearer ") and not token:
            return None
        sessionmaker: Any = scope["app"].state.sessionmaker
        async with sessionmaker() as session:
            if authorization.lower().startswith("bearer "):
                principal = await service.principal_from_api_key(session, authorization[7:].strip())
            else:
                principal = await service.principal_from_session_token(session, token or "")
            await session.commit()
        return principal
