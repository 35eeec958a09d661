"""Kubernetes Events through ``events.k8s.io/v1``, best effort.

Why: users look at ``kubectl describe`` and ``kubectl events`` first. One event per
state transition, never one per reconcile — the controllers decide *when* (on a transition); this
module only builds and posts the event correctly:

* ``regarding`` is a full object reference (apiVersion, kind, name, namespace, uid, resourceVersion);
* ``reportingController`` is ``aim.silogen.ai/<controller>``, ``reportingInstance`` the pod name
  (``$POD_NAME``, else the host name);
* the name is ``<regarding-name>.<hex unix nanoseconds>`` like client-go's recorder;
* ``reason`` and ``action`` are cut to 128 characters and ``note`` to 1 KiB, as the API requires;
* an event about a cluster-scoped object goes to the ``default`` namespace, as client-go does.

Guarantees and caveats: :meth:`EventRecorder.emit` never raises for API errors (events are not state;
a failure is logged and counted in :attr:`EventRecorder.failed`). Notes go through the log scrubber's
value layer so a secret remembered by the logger is not published in an event either.

Off the reconcile's critical path, like client-go's broadcaster: while :meth:`EventRecorder.run` runs
(the manager runs every controller's recorder beside its workers, only while leading), ``emit`` only
queues the event and returns; a dispatcher posts the queue through the same client, so the
client's write limits and its leader **write fence** apply (no event is sent once the lease may be
lost), and the posts are cancelled with the workers when leadership ends. Two events per service
were two of its five sequential round trips (issue 18).

* Aggregation: an event identical to one still queued (same object, type, reason, action, note and
  related object) is not queued again but counted in :attr:`EventRecorder.aggregated` — client-go's
  correlator would fold it into the first one's series.
* The queue is bounded (:data:`EVENT_BUFFER` events, all recorders of the process together, so
  memory is bounded however many controllers emit); when it is full an event is dropped, logged and
  counted (:attr:`EventRecorder.dropped`), never waited for: a reconcile never blocks on events.
* Events of one object may be posted out of order by the concurrent posts; each carries the
  ``eventTime`` of its ``emit``. On a graceful stop the queued events are posted within the drain
  deadline; when leadership is lost they are dropped (another replica reconciles from then on).
* Without ``run`` (unit tests, one-shot tools) ``emit`` posts and waits.
* Lower priority than reconcile writes: a queued event is posted as a *background* write
  (:mod:`informers.writeslots`): it takes a write slot only when no reconcile write waits for one,
  and while reconciles are writing at most a trickle of events is in flight, so during a burst the
  apiserver's write throughput goes to the status that users wait for and the events trail (1 000
  services: two of each service's five writes are events). Once the queue is half full
  (:data:`EVENT_BUFFER` / 2) events are posted as equals again, as many in flight as the client's
  write budget, so they share the apiserver with the reconcile writes of the same burst (10 000
  services created at once: with 8 posts in flight 46 % of the events were dropped; with the budget,
  none). A drop is still possible when the apiserver takes events slower than the controllers emit
  them for longer than the queue holds; each is counted, the first and every
  :data:`DROP_LOG_EVERY`-th logged. Inline posts (without ``run``, or while the dispatcher stops)
  are not background writes.
"""

from __future__ import annotations

import os
import socket
import time
from datetime import UTC, datetime
from typing import Any, Literal

import anyio
import anyio.abc
import structlog
from anyio.streams.memory import MemoryObjectReceiveStream, MemoryObjectSendStream

from aimctl.kube.objects import dig_map, meta_of
from aimctl.kube.resources import EVENTS
from aimctl.logging import SCRUBBER
from informers.rest import RestClient
from informers.store import Obj

log = structlog.get_logger("aimctl.kube.events")

