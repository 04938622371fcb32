"""Migration 0018: payouts and their months keep refusing missing references (checked once per statement
instead of a foreign-key trigger per row), referenced rows cannot be deleted, and the migration goes down
and up again with a computed run in the database."""

from __future__ import annotations

import asyncio
from uuid import UUID

import asyncpg
import pytest

from app.database import downgrade_database, migration_heads, to_libpq_url, upgrade_database
from app.payouts.service.compute import compute_run
from app.registry.fake import BeneficiaryFaker
from tests.support.migrations import versions
from tests.support.world import Office, person

# A copy of an existing payout under a new id, serial and reference, with one column replaced.
_COPY_PAYOUT = """
    INSERT INTO payout (id, run_id, serial, reference, beneficiary_id, commune_code, channel, bank_account_id,
                        bank_bin, account_number, holder_name, amount, status)
    SELECT gen_random_uuid(), {run}, 900000 + serial, 'ZZ' || serial, {person}, commune_code, channel,
           bank_account_id, bank_bin, account_number, holder_name, amount, status
      FROM payout WHERE run_id = $1 ORDER BY serial LIMIT 2"""
_COPY_MONTH = """
    INSERT INTO payout_month (payout_id, enrolment_id, beneficiary_id, benefit_group, month, base_amount, coefficient,
                              amount)
    SELECT {payout}, {enrolment}, beneficiary_id, benefit_group, DATE '2020-01-01', base_amount, coefficient, amount
      FROM payout_month LIMIT 1"""


async def _refusals(url: str, run_id: UUID) -> None:
    conn = await asyncpg.connect(to_libpq_url(url))
    try:
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="beneficiary"):
            await conn.execute(_COPY_PAYOUT.format(run="run_id", person="gen_random_uuid()"), run_id)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="payout_run"):
            await conn.execute(_COPY_PAYOUT.format(run="gen_random_uuid()", person="beneficiary_id"), run_id)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="payout"):
            await conn.execute(_COPY_MONTH.format(payout="gen_random_uuid()", enrolment="enrolment_id"))
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="enrolment"):
            await conn.execute(_COPY_MONTH.format(payout="payout_id", enrolment="-1"))
        # Rows still referenced cannot go (the run is computed, not approved: the payout guard lets it by).
        payout_id = await conn.fetchval("SELECT id FROM payout WHERE run_id = $1 LIMIT 1", run_id)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="payout"):
            await conn.execute("DELETE FROM payout WHERE id = $1", payout_id)
        with pytest.raises(asyncpg.ForeignKeyViolationError, match="payout"):
            await conn.execute("DELETE FROM payout_run WHERE id = $1", run_id)
        assert await conn.fetchval("SELECT count(*) FROM payout WHERE serial >= 900000") == 0
    finally:
        await conn.close()


async def test_missing_references_are_refused_before_and_after_the_migration(client, engine, database_url):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=18)
    await office.import_people([person(faker) for _ in range(3)])
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    await compute_run(engine, run_id, actor="lan.officer")
    await engine.dispose()

    await _refusals(database_url, run_id)
    await asyncio.to_thread(downgrade_database, database_url, "0017")  # the foreign keys come back over the existing rows
    await _refusals(database_url, run_id)
    await asyncio.to_thread(upgrade_database, database_url)
    await _refusals(database_url, run_id)
    conn = await asyncpg.connect(to_libpq_url(database_url))
    try:
        assert await asyncio.to_thread(versions, database_url) == list(migration_heads())
        # A run's payouts and months deleted in order (months first), as cancelling a run does, are let by.
        await conn.execute("DELETE FROM payout_month WHERE payout_id IN (SELECT id FROM payout WHERE run_id = $1)", run_id)
        assert await conn.execute("DELETE FROM payout WHERE run_id = $1", run_id) == "DELETE 3"
    finally:
        await conn.close()
