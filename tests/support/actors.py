"""Create staff users and bank keys and sign them in, the way a real caller would."""

from __future__ import annotations

from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import Role
from app.auth.service import create_api_key, create_user
from app.database import session_scope

PASSWORD = "correct horse battery"


async def add_user(engine: AsyncEngine, username: str, role: Role, *, communes: tuple[str, ...] = (),
                   provinces: tuple[str, ...] = (), full_name: str = "") -> None:
    async with session_scope(engine) as session:
        await create_user(session, username=username, password=PASSWORD, role=role,
                          communes=communes, provinces=provinces, full_name=full_name)


async def sign_in(client: AsyncTestClient[Any], username: str, password: str = PASSWORD) -> dict[str, str]:
    """Sign in on ``client`` (its cookie jar keeps the session); returns headers carrying the CSRF token."""
    response = await client.post("/api/auth/login", json={"username": username, "password": password})
    assert response.status_code == 200, response.text
    return {"X-CSRF-Token": response.json()["csrf_token"]}


async def bank_key(engine: AsyncEngine, bank_bin: str) -> dict[str, str]:
    async with session_scope(engine) as session:
        key = await create_api_key(session, bank_bin=bank_bin)
    return {"Authorization": f"Bearer {key}"}
