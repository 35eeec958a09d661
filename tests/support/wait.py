"""The one polling helper of the tests: wait until an observed value satisfies a condition.

Tests wait on state outside their control (the cluster, another process, an informer's cache run by
the event loop): observe, check, sleep a little, observe again, until a deadline. Every wait has a
timeout, and on expiry the assertion message says what was awaited and shows the last value observed
(an object's ``status`` when it is a Kubernetes object), so a red test explains itself without
re-running it.

Use :func:`wait_for` with an ``observe`` callable returning the thing to look at (a fetched object, a
count, a small dict of the parts a compound condition reads) and a predicate on it; never a bare
boolean when a value can be shown.
"""

from __future__ import annotations

import inspect
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import anyio

T = TypeVar("T")

#: Longest rendering of the last observed value in a failure message.
MAX_DESCRIPTION = 4000
#: Default pause between observations: short for in-process state (a cache, a list of events, a log
#: file), longer when each observation is a request (the ``observe`` callable is asynchronous).
LOCAL_INTERVAL = 0.05
REMOTE_INTERVAL = 0.2


def describe(obj: Any) -> str:
    """Short rendering of an object for failure messages: its status when it has one."""
    if isinstance(obj, dict) and "metadata" in obj:
        meta = obj["metadata"]
        head = f"{obj.get('kind', '?')} {meta.get('namespace', '')}/{meta.get('name', '')}"
        text = f"{head} status={json.dumps(obj.get('status'), indent=1, default=str)}"
    else:
        text = repr(obj)
    return text if len(text) <= MAX_DESCRIPTION else text[:MAX_DESCRIPTION] + f"... ({len(text)} chars)"


async def wait_for(
    observe: Callable[[], Awaitable[T]] | Callable[[], T],
    predicate: Callable[[T], bool] = bool,
    *,
    timeout: float = 30.0,  # noqa: ASYNC109 - a deadline for polling, reported in the failure message
    interval: float | None = None,
    what: str = "condition",
) -> T:
    """Observe until ``predicate(value)`` holds; return that value.

    ``observe`` may be synchronous or asynchronous. An exception from it counts as "not yet" (a 404
    before creation) and is shown if it is still raised at the deadline, except an
    ``AssertionError``, which fails the test at once (a check inside ``observe``, e.g. that a
    process is still alive). ``interval`` defaults to :data:`LOCAL_INTERVAL` for a synchronous
    ``observe`` and :data:`REMOTE_INTERVAL` for an asynchronous one.
    """
    deadline = time.monotonic() + timeout
    last: Any = None
    last_error: Exception | None = None
    pause = interval
    while True:
        try:
            value = observe()
            if inspect.isawaitable(value):
                value = await value
                pause = REMOTE_INTERVAL if interval is None else interval
            elif pause is None:
                pause = LOCAL_INTERVAL
            last, last_error = value, None
            if predicate(value):  # type: ignore[arg-type]
                return value  # type: ignore[return-value]
        except AssertionError:
            raise
        except Exception as e:  # an observation that fails (404 before creation) is just not ready yet
            last_error = e
        if time.monotonic() > deadline:
            detail = f"last error: {last_error!r}" if last_error else f"last observed: {describe(last)}"
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; {detail}")
        await anyio.sleep(REMOTE_INTERVAL if pause is None else pause)
