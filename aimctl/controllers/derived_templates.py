"""The derived-template collector (field manager ``aim-derived-templates``): deletes a derived
AIMServiceTemplate once no AIMService points at it any more.

Why not ownerReferences: a derived template is shared by every service of its namespace with the same
base and overrides. Recording each consumer on it (one ownerReference per service, as aimctl did
before) made the cost of a new service grow with the number of services sharing the template: the
template was rewritten for every consumer added or removed, and every write re-reconciled the
template and woke all N consumers. Here nothing about consumers is written anywhere:

* **who uses it** is read from the operator's cache: the services of the template's namespace whose
  template-name index (``templateRef``, the derived name over it, ``status.resolvedTemplate.name``;
  :func:`aimctl.controllers.service.template_names`) contains the template's name, leaving out
  services being deleted;
* **when** it is checked: on every change of a derived template, and on every change (deletion
  included) of a service, for the templates it pointed at before and after the change;
* **collection**: a derived template without consumers is deleted after it has had none for
  :data:`GRACE_SECONDS` (``AIMCTL_DERIVED_TEMPLATE_GRACE``, default 60 s) and is at least that old.
  The grace keeps a template — and its finished discovery — across a service that is deleted and
  re-created, or a new service not yet in the cache. The delete carries the template's UID and
  resourceVersion as preconditions, so a template that changed meanwhile is looked at again instead.

Caveats: the grace clock lives in memory (a restart or a new leader starts it again: collection is
delayed, never early); a service that appears while its template is being deleted re-creates it
(and its discovery runs again). Derived templates of aimctl versions that recorded consumers as
owners lose those references when a consumer next applies them; Kubernetes' garbage collector may
delete such a template with its last old owner, which is what those versions did.
"""

from __future__ import annotations

import datetime as dt
import os
import time
from collections.abc import Sequence

import structlog

from aimctl.builders.derived_template import is_derived
from aimctl.controllers.common import name_of, namespace_of
from aimctl.controllers.service import BY_TEMPLATE_NAME, index_template_name
from aimctl.kube.objects import created_at, deleting
from aimctl.kube.resources import AIM_SERVICE_TEMPLATES, AIM_SERVICES
from aimctl.manager import Manager
from aimctl.reconcile import Result, Watch
from informers.handlers import InformerEvent
from informers.rest import ApiError, RestClient
from informers.store import Obj

log = structlog.get_logger(__name__)

#: Environment variable: seconds a derived template must have had no consumer before it is deleted.
GRACE_ENV = "AIMCTL_DERIVED_TEMPLATE_GRACE"
GRACE_SECONDS = 60.0


def grace_seconds() -> float:
    """:data:`GRACE_SECONDS`, or ``AIMCTL_DERIVED_TEMPLATE_GRACE`` (a number ≥ 0)."""
    raw = os.environ.get(GRACE_ENV, "").strip()
    if not raw:
        return GRACE_SECONDS
    try:
        value = float(raw)
    except ValueError:
        raise ValueError(f"{GRACE_ENV}={raw!r} is not a number of seconds (e.g. 60)") from None
    if value < 0:
        raise ValueError(f"{GRACE_ENV}={raw!r} must be 0 or more seconds")
    return value


def consumers(services: Sequence[Obj]) -> list[str]:
    """Names of the services (from the template-name index) that still count as consumers: every one
    not being deleted."""
    return [name_of(s) for s in services if not deleting(s)]


class DerivedTemplateCollector:
    """Deletes derived templates without consumers (see the module docstring). Keys: ``ns/name`` of
    derived AIMServiceTemplates."""

    name = "aim-derived-templates"

    def __init__(self, manager: Manager, grace: float | None = None) -> None:
        services = manager.cache.informer(AIM_SERVICES)
        services.add_indexer(BY_TEMPLATE_NAME, index_template_name)
        self.services = services.store
        self.templates = manager.cache.informer(AIM_SERVICE_TEMPLATES).store
        self.client: RestClient = manager.client
        self.grace = grace_seconds() if grace is None else grace
        #: Since when (monotonic seconds) each template has been seen without consumers.
        self._unused_since: dict[str, float] = {}
        self.deleted = 0

    def watches(self) -> Sequence[Watch]:
        return [
            Watch(AIM_SERVICE_TEMPLATES, self._derived_key),
            Watch(AIM_SERVICES, self._pointed_at),
        ]

    def _derived_key(self, event: InformerEvent) -> list[str]:
        return [f"{namespace_of(event.obj)}/{name_of(event.obj)}"] if is_derived(event.obj) else []

    def _pointed_at(self, event: InformerEvent) -> list[str]:
        keys: list[str] = []
        for obj in (event.old, event.obj):
            for key in index_template_name(obj) if obj else ():
                template = self.templates.get(key)
                if template is not None and is_derived(template):
                    keys.append(key)
        return list(dict.fromkeys(keys))

    async def reconcile(self, key: str) -> Result:
        template = self.templates.get(key)
        if template is None or not is_derived(template):
            self._unused_since.pop(key, None)
            return Result()
        if consumers(self.services.by_index(BY_TEMPLATE_NAME, key)):
            self._unused_since.pop(key, None)
            return Result()
        now = time.monotonic()
        since = self._unused_since.setdefault(key, now)
        wait = max(self.grace - (now - since), self.grace - _age(template))
        if wait > 0:
            return Result(requeue_after=wait)
        meta = template["metadata"]
        try:
            await self.client.request(
                "delete",
                AIM_SERVICE_TEMPLATES.path(meta["namespace"], meta["name"]),
                resource=AIM_SERVICE_TEMPLATES.name,
                body={
                    "kind": "DeleteOptions",
                    "apiVersion": "v1",
                    "propagationPolicy": "Background",
                    "preconditions": {"uid": meta.get("uid"), "resourceVersion": meta.get("resourceVersion")},
                },
            )
        except ApiError as exc:
            if exc.not_found:
                self._unused_since.pop(key, None)
                return Result()
            if exc.status == 409:  # changed meanwhile: look again when the cache has the new version
                return Result(requeue_after=1.0)
            raise
        self._unused_since.pop(key, None)
        self.deleted += 1
        log.info("derived template has no consumers: deleted", namespace=meta["namespace"], name=meta["name"])
        return Result()


def _age(obj: Obj) -> float:
    """Seconds since ``metadata.creationTimestamp`` (0 when unknown or in the future)."""
    stamp = created_at(obj)
    try:
        created = dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=dt.UTC)
    except ValueError:
        return 0.0
    return max((dt.datetime.now(dt.UTC) - created).total_seconds(), 0.0)
