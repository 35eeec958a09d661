"""Waiting for the cluster to reach a state, with failures that show what the object looked like.

Every wait has a timeout; on expiry the assertion message carries the object's last ``status`` (or
the last value seen), so a red test explains itself without re-running it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")


def describe(obj: Any) -> str:
    """Short rendering of an object for failure messages: its status when it has one."""
    if isinstance(obj, dict) and "metadata" in obj:
        meta = obj["metadata"]
        head = f"{obj.get('kind', '?')} {meta.get('namespace', '')}/{meta.get('name', '')}"
        return f"{head} status={json.dumps(obj.get('status'), indent=1, default=str)}"
    return repr(obj)


async def wait_for(
    fetch: Callable[[], Awaitable[T]],
    predicate: Callable[[T], bool],
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - a deadline for polling, reported in the failure message
    interval: float = 0.2,
    what: str = "condition",
) -> T:
    """Poll ``fetch`` until ``predicate`` holds; return the value. Fetch errors count as 'not yet'."""
    deadline = time.monotonic() + timeout
    last: Any = None
    last_error: Exception | None = None
    while True:
        try:
            last = await fetch()
            last_error = None
            if predicate(last):
                return last
        except Exception as e:  # a fetch that fails (404 before creation) is just not ready yet
            last_error = e
        if time.monotonic() > deadline:
            detail = f"last error: {last_error!r}" if last_error else f"last seen: {describe(last)}"
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}; {detail}")
        await anyio.sleep(interval)