EventType = Literal["Normal", "Warning"]
MAX_NOTE = 1024
MAX_REASON = 128
#: Events queued at most, by all recorders of the process together, while :meth:`EventRecorder.run`
#: posts them (more are dropped and counted). An event is ~3 KiB queued (4 KiB with a full 1 KiB note
#: and a related object), so the queue holds at most ~64 MiB. 4 096 (per recorder) dropped 46 % of the
#: events of 10 000 services created at once; 16 384 holds that burst's backlog.
EVENT_BUFFER = 16384
#: Concurrent posts of queued events per recorder when the client has no write budget; with one, as
#: many as its write slots (``--max-inflight-writes``), so a filling queue drains as fast as reconcile
#: writes go (with 8 posts in flight, 10 000 services created at once dropped 46 % of their events).
EVENT_SENDERS = 32
#: A full queue is logged on the first drop and then once per this many drops (all are counted).
DROP_LOG_EVERY = 1000


def reporting_instance() -> str:
    return os.environ.get("POD_NAME") or socket.gethostname()


def object_reference(obj: Obj) -> dict[str, Any]:
    meta = meta_of(obj)
    ref = {
        "apiVersion": obj.get("apiVersion"),
        "kind": obj.get("kind"),
        "name": meta.get("name"),
        "namespace": meta.get("namespace"),
        "uid": meta.get("uid"),
        "resourceVersion": meta.get("resourceVersion"),
    }
    return {k: v for k, v in ref.items() if v}


