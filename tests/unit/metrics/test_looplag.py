"""The event-loop lag probe and the garbage-collection timer (real loop, real gc; no cluster)."""

from __future__ import annotations

import gc
import time

import anyio

from metrics.looplag import GcPauses, probe_loop_lag
from metrics.registry import OperatorMetrics


async def test_a_synchronous_step_shows_as_lag() -> None:
    lags: list[float] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(probe_loop_lag, lags.append, 0.05)
        await anyio.sleep(0.2)
        time.sleep(0.3)  # noqa: ASYNC251 - a synchronous step on the loop (a large batch without a yield)
        await anyio.sleep(0.2)
        tg.cancel_scope.cancel()
    assert lags and all(lag >= 0 for lag in lags)
    assert max(lags) >= 0.2, f"a 300 ms blocking step must show as lag: {lags}"


def test_full_collections_are_timed_by_generation() -> None:
    metrics = OperatorMetrics()
    pauses = GcPauses(metrics.observe_gc_pause)
    pauses.install()
    try:
        gc.collect()
    finally:
        pauses.uninstall()
    assert pauses not in gc.callbacks
    count = metrics.registry.get_sample_value("aim_gc_pause_seconds_count", {"generation": "2"})
    assert count is not None and count >= 1


def test_the_largest_lag_is_kept() -> None:
    metrics = OperatorMetrics()
    for lag in (0.01, 0.5, 0.02):
        metrics.observe_loop_lag(lag)
    assert metrics.registry.get_sample_value("aim_event_loop_lag_max_seconds") == 0.5
    assert metrics.registry.get_sample_value("aim_event_loop_lag_seconds_count") == 3
