"""The tests' polling helper and background-task helper: what they return, and how they fail."""

from __future__ import annotations

import asyncio

import pytest

from tests.support.background import Background, running
from tests.support.wait import wait_for


async def test_wait_for_returns_the_first_value_that_satisfies_the_predicate() -> None:
    seen = iter(range(100))
    assert await wait_for(lambda: next(seen), lambda n: n >= 3, timeout=5, interval=0) == 3


async def test_wait_for_awaits_an_asynchronous_observation() -> None:
    calls = []

    async def observe() -> int:
        calls.append(1)
        return len(calls)

    assert await wait_for(observe, lambda n: n == 2, timeout=5, interval=0) == 2


async def test_a_timeout_names_what_was_awaited_and_the_last_value() -> None:
    with pytest.raises(AssertionError, match=r"timed out after 0.1 s waiting for the answer; last observed: 41"):
        await wait_for(lambda: 41, lambda n: n == 42, timeout=0.1, what="the answer")


async def test_a_kubernetes_object_is_shown_by_its_status() -> None:
    obj = {"kind": "AIMService", "metadata": {"namespace": "ns", "name": "svc"}, "status": {"status": "Pending"}}
    with pytest.raises(AssertionError, match=r'AIMService ns/svc status=\{\n "status": "Pending"\n\}'):
        await wait_for(lambda: obj, lambda o: False, timeout=0.05)


async def test_an_observation_error_is_not_yet_and_is_shown_at_the_deadline() -> None:
    def observe() -> int:
        raise LookupError("404 not found")

    with pytest.raises(AssertionError, match=r"last error: LookupError\('404 not found'\)"):
        await wait_for(observe, timeout=0.05)


async def test_an_assertion_in_the_observation_fails_at_once() -> None:
    calls = []

    def observe() -> int:
        calls.append(1)
        raise AssertionError("the operator exited")

    with pytest.raises(AssertionError, match="the operator exited"):
        await wait_for(observe, timeout=60)
    assert len(calls) == 1, "an assertion is not retried"


async def test_background_stop_cancels_and_awaits_the_task() -> None:
    ended = asyncio.Event()

    async def forever() -> None:
        try:
            await asyncio.Event().wait()
        finally:
            ended.set()

    task = Background(forever(), "forever")
    await asyncio.sleep(0)
    await task.stop()
    assert ended.is_set() and task.task.done()


async def test_background_stop_surfaces_what_the_task_failed_with() -> None:
    async def crash() -> None:
        raise ValueError("simulator crashed")

    task = Background(crash(), "crashing simulator")
    await asyncio.sleep(0)
    with pytest.raises(RuntimeError, match="background task 'crashing simulator' failed") as info:
        await task.stop()
    assert isinstance(info.value.__cause__, ValueError)


async def test_running_stops_the_task_when_the_block_ends() -> None:
    async with running(asyncio.Event().wait(), "waiter") as task:
        await asyncio.sleep(0)
        assert not task.task.done()
    assert task.task.cancelled()
