"""EventRecorder off the critical path: ``emit`` queues while ``run`` runs; fenced writes are refused."""

from __future__ import annotations

from typing import Any

import anyio
import pytest

from aimctl.kube import events
from aimctl.kube.events import EventRecorder
from informers.rest import RestClient, WriteFenced
from informers.writeslots import WriteSlots
from tests.support.wait import wait_for

SVC = {"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "metadata": {"name": "s", "namespace": "n"}}


class SlowClient:
    """Records creates; each waits until ``release`` is set (an apiserver that has not answered yet)."""

    def __init__(self) -> None:
        self.sent: list[dict[str, Any]] = []
        self.release = anyio.Event()
        #: Requests begun and not yet answered or cancelled.
        self.pending = 0

    async def request(self, verb: str, path: str, **kw: Any) -> Any:
        self.pending += 1
        try:
            await self.release.wait()
        finally:
            self.pending -= 1
        self.sent.append(kw["body"])
        return kw["body"]


async def test_emit_without_run_posts_and_waits() -> None:
    client = SlowClient()
    client.release.set()
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    assert await rec.emit(SVC, "Normal", "Running", "running", "ok")
    assert [b["reason"] for b in client.sent] == ["Running"] and rec.emitted == 1


async def test_emit_while_running_returns_before_the_post_and_close_posts_the_rest() -> None:
    client = SlowClient()
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        with anyio.fail_after(1):  # the apiserver has not answered: emit must not wait for it
            for i in range(20):
                assert await rec.emit(SVC, "Normal", f"R{i}", "a", "m")
        assert client.sent == [] and rec.emitted == 0
        rec.close()
        client.release.set()
    assert sorted(b["reason"] for b in client.sent) == sorted(f"R{i}" for i in range(20))
    assert rec.emitted == 20
    client.sent.clear()
    assert await rec.emit(SVC, "Normal", "after", "a", "m")  # not running any more: posted inline
    assert [b["reason"] for b in client.sent] == ["after"]


async def test_a_full_buffer_drops_and_counts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(events, "EVENT_BUFFER", 2)
    monkeypatch.setattr(events, "EVENT_SENDERS", 1)
    client = SlowClient()
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        results = [await rec.emit(SVC, "Normal", f"R{i}", "a", "m") for i in range(6)]
        assert results.count(False) >= 1 and rec.dropped == results.count(False)
        tg.cancel_scope.cancel()


async def test_queued_events_go_through_the_clients_write_fence() -> None:
    """After the lease may be lost the client refuses writes: a queued event is not sent."""
    client = RestClient(api_client=None, write_fence=lambda: 0.0)
    with pytest.raises(WriteFenced):  # refused before anything is sent (there is no connection at all)
        await client.request("create", "/apis/events.k8s.io/v1/namespaces/n/events", body={})
    rec = EventRecorder(client, "svc", "i")
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        assert await rec.emit(SVC, "Normal", "Running", "a", "m")
        rec.close()
    assert rec.emitted == 0 and rec.failed == 1


async def test_an_event_identical_to_a_queued_one_is_folded_into_it() -> None:
    client = SlowClient()
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        for _ in range(3):
            assert await rec.emit(SVC, "Warning", "Failed", "a", "the same note")
        assert await rec.emit(SVC, "Warning", "Failed", "a", "another note")
        assert rec.aggregated == 2
        rec.close()
        client.release.set()
    assert [b["note"] for b in client.sent] in (
        ["the same note", "another note"],
        ["another note", "the same note"],
    )
    # Once posted, the same event again is a new event (a later transition), not folded.
    client.sent.clear()
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        assert await rec.emit(SVC, "Warning", "Failed", "a", "the same note")
        rec.close()
    assert len(client.sent) == 1 and rec.aggregated == 2


async def test_leadership_lost_cancels_the_senders_and_nothing_more_is_posted() -> None:
    client = SlowClient()
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        assert await rec.emit(SVC, "Normal", "Running", "a", "m")
        await wait_for(lambda: client.pending, lambda n: n == 1, what="the event's post begun (unanswered)")
        tg.cancel_scope.cancel()  # what the manager does to the workers' group when the lease is lost
    # The senders are cancelled and awaited: no post is still waiting for an answer that could land
    # once the apiserver answers (no pause needed to show that nothing more is posted).
    assert client.pending == 0, "a post outlived the cancelled senders"
    client.release.set()
    assert client.sent == [] and rec.emitted == 0


async def test_an_event_emitted_while_the_senders_stop_is_posted_inline() -> None:
    client = SlowClient()
    client.release.set()
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        queue = rec._queue
        tg.cancel_scope.cancel()
    rec._queue = queue  # the window between the senders' exit and run()'s clean-up
    assert await rec.emit(SVC, "Normal", "Running", "a", "m")
    assert [b["reason"] for b in client.sent] == ["Running"]


class PriorityClient(SlowClient):
    """Records whether each event was posted as a background write."""

    def __init__(self) -> None:
        super().__init__()
        self.background: list[bool] = []

    async def request(self, verb: str, path: str, **kw: Any) -> Any:
        self.background.append(kw.get("background", False))
        return await super().request(verb, path, **kw)


async def test_queued_events_are_background_writes_until_the_queue_is_half_full(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Events yield write slots to reconcile writes, but never so long that the bounded queue drops one."""
    monkeypatch.setattr(events, "EVENT_BUFFER", 8)
    monkeypatch.setattr(events, "EVENT_SENDERS", 1)
    client = PriorityClient()
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        assert await rec.emit(SVC, "Normal", "first", "a", "m")
        await wait_for(lambda: client.pending, lambda n: n == 1, what="'first' posted (the apiserver has not answered)")
        for i in range(6):
            assert await rec.emit(SVC, "Normal", f"R{i}", "a", "m")
        rec.close()
        client.release.set()
    assert rec.dropped == 0 and rec.emitted == 7
    # "first" left an empty queue; R0 and R1 left 5 and 4 queued (>= 8 // 2): posted as equals; R2.. fewer.
    assert client.background == [True, False, False, True, True, True, True]
    client.background.clear()
    assert await rec.emit(SVC, "Normal", "inline", "a", "m")  # not running: inline, not background
    assert client.background == [False]


async def test_a_filling_queue_is_posted_with_the_clients_whole_write_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """As many posts in flight as the client's write slots, no more: with a fixed handful of senders a
    burst of 10 000 services dropped 46 % of its events, the queue filling faster than it drained."""
    monkeypatch.setattr(events, "EVENT_BUFFER", 64)
    client = SlowClient()
    client.write_slots = WriteSlots(5)  # type: ignore[attr-defined]
    rec = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    assert rec.senders() == 5
    async with anyio.create_task_group() as tg:
        await tg.start(rec.run)
        for i in range(40):
            assert await rec.emit(SVC, "Normal", f"R{i}", "a", "m")
        await wait_for(lambda: client.pending, lambda n: n == 5, what="the write budget's posts in flight")
        await anyio.wait_all_tasks_blocked()
        assert client.pending == 5, "more posts in flight than the client's write budget"
        rec.close()
        client.release.set()
    assert rec.emitted == 40 and rec.dropped == 0


async def test_the_queue_bound_holds_for_all_recorders_together(monkeypatch: pytest.MonkeyPatch) -> None:
    """EVENT_BUFFER bounds the events queued by the whole process, so memory stays bounded however many
    controllers emit at once (a recorder with an empty queue still drops when the others fill it)."""
    monkeypatch.setattr(events, "EVENT_BUFFER", 4)
    monkeypatch.setattr(events, "EVENT_SENDERS", 1)
    client = SlowClient()
    a = EventRecorder(client, "svc", "i")  # type: ignore[arg-type]
    b = EventRecorder(client, "tpl", "i")  # type: ignore[arg-type]
    async with anyio.create_task_group() as tg:
        await tg.start(a.run)
        await tg.start(b.run)
        for rec in (a, b):  # each dispatcher takes one post (in flight) and one more (waiting for it)
            for i in range(2):
                assert await rec.emit(SVC, "Normal", f"taken{i}", "a", "m")
        await wait_for(lambda: client.pending, lambda n: n == 2, what="one post in flight per recorder")
        await anyio.wait_all_tasks_blocked()
        assert EventRecorder.queued_total == 0
        for i in range(4):
            assert await a.emit(SVC, "Normal", f"R{i}", "a", "m")
        assert EventRecorder.queued_total == 4
        assert not await b.emit(SVC, "Normal", "over", "a", "m")
        assert b.dropped == 1 and a.dropped == 0
        tg.cancel_scope.cancel()
    assert EventRecorder.queued_total == 0, "events dropped by a cancelled recorder still counted as queued"
