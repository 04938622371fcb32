"""Liveness and readiness: database reachable, migrations current."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from app.database import migration_state


@get("/healthz", opt={"public": True}, tags=["health"])
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Database reachability and migration state; 503 when either is not right."""
    try:
        state = await migration_state(request.app.state.engine)
    except Exception as exc:  # noqa: BLE001 - any failure means "not reachable"
        return Response({"status": "error", "database": "unreachable", "detail": type(exc).__name__},
                        status_code=503)
    body = {
        "status": "ok" if state.up_to_date else "error",
        "database": "ok",
        "migrations": "current" if state.up_to_date else "behind",
        "revision": list(state.current),
        "head": list(state.heads),
    }
    return Response(body, status_code=200 if state.up_to_date else 503)
