"""Server-side apply of children, skipped when the cache shows nothing would change.

Why: at steady state, after a restart and on resync the operator makes *zero* writes. An apply whose
result equals what is already stored still costs an apiserver round trip and an etcd read, and with
thousands of children it adds up; so before applying, the desired object is compared with the
cached one, and the write is skipped when nothing would change.

Each controller applies with its own field manager (``aimctl.aim.silogen.ai/<controller>``) and
``force=True``: a controller is the authority for the fields it sets.

When is a child applied (:func:`needs_apply`)? When it is not cached, when the hash of the desired
manifest differs from the one recorded on the child in the :data:`DESIRED_HASH` annotation, or when
the cached child no longer holds every desired field with the desired value (someone changed a
field the controller owns). Every apply records the hash of what it sent.

Removal of fields: because the hash covers the whole desired manifest, a field a builder *stops*
setting (a pull secret, an env var, a label, a storage class) changes the hash, which triggers an
apply with the same field manager; server-side apply then removes every field that manager owned
and no longer sends (fields other managers also own stay, as server-side apply decides). This is
the one mechanism for every child kind; builders need no per-kind workaround.

Caveats:
    * a child created by an older operator version without the annotation is applied once after the
      upgrade (its annotation is missing), then skipped again (InferenceServices and HTTPRoutes
      already carried the same annotation with the same digest: they are not rewritten);
    * the cached object must contain the compared fields and the annotations: a child cached as a
      slim projection must keep annotations and the compared paths;
    * values are compared as JSON values: the apiserver may normalise some (quantities such as
      ``"1000m"`` → ``"1"``); write desired objects in canonical form or they will be applied on every
      reconcile;
    * applies to a ``status`` subresource (``hashed=False``) record no hash and are compared by
      subset only (metadata sent to a status subresource is ignored by the apiserver).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from aimctl.kube.objects import annotations_of, dig, meta_of
from informers.resource import Resource
from informers.rest import ApiError, RestClient
from informers.store import Obj

FIELD_MANAGER_PREFIX = "aimctl.aim.silogen.ai/"

#: Annotation on every child the operator applies: a hash of the desired manifest that was applied
#: (see the module docstring). Owned by the applying controller's field manager.
DESIRED_HASH = "aim.silogen.ai/desired-hash"


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


def desired_hash(desired: Obj) -> str:
    """A hash of the desired manifest as the builder made it (without :data:`DESIRED_HASH`
    itself): 16 hex digits of SHA-256 over its canonical JSON (sorted keys, compact separators).

    The same digest the AIMService controller recorded on InferenceServices and HTTPRoutes before
    every child carried one, so those are not rewritten at upgrade."""
    body = desired
    annotations = dig(desired, "metadata", "annotations")
    if isinstance(annotations, dict) and DESIRED_HASH in annotations:
        meta = dict(desired["metadata"])
        rest = {k: v for k, v in annotations.items() if k != DESIRED_HASH}
        if rest:
            meta["annotations"] = rest
        else:
            meta.pop("annotations")
        body = {**desired, "metadata": meta}
    text = json.dumps(body, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def with_desired_hash(desired: Obj) -> Obj:
    """A copy of ``desired`` whose annotations carry :data:`DESIRED_HASH` (what the applier sends)."""
    meta = dict(meta_of(desired))
    meta["annotations"] = {**annotations_of(desired), DESIRED_HASH: desired_hash(desired)}
    return {**desired, "metadata": meta}


def recorded_hash(obj: Obj | None) -> str | None:
    """The :data:`DESIRED_HASH` annotation of a stored child (``None`` when absent)."""
    value = annotations_of(obj).get(DESIRED_HASH)
    return str(value) if value is not None else None


def needs_apply(desired: Obj, cached: Obj | None, hashed: bool = True) -> bool:
    """Whether applying ``desired`` could change the stored object ``cached``: it is missing, its
    recorded hash is not the desired manifest's (with ``hashed``), or a desired field differs."""
    if cached is None:
        return True
    if hashed and recorded_hash(cached) != desired_hash(desired):
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
        self,
        resource: Resource,
        desired: Obj,
        cached: Obj | None = None,
        force: bool = True,
        hashed: bool = True,
    ) -> Obj | None:
        """Apply ``desired`` unless ``cached`` already matches it; return the stored object, or
        ``None`` when skipped. ``desired`` must carry ``metadata.name`` (and ``namespace`` for
        namespaced resources); ``apiVersion`` and ``kind`` are filled in from ``resource``. With
        ``hashed`` (the default; off for status subresources) the applied object records the
        desired manifest's hash in :data:`DESIRED_HASH`."""
        if not needs_apply(desired, cached, hashed):
            self.skipped += 1
            return None
        if hashed:
            desired = with_desired_hash(desired)
        meta = meta_of(desired)
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
