"""The AIMTemplateCache controller: one AIMModelCache per model source of a template (rules in
:mod:`statemachines.templatecache`; manifests in :mod:`aimctl.builders.model_caches_for_template`).

Watches and how their events become keys:

* AIMTemplateCache → itself;
* AIMModelCache → its controller owner when that is an AIMTemplateCache;
* AIMServiceTemplate ``<ns>/<name>`` → the template caches of that namespace whose ``templateRef``
  is ``<name>`` (index :data:`BY_TEMPLATE_REF`);
* AIMClusterServiceTemplate ``<name>`` → every template cache whose ``templateRef`` is ``<name>``
  (index :data:`BY_TEMPLATE_REF_ANY_NS`) — status changes included, which is how
  ``status.modelSources`` appearing after discovery is noticed;
* AIMRuntimeConfig / AIMClusterRuntimeConfig → the template caches naming it
  (``aimctl.controllers.common.BY_RUNTIME_CONFIG`` / ``BY_RUNTIME_CONFIG_ANY_NS``).

Model caches are always created in the template cache's namespace, also for a cluster template.
Their storage class is the template cache's ``spec.storageClassName``, else its runtime config's
``defaultStorageClassName``, else unset (cluster default). Applying them is idempotent (server-side
apply, skipped when the cache already matches). An owned model cache that is no longer wanted (the
template's sources changed, or the same name now needs another — immutable — ``sourceUri``) is
deleted. A model cache with a wanted name that belongs to someone else (the previous template cache
of the same name, still being garbage-collected) is waited for, never adopted.

Deleting a template cache deletes its model caches, and through them their PVCs and Jobs, by
garbage collection (controller ownerReferences); there is no finalizer, so nothing can block the
deletion of a namespace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from aimctl.api.enums import API_GROUP
from aimctl.builders.model_cache_pvc import effective_storage_class
from aimctl.builders.model_caches_for_template import ModelSource, build_model_caches, model_sources
from aimctl.controllers.base import Child, Deletion, Desired, KindController
from aimctl.controllers.common import (
    BY_RUNTIME_CONFIG,
    BY_RUNTIME_CONFIG_ANY_NS,
    event_key,
    index_runtime_config,
    index_runtime_config_any_ns,
    io_parts,
)
from aimctl.kube.objects import condition, controlled_by, deleting, dig, dig_str, spec_of, status_of, uid_of
from aimctl.kube.resources import (
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_CLUSTER_SERVICE_TEMPLATES,
    AIM_MODEL_CACHES,
    AIM_RUNTIME_CONFIGS,
    AIM_SERVICE_TEMPLATES,
    AIM_TEMPLATE_CACHES,
)
from aimctl.manager import Manager
from aimctl.reconcile import Watch
from aimctl.resolve.runtime_config import MissingRuntimeConfig, resolve_runtime_config, runtime_config_name
from aimctl.resolve.template import CLUSTER_KIND, NAMESPACED_KIND, find_template
from informers.handlers import controller_owner_key, indexed_keys, self_key
from informers.indexers import BY_CONTROLLER_UID, by_field, controller_uid
from informers.store import Obj, Store
from statemachines.engine import Decision
from statemachines.templatecache import (
    MACHINE,
    MODEL_CACHES,
    STALE_MODEL_CACHES,
    ChildCache,
    TemplateCacheObservation,
)

KIND = "AIMTemplateCache"
#: Template caches by ``namespace/templateRef``.
BY_TEMPLATE_REF = "aim:template-ref"
#: Template caches by ``templateRef`` regardless of namespace (a cluster template serves them all).
BY_TEMPLATE_REF_ANY_NS = "aim:template-ref-any-ns"
index_template_ref = by_field("spec.templateRef")
index_template_ref_any_ns = by_field("spec.templateRef", namespaced=False)


@dataclass(frozen=True)
class ResolvedTemplate:
    """What a ``templateRef`` resolved to."""

    kind: str
    obj: Obj


def resolve_template(namespace: str, name: str, namespaced: Store, cluster: Store) -> ResolvedTemplate | None:
    """``AIMServiceTemplate <namespace>/<name>`` first, then ``AIMClusterServiceTemplate <name>``
    (:func:`aimctl.resolve.template.find_template`)."""
    obj, scope = find_template(namespace, name, namespaced, cluster)
    if obj is None:
        return None
    return ResolvedTemplate(NAMESPACED_KIND if scope == "Namespace" else CLUSTER_KIND, obj)


def invalid_source_messages(sources: Sequence[ModelSource]) -> tuple[str, ...]:
    return tuple(f"{s.name or s.uri}: no valid size" for s in sources if s.size is None)


@dataclass(frozen=True)
class Observed(TemplateCacheObservation):
    """The machine's observation plus the manifests and references the controller writes."""

    desired_caches: tuple[Obj, ...] = ()
    resolved_runtime_config: dict[str, Any] | None = None
    cached_children: dict[str, Obj] = field(default_factory=dict)


