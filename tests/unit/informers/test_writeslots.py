"""WriteSlots: a bounded number of writes in flight, reconcile (foreground) writes before events."""

from __future__ import annotations

import anyio
import anyio.lowlevel
import pytest

from informers.rest import RestClient
from informers.writeslots import WriteSlots


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def settle() -> None:
    for _ in range(20):
        await anyio.lowlevel.checkpoint()


async def test_never_more_than_capacity_in_flight() -> None:
    slots = WriteSlots(3, linger=0.01)
    peak = 0

    async def write(background: bool) -> None:
        nonlocal peak
        async with slots.slot(background):
            peak = max(peak, slots.foreground + slots.background)
            await anyio.sleep(0.001)

    async with anyio.create_task_group() as tg:
        for i in range(40):
            tg.start_soon(write, i % 2 == 0)
    assert peak == 3 and slots.free == 3


async def test_a_background_write_never_takes_a_slot_a_foreground_write_waits_for() -> None:
    slots = WriteSlots(1, linger=0.01)
    order: list[str] = []
    await slots.acquire()  # the only slot is busy

    async def write(name: str, background: bool) -> None:
        async with slots.slot(background):
            order.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(write, "event", True)
        await settle()
        tg.start_soon(write, "status-1", False)
        tg.start_soon(write, "status-2", False)
        await settle()
        slots.release()
    assert order == ["status-1", "status-2", "event"]


async def test_background_writes_trickle_while_foreground_writes_are_busy() -> None:
    clock = Clock()
    slots = WriteSlots(8, background_busy=2, linger=0.5, clock=clock)
    await slots.acquire()  # one reconcile write in flight: busy
    taken = 0
    all_taken = anyio.Event()

    async def event() -> None:
        nonlocal taken
        await slots.acquire(background=True)
        taken += 1
        if taken == 5:
            all_taken.set()

    async with anyio.create_task_group() as tg:
        for _ in range(5):
            tg.start_soon(event)
        await settle()
        assert taken == 2 and slots.background == 2, "only a trickle of events while reconciles write"
        slots.release()  # the reconcile write ends; it still counts as busy for `linger` seconds
        await settle()
        assert taken == 2
        clock.now += 1.0  # the burst is over: events may take every free slot
        with anyio.fail_after(5):  # a background writer re-checks every `linger` seconds
            await all_taken.wait()
    assert slots.background == 5 and slots.free == 3


async def test_foreground_writes_are_served_in_order_and_a_cancelled_waiter_takes_no_slot() -> None:
    slots = WriteSlots(1)
    await slots.acquire()
    order: list[int] = []

    async def write(i: int) -> None:
        async with slots.slot():
            order.append(i)

    cancelled = anyio.CancelScope()

    async def cancellable() -> None:
        with cancelled:
            await slots.acquire()
            order.append(-1)

    async with anyio.create_task_group() as tg:
        tg.start_soon(write, 0)
        await settle()
        tg.start_soon(cancellable)
        await settle()
        cancelled.cancel()
        await settle()
        tg.start_soon(write, 2)
        await settle()
        slots.release()
    assert order == [0, 2] and slots.free == 1


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError, match="capacity"):
        WriteSlots(0)


async def test_the_client_sends_a_background_write_in_a_background_slot(monkeypatch: pytest.MonkeyPatch) -> None:
    client = RestClient(api_client=None, max_inflight_writes=4)
    assert isinstance(client.write_slots, WriteSlots) and client.sibling().write_slots is client.write_slots
    slots = client.write_slots
    seen: list[tuple[str, int, int]] = []

    async def send(verb: str, *args: object) -> None:
        seen.append((verb, slots.foreground, slots.background))

    monkeypatch.setattr(client, "_send", send)
    await client.request("create", "/apis/events.k8s.io/v1/namespaces/n/events", body={}, background=True)
    await client.request("apply", "/apis/x/v1/namespaces/n/things/a/status", body={})
    await client.request("get", "/apis/x/v1/namespaces/n/things/a")
    assert seen == [("create", 0, 1), ("apply", 1, 0), ("get", 0, 0)]
    assert slots.free == 4


async def test_a_background_writer_cancelled_while_waiting_takes_no_slot() -> None:
    slots = WriteSlots(1, linger=0.01)
    await slots.acquire()
    cancelled = anyio.CancelScope()
    got: list[str] = []

    async def event(name: str, scope: anyio.CancelScope | None = None) -> None:
        with scope or anyio.CancelScope():
            async with slots.slot(background=True):
                got.append(name)

    async with anyio.create_task_group() as tg:
        tg.start_soon(event, "cancelled", cancelled)
        await settle()
        tg.start_soon(event, "posted")
        await settle()
        cancelled.cancel()
        await settle()
        slots.release()
    assert got == ["posted"] and slots.free == 1
