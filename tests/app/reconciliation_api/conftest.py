"""Shared fixtures of the reconciliation API tests."""

from __future__ import annotations

import pytest

from tests.support.world import Office


@pytest.fixture
async def office(client, engine):
    """An office set up (staff, banks, a programme) on the test's database, driven through the API."""
    return await Office(client, engine).setup()
