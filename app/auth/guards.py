"""Route guards: every route declares who may call it; CSRF for cookie sessions."""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from litestar.connection import ASGIConnection
from litestar.handlers.base import BaseRouteHandler

from app.auth.models import Role
from app.auth.service import Principal
from app.http.problems import Problem, bilingual

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
CSRF_HEADER = "x-csrf-token"
CSRF_FORM_FIELD = "_csrf"

Guard = Callable[[ASGIConnection[Any, Any, Any, Any], BaseRouteHandler], Awaitable[None]]


class CsrfRejected(Problem):
    """403 for an unsafe cookie-session request without the session's CSRF token."""


def current_principal(connection: ASGIConnection[Any, Any, Any, Any]) -> Principal | None:
    user = connection.scope.get("user")
    return user if isinstance(user, Principal) else None


async def _check_csrf(connection: ASGIConnection[Any, Any, Any, Any], principal: Principal) -> None:
    if principal.kind != "staff" or connection.scope.get("method", "GET") in SAFE_METHODS:
        return
    token = connection.headers.get(CSRF_HEADER)
    if token is None and "form" in (connection.headers.get("content-type") or ""):
        form = await connection.form()  # type: ignore[attr-defined]
        value = form.get(CSRF_FORM_FIELD)
        token = value if isinstance(value, str) else None
    if not token or not principal.csrf_token or not secrets.compare_digest(token.encode(), principal.csrf_token.encode()):
        raise CsrfRejected(403, bilingual("Thiếu hoặc sai mã CSRF", "Missing or wrong CSRF token"))


def requires(*roles: Role) -> Guard:
    """Guard allowing only the given roles (admin is not implied: say it when meant)."""
    allowed = frozenset(roles)

    async def guard(connection: ASGIConnection[Any, Any, Any, Any], _: BaseRouteHandler) -> None:
        principal = current_principal(connection)
        if principal is None:
            raise Problem(401, bilingual("Cần đăng nhập", "Sign-in required"),
                          headers={"WWW-Authenticate": 'Bearer realm="ansinh"'})
        if principal.role not in allowed:
            raise Problem(403, bilingual("Vai trò của bạn không được phép", "Your role may not do this"))
        await _check_csrf(connection, principal)

    guard.__ansinh_roles__ = allowed  # type: ignore[attr-defined]
    return guard


def declared_roles(handler: BaseRouteHandler) -> frozenset[Role] | None:
    """The roles a handler's guards allow, or None when it has no ansinh guard."""
    for owner in handler.ownership_layers:
        for guard in owner.guards or ():
            roles = getattr(guard, "__ansinh_roles__", None)
            if roles is not None:
                return frozenset(roles)
    return None


STAFF = (Role.admin, Role.officer, Role.approver, Role.commune_staff, Role.auditor)
