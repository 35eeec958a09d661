"""The informer cache: raw objects by ``namespace/name`` key, with secondary indexes.

Why: reconciles read only from caches, and the event handlers need to find the
objects that *reference* a changed object (a template change enqueues the services resolved to it);
both are dictionary look-ups here instead of API calls. Objects are kept as the raw JSON dicts the
apiserver sent (after the informer's transform), never as generated models: decoding into models costs
~30x more per event.

Guarantees:
    * after every mutating call, every index reflects exactly the objects in the store;
    * :meth:`Store.replace` returns the precise difference to the previous content (added, updated
      — by ``resourceVersion`` —, deleted), so a relist can fire events for what it changed and for
      nothing else;
    * objects are stored as given: callers must treat returned dicts as read-only (copy before
      mutating), because the same dict is shared with every reader.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from informers.objects import dig_str, key_of

Obj = dict[str, Any]
"""A raw Kubernetes object as decoded from JSON."""

IndexFunc = Callable[[Obj], Iterable[str]]
"""Maps an object to the index values it should be found under (may be empty)."""


object_key = key_of
"""``namespace/name`` for namespaced objects, ``name`` for cluster-scoped ones (client-go's
``MetaNamespaceKeyFunc``): :func:`informers.objects.key_of` under the store's name for it."""


def split_key(key: str) -> tuple[str | None, str]:
    """Inverse of :func:`object_key`: ``(namespace or None, name)``."""
    ns, sep, name = key.partition("/")
    if not sep:
        return None, ns
    return ns, name


def resource_version(obj: Mapping[str, Any]) -> str:
    return dig_str(obj, "metadata", "resourceVersion")


@dataclass
class Diff:
    """What :meth:`Store.replace` changed: ``updated`` holds ``(old, new)`` pairs."""

    added: list[Obj] = field(default_factory=list)
    updated: list[tuple[Obj, Obj]] = field(default_factory=list)
    deleted: list[Obj] = field(default_factory=list)


class Store:
    """A keyed object cache with named indexes (client-go ``cache.Indexer``)."""

    def __init__(self, indexers: Mapping[str, IndexFunc] | None = None) -> None:
        self._items: dict[str, Obj] = {}
        self._indexers: dict[str, IndexFunc] = {}
        self._indices: dict[str, dict[str, set[str]]] = {}
        self._values: dict[str, dict[str, tuple[str, ...]]] = {}
        for name, fn in (indexers or {}).items():
            self.add_indexer(name, fn)

    # -- indexes -----------------------------------------------------------------------------------

    def add_indexer(self, name: str, fn: IndexFunc) -> None:
        """Register an index; existing objects are indexed at once. Re-registering the same
        function under the same name is a no-op; a different function under a taken name raises."""
        existing = self._indexers.get(name)
        if existing is not None:
            if existing is fn:
                return
            raise ValueError(f"indexer {name!r} already registered with a different function")
        self._indexers[name] = fn
        self._indices[name] = {}
        self._values[name] = {}
        for key, obj in self._items.items():
            self._index_one(name, key, obj)

    def indexer_names(self) -> list[str]:
        return list(self._indexers)

    def by_index(self, index: str, value: str) -> list[Obj]:
        """Objects whose index function returned ``value`` (unknown index → ``KeyError``)."""
        keys = self._indices[index].get(value, ())
        return [self._items[k] for k in sorted(keys)]

    def keys_by_index(self, index: str, value: str) -> list[str]:
        return sorted(self._indices[index].get(value, ()))

    def index_values(self, index: str) -> list[str]:
        return sorted(self._indices[index])

    # -- reads -------------------------------------------------------------------------------------

    def get(self, key: str) -> Obj | None:
        return self._items.get(key)

    def __contains__(self, key: object) -> bool:
        return key in self._items

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[Obj]:
        return iter(list(self._items.values()))

    def keys(self) -> list[str]:
        return list(self._items)

    def list(self, namespace: str | None = None) -> list[Obj]:
        if namespace is None:
            return list(self._items.values())
        prefix = namespace + "/"
        return [o for k, o in self._items.items() if k.startswith(prefix)]

    # -- writes ------------------------------------------------------------------------------------

    def upsert(self, obj: Obj) -> Obj | None:
        """Insert or replace ``obj``; return the previous object under its key, if any."""
        key = object_key(obj)
        old = self._items.get(key)
        if old is not None:
            self._unindex(key)
        self._items[key] = obj
        for name in self._indexers:
            self._index_one(name, key, obj)
        return old

    def delete(self, key: str) -> Obj | None:
        """Remove the object under ``key``; return it (``None`` if absent)."""
        old = self._items.pop(key, None)
        if old is not None:
            self._unindex(key)
        return old

    def replace(
        self, objs: Iterable[Obj], namespace: str | None = None, within: Callable[[Obj], bool] | None = None
    ) -> Diff:
        """Make the store (or, with ``namespace``, that namespace's slice of it; with ``within``, the
        objects of the slice it accepts) equal ``objs``.

        Objects whose ``resourceVersion`` did not change are kept as they are and not reported.
        """
        diff = Diff()
        seen: set[str] = set()
        for obj in objs:
            key = object_key(obj)
            seen.add(key)
            old = self._items.get(key)
            if old is None:
                self.upsert(obj)
                diff.added.append(obj)
            elif resource_version(old) != resource_version(obj):
                self.upsert(obj)
                diff.updated.append((old, obj))
        if namespace is None:
            stale = [k for k in self._items if k not in seen]
        else:
            prefix = namespace + "/"
            stale = [k for k in self._items if k.startswith(prefix) and k not in seen]
        if within is not None:
            stale = [k for k in stale if within(self._items[k])]
        for key in stale:
            old = self.delete(key)
            if old is not None:
                diff.deleted.append(old)
        return diff

    # -- internals ---------------------------------------------------------------------------------

    def _index_one(self, name: str, key: str, obj: Obj) -> None:
        values = tuple(dict.fromkeys(self._indexers[name](obj)))
        if not values:
            return
        self._values[name][key] = values
        index = self._indices[name]
        for v in values:
            index.setdefault(v, set()).add(key)

    def _unindex(self, key: str) -> None:
        for name, per_key in self._values.items():
            values = per_key.pop(key, ())
            index = self._indices[name]
            for v in values:
                bucket = index.get(v)
                if bucket is not None:
                    bucket.discard(key)
                    if not bucket:
                        del index[v]
