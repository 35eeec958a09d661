"""Informer events and the helpers that map them to work-queue keys.

Why: an event is turned into the keys that must be reconciled: the object
itself, its controller owner, or every object that references it (through a store index). Handlers run
synchronously inside the reflector, right after the store was updated, so a handler always sees a
store that already contains the event's object; they must be quick and must not block (they only
compute keys and add them to queues).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum

from informers.objects import controller_ref, namespace_of
from informers.resource import Resource
from informers.store import Obj, Store, object_key


class EventType(StrEnum):
    ADDED = "ADDED"
    MODIFIED = "MODIFIED"
    DELETED = "DELETED"


@dataclass(frozen=True)
class InformerEvent:
    """One change seen by an informer.

    ``initial`` is true for events produced by the first list of an informer and by resyncs:
    controllers enqueue those at low priority so that real changes go first. ``old`` is set for
    ``MODIFIED`` events. For ``DELETED``, ``obj`` is the last state the informer knew (after a relist
    that may be older than the actual deletion).
    """

    type: EventType
    resource: Resource
    obj: Obj
    old: Obj | None = None
    initial: bool = False

    @property
    def key(self) -> str:
        return object_key(self.obj)


Handler = Callable[[InformerEvent], None]
KeyMapper = Callable[[InformerEvent], Iterable[str]]


def self_key(event: InformerEvent) -> list[str]:
    """Map an event to the key of its own object (the primary resource of a controller)."""
    return [event.key]


def controller_owner_key(kind: str, group: str) -> KeyMapper:
    """Map a child's event to its controller owner's key when the owner has ``kind`` in ``group``
    (controller-runtime ``EnqueueRequestForOwner(..., OnlyControllerOwner())``). The owner is
    assumed to be in the child's namespace, or cluster-scoped if the child has no namespace."""

    def mapper(event: InformerEvent) -> list[str]:
        ref = controller_ref(event.obj)
        if ref is None:
            return []
        api_version = str(ref.get("apiVersion", ""))
        ref_group = api_version.rpartition("/")[0] if "/" in api_version else ""
        if ref.get("kind") != kind or ref_group != group:
            return []
        ns = namespace_of(event.obj)
        return [f"{ns}/{ref['name']}" if ns else str(ref["name"])]

    return mapper


def indexed_keys(store: Store, index: str, value_of: Callable[[InformerEvent], Iterable[str]]) -> KeyMapper:
    """Map an event to the keys of the objects in ``store`` found under ``index`` for the values
    ``value_of(event)`` returns (e.g. the services whose ``spec.templateRef`` names a changed
    template)."""

    def mapper(event: InformerEvent) -> list[str]:
        keys: list[str] = []
        for value in value_of(event):
            keys.extend(store.keys_by_index(index, value))
        return keys

    return mapper
