"""Long operations started by a request and finished after the response (202 + progress)."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import structlog

log = structlog.get_logger()

_running: set[asyncio.Task[Any]] = set()


def spawn(work: Coroutine[Any, Any, Any] | Awaitable[Any], *, name: str,
          on_error: Callable[[BaseException], Awaitable[None]] | None = None) -> asyncio.Task[Any]:
    """Run ``work`` in this process after the response; errors are logged and handed to ``on_error``."""
    context = structlog.contextvars.get_contextvars()

    async def guarded() -> None:
        structlog.contextvars.bind_contextvars(**context, task=name)
        try:
            await work
        except Exception as exc:  # noqa: BLE001 - reported through on_error and the log
            log.error("background_task_failed", task=name, exc_info=exc)
            if on_error is not None:
                await on_error(exc)

    task = asyncio.get_running_loop().create_task(guarded(), name=name)
    _running.add(task)
    task.add_done_callback(_running.discard)
    return task


async def wait_for_background() -> None:
    """Wait until every background task of this process has finished (shutdown)."""
    if _running:
        await asyncio.wait(list(_running))


def running_count() -> int:
    """How many background tasks of this process are still running (from any thread: tests poll it)."""
    return len(_running)