class TemplateCacheController(KindController[Observed]):
    """Reconciles AIMTemplateCaches (see the module docstring)."""

    name = "aim-template-cache"
    resource = AIM_TEMPLATE_CACHES
    machine = MACHINE

    def __init__(self, manager: Manager) -> None:
        cache = manager.cache
        informer = cache.informer(AIM_TEMPLATE_CACHES)
        for index, fn in (
            (BY_TEMPLATE_REF, index_template_ref),
            (BY_TEMPLATE_REF_ANY_NS, index_template_ref_any_ns),
            (BY_RUNTIME_CONFIG, index_runtime_config),
            (BY_RUNTIME_CONFIG_ANY_NS, index_runtime_config_any_ns),
        ):
            informer.add_indexer(index, fn)
        model_caches = cache.informer(AIM_MODEL_CACHES)
        model_caches.add_indexer(BY_CONTROLLER_UID, controller_uid)
        self.model_caches = model_caches.store
        self.templates = cache.informer(AIM_SERVICE_TEMPLATES).store
        self.cluster_templates = cache.informer(AIM_CLUSTER_SERVICE_TEMPLATES).store
        self.runtime_configs = cache.informer(AIM_RUNTIME_CONFIGS).store
        self.cluster_runtime_configs = cache.informer(AIM_CLUSTER_RUNTIME_CONFIGS).store
        super().__init__(informer.store, *io_parts(manager.client, self.name), manager.metrics)

    # -- watches -----------------------------------------------------------------------------------
    def watches(self) -> Sequence[Watch]:
        return [
            Watch(AIM_TEMPLATE_CACHES, self_key),
            Watch(AIM_MODEL_CACHES, controller_owner_key(KIND, API_GROUP)),
            Watch(AIM_SERVICE_TEMPLATES, indexed_keys(self.store, BY_TEMPLATE_REF, event_key)),
            Watch(AIM_CLUSTER_SERVICE_TEMPLATES, indexed_keys(self.store, BY_TEMPLATE_REF_ANY_NS, event_key)),
            Watch(AIM_RUNTIME_CONFIGS, indexed_keys(self.store, BY_RUNTIME_CONFIG, event_key)),
            Watch(AIM_CLUSTER_RUNTIME_CONFIGS, indexed_keys(self.store, BY_RUNTIME_CONFIG_ANY_NS, event_key)),
        ]

    # -- observation -------------------------------------------------------------------------------
    async def observe(self, obj: Obj) -> Observed:
        spec = spec_of(obj)
        ns, uid = obj["metadata"]["namespace"], uid_of(obj)
        ref = str(spec.get("templateRef") or "")
        rc_name = runtime_config_name(spec)
        rc = resolve_runtime_config(ns, rc_name, self.runtime_configs, self.cluster_runtime_configs)
        template = resolve_template(ns, ref, self.templates, self.cluster_templates)
        tstatus = status_of(template.obj if template else None)
        sources = model_sources(tstatus.get("modelSources")) if template else ()

        rc_missing = rc.message if isinstance(rc, MissingRuntimeConfig) else ""
        rc_ref = None if isinstance(rc, MissingRuntimeConfig) else rc.reference
        default_class = None if isinstance(rc, MissingRuntimeConfig) else rc.default_storage_class_name
        storage_class = effective_storage_class(spec.get("storageClassName"), default_class)

        desired = build_model_caches(obj, ref, sources, storage_class) if template and not rc_missing else []
        owned = {str(c["metadata"]["name"]): c for c in self.model_caches.by_index(BY_CONTROLLER_UID, uid)}
        stale = [name for name, child in owned.items() if not deleting(child) and not _still_wanted(child, desired)]
        children: list[ChildCache] = []
        to_apply: list[Obj] = []
        cached: dict[str, Obj] = {}
        for manifest in desired:
            name = str(manifest["metadata"]["name"])
            existing = self.model_caches.get(f"{ns}/{name}")
            if existing is None:
                to_apply.append(manifest)
                children.append(ChildCache(name))
            elif controlled_by(existing, uid) and not deleting(existing) and name not in stale:
                to_apply.append(manifest)
                cached[name] = existing
                children.append(_child_state(name, existing))
            else:
                children.append(ChildCache(name))  # being replaced or still collected: wait for it
        return Observed(
            template_ref=ref,
            template_kind=template.kind if template else "",
            template_state=str(tstatus.get("status") or ""),
            runtime_config_name=rc_name,
            runtime_config_missing=rc_missing,
            runtime_config_found=rc_ref is not None,
            source_count=len(sources),
            invalid_sources=invalid_source_messages(sources),
            children=tuple(children),
            stale_children=tuple(sorted(stale)),
            desired_caches=tuple(to_apply),
            resolved_runtime_config=dict(rc_ref) if rc_ref else None,
            cached_children=cached,
        )

    # -- children ----------------------------------------------------------------------------------
    def children(self) -> Sequence[Child[Observed]]:
        return [
            Child(MODEL_CACHES, AIM_MODEL_CACHES, _model_caches),
            Child(STALE_MODEL_CACHES, AIM_MODEL_CACHES, delete=_stale_model_caches),
        ]

    def status_fields(self, obj: Obj, obs: Observed, decision: Decision) -> dict[str, Any]:
        fields: dict[str, Any] = {}
        if obs.template_kind:
            fields["resolvedTemplateKind"] = obs.template_kind
        if obs.resolved_runtime_config:
            fields["resolvedRuntimeConfig"] = obs.resolved_runtime_config
        return fields


# -- helpers ---------------------------------------------------------------------------------------


def _model_caches(obj: Obj, obs: Observed) -> list[Desired]:
    return [
        Desired(AIM_MODEL_CACHES, m, obs.cached_children.get(str(m["metadata"]["name"]))) for m in obs.desired_caches
    ]


def _stale_model_caches(obj: Obj, obs: Observed, name: str) -> list[Deletion]:
    ns = obj["metadata"]["namespace"]
    return [Deletion(AIM_MODEL_CACHES, ns, n) for n in obs.stale_children if not name or n == name]


def _still_wanted(child: Obj, desired: Sequence[Obj]) -> bool:
    name = child["metadata"]["name"]
    uri = dig(child, "spec", "sourceUri")
    return any(m["metadata"]["name"] == name and m["spec"]["sourceUri"] == uri for m in desired)


def _child_state(name: str, child: Obj) -> ChildCache:
    state = str(status_of(child).get("status") or "")
    failure = condition(child, "Failure", "True") if state == "Failed" else None
    return ChildCache(name, state, dig_str(failure, "reason"))
