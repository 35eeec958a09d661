"""Backoff (reflector reconnects) and the rate limiters (work queue retries, client requests)."""

from __future__ import annotations

import random

import pytest

from informers.backoff import Backoff, jittered
from informers.ratelimit import (
    BucketRateLimiter,
    ItemExponentialRateLimiter,
    MaxOfRateLimiter,
    TokenBucket,
    default_controller_rate_limiter,
)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_backoff_doubles_from_0_8_to_30_with_jitter_bounds() -> None:
    clock = Clock()
    b = Backoff(clock=clock, rng=random.Random(7))
    bases = [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]
    for base in bases:
        d = b.next_delay()
        assert base <= d <= 2 * base
        clock.now += 1


def test_backoff_without_jitter_is_exact() -> None:
    b = Backoff(jitter=0.0, clock=Clock())
    assert [b.next_delay() for _ in range(8)] == [0.8, 1.6, 3.2, 6.4, 12.8, 25.6, 30.0, 30.0]


def test_backoff_resets_after_healthy_period() -> None:
    clock = Clock()
    b = Backoff(jitter=0.0, clock=clock)
    for _ in range(5):
        b.next_delay()
    clock.now += 121
    assert b.next_delay() == 0.8
    b.next_delay()
    b.reset()
    assert b.next_delay() == 0.8


def test_backoff_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(initial=0)
    with pytest.raises(ValueError, match="backoff needs"):
        Backoff(initial=5, cap=1)


def test_jittered_stays_within_factor() -> None:
    rng = random.Random(1)
    values = [jittered(2.0, 0.2, rng) for _ in range(1000)]
    assert min(values) >= 2.0
    assert max(values) <= 2.4


def test_token_bucket_burst_then_rate() -> None:
    clock = Clock()
    tb = TokenBucket(rate=10, burst=5, clock=clock)
    assert [tb.reserve() for _ in range(5)] == [0.0] * 5
    # The 6th reservation must wait one token (0.1 s), the 7th two.
    assert tb.reserve() == pytest.approx(0.1)
    assert tb.reserve() == pytest.approx(0.2)
    clock.now += 1.0  # 10 tokens earned, 2 owed
    assert tb.tokens() == pytest.approx(5.0), "refill is capped at burst"


def test_token_bucket_long_run_rate_never_exceeded() -> None:
    clock = Clock()
    tb = TokenBucket(rate=50, burst=10, clock=clock)
    # 1000 callers arriving at once: the last may proceed no earlier than (1000 - burst) / rate.
    delays = [tb.reserve() for _ in range(1000)]
    assert delays[-1] == pytest.approx((1000 - 10) / 50)
    assert delays == sorted(delays)


def test_token_bucket_unlimited() -> None:
    tb = TokenBucket(rate=0, burst=1)
    assert all(tb.reserve() == 0 for _ in range(100))


def test_item_exponential_caps() -> None:
    rl: ItemExponentialRateLimiter[str] = ItemExponentialRateLimiter()
    delays = [rl.when("k") for _ in range(100)]
    assert delays[:3] == [0.005, 0.01, 0.02]
    assert delays[18] == 1000.0
    assert delays[-1] == 1000.0
    assert rl.retries("k") == 100


def test_max_of_uses_the_longest() -> None:
    clock = Clock()
    rl: MaxOfRateLimiter[str] = MaxOfRateLimiter(
        ItemExponentialRateLimiter(0.005, 1000.0), BucketRateLimiter(1.0, 1, clock)
    )
    assert rl.when("a") == 0.005  # the bucket has one token
    assert rl.when("b") == pytest.approx(1.0)  # bucket empty: 1 s beats 5 ms
    rl.forget("a")
    assert rl.retries("a") == 0


def test_default_controller_rate_limiter_values() -> None:
    rl = default_controller_rate_limiter(clock=Clock())
    assert rl.when("x") == 0.005


def simulate_outage(keys: int = 1000, outage: float = 30.0) -> tuple[float, list[tuple[int, float]]]:
    """``keys`` keys fail together (a burst) and keep failing until ``outage`` seconds; each retry is
    scheduled with the default limiter. Returns the time after the outage at which the last key's
    first successful retry is scheduled, and every (failures-before, delay) pair handed out."""
    import heapq

    clock = Clock()
    rl: MaxOfRateLimiter[int] = default_controller_rate_limiter(clock=clock)
    heap = [(0.0, k) for k in range(keys)]
    heapq.heapify(heap)
    delays: list[tuple[int, float]] = []
    last_retry = 0.0
    while heap:
        at, key = heapq.heappop(heap)
        clock.now = at
        if at >= outage:  # the apiserver is back: this retry succeeds
            last_retry = max(last_retry, at - outage)
            continue
        failures = rl.retries(key)
        delay = rl.when(key)
        delays.append((failures, delay))
        heapq.heappush(heap, (at + delay, key))
    return last_retry, delays


def test_after_an_outage_every_key_is_retried_by_its_own_backoff_not_the_global_bucket() -> None:
    recovery, delays = simulate_outage()
    for failures, delay in delays:
        # the per-key delay (5 ms x 2^n) or at most the bucket's bound (1 s): never minutes of debt
        assert delay <= max(0.005 * 2**failures, 1.0), (failures, delay)
    # Per-key backoff alone: a key's delays double, so its first retry after the outage comes
    # within about the outage's length again; client-go's unbounded bucket made it ~100x that.
    assert recovery <= 2 * 30.0


def test_bucket_debt_is_bounded() -> None:
    clock = Clock()
    tb = TokenBucket(rate=10, burst=1, clock=clock)
    assert tb.reserve(max_delay=1.0) == 0.0
    assert [round(tb.reserve(max_delay=1.0), 3) for _ in range(30)][-3:] == [1.0, 1.0, 1.0]
    clock.now += 1.0
    assert tb.tokens() == pytest.approx(0.0), "no debt beyond what max_delay refills"
