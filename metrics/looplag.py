"""An event-loop lag probe: how late a periodic timer fires.

Why: the operator runs everything — watches, reconciles, lease renewals, the probe servers — on one
event loop. A synchronous step (a large list page decoded and transformed, a burst of buffered watch
events, a full requeue of every cached object) delays every other task by its length; at 10 000
objects such a step can outlast a lease renewal's request timeout. The lag is what the leader
election budget (renew deadline 10 s, request timeout 4 s) has to absorb, so it is measured, not
guessed: ``aim_event_loop_lag_seconds`` (histogram) and ``aim_event_loop_lag_max_seconds``.

Cost: one timer every ``interval`` (100 ms), a histogram observation each — negligible.
"""

from __future__ import annotations

import gc
import time
from collections.abc import Callable

import anyio


async def probe_loop_lag(observe: Callable[[float, float], None], interval: float = 0.1) -> None:
    """Sleep ``interval`` seconds in a loop and report how much later than asked each sleep returned
    and how much CPU time the process used meanwhile (``observe(lag, cpu)``, never negative). A lag
    with as much CPU is a synchronous step of this process; a lag with little CPU is time spent
    waiting for a core (a loaded machine, a CPU limit). Runs until cancelled."""
    while True:
        start, cpu = time.perf_counter(), time.process_time()
        await anyio.sleep(interval)
        observe(max(0.0, time.perf_counter() - start - interval), max(0.0, time.process_time() - cpu))


class GcPauses:
    """Times the interpreter's garbage collections (``gc.callbacks``) and reports each one's length
    and generation to ``observe(generation, seconds)``.

    Why: a full (generation 2) collection traverses every tracked container in the process — every
    dict and list of every cached object — in one synchronous step. With 10 000 services cached that
    step takes seconds on a loaded machine, the largest event-loop lag measured (see the module
    docstring); this makes it visible as ``aim_gc_pause_seconds{generation}``.
    """

    def __init__(self, observe: Callable[[int, float], None]) -> None:
        self.observe = observe
        self._started = 0.0

    def __call__(self, phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif self._started:
            self.observe(int(info.get("generation", 0)), time.perf_counter() - self._started)
            self._started = 0.0

    def install(self) -> None:
        if self not in gc.callbacks:
            gc.callbacks.append(self)

    def uninstall(self) -> None:
        if self in gc.callbacks:
            gc.callbacks.remove(self)
