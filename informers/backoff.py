"""Exponential backoff with jitter and a reset after a healthy period.

Why: a reflector that reconnects in a tight loop during an apiserver outage turns one failure into a
flood. client-go's reflector backs off 0.8 s x2 up to 30 s with full jitter and forgets its failures
after 2 minutes of health (``tools/cache/reflector.go``); kube-rs copies the same numbers. This module
is the same policy, pure (clock and random source are injectable) so it can be unit-tested.

Guarantees:
    * the n-th consecutive delay (0-based) lies in ``[base, base * (1 + jitter)]`` where
      ``base = min(initial * factor**n, cap)``; with the defaults ``[0.8, 1.6]`` s first, then up to
      ``[30, 60]`` s — *never* below the un-jittered base, so the floor rate is bounded;
    * if more than ``reset_after`` seconds passed since the previous delay was handed out, the
      sequence restarts from ``initial`` (a long healthy run is not punished for an old failure).
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Stateful exponential backoff: call :meth:`next_delay` after each failure.

    Defaults are client-go's reflector values: initial 0.8 s, factor 2, cap 30 s, jitter 1.0,
    reset after 120 s.
    """

    initial: float = 0.8
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 1.0
    reset_after: float = 120.0
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)
    _attempt: int = field(default=0, init=False)
    _last: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.cap < self.initial or self.jitter < 0:
            raise ValueError("backoff needs initial > 0, factor >= 1, cap >= initial, jitter >= 0")

    @property
    def attempt(self) -> int:
        """How many delays have been handed out since the last reset."""
        return self._attempt

    def next_delay(self) -> float:
        """Return the delay to wait before the next attempt and advance the sequence."""
        now = self.clock()
        if self._last is not None and now - self._last > self.reset_after:
            self._attempt = 0
        self._last = now
        base = min(self.initial * self.factor**self._attempt, self.cap)
        if base < self.cap:
            self._attempt += 1
        return base + base * self.jitter * self.rng.random()

    def reset(self) -> None:
        """Forget all failures (call after an attempt that proved the connection healthy)."""
        self._attempt = 0
        self._last = None


def jittered(period: float, factor: float, rng: random.Random | None = None) -> float:
    """Return ``period`` stretched by a uniform random fraction in ``[0, factor]`` (wait.Jitter)."""
    r = (rng or random).random()
    return period + period * factor * r
