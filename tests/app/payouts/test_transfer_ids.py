"""Ledger transfer ids of a payout's steps: derived from a computed payout's id bit by bit (unique, in payout
order), and by the earlier name-based derivation for any other payout id, whose transfers already carry it."""

from __future__ import annotations

import uuid
from uuid import UUID

import pytest
from sqlalchemy import text

from app.database import session_scope
from app.payouts.service.compute import compute_run
from app.payouts.service.ledger_steps import (
    TRANSFER_NAMESPACE,
    TRANSFER_STEPS,
    approve_run,
    payout_transfer_id,
)
from app.registry.fake import BeneficiaryFaker
from tests.support.world import Office, person


def test_other_payout_ids_keep_the_name_based_derivation():
    for payout_id in (uuid.uuid4(), UUID("01939a8e-1c2b-7def-8123-456789abcdef")):  # random, version 7
        for step in TRANSFER_STEPS:
            derived = payout_transfer_id(payout_id, step)
            assert derived == uuid.uuid5(TRANSFER_NAMESPACE, f"{step}:{payout_id}")
            assert str(derived) == str(uuid.uuid5(TRANSFER_NAMESPACE, f"{step}:{payout_id}"))


def test_an_unknown_step_is_refused():
    with pytest.raises(KeyError):
        payout_transfer_id(uuid.uuid4(), "refund")


async def test_computed_payouts_give_unique_ordered_transfer_ids(client, engine):
    office = await Office(client, engine).setup()
    faker = BeneficiaryFaker(seed=53)
    await office.import_people([person(faker) for _ in range(12)])
    run_id = UUID((await office.post("/api/payout-runs", json={"programme": "TGXH", "period": "2026-03"})).json()["id"])
    await compute_run(engine, run_id, actor="lan.officer", chunk_size=5, writers=2)
    async with session_scope(engine) as session:
        payouts = list((await session.scalars(text(
            "SELECT id FROM payout WHERE run_id = :r ORDER BY id"), {"r": run_id})).all())
    assert len(payouts) == 12 and {p.version for p in payouts} == {8}
    derived = {step: [payout_transfer_id(p, step) for p in payouts] for step in TRANSFER_STEPS}
    every = [t for ids in derived.values() for t in ids]
    assert len(set(every)) == len(every) == 12 * len(TRANSFER_STEPS)  # one id per payout and step
    for step, ids in derived.items():
        assert ids == sorted(ids), step  # the ledger's id index takes a run's transfers in order
        assert all(t.version == 8 and t.variant == uuid.RFC_4122 for t in ids)
        assert all((t.int >> 35) & 0xF == TRANSFER_STEPS[step] for t in ids)
    # Approval writes exactly these ids.
    await approve_run(engine, run_id, actor="minh.approver", chunk_size=5)
    async with session_scope(engine) as session:
        written = set((await session.scalars(text(
            "SELECT id FROM ledger_transfer WHERE code = 'payout.approve'"))).all())
    assert written == set(derived["approve"])
