"""The AIMRuntimeConfig and AIMClusterRuntimeConfig controllers: validate and report.

The original operator had none (``docs/original-behaviour.md``, fix 2).

A runtime config has no children; the controller only checks it against the caches (routing
consistency, pull secrets, storage class — see :mod:`statemachines.runtimeconfig`) and writes
``status.conditions`` and ``observedGeneration``. It re-checks when the config changes and when a
Secret or StorageClass it names appears, changes or disappears. Consumers (templates, images,
services, caches) watch the configs themselves and re-resolve on every change; nothing here pushes to
them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from aimctl.controllers.base import KindController
from aimctl.controllers.common import (
    BY_PULL_SECRET,
    BY_STORAGE_CLASS,
    event_key,
    event_name,
    index_pull_secret,
    index_storage_class,
    io_parts,
)
from aimctl.kube.objects import dig, dig_list, dig_map, namespace_of, spec_of, status_of
from aimctl.kube.resources import AIM_CLUSTER_RUNTIME_CONFIGS, AIM_RUNTIME_CONFIGS, SECRETS, STORAGE_CLASSES
from aimctl.manager import Manager
from aimctl.oci.credentials import PULL_SECRET_SELECTIONS, pull_secret_projection
from aimctl.reconcile import Watch
from aimctl.routing.render import check_template
from informers.handlers import indexed_keys, self_key
from informers.resource import Resource
from informers.store import Obj
from statemachines.engine import Decision
from statemachines.runtimeconfig import MACHINE, RuntimeConfigObservation, state_from_conditions


class RuntimeConfigController(KindController[RuntimeConfigObservation]):
    """One instance per kind (``namespaced`` chooses AIMRuntimeConfig or AIMClusterRuntimeConfig)."""

    machine = MACHINE

    def __init__(self, manager: Manager, namespaced: bool) -> None:
        self.namespaced = namespaced
        self.resource: Resource = AIM_RUNTIME_CONFIGS if namespaced else AIM_CLUSTER_RUNTIME_CONFIGS
        self.name = "aim-runtime-config" if namespaced else "aim-cluster-runtime-config"
        informer = manager.cache.informer(self.resource)
        if namespaced:
            informer.add_indexer(BY_PULL_SECRET, index_pull_secret)
        informer.add_indexer(BY_STORAGE_CLASS, index_storage_class)
        self.secrets = manager.cache.informer(SECRETS, pull_secret_projection, PULL_SECRET_SELECTIONS).store
        self.storage_classes = manager.cache.informer(STORAGE_CLASSES).store
        super().__init__(informer.store, *io_parts(manager.client, self.name), manager.metrics)

    def watches(self) -> Sequence[Watch]:
        watches = [
            Watch(self.resource, self_key),
            Watch(STORAGE_CLASSES, indexed_keys(self.store, BY_STORAGE_CLASS, event_name)),
        ]
        if self.namespaced:
            watches.append(
                Watch(
                    SECRETS,
                    indexed_keys(self.store, BY_PULL_SECRET, event_key),
                    transform=pull_secret_projection,
                    selections=PULL_SECRET_SELECTIONS,
                )
            )
        return watches

    async def observe(self, obj: Obj) -> RuntimeConfigObservation:
        spec, ns = spec_of(obj), namespace_of(obj)
        routing = dig_map(spec, "routing")
        secrets: tuple[str, ...] = ()
        missing: tuple[str, ...] = ()
        if self.namespaced:
            secrets = tuple(dict.fromkeys(str(s["name"]) for s in dig_list(spec, "imagePullSecrets") if s.get("name")))
            missing = tuple(n for n in secrets if self.secrets.get(f"{ns}/{n}") is None)
        storage_class = spec.get("defaultStorageClassName") or None
        return RuntimeConfigObservation(
            kind=self.resource.kind,
            routing_enabled=bool(routing.get("enabled")),
            gateway_ref_set=bool(dig(routing, "gatewayRef", "name")),
            pull_secrets=secrets,
            missing_pull_secrets=missing,
            storage_class=storage_class,
            storage_class_found=storage_class is None or self.storage_classes.get(storage_class) is not None,
            namespaced=self.namespaced,
            route_template_error=check_template(routing.get("routeTemplate")) or "",
        )

    def current_state(self, obj: Obj) -> str | None:
        return state_from_conditions(status_of(obj).get("conditions"))

    def compose_status(self, obj: Obj, obs: RuntimeConfigObservation, decision: Decision) -> dict[str, Any]:
        status = super().compose_status(obj, obs, decision)
        status.pop("status", None)  # the API's status has no state field for these kinds
        return status
