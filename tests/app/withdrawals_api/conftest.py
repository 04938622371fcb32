"""The withdrawals API's tests share one world: a month sent to a bank and a commune (tests.support.withdrawal_world)."""

import pytest

from tests.support.withdrawal_world import build_sent_month
from tests.support.world import Office


@pytest.fixture
async def office(client, engine):
    return await Office(client, engine).setup()


@pytest.fixture
async def world(office):
    return await build_sent_month(office)

