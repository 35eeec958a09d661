"""Rate limiters: a token bucket (global), per-item exponential backoff, and their combination.

Why: the work queue must retry a failing key quickly at first and then ever more slowly (5 ms x2ⁿ,
capped at 1000 s, client-go ``ItemExponentialFailureRateLimiter``), while a global token bucket
(10 qps, burst 100, client-go ``BucketRateLimiter``) spreads a storm of retries across many keys.
The client layer reuses :class:`TokenBucket` (through :class:`AsyncTokenBucket`) as its request
limiter, because kubernetes_asyncio has none.

Changed from client-go: the retry bucket's debt is bounded (``max_delay``, 1 s by default). In
client-go every failure reserves a token that is never given back, so during an outage a burst of
keys failing again and again drives the bucket minutes into debt, and after the outage every retry
waits behind that debt (1 000 keys failing for 30 s: retries pushed out by many minutes). Here a
reservation never waits longer than ``max_delay``: demand beyond it is forgotten, so each key is
retried by its own exponential backoff. The apiserver stays protected by the client's request token
bucket (``aimctl.kube.client``), which every retry's requests still pass.

All classes are pure: the clock is injectable, nothing sleeps except :meth:`AsyncTokenBucket.acquire`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Hashable
from typing import Generic, Protocol, TypeVar

import anyio

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)


class TokenBucket:
    """A token bucket in the style of ``golang.org/x/time/rate``: reservations may go into debt.

    :meth:`reserve` takes one token now and returns how long the caller must wait before using it;
    tokens can go negative, so waiting callers are served in reservation order and the long-run rate
    never exceeds ``rate`` per second (plus the initial ``burst``).

    Guarantees: over any window of ``t`` seconds at most ``burst + rate * t`` reservations have a
    zero or elapsed delay. ``rate <= 0`` or ``math.inf`` disables limiting (every delay is 0).
    """

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        if burst < 1:
            raise ValueError("burst must be >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._tokens = float(burst)
        self._last = clock()

    @property
    def unlimited(self) -> bool:
        return self.rate <= 0 or math.isinf(self.rate)

    def _refill(self, now: float) -> None:
        elapsed = max(0.0, now - self._last)
        self._tokens = min(float(self.burst), self._tokens + elapsed * self.rate)
        self._last = now

    def reserve(self, max_delay: float | None = None) -> float:
        """Take one token; return the delay in seconds before the caller may proceed (>= 0).

        With ``max_delay`` the debt never exceeds what ``max_delay`` seconds refill: a reservation
        that would wait longer waits ``max_delay`` and takes no further debt."""
        if self.unlimited:
            return 0.0
        now = self._clock()
        self._refill(now)
        self._tokens -= 1.0
        if self._tokens >= 0:
            return 0.0
        if max_delay is not None and -self._tokens / self.rate > max_delay:
            self._tokens = -max_delay * self.rate
            return max_delay
        return -self._tokens / self.rate

    def tokens(self) -> float:
        """Current token count (negative when in debt); for tests and metrics."""
        if not self.unlimited:
            self._refill(self._clock())
        return self._tokens


class AsyncTokenBucket:
    """A :class:`TokenBucket` that sleeps for its reservation; used to throttle API requests.

    Caveat: a caller cancelled while sleeping has still consumed its token (it is not given back);
    this errs on the side of sending fewer requests.
    """

    def __init__(self, rate: float, burst: int) -> None:
        self.bucket = TokenBucket(rate, burst)

    async def acquire(self) -> float:
        """Wait until one request may be sent; return the time waited (seconds)."""
        delay = self.bucket.reserve()
        if delay > 0:
            await anyio.sleep(delay)
        return delay


class RateLimiter(Protocol[K_contra]):
    """What the work queue needs from a retry limiter (client-go ``TypedRateLimiter``)."""

    def when(self, item: K_contra) -> float:
        """Record one more failure of ``item``; return the delay before retrying it."""
        ...

    def forget(self, item: K_contra) -> None:
        """Forget the failures of ``item`` (after a success or a deliberate requeue)."""
        ...

    def retries(self, item: K_contra) -> int:
        """How many failures of ``item`` are currently remembered."""
        ...


class ItemExponentialRateLimiter(Generic[K]):
    """Per-item exponential backoff: ``base * 2**failures``, capped at ``cap``.

    Defaults 5 ms → 1000 s (client-go); the cap is reached after 18 failures.
    """

    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self._failures: dict[K, int] = {}

    def when(self, item: K) -> float:
        n = self._failures.get(item, 0)
        self._failures[item] = n + 1
        if n > 64:  # 2**64 * base is far above any cap; avoid float overflow
            return self.cap
        return float(min(self.base * 2**n, self.cap))

    def forget(self, item: K) -> None:
        self._failures.pop(item, None)

    def retries(self, item: K) -> int:
        return self._failures.get(item, 0)


class BucketRateLimiter(Generic[K]):
    """The global token bucket as a retry limiter: the delay is the bucket's reservation delay,
    bounded by ``max_delay`` (``None``: unbounded, as client-go; see the module docstring)."""

    def __init__(
        self,
        rate: float = 10.0,
        burst: int = 100,
        clock: Callable[[], float] = time.monotonic,
        max_delay: float | None = None,
    ):
        self.bucket = TokenBucket(rate, burst, clock)
        self.max_delay = max_delay

    def when(self, item: K) -> float:
        return self.bucket.reserve(self.max_delay)

    def forget(self, item: K) -> None:
        return None

    def retries(self, item: K) -> int:
        return 0


class MaxOfRateLimiter(Generic[K]):
    """The worst (longest) delay of several limiters; ``retries`` is the maximum of theirs."""

    def __init__(self, *limiters: RateLimiter[K]) -> None:
        if not limiters:
            raise ValueError("at least one limiter")
        self.limiters = limiters

    def when(self, item: K) -> float:
        return max(limiter.when(item) for limiter in self.limiters)

    def forget(self, item: K) -> None:
        for limiter in self.limiters:
            limiter.forget(item)

    def retries(self, item: K) -> int:
        return max(limiter.retries(item) for limiter in self.limiters)


def default_controller_rate_limiter(
    base: float = 0.005,
    cap: float = 1000.0,
    qps: float = 10.0,
    burst: int = 100,
    clock: Callable[[], float] = time.monotonic,
    bucket_max_delay: float | None = 1.0,
) -> MaxOfRateLimiter[K]:
    """client-go's ``DefaultControllerRateLimiter`` (per item 5 ms → 1000 s, max'd with 10 qps /
    burst 100) with the bucket's delay bounded by ``bucket_max_delay`` (1 s; see the module docstring)."""
    return MaxOfRateLimiter[K](
        ItemExponentialRateLimiter[K](base, cap), BucketRateLimiter[K](qps, burst, clock, bucket_max_delay)
    )
