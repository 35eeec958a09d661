"""Informers: a store kept in sync by reflectors, and handlers told about every change.

Why: one informer per resource type, shared by every controller that watches it, so each object is
listed, watched and held in memory once (controller-runtime's shared cache). An informer can follow
the whole cluster or a list of namespaces (one reflector each, all feeding the same store).

Guarantees:
    * handlers are called synchronously, in event order, after the store was updated;
    * an exception in a handler is logged and does not stop the informer or other handlers;
    * :attr:`Informer.has_synced` becomes true once every reflector has completed its first list,
      and :meth:`Informer.wait_synced` returns then;
    * with ``selections`` (field selectors that cannot be AND-ed into one, e.g. two Secret types)
      there is one reflector per namespace and selection, each owning the objects it matches;
    * :attr:`Informer.api_missing` is true while the apiserver does not serve the resource (a CRD
      not installed; ``on_api_change`` is called on both transitions); with ``optional_api`` the
      informer then counts as synced and empty, and fills itself when the API appears;
    * with a ``resync_period`` every cached object is replayed to the handlers as a ``MODIFIED``
      event with ``old is obj`` and ``initial=True`` (low priority) every period ±10 %; this makes no
      API call. Off by default: controllers use ``requeue_after`` for polling.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import anyio
import anyio.lowlevel
import structlog

from informers.backoff import jittered
from informers.handlers import EventType, Handler, InformerEvent
from informers.reflector import Reflector, Selection
from informers.resource import Resource
from informers.rest import RestClient
from informers.store import IndexFunc, Obj, Store, object_key
from informers.transform import Transform, strip_managed_fields

log = structlog.get_logger("informers.informer")


#: Objects replayed between two yields to the event loop (:meth:`Informer.resync_yielding`).
RESYNC_BATCH = 200


class Informer:
    """A shared, indexed cache of one resource type (see the module docstring)."""

    def __init__(
        self,
        client: RestClient,
        resource: Resource,
        *,
        namespaces: Sequence[str] | None = None,
        transform: Transform = strip_managed_fields,
        indexers: Mapping[str, IndexFunc] | None = None,
        label_selector: str | None = None,
        resync_period: float | None = None,
        selections: Sequence[Selection] = (),
        on_api_change: Callable[[Informer], None] | None = None,
        optional_api: bool = False,
        **reflector_options: Any,
    ) -> None:
        self.resource = resource
        self.transform = transform
        self.store = Store(indexers)
        self.resync_period = resync_period
        self.selections = tuple(selections)
        self.on_api_change = on_api_change
        self.api_missing = False
        self._handlers: list[Handler] = []
        self._synced_event: anyio.Event | None = None
        scopes: Sequence[str | None] = list(namespaces) if (namespaces and resource.namespaced) else [None]
        self.reflectors = [
            Reflector(
                client,
                resource,
                self,
                namespace=ns,
                label_selector=label_selector,
                selection=selection,
                on_api_change=self._reflector_api_change,
                optional_api=optional_api,
                transform=transform,
                **reflector_options,
            )
            for ns in scopes
            for selection in (self.selections or (None,))
        ]
        self.events_dispatched = 0

    # -- configuration -----------------------------------------------------------------------------

    def add_handler(self, handler: Handler) -> None:
        """Register a handler; it also receives ``ADDED`` events for objects already cached."""
        self._handlers.append(handler)
        for obj in self.store:
            self._call(handler, InformerEvent(EventType.ADDED, self.resource, obj, initial=True))

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        self.store.add_indexer(name, fn)

    # -- state -------------------------------------------------------------------------------------

    @property
    def has_synced(self) -> bool:
        return all(r.synced for r in self.reflectors)

    async def wait_synced(self) -> None:
        while not self.has_synced:
            if self._synced_event is None:
                self._synced_event = anyio.Event()
            await self._synced_event.wait()

    # -- running -----------------------------------------------------------------------------------

    async def run(self) -> None:
        """Run the reflectors (and the resync loop) until cancelled."""
        async with anyio.create_task_group() as tg:
            for reflector in self.reflectors:
                tg.start_soon(reflector.run, name=f"reflector:{self.resource.name}:{reflector.namespace or '*'}")
            if self.resync_period:
                tg.start_soon(self._resync_loop, name=f"resync:{self.resource.name}")

    async def _resync_loop(self) -> None:
        assert self.resync_period
        rng = random.Random()
        while True:
            await anyio.sleep(jittered(self.resync_period * 0.9, 0.2 / 0.9, rng))
            if not self.has_synced:
                continue
            await self.resync_yielding()

    def resync(self) -> None:
        """Replay every cached object to the handlers as a low-priority ``MODIFIED`` (``old is obj``)."""
        for obj in self.store:
            self._replay(obj)

    async def resync_yielding(self, batch: int = RESYNC_BATCH) -> None:
        """:meth:`resync`, yielding to the event loop after every ``batch`` objects.

        Why: at 10 000 services a replay of every cached object to every handler is seconds of
        synchronous work on a loaded machine (13.8 s of event-loop lag measured after a re-acquired
        lease), during which no lease renewal can run: the leader lost the lease again, re-acquired
        it, replayed again — a step-down loop. Objects are replayed from a snapshot of the store; one
        changed or deleted meanwhile has had its own event already, and its key is reconciled from
        the cache as it is then (level-triggered), so replaying the snapshot is harmless."""
        for i, obj in enumerate(list(self.store), 1):
            self._replay(obj)
            if i % batch == 0:
                await anyio.lowlevel.checkpoint()

    def _replay(self, obj: Obj) -> None:
        self._dispatch(InformerEvent(EventType.MODIFIED, self.resource, obj, old=obj, initial=True))

    # -- ReflectorSink -----------------------------------------------------------------------------

    def replace(
        self, objs: list[Obj], namespace: str | None, initial: bool, within: Callable[[Obj], bool] | None = None
    ) -> None:
        diff = self.store.replace(objs, namespace, within)  # transformed by the reflector, page by page
        for obj in diff.added:
            self._dispatch(InformerEvent(EventType.ADDED, self.resource, obj, initial=initial))
        for old, new in diff.updated:
            self._dispatch(InformerEvent(EventType.MODIFIED, self.resource, new, old=old))
        for obj in diff.deleted:
            self._dispatch(InformerEvent(EventType.DELETED, self.resource, obj))
        if self.has_synced and self._synced_event is not None:
            self._synced_event.set()
            self._synced_event = None

    def apply(self, event_type: str, obj: Obj) -> None:
        if event_type == "DELETED":
            old = self.store.delete(object_key(obj))
            self._dispatch(InformerEvent(EventType.DELETED, self.resource, self.transform(obj) if old is None else old))
            return
        new = self.transform(obj)
        old = self.store.upsert(new)
        etype = EventType.ADDED if old is None else EventType.MODIFIED
        self._dispatch(InformerEvent(etype, self.resource, new, old=old))

    def _reflector_api_change(self, _reflector: Reflector) -> None:
        missing = any(r.api_missing for r in self.reflectors)
        if missing != self.api_missing:
            self.api_missing = missing
            if self.on_api_change is not None:
                self.on_api_change(self)

    def _dispatch(self, event: InformerEvent) -> None:
        self.events_dispatched += 1
        for handler in self._handlers:
            self._call(handler, event)

    def _call(self, handler: Handler, event: InformerEvent) -> None:
        try:
            handler(event)
        except Exception:
            log.exception(
                "event handler failed", resource=self.resource.name, key=event.key, event_type=event.type.value
            )
