"""Read accessors for Kubernetes objects held as plain JSON dicts (cache entries, manifests).

One place for what every controller reads: a missing or ``null`` section reads as empty, never as an
error, so ``spec_of(obj).get("x")`` works on a partial object (a slim projection, a fragment). The
accessors never copy or modify the object: callers must not modify what they return.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

_EMPTY: Mapping[str, Any] = {}


def section(obj: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    """``obj[name]`` when it is a mapping, else an empty one (also for ``obj`` itself ``None``)."""
    value = (obj or _EMPTY).get(name)
    return value if isinstance(value, Mapping) else _EMPTY


def meta_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(obj, "metadata")


def spec_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(obj, "spec")


def status_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(obj, "status")


def name_of(obj: Mapping[str, Any] | None) -> str:
    return str(meta_of(obj).get("name") or "")


def namespace_of(obj: Mapping[str, Any] | None) -> str | None:
    """The namespace, or ``None`` for a cluster-scoped object."""
    ns = meta_of(obj).get("namespace")
    return str(ns) if ns else None


def uid_of(obj: Mapping[str, Any] | None) -> str:
    return str(meta_of(obj).get("uid") or "")


def key_of(obj: Mapping[str, Any] | None) -> str:
    """The cache key: ``namespace/name``, or ``name`` for a cluster-scoped object."""
    ns = namespace_of(obj)
    return f"{ns}/{name_of(obj)}" if ns else name_of(obj)


def labels_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(meta_of(obj), "labels")


def annotations_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return section(meta_of(obj), "annotations")


def json_annotation(obj: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """The JSON object kept in annotation ``name`` (an operator-owned memory, see
    ``KindController.memory_annotation``); ``{}`` when absent or not a JSON object."""
    raw = annotations_of(obj).get(name)
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}


def deleting(obj: Mapping[str, Any] | None) -> bool:
    """The object has a ``deletionTimestamp`` (it waits for finalizers or garbage collection)."""
    return bool(meta_of(obj).get("deletionTimestamp"))


def controller_ref(obj: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The owner reference marked ``controller: true``, if any."""
    for ref in meta_of(obj).get("ownerReferences") or []:
        if ref.get("controller"):
            return dict(ref)
    return None


def controlled_by(obj: Mapping[str, Any] | None, uid: str) -> bool:
    """The object's controller owner has ``uid`` (False without an object or a controller)."""
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid


def conditions_of(obj: Mapping[str, Any] | None) -> Sequence[Mapping[str, Any]]:
    return status_of(obj).get("conditions") or []


def condition(obj: Mapping[str, Any] | None, type_: str, status: str | None = None) -> Mapping[str, Any] | None:
    """The condition of ``type_`` in ``status.conditions`` (with ``status`` given: only when its
    status is that, e.g. ``"True"``), else ``None``."""
    for c in conditions_of(obj):
        if c.get("type") == type_:
            return c if status is None or c.get("status") == status else None
    return None


def get_path(obj: Mapping[str, Any] | None, path: str) -> Any:
    """The value at a dotted path (``"spec.image"``), or ``None`` when any step is missing."""
    node: Any = obj
    for part in path.split("."):
        if not isinstance(node, Mapping):
            return None
        node = node.get(part)
    return node
