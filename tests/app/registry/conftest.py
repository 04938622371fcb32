"""Fixtures for registry tests: signed-in callers and a few known people."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from app.auth.models import Role
from app.registry.fake import citizen_id_for
from tests.support.actors import add_user, sign_in

HANOI_A = "00070"  # Phường Hoàn Kiếm, Hà Nội (01)
HANOI_B = "00073"  # Phường Cửa Nam, Hà Nội (01)
CAO_BANG = "01273"  # Phường Thục Phán, Cao Bằng (04)
VIETCOMBANK = "970436"
AGRIBANK = "970405"


def person_json(name: str = "Nguyễn Thị Hoa", *, born: date = date(1940, 5, 17), sex: str = "female",
                commune: str = HANOI_A, serial: int = 123456, **extra: Any) -> dict[str, Any]:
    """A valid POST /api/beneficiaries body."""
    body: dict[str, Any] = {
        "national_id": citizen_id_for(born, sex, "001", serial), "full_name": name,
        "date_of_birth": born.isoformat(), "sex": sex, "commune_code": commune,
        "address": "Số 1, tổ 2", "phone": "0912345678",
    }
    body.update(extra)
    return body


class Callers:
    """Switches the test client between users (the cookie jar holds one session at a time)."""

    def __init__(self, client: AsyncTestClient[Any], engine: AsyncEngine) -> None:
        self.client = client
        self.engine = engine
        self.created: set[str] = set()

    async def as_user(self, username: str, role: Role, *, communes: tuple[str, ...] = (),
                      provinces: tuple[str, ...] = ()) -> dict[str, str]:
        if username not in self.created:
            await add_user(self.engine, username, role, communes=communes, provinces=provinces)
            self.created.add(username)
        return await sign_in(self.client, username)

    async def officer(self) -> dict[str, str]:
        return await self.as_user("officer", Role.officer)


@pytest.fixture
def callers(client: AsyncTestClient[Any], engine: AsyncEngine) -> Callers:
    return Callers(client, engine)


async def create_person(client: AsyncTestClient[Any], headers: dict[str, str], **kwargs: Any) -> dict[str, Any]:
    """Create a beneficiary through the API and return its detail."""
    response = await client.post("/api/beneficiaries", json=person_json(**kwargs), headers=headers)
    assert response.status_code == 201, response.text
    return response.json()
