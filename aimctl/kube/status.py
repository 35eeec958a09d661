"""Status writes through the status subresource, only when the status changed.

Why: a status write on every reconcile is the classic hot loop — each write is a watch event, which
triggers a reconcile, which writes again. The controller computes the complete status from its
observation every time (``docs/original-behaviour.md``, fix 7); this module compares it with the cached
status and sends a server-side apply of ``{apiVersion, kind, metadata{name, namespace}, status}`` to
``…/status`` only if they differ.

Guarantees: no request at all when the cached status is semantically equal (equal modulo keys whose
value is ``None``) to the desired one; otherwise exactly one apply, with the controller's field
manager and ``force=True``.

Caveat: the status must be computed *completely* (the controller owns the whole status); timestamps
such as ``lastTransitionTime`` must be carried over from the cached status unless the condition's
status flips, or every reconcile will differ.
"""

from __future__ import annotations

from typing import Any

from aimctl.kube.apply import field_manager, semantically_equal
from aimctl.kube.objects import meta_of, status_of
from informers.resource import Resource
from informers.rest import ApiError, RestClient
from informers.store import Obj


def status_changed(cached: Obj, status: dict[str, Any]) -> bool:
    return not semantically_equal(status, status_of(cached))


class StatusWriter:
    """Applies ``status`` of objects of any kind with one field manager; counts writes and skips."""

    def __init__(self, client: RestClient, controller: str) -> None:
        self.client = client
        self.field_manager = field_manager(controller)
        self.written = 0
        self.skipped = 0

    async def apply_status(self, resource: Resource, cached: Obj, status: dict[str, Any]) -> Obj | None:
        """Write ``status`` for the object ``cached`` (the informer's copy) unless it is unchanged;
        return the stored object, or ``None`` when skipped."""
        if not status_changed(cached, status):
            self.skipped += 1
            return None
        meta = meta_of(cached)
        name = meta["name"]
        namespace = meta.get("namespace")
        body: dict[str, Any] = {
            "apiVersion": resource.api_version,
            "kind": resource.kind,
            "metadata": {"name": name, **({"namespace": namespace} if namespace else {})},
            "status": status,
        }
        try:
            result: Obj = await self.client.request(
                "apply",
                resource.path(namespace, name, "status"),
                resource=resource.name,
                query=[("fieldManager", self.field_manager), ("force", "true")],
                body=body,
            )
        except ApiError as exc:
            if exc.not_found:
                # Deleted since the cache was read: there is no status left to write (not an error;
                # the deletion's watch event ends the story).
                self.skipped += 1
                return None
            raise
        self.written += 1
        return result
