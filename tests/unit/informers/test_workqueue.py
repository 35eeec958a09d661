"""The work queue: dedup, per-key serialisation, priorities, delays, rate limiting, shutdown."""

from __future__ import annotations

import itertools
from collections import defaultdict

import anyio
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from informers.ratelimit import ItemExponentialRateLimiter
from informers.workqueue import Priority, WorkQueue


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class RecordingSink:
    def __init__(self) -> None:
        self.adds = self.retries = self.gets = self.dones = 0

    def on_add(self) -> None:
        self.adds += 1

    def on_retry(self) -> None:
        self.retries += 1

    def on_get(self, queued_seconds: float) -> None:
        assert queued_seconds >= 0
        self.gets += 1

    def on_done(self, work_seconds: float) -> None:
        assert work_seconds >= 0
        self.dones += 1


async def get_nowait(q: WorkQueue[str], wait: float = 0.05) -> str | None:
    """get() bounded in time: None if nothing became ready."""
    with anyio.move_on_after(wait):
        return await q.get()
    return None


async def test_deduplicates_waiting_keys() -> None:
    sink = RecordingSink()
    q: WorkQueue[str] = WorkQueue("t", metrics=sink)
    for _ in range(5):
        q.add("a")
    q.add("b")
    assert len(q) == 2
    assert sink.adds == 2
    assert await q.get() == "a"
    assert await q.get() == "b"
    assert await get_nowait(q) is None


async def test_key_added_while_processing_is_requeued_on_done_not_before() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("a")
    assert await q.get() == "a"
    q.add("a")
    assert len(q) == 0, "a key being processed must not be handed out again"
    assert await get_nowait(q) is None
    q.done("a")
    assert len(q) == 1
    assert await q.get() == "a"
    q.done("a")
    assert await get_nowait(q) is None


async def test_normal_priority_is_served_before_low_and_fifo_within_a_level() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    for k in ("l1", "l2", "l3"):
        q.add(k, Priority.LOW)
    q.add("n1")
    q.add("n2")
    q.add("l2")  # promotion of a waiting low-priority key
    got = [await q.get() for _ in range(5)]
    assert got == ["n1", "n2", "l2", "l1", "l3"]


async def test_low_priority_add_does_not_demote() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("x")
    q.add("y", Priority.LOW)
    q.add("x", Priority.LOW)
    assert [await q.get(), await q.get()] == ["x", "y"]


async def test_add_after_keeps_earliest_and_fires_once() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add_after("a", 30.0)
    q.add_after("a", 0.02)
    assert len(q) == 0
    assert await get_nowait(q, 5.0) == "a"
    q.done("a")
    # The superseded 30 s entry and the fired one must not produce another hand-out.
    assert await get_nowait(q, 0.1) is None
    assert q.stats().waiting == 0


async def test_plain_add_supersedes_pending_delayed_add() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add_after("a", 0.05)
    q.add("a")
    assert await q.get() == "a"
    q.done("a")
    assert await get_nowait(q, 0.2) is None


async def test_add_after_of_a_queued_key_is_ignored() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    q.add("a")
    q.add_after("a", 0.01)
    assert await q.get() == "a"
    q.done("a")
    assert await get_nowait(q, 0.1) is None


def test_rate_limited_delays_grow_per_key_and_forget_resets() -> None:
    sink = RecordingSink()
    q: WorkQueue[str] = WorkQueue("t", rate_limiter=ItemExponentialRateLimiter(0.005, 1000.0), metrics=sink)
    delays = [q.add_rate_limited("a") for _ in range(4)]
    assert delays == [0.005, 0.01, 0.02, 0.04]
    assert q.num_requeues("a") == 4
    assert q.add_rate_limited("b") == 0.005, "backoff is per key"
    q.forget("a")
    assert q.num_requeues("a") == 0
    assert q.add_rate_limited("a") == 0.005
    assert sink.retries == 6


