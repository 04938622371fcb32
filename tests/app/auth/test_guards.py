"""Every route declares who may call it; only health, sign-in (API and page), the API docs and static
files are public."""

from litestar import Litestar

from app.auth.guards import declared_roles
from app.auth.models import Role
from tests.support.actors import add_user, sign_in

PUBLIC_PATHS = {"/healthz", "/api/auth/login", "/login"}


def _all_handlers(app: Litestar):
    for route in app.routes:
        for handler in getattr(route, "route_handlers", ()):
            if set(getattr(handler, "http_methods", ())) == {"OPTIONS"}:
                continue  # Litestar's automatic OPTIONS responder carries no data
            yield route.path, handler


async def test_every_route_declares_its_roles(client):
    app: Litestar = client.app
    unguarded = []
    count = 0
    for path, handler in _all_handlers(app):
        count += 1
        if path in PUBLIC_PATHS or path.startswith("/schema") or path.startswith("/static"):
            continue
        if declared_roles(handler) is None:
            unguarded.append(path)
    assert count > 5
    assert unguarded == []


async def test_public_routes_are_only_the_allowed_ones(client):
    app: Litestar = client.app
    public = {path for path, handler in _all_handlers(app) if declared_roles(handler) is None}
    assert {p for p in public if not p.startswith("/schema") and not p.startswith("/static")} <= PUBLIC_PATHS


async def test_role_without_permission_gets_403(client, engine):
    await add_user(engine, "thu.auditor", Role.auditor)
    await sign_in(client, "thu.auditor")
    response = await client.get("/api/admin/users")
    assert response.status_code == 403
    assert response.json()["status"] == 403


async def test_anonymous_caller_gets_401(client):
    response = await client.get("/api/admin/users")
    assert response.status_code == 401
