"""A coroutine run in the background by a fixture or a test, stopped the structured way.

A pytest fixture's setup and teardown run in different tasks, so no task group can span them; a bare
``create_task`` cancelled without being awaited loses what the task failed with (a simulator that
crashed mid-test only shows up as a mysterious timeout) and leaves it running past teardown.
:class:`Background` keeps the task and, in :meth:`Background.stop`, cancels it *and* awaits its end,
re-raising any exception it ended with other than the cancellation itself. Inside one test body, use
the :func:`running` context manager.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Coroutine
from typing import Any


class Background:
    """One task started now on the running loop; :meth:`stop` ends it and surfaces its failure."""

    def __init__(self, coro: Coroutine[Any, Any, Any], name: str) -> None:
        self.name = name
        self.task = asyncio.get_running_loop().create_task(coro, name=name)

    async def stop(self) -> None:
        """Cancel the task, wait until it has ended, and re-raise what it failed with (if anything)."""
        self.task.cancel()
        await asyncio.wait({self.task})  # never raises the task's own cancellation into the caller
        if not self.task.cancelled() and self.task.exception() is not None:
            raise RuntimeError(f"background task {self.name!r} failed") from self.task.exception()


@contextlib.asynccontextmanager
async def running(coro: Coroutine[Any, Any, Any], name: str) -> AsyncIterator[Background]:
    """Run ``coro`` for the body of the ``async with``; stopped (cancelled and awaited) on exit."""
    task = Background(coro, name)
    try:
        yield task
    finally:
        await task.stop()
