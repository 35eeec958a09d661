"""Polling helpers for tests that wait on state outside the event loop's control (the cluster,
another process): check, sleep a little, check again, until a deadline; failures say what was
awaited."""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable


async def until(predicate: Callable[[], bool], within: float, what: str, interval: float = 0.05) -> None:
    """Wait until ``predicate()`` holds; fail the test after ``within`` seconds."""
    await until_async(_wrap(predicate), within, what, interval)


async def until_async(
    predicate: Callable[[], Awaitable[bool]],
    within: float,
    what: str,
    interval: float = 0.05,
) -> None:
    """Like :func:`until` with an asynchronous predicate (e.g. one that queries the apiserver)."""
    import anyio

    deadline = time.monotonic() + within
    while True:
        if await predicate():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {within}s waiting for {what}")
        await anyio.sleep(interval)


def _wrap(predicate: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def check() -> bool:
        return predicate()

    return check
