"""A separate process that computes, approves or sends a run slowly, so a test can SIGKILL it mid-way.

    python -m tests.support.payout_worker compute|approve|send RUN_ID DATABASE_URL ACTOR
"""

from __future__ import annotations

import asyncio
import sys
from uuid import UUID

from app.database import make_engine
from app.payouts.service.compute import compute_run
from app.payouts.service.ledger_steps import approve_run, send_run

STEPS = {"compute": compute_run, "approve": approve_run, "send": send_run}


async def main(step: str, run_id: str, database_url: str, actor: str) -> None:
    engine = make_engine(database_url)

    async def pause(done: int) -> None:
        print(f"chunk done={done}", flush=True)
        await asyncio.sleep(0.3)

    await STEPS[step](engine, UUID(run_id), actor=actor, chunk_size=5, after_chunk=pause)
    await engine.dispose()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