def build_event(
    regarding: Obj,
    type_: EventType,
    reason: str,
    action: str,
    note: str,
    controller: str,
    instance: str,
    related: Obj | None = None,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ``events.k8s.io/v1`` Event body (pure, for tests)."""
    meta = meta_of(regarding)
    stamp = now or datetime.now(UTC)
    note = SCRUBBER.scrub_text(note)
    if len(note.encode()) > MAX_NOTE:
        note = note.encode()[: MAX_NOTE - 3].decode("utf-8", "ignore") + "..."
    body: dict[str, Any] = {
        "apiVersion": EVENTS.api_version,
        "kind": EVENTS.kind,
        "metadata": {
            "name": f"{meta.get('name', 'unknown')}.{time.time_ns():x}",
            "namespace": meta.get("namespace") or "default",
        },
        "eventTime": stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        "type": type_,
        "reason": reason[:MAX_REASON],
        "action": action[:MAX_REASON],
        "note": note,
        "regarding": object_reference(regarding),
        "reportingController": f"aim.silogen.ai/{controller}"[:128],
        "reportingInstance": instance[:128],
    }
    if related is not None:
        body["related"] = object_reference(related)
    return body


def _correlation(body: dict[str, Any]) -> tuple[Any, ...]:
    """What makes two events the same event (client-go's ``EventCorrelator`` key, less the time)."""
    regarding = body["regarding"]
    related = dig_map(body, "related")
    return (
        regarding.get("uid") or (regarding.get("kind"), regarding.get("namespace"), regarding.get("name")),
        body["type"],
        body["reason"],
        body["action"],
        body["note"],
        related.get("uid") or related.get("name"),
    )


class EventRecorder:
    """Posts events for one controller (queued while :meth:`run` runs; see the module docstring)."""

    #: Events queued now by every recorder of the process (bounded by :data:`EVENT_BUFFER` together).
    queued_total = 0

    def __init__(self, client: RestClient, controller: str, instance: str | None = None) -> None:
        self.client = client
        self.controller = controller
        self.instance = instance or reporting_instance()
        #: Events the apiserver accepted.
        self.emitted = 0
        #: Events not posted: refused, failed, dropped from a full queue, or fenced.
        self.failed = 0
        #: Events dropped because the queue was full (also counted in :attr:`failed`).
        self.dropped = 0
        #: Events identical to one still queued, folded into it.
        self.aggregated = 0
        self._queue: MemoryObjectSendStream[dict[str, Any]] | None = None
        self._queued: set[tuple[Any, ...]] = set()
        self._in_queue = 0  # this recorder's share of queued_total

    async def emit(
        self,
        regarding: Obj,
        type_: EventType,
        reason: str,
        action: str,
        note: str,
        related: Obj | None = None,
    ) -> bool:
        """Post one event, or queue it while :meth:`run` runs; return whether it was accepted,
        queued or folded into a queued one (errors are logged, not raised)."""
        body = build_event(regarding, type_, reason, action, note, self.controller, self.instance, related)
        queue = self._queue
        if queue is None:
            return await self._post(body)
        key = _correlation(body)
        if key in self._queued:
            self.aggregated += 1
            return True
        if EventRecorder.queued_total >= EVENT_BUFFER:
            return self._drop(reason)
        try:
            queue.send_nowait(body)
        except anyio.WouldBlock:
            return self._drop(reason)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError):
            # The senders are stopping (cancelled with the workers): post inline, through the fence.
            return await self._post(body)
        self._queued.add(key)
        self._in_queue += 1
        EventRecorder.queued_total += 1
        return True

    def _drop(self, reason: str) -> bool:
        self.dropped += 1
        self.failed += 1
        if (self.dropped - 1) % DROP_LOG_EVERY == 0:
            log.warning("event queue full: event dropped", reason=reason, buffer=EVENT_BUFFER, dropped=self.dropped)
        return False

    async def run(self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        """Post queued events until :meth:`close` (then the queued ones are posted and this returns) or
        cancellation (the queued ones are dropped, and posts in flight are cancelled).

        One dispatcher task takes the queue in order and starts a post per event, at most
        :meth:`senders` in flight: no idle sender tasks, and the whole write budget once the queue
        fills (the write slots still put background posts behind reconcile writes)."""
        send, receive = anyio.create_memory_object_stream[dict[str, Any]](EVENT_BUFFER)
        self._queue = send
        try:
            async with anyio.create_task_group() as tg:
                tg.start_soon(self._dispatch, receive, tg)
                task_status.started()
        finally:
            if self._queue is send:
                self._queue = None
            send.close()
            self._queued.clear()
            EventRecorder.queued_total -= self._in_queue  # left unposted (cancelled): dropped
            self._in_queue = 0

    def senders(self) -> int:
        """Posts in flight at most: the client's write budget, else :data:`EVENT_SENDERS`."""
        slots = getattr(self.client, "write_slots", None)
        return slots.capacity if slots is not None else EVENT_SENDERS

    def close(self) -> None:
        """Take no more events into the queue; :meth:`run` returns once the queued ones are posted."""
        queue, self._queue = self._queue, None
        if queue is not None:
            queue.close()

    async def _dispatch(self, receive: MemoryObjectReceiveStream[dict[str, Any]], tg: anyio.abc.TaskGroup) -> None:
        limiter = anyio.CapacityLimiter(self.senders())
        async with receive:
            async for body in receive:
                self._queued.discard(_correlation(body))
                self._in_queue -= 1
                EventRecorder.queued_total -= 1
                token = object()  # the post's task releases the slot the dispatcher took for it
                await limiter.acquire_on_behalf_of(token)
                # Behind reconcile writes, unless the queue is filling up (see the module docstring).
                background = EventRecorder.queued_total < EVENT_BUFFER // 2
                tg.start_soon(self._post_released, body, background, limiter, token)

    async def _post_released(
        self, body: dict[str, Any], background: bool, limiter: anyio.CapacityLimiter, token: object
    ) -> None:
        try:
            await self._post(body, background=background)
        finally:
            limiter.release_on_behalf_of(token)

    async def _post(self, body: dict[str, Any], background: bool = False) -> bool:
        try:
            await self.client.request(
                "create",
                EVENTS.path(body["metadata"]["namespace"]),
                resource=EVENTS.name,
                body=body,
                background=background,
            )
        except Exception as exc:  # best effort: API, connection, fence and timeout errors alike
            self.failed += 1
            log.warning("could not post event", reason=body["reason"], error=str(exc))
            return False
        self.emitted += 1
        return True