def test_default_limiter_caps_at_1000s() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    delays = [q.add_rate_limited("a") for _ in range(30)]
    assert delays[0] == pytest.approx(0.005)
    assert max(delays) == 1000.0


async def test_shutdown_wakes_getters_and_refuses_adds() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    results: list[str | None] = []

    async def getter() -> None:
        results.append(await q.get())

    async with anyio.create_task_group() as tg:
        tg.start_soon(getter)
        tg.start_soon(getter)
        await anyio.wait_all_tasks_blocked()
        q.shutdown()
    assert results == [None, None]
    q.add("a")
    assert len(q) == 0
    assert await q.get() is None


async def test_stats_report_processing_time_with_injected_clock() -> None:
    clock = FakeClock()
    q: WorkQueue[str] = WorkQueue("t", clock=clock)
    q.add("a")
    q.add("b")
    await q.get()
    clock.now += 3.0
    await q.get()
    clock.now += 1.0
    s = q.stats()
    assert (s.depth, s.processing) == (0, 2)
    assert s.longest_running_processor_seconds == pytest.approx(4.0)
    assert s.unfinished_work_seconds == pytest.approx(5.0)


async def test_getters_are_woken_by_add() -> None:
    q: WorkQueue[str] = WorkQueue("t")
    got: list[str | None] = []
    async with anyio.create_task_group() as tg:
        tg.start_soon(lambda: _append(got, q))
        await anyio.wait_all_tasks_blocked()
        q.add("k")
    assert got == ["k"]


async def _append(out: list[str | None], q: WorkQueue[str]) -> None:
    out.append(await q.get())


# -- property: serialisation and "processed after the last add" under concurrency --------------------

KEYS = ["a", "b", "c", "d", "e"]

ops_strategy = st.lists(
    st.tuples(st.sampled_from(KEYS), st.integers(0, 3), st.booleans()),
    min_size=1,
    max_size=80,
)


async def _scenario(ops: list[tuple[str, int, bool]], workers: int, work: list[int]) -> None:
    q: WorkQueue[str] = WorkQueue("prop")
    seq = itertools.count()
    last_add: dict[str, int] = {}
    starts: dict[str, list[int]] = defaultdict(list)
    active: set[str] = set()
    violations: list[str] = []
    work_cycle = itertools.cycle(work or [0])

    async def producer() -> None:
        for key, pauses, low in ops:
            for _ in range(pauses):
                await anyio.lowlevel.checkpoint()
            q.add(key, Priority.LOW if low else Priority.NORMAL)
            last_add[key] = next(seq)

    async def worker() -> None:
        while (key := await q.get()) is not None:
            if key in active:
                violations.append(key)
            active.add(key)
            starts[key].append(next(seq))
            for _ in range(next(work_cycle)):
                await anyio.lowlevel.checkpoint()
            active.discard(key)
            q.done(key)

    with anyio.fail_after(10):
        async with anyio.create_task_group() as tg:
            for _ in range(workers):
                tg.start_soon(worker)
            await producer()
            while len(q) or q.stats().processing:
                await anyio.lowlevel.checkpoint()
            q.shutdown()

    assert not violations, f"keys processed concurrently: {violations}"
    for key, added_at in last_add.items():
        assert starts[key], f"{key} was added but never processed"
        assert max(starts[key]) > added_at, f"{key} not processed after its last add"
    for key, s in starts.items():
        assert len(s) <= sum(1 for k, _, _ in ops if k == key), "a key was processed more often than added"


@settings(max_examples=150, deadline=None)
@given(ops=ops_strategy, workers=st.integers(1, 4), work=st.lists(st.integers(0, 3), max_size=5))
def test_property_never_concurrent_and_processed_after_last_add(
    ops: list[tuple[str, int, bool]], workers: int, work: list[int]
) -> None:
    anyio.run(_scenario, ops, workers, work, backend="asyncio")
