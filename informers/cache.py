"""The shared cache: one :class:`~informers.informer.Informer` per resource type.

Why: several controllers watch the same kinds (every AIM controller looks at templates, nodes, jobs…);
they must share one list+watch and one store per kind, or memory and apiserver load grow with the
number of controllers. Controllers ask the cache for an informer while they are being set up; the
cache runs them all and reports when every one of them has synced.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from typing import Any

import anyio

from informers.informer import Informer
from informers.reflector import Selection
from informers.resource import Resource
from informers.rest import RestClient
from informers.store import Store
from informers.transform import Transform, strip_managed_fields


class Cache:
    """A registry of shared informers, created on first request and run together."""

    def __init__(
        self,
        client: RestClient,
        namespaces: Sequence[str] | None = None,
        optional_api: Callable[[Resource], bool] = lambda _resource: False,
        **informer_options: Any,
    ) -> None:
        self.client = client
        #: Which resources may be absent from the apiserver (their informers then sync empty).
        self.optional_api = optional_api
        self.namespaces = list(namespaces) if namespaces else None
        self._options = informer_options
        self._informers: dict[Resource, Informer] = {}
        self._started = False
        #: Called with an informer whenever its API goes missing or appears.
        self.api_listeners: list[Callable[[Informer], None]] = []

    def informer(
        self, resource: Resource, transform: Transform | None = None, selections: Sequence[Selection] = ()
    ) -> Informer:
        """The informer for ``resource``, created if needed. All users of one resource must agree on
        its transform (a slim projection for a child kind is decided once) and on its field
        selections (what is listed at all); asking for different ones later raises ``ValueError``
        (``None``/empty means "whatever was decided").
        Informers cannot be added once the cache runs."""
        existing = self._informers.get(resource)
        if existing is not None:
            if transform is not None and existing.transform is not transform:
                raise ValueError(f"{resource.name}: conflicting transforms requested")
            if selections and existing.selections != tuple(selections):
                raise ValueError(f"{resource.name}: conflicting field selections requested")
            return existing
        if self._started:
            raise RuntimeError("cannot add an informer to a running cache")
        informer = Informer(
            self.client,
            resource,
            namespaces=self.namespaces,
            transform=transform or strip_managed_fields,
            selections=selections,
            on_api_change=self._api_change,
            optional_api=self.optional_api(resource),
            **self._options,
        )
        self._informers[resource] = informer
        return informer

    def store(self, resource: Resource) -> Store:
        """The store of an informer that was already requested (``KeyError`` otherwise)."""
        return self._informers[resource].store

    def _api_change(self, informer: Informer) -> None:
        for listener in list(self.api_listeners):
            listener(informer)

    def api_missing(self, resource: Resource) -> bool:
        """Whether ``resource`` is watched here and the apiserver does not serve it (yet)."""
        informer = self._informers.get(resource)
        return informer is not None and informer.api_missing

    def missing_apis(self) -> list[Resource]:
        return [i.resource for i in self._informers.values() if i.api_missing]

    def resync(self) -> None:
        """Replay every cached object to every handler (as a low-priority ``MODIFIED``; no API call),
        e.g. when an API appears: everything that could not be reconciled without it runs again."""
        for informer in self._informers.values():
            informer.resync()

    async def resync_yielding(self) -> None:
        """:meth:`resync`, yielding to the event loop between batches of objects (for large caches:
        see :meth:`informers.informer.Informer.resync_yielding`)."""
        for informer in list(self._informers.values()):
            await informer.resync_yielding()

    def __iter__(self) -> Iterator[Informer]:
        return iter(list(self._informers.values()))

    @property
    def has_synced(self) -> bool:
        return all(i.has_synced for i in self._informers.values())

    async def wait_synced(self) -> None:
        for informer in list(self._informers.values()):
            await informer.wait_synced()

    async def run(self) -> None:
        """Run every informer until cancelled."""
        self._started = True
        async with anyio.create_task_group() as tg:
            for informer in self._informers.values():
                tg.start_soon(informer.run, name=f"informer:{informer.resource.name}")
