"""Migration 0044: a bank account row written without a start date starts on Việt Nam's date whatever the
session's time zone; it goes down and up again."""

from __future__ import annotations

import asyncio

import asyncpg
from alembic import command

from app.database import _alembic_config, migration_heads, to_libpq_url, upgrade_database
from app.vietnam_time import vietnam_today
from tests.support.migrations import versions


def _default_in_zones(url: str, zones: tuple[str, ...]) -> tuple[str, list[object]]:
    """The column's default expression, and the date it gives in sessions of each time zone."""
    async def run() -> tuple[str, list[object]]:
        conn = await asyncpg.connect(to_libpq_url(url))
        try:
            expression = await conn.fetchval(
                """SELECT pg_get_expr(d.adbin, d.adrelid) FROM pg_attrdef d
                     JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
                    WHERE d.adrelid = 'bank_account'::regclass AND a.attname = 'effective_from'""")
            dates = []
            for zone in zones:
                await conn.execute(f"SET TimeZone = '{zone}'")
                dates.append(await conn.fetchval(f"SELECT {expression}"))  # noqa: S608 - the catalogue's own text
            return expression, dates
        finally:
            await conn.close()

    return asyncio.run(run())


# 25 hours apart: at any moment two of these are on different dates, and at most one is on Việt Nam's.
ZONES = ("Pacific/Pago_Pago", "UTC", "Asia/Ho_Chi_Minh", "Pacific/Kiritimati")


def test_account_start_vietnam_date_down_and_up(database_url):
    before = vietnam_today()
    expression, dates = _default_in_zones(database_url, ZONES)
    assert "Asia/Ho_Chi_Minh" in expression
    if vietnam_today() == before:  # (not across Việt Nam's midnight)
        assert dates == [before] * len(ZONES)
    command.downgrade(_alembic_config(database_url), "0043")
    assert versions(database_url) == ["0043"]
    expression, dates = _default_in_zones(database_url, ZONES)
    assert expression == "CURRENT_DATE" and len(set(dates)) > 1  # the session's own date: it differs by zone
    upgrade_database(database_url)
    assert versions(database_url) == list(migration_heads())
    expression, dates = _default_in_zones(database_url, ZONES)
    assert "Asia/Ho_Chi_Minh" in expression and len(set(dates)) == 1
