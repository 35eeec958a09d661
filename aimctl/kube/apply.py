"""Server-side apply of children, skipped when the cache shows nothing would change.

Why: DESIGN.md §3 step 6 and §9 — at steady state, after a restart and on resync the operator makes
*zero* writes. An apply whose result equals what is already stored still costs an apiserver round
trip and an etcd read, and with thousands of children it adds up; so before applying, the desired
object is compared with the cached one, and the write is skipped when the cache already contains
every field the controller wants, with the same values.

Each controller applies with its own field manager (``aimctl.aim.silogen.ai/<controller>``) and
``force=True``: a controller is the authority for the fields it sets (operator-patterns.md §2.3).

Caveats:
    * the comparison is a *semantic subset* (:func:`is_subset`): fields the controller stops setting
      are not detected as a difference; such a change must also change a value that is compared (e.g.
      a label or annotation carrying a spec hash), or the controller must delete the field
      explicitly with ``None``;
    * the cached object must contain the compared fields: a child cached as a slim projection is only
      comparable for the fields its projection keeps;
    * values are compared as JSON values: the apiserver may normalise some (quantities such as
      ``"1000m"`` → ``"1"``); write desired objects in canonical form or they will be applied on every
      reconcile.
"""

from __future__ import annotations

from typing import Any

from informers.resource import Resource
from informers.rest import ApiError, RestClient
from informers.store import Obj

FIELD_MANAGER_PREFIX = "aimctl.aim.silogen.ai/"


def field_manager(controller: str) -> str:
    """The field manager of a controller (≤ 128 characters, as the apiserver requires)."""
    return (FIELD_MANAGER_PREFIX + controller)[:128]


def is_subset(desired: Any, actual: Any) -> bool:
    """True when every field of ``desired`` is present in ``actual`` with an equal value.

    Mappings are compared key by key (extra keys in ``actual`` are fine; a ``None`` in ``desired``
    means "absent"), lists element by element with equal lengths, scalars by equality.
    """
    if isinstance(desired, dict):
        if not isinstance(actual, dict):
            return False
        for key, value in desired.items():
            if value is None:
                if actual.get(key) is not None:
                    return False
                continue
            if key not in actual or not is_subset(value, actual[key]):
                return False
        return True
    if isinstance(desired, list):
        if not isinstance(actual, list) or len(desired) != len(actual):
            return False
        return all(is_subset(d, a) for d, a in zip(desired, actual, strict=True))
    if isinstance(desired, bool) or isinstance(actual, bool):
        return desired is actual
    return bool(desired == actual)


def semantically_equal(a: Any, b: Any) -> bool:
    """Equality modulo ``None``-valued keys (mutual :func:`is_subset`)."""
    return is_subset(a, b) and is_subset(b, a)


def needs_apply(desired: Obj, cached: Obj | None) -> bool:
    """Whether applying ``desired`` could change the stored object (see :func:`is_subset`)."""
    if cached is None:
        return True
    body = {k: v for k, v in desired.items() if k not in ("apiVersion", "kind", "status")}
    return not is_subset(body, cached)


class Applier:
    """Server-side apply with one field manager; counts what it did (``applied`` / ``skipped``)."""

    def __init__(self, client: RestClient, controller: str) -> None:
        self.client = client
        self.field_manager = field_manager(controller)
        self.applied = 0
        self.skipped = 0

    async def apply(
        self, resource: Resource, desired: Obj, cached: Obj | None = None, force: bool = True
    ) -> Obj | None:
        """Apply ``desired`` unless ``cached`` already matches it; return the stored object, or
        ``None`` when skipped. ``desired`` must carry ``metadata.name`` (and ``namespace`` for
        namespaced resources); ``apiVersion`` and ``kind`` are filled in from ``resource``."""
        if not needs_apply(desired, cached):
            self.skipped += 1
            return None
        meta = desired.get("metadata") or {}
        body = {"apiVersion": resource.api_version, "kind": resource.kind, **desired}
        body["metadata"] = {k: v for k, v in meta.items() if k not in ("managedFields", "resourceVersion")}
        query = [("fieldManager", self.field_manager), ("force", "true" if force else "false")]
        result: Obj = await self.client.request(
            "apply",
            resource.path(meta.get("namespace"), meta["name"]),
            resource=resource.name,
            query=query,
            body=body,
        )
        self.applied += 1
        return result

    async def delete(
        self, resource: Resource, namespace: str | None, name: str, propagation: str = "Background"
    ) -> bool:
        """Delete an object; return False if it was already gone."""
        try:
            await self.client.request(
                "delete",
                resource.path(namespace, name),
                resource=resource.name,
                body={"kind": "DeleteOptions", "apiVersion": "v1", "propagationPolicy": propagation},
            )
        except ApiError as exc:
            if exc.not_found:
                return False
            raise
        return True
