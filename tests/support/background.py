"""Wait for the work a request left running after its 202 answer."""

from __future__ import annotations

import asyncio

from app.background import running_count


async def background_done() -> None:
    """Wait (up to a minute) until the app's background steps are over; they run on the test client's
    own event loop, in another thread, so they are counted rather than awaited."""
    for _ in range(1200):
        if not running_count():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("background steps still running")
