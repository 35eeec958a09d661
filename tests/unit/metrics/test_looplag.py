"""The event-loop lag probe and the garbage-collection timer (real loop, real gc; no cluster)."""

from __future__ import annotations

import gc
import time

import anyio

from metrics.looplag import GcPauses, probe_loop_lag
from metrics.registry import OperatorMetrics


async def test_a_synchronous_step_shows_as_lag() -> None:
    samples: list[tuple[float, float]] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(probe_loop_lag, lambda lag, cpu: samples.append((lag, cpu)), 0.05)
        await anyio.sleep(0.2)
        time.sleep(0.3)  # noqa: ASYNC251 - the loop blocked, off CPU (as when waiting for a core)
        deadline = time.process_time() + 0.3
        while time.process_time() < deadline:  # the loop blocked, on CPU (a synchronous step)
            pass
        await anyio.sleep(0.2)
        tg.cancel_scope.cancel()
    assert samples and all(lag >= 0 and cpu >= 0 for lag, cpu in samples)
    lag, cpu = max(samples)
    assert lag >= 0.5, f"a 600 ms blocking step must show as lag: {samples}"
    assert 0.25 <= cpu <= lag + 0.05, f"the CPU used during it is its busy half: {samples}"


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
        metrics.observe_loop_lag(lag, lag / 5)
    assert metrics.registry.get_sample_value("aim_event_loop_lag_max_seconds") == 0.5
    assert metrics.registry.get_sample_value("aim_event_loop_lag_max_cpu_seconds") == 0.1
    assert metrics.registry.get_sample_value("aim_event_loop_lag_seconds_count") == 3
