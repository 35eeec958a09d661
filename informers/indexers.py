"""Standard index functions for :class:`informers.store.Store`.

Why: the event handlers (:mod:`informers.handlers`) map an event to the objects that must be reconciled; the
three look-ups they need are "children of an owner" (by owner UID), "objects that reference a name"
(by a field path) and "objects carrying a label". Each index function here is pure and returns the
values an object is found under; an object may be found under several values, or none.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from informers.objects import controller_ref, labels_of, namespace_of, owner_refs
from informers.store import IndexFunc, Obj

BY_OWNER_UID = "owner-uid"
BY_CONTROLLER_UID = "controller-uid"
BY_NAMESPACE = "namespace"


def owner_uids(obj: Obj) -> list[str]:
    """UIDs of every owner in ``metadata.ownerReferences``."""
    return [str(r["uid"]) for r in owner_refs(obj) if r.get("uid")]


def controller_uid(obj: Obj) -> list[str]:
    """UID of the controller owner (the ``controller: true`` reference), if any."""
    ref = controller_ref(obj)
    return [str(ref["uid"])] if ref is not None and ref.get("uid") else []


def namespace(obj: Obj) -> list[str]:
    ns = namespace_of(obj)
    return [ns] if ns else []


def by_label(label: str, namespaced: bool = True) -> IndexFunc:
    """Index by the value of ``label``; with ``namespaced`` the value is ``namespace/value`` so a
    look-up never crosses namespaces by accident."""

    def index(obj: Obj) -> list[str]:
        value = labels_of(obj).get(label)
        if value is None:
            return []
        ns = namespace_of(obj)
        return [f"{ns}/{value}" if namespaced and ns else str(value)]

    return index


def _walk(node: Any, path: Sequence[str]) -> Iterable[Any]:
    """Yield the values at ``path``; a ``*`` segment fans out over list items."""
    if not path:
        yield node
        return
    head, rest = path[0], path[1:]
    if head == "*":
        if isinstance(node, list):
            for item in node:
                yield from _walk(item, rest)
        return
    if isinstance(node, dict) and head in node:
        yield from _walk(node[head], rest)


def by_field(path: str, namespaced: bool = True, transform: Callable[[Any], str] = str) -> IndexFunc:
    """Index by the value(s) at a dotted ``path`` (e.g. ``spec.templateRef`` or
    ``spec.volumes.*.persistentVolumeClaim.claimName``); with ``namespaced`` the value is prefixed by
    the object's namespace. Missing or ``None`` values are not indexed."""
    segments = path.split(".")

    def index(obj: Obj) -> list[str]:
        ns = namespace_of(obj)
        out = []
        for v in _walk(obj, segments):
            if v is None or isinstance(v, dict | list):
                continue
            value = transform(v)
            out.append(f"{ns}/{value}" if namespaced and ns else value)
        return out

    return index
