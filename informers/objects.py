"""Read accessors for Kubernetes objects held as plain JSON dicts (cache entries, manifests, API answers).

Why: every layer reads nested fields of raw objects (``status.resolvedTemplate.name``,
``metadata.ownerReferences``), and a hand-written ``((obj.get("status") or {}).get("x") or {})``
chain in each place is easy to get subtly wrong and hard to read. This module is the one walker and
its typed variants; it lives in the lowest layer so that :mod:`informers` can use it too
(:mod:`aimctl.kube.objects` re-exports it beside the AIM-side helpers).

Guarantees:
    * a missing key, a ``null`` value or a step that is not a mapping reads as the typed empty value
      (``None``, an empty mapping, an empty sequence, ``""``), never as an error, so the accessors
      work on a partial object (a slim projection, a fragment) and on ``None`` itself;
    * a value of the wrong type reads as empty too: :func:`dig_map` never returns a list, and
      :func:`dig_list` never returns a mapping or a string;
    * the accessors never copy or modify the object: callers must not modify what they return (copy
      with ``dict(...)``/``list(...)`` first).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

_EMPTY: Mapping[str, Any] = {}
_NONE: Sequence[Any] = ()


def dig(obj: Mapping[str, Any] | None, *keys: str) -> Any:
    """The value at ``obj[k1][k2]...``, or ``None`` when a step is missing or not a mapping."""
    node: Any = obj
    for key in keys:
        if not isinstance(node, Mapping):
            return None
        node = node.get(key)
    return node


def dig_map(obj: Mapping[str, Any] | None, *keys: str) -> Mapping[str, Any]:
    """The mapping at ``obj[k1][k2]...``, else an empty one (missing, ``null`` or not a mapping)."""
    value = dig(obj, *keys)
    return value if isinstance(value, Mapping) else _EMPTY


def dig_list(obj: Mapping[str, Any] | None, *keys: str) -> Sequence[Any]:
    """The list at ``obj[k1][k2]...``, else an empty sequence (missing, ``null`` or not a list)."""
    value = dig(obj, *keys)
    return value if isinstance(value, list | tuple) else _NONE


def dig_str(obj: Mapping[str, Any] | None, *keys: str, default: str = "") -> str:
    """``str()`` of the value at ``obj[k1][k2]...``, or ``default`` when it is missing or empty
    (``None``, ``""``, ``0``, ``False``: the behaviour of ``str(x.get(k) or default)``)."""
    value = dig(obj, *keys)
    return str(value) if value else default


def get_path(obj: Mapping[str, Any] | None, path: str) -> Any:
    """:func:`dig` with a dotted path (``"spec.image"``)."""
    return dig(obj, *path.split("."))


# -- the standard sections ---------------------------------------------------------------------------


def section(obj: Mapping[str, Any] | None, name: str) -> Mapping[str, Any]:
    """``obj[name]`` when it is a mapping, else an empty one (also for ``obj`` itself ``None``)."""
    return dig_map(obj, name)


def meta_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dig_map(obj, "metadata")


def spec_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dig_map(obj, "spec")


def status_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dig_map(obj, "status")


def name_of(obj: Mapping[str, Any] | None) -> str:
    return dig_str(obj, "metadata", "name")


def namespace_of(obj: Mapping[str, Any] | None) -> str | None:
    """The namespace, or ``None`` for a cluster-scoped object."""
    return dig_str(obj, "metadata", "namespace") or None


def uid_of(obj: Mapping[str, Any] | None) -> str:
    return dig_str(obj, "metadata", "uid")


def key_of(obj: Mapping[str, Any] | None) -> str:
    """The cache key: ``namespace/name``, or ``name`` for a cluster-scoped object (client-go's
    ``MetaNamespaceKeyFunc``)."""
    ns = namespace_of(obj)
    return f"{ns}/{name_of(obj)}" if ns else name_of(obj)


def labels_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dig_map(obj, "metadata", "labels")


def annotations_of(obj: Mapping[str, Any] | None) -> Mapping[str, Any]:
    return dig_map(obj, "metadata", "annotations")


def created_at(obj: Mapping[str, Any] | None) -> str:
    """``metadata.creationTimestamp`` (RFC 3339, so it sorts as text), ``""`` when unset."""
    return dig_str(obj, "metadata", "creationTimestamp")


def deleting(obj: Mapping[str, Any] | None) -> bool:
    """The object has a ``deletionTimestamp`` (it waits for finalizers or garbage collection)."""
    return bool(dig(obj, "metadata", "deletionTimestamp"))


# -- owners and conditions ---------------------------------------------------------------------------


def owner_refs(obj: Mapping[str, Any] | None) -> Sequence[Mapping[str, Any]]:
    """``metadata.ownerReferences`` (empty when unset)."""
    return dig_list(obj, "metadata", "ownerReferences")


def controller_ref(obj: Mapping[str, Any] | None) -> Mapping[str, Any] | None:
    """The owner reference marked ``controller: true``, if any."""
    for ref in owner_refs(obj):
        if ref.get("controller"):
            return dict(ref)
    return None


def controlled_by(obj: Mapping[str, Any] | None, uid: str) -> bool:
    """The object's controller owner has ``uid`` (False without an object or a controller)."""
    ref = controller_ref(obj)
    return ref is not None and ref.get("uid") == uid


def conditions_of(obj: Mapping[str, Any] | None) -> Sequence[Mapping[str, Any]]:
    """``status.conditions`` (empty when unset)."""
    return dig_list(obj, "status", "conditions")


def find_condition(
    conditions: Sequence[Mapping[str, Any]], type_: str, status: str | None = None
) -> Mapping[str, Any] | None:
    """The condition of ``type_`` in a condition list (with ``status`` given: only when its status is
    that, e.g. ``"True"``), else ``None``."""
    for c in conditions:
        if isinstance(c, Mapping) and c.get("type") == type_:
            return c if status is None or c.get("status") == status else None
    return None


def condition(obj: Mapping[str, Any] | None, type_: str, status: str | None = None) -> Mapping[str, Any] | None:
    """The condition of ``type_`` in ``status.conditions`` (see :func:`find_condition`)."""
    return find_condition(conditions_of(obj), type_, status)


def container_statuses(pod: Mapping[str, Any] | None) -> list[Mapping[str, Any]]:
    """A pod's init container statuses, then its container statuses (empty when unset)."""
    return [*dig_list(pod, "status", "initContainerStatuses"), *dig_list(pod, "status", "containerStatuses")]
