"""The AIMModelCache controller: a PVC and a download Job per cache (rules in
:mod:`statemachines.modelcache`).

Watches and how their events become keys:

* AIMModelCache → itself;
* PersistentVolumeClaim and Job → their controller owner when it is an AIMModelCache;
* StorageClass → the caches whose PVC uses that class (index :data:`BY_PVC_STORAGE_CLASS` on PVCs),
  so a class created after its PVC, or a binding-mode change, is noticed;
* AIMRuntimeConfig ``<ns>/default`` and AIMClusterRuntimeConfig ``default`` → the caches that have no
  PVC yet and no ``spec.storageClassName`` (only they still depend on ``defaultStorageClassName``).

A model cache has no ``runtimeConfigName``; it uses the runtime config named ``default`` (namespace
first, then cluster — :mod:`aimctl.resolve.runtime_config`). An AIMTemplateCache resolves its own
runtime config and writes the class into the model caches it creates.

Children are created, never updated: a PVC's spec is immutable (and a shrink is refused), a Job's pod
template too. A child with the right name that belongs to another object (the previous cache of the
same name, still being garbage-collected) is waited for, never adopted.

``status.lastUsed`` belongs to whoever deploys a service on the cache
(:func:`aimctl.builders.model_cache_usage.last_used_status`); this controller carries it over
unchanged. ``status.persistentVolumeClaim`` is the PVC name, set from the first reconcile on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aimctl.api.enums import API_GROUP
from aimctl.builders.download_job import build_download_job, job_generation, job_pvc_uid
from aimctl.builders.model_cache_pvc import build_model_cache_pvc, effective_storage_class
from aimctl.controllers.base import Child, Deletion, Desired, KindController
from aimctl.controllers.common import io_parts
from aimctl.kube.objects import (
    annotations_of,
    condition,
    controlled_by,
    deleting,
    dig,
    dig_str,
    key_of,
    name_of,
    namespace_of,
    spec_of,
    status_of,
    uid_of,
)
from aimctl.kube.resources import (
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_MODEL_CACHES,
    AIM_RUNTIME_CONFIGS,
    JOBS,
    PERSISTENT_VOLUME_CLAIMS,
    STORAGE_CLASSES,
)
from aimctl.logging import register_env_secrets
from aimctl.manager import Manager
from aimctl.naming import model_cache_job_name, model_cache_pvc_name
from aimctl.reconcile import Watch
from aimctl.resolve.runtime_config import DEFAULT_NAME, ResolvedRuntimeConfig, resolve_runtime_config
from informers.handlers import InformerEvent, controller_owner_key, indexed_keys, self_key
from informers.indexers import by_field
from informers.store import Obj
from statemachines.engine import Decision
from statemachines.modelcache import JOB, MACHINE, PVC, ModelCacheObservation

KIND = "AIMModelCache"
#: PVCs by ``spec.storageClassName`` (cluster-wide values: classes are cluster-scoped).
BY_PVC_STORAGE_CLASS = "aim:pvc-storage-class"
index_pvc_storage_class = by_field("spec.storageClassName", namespaced=False)
DEFAULT_CLASS_ANNOTATION = "storageclass.kubernetes.io/is-default-class"


@dataclass(frozen=True)
class Observed(ModelCacheObservation):
    """The machine's observation plus what the builders need (the manifests to create, if any)."""

    desired_pvc: Obj | None = None
    desired_job: Obj | None = None


class ModelCacheController(KindController[Observed]):
    """Reconciles AIMModelCaches (see the module docstring)."""

    name = "aim-model-cache"
    resource = AIM_MODEL_CACHES
    machine = MACHINE

    def __init__(self, manager: Manager) -> None:
        cache = manager.cache
        self.pvcs = cache.informer(PERSISTENT_VOLUME_CLAIMS).store
        self.jobs = cache.informer(JOBS).store
        self.storage_classes = cache.informer(STORAGE_CLASSES).store
        self.runtime_configs = cache.informer(AIM_RUNTIME_CONFIGS).store
        self.cluster_runtime_configs = cache.informer(AIM_CLUSTER_RUNTIME_CONFIGS).store
        store = cache.informer(AIM_MODEL_CACHES).store
        super().__init__(store, *io_parts(manager.client, self.name), manager.metrics)

    # -- watches -----------------------------------------------------------------------------------
    def watches(self) -> Sequence[Watch]:
        return [
            Watch(AIM_MODEL_CACHES, self_key),
            Watch(
                PERSISTENT_VOLUME_CLAIMS,
                controller_owner_key(KIND, API_GROUP),
                indexers={BY_PVC_STORAGE_CLASS: index_pvc_storage_class},
            ),
            Watch(JOBS, controller_owner_key(KIND, API_GROUP)),
            Watch(STORAGE_CLASSES, self._caches_using_class),
            Watch(AIM_RUNTIME_CONFIGS, self._caches_using_runtime_config),
            Watch(AIM_CLUSTER_RUNTIME_CONFIGS, self._caches_using_runtime_config),
        ]

    def _caches_using_class(self, event: InformerEvent) -> list[str]:
        name = name_of(event.obj)
        owners = controller_owner_key(KIND, API_GROUP)
        keys = indexed_keys(self.pvcs, BY_PVC_STORAGE_CLASS, lambda _e: [name])(event)
        out: list[str] = []
        for key in keys:
            pvc = self.pvcs.get(key)
            if pvc is not None:
                out.extend(owners(InformerEvent(event.type, PERSISTENT_VOLUME_CLAIMS, pvc)))
        return list(dict.fromkeys(out))

    def _caches_using_runtime_config(self, event: InformerEvent) -> list[str]:
        if name_of(event.obj) != DEFAULT_NAME:
            return []
        ns = namespace_of(event.obj)
        candidates = self.store.list(ns) if ns else list(self.store)
        return [key_of(c) for c in candidates if not dig(c, "spec", "storageClassName") and self._pvc_of(c) is None]

    def _pvc_of(self, cache: Obj) -> Obj | None:
        meta = cache["metadata"]
        return self.pvcs.get(f"{meta['namespace']}/{model_cache_pvc_name(meta['name'])}")

    # -- observation -------------------------------------------------------------------------------
    async def observe(self, obj: Obj) -> Observed:
        meta = obj["metadata"]
        spec, status = spec_of(obj), status_of(obj)
        ns, name, uid = meta["namespace"], meta["name"], meta.get("uid", "")
        register_env_secrets(spec.get("env"))  # literal credential-like env values: never logged
        pvc_name, job_name = model_cache_pvc_name(name), model_cache_job_name(name)
        pvc = self.pvcs.get(f"{ns}/{pvc_name}")
        job = self.jobs.get(f"{ns}/{job_name}")
        pvc_ours, job_ours = controlled_by(pvc, uid), controlled_by(job, uid)

        requested_class = effective_storage_class(spec.get("storageClassName"), self._runtime_default_class(ns))
        storage_class = dig(pvc, "spec", "storageClassName") or requested_class
        storage_class = storage_class or self._cluster_default_class() or ""
        sc = self.storage_classes.get(storage_class) if storage_class else None
        failure = condition(obj, "Failure", "True")

        pvc_status, job_status = status_of(pvc), status_of(job)
        failed_cond = condition(job, "Failed", "True")
        desired_pvc = build_model_cache_pvc(obj, requested_class) if pvc is None else None
        desired_job = None
        if job is None and pvc is not None and pvc_ours:
            desired_job = build_download_job(obj, str(pvc["metadata"].get("uid") or ""))
        return Observed(
            pvc_name=pvc_name,
            job_name=job_name,
            generation=int(meta.get("generation") or 0),
            observed_generation=int(status.get("observedGeneration") or 0),
            pvc_found=pvc is not None,
            pvc_uid=uid_of(pvc),
            pvc_phase=str(pvc_status.get("phase") or ("Pending" if pvc is not None else "")),
            pvc_deleting=pvc is not None and (not pvc_ours or deleting(pvc)),
            storage_class=storage_class,
            storage_class_missing=bool(storage_class) and sc is None,
            wait_for_first_consumer=dig(sc, "volumeBindingMode") == "WaitForFirstConsumer",
            job_found=job is not None,
            job_generation=job_generation(job) if job else None,
            job_pvc_uid=job_pvc_uid(job) if job else None,
            job_active=int(job_status.get("active") or 0) > 0 or int(job_status.get("ready") or 0) > 0,
            job_succeeded=condition(job, "Complete", "True") is not None or int(job_status.get("succeeded") or 0) > 0,
            job_failed=failed_cond is not None,
            job_failed_pods=int(job_status.get("failed") or 0),
            job_failure=_describe(failed_cond),
            job_deleting=job is not None and (not job_ours or deleting(job)),
            previous_failure_reason=dig_str(failure, "reason"),
            previous_failure_message=dig_str(failure, "message"),
            desired_pvc=desired_pvc,
            desired_job=desired_job,
        )

    def _runtime_default_class(self, namespace: str) -> str | None:
        resolved = resolve_runtime_config(namespace, DEFAULT_NAME, self.runtime_configs, self.cluster_runtime_configs)
        return resolved.default_storage_class_name if isinstance(resolved, ResolvedRuntimeConfig) else None

    def _cluster_default_class(self) -> str | None:
        for sc in self.storage_classes:
            if annotations_of(sc).get(DEFAULT_CLASS_ANNOTATION) == "true":
                return str(sc["metadata"]["name"])
        return None

    # -- children ----------------------------------------------------------------------------------
    def children(self) -> Sequence[Child[Observed]]:
        return [
            Child(PVC, PERSISTENT_VOLUME_CLAIMS, _pvc),
            Child(JOB, JOBS, _download_job, self._delete_job),
        ]

    def _delete_job(self, obj: Obj, obs: Observed, name: str) -> list[Deletion]:
        job = self.jobs.get(f"{obj['metadata']['namespace']}/{obs.job_name}")
        if job is None or not controlled_by(job, uid_of(obj)) or deleting(job):
            return []
        return [Deletion(JOBS, obj["metadata"]["namespace"], obs.job_name)]

    def status_fields(self, obj: Obj, obs: Observed, decision: Decision) -> dict[str, Any]:
        fields: dict[str, Any] = {"persistentVolumeClaim": obs.pvc_name}
        last_used = dig(obj, "status", "lastUsed")
        if last_used:
            fields["lastUsed"] = last_used
        return fields


# -- helpers ---------------------------------------------------------------------------------------


def _pvc(obj: Obj, obs: Observed) -> list[Desired]:
    """Create-only: an existing PVC is never updated (see the module docstring)."""
    return [Desired(PERSISTENT_VOLUME_CLAIMS, obs.desired_pvc, None)] if obs.desired_pvc is not None else []


def _download_job(obj: Obj, obs: Observed) -> list[Desired]:
    """Create-only: an existing Job is never updated (see the module docstring)."""
    return [Desired(JOBS, obs.desired_job, None)] if obs.desired_job is not None else []


def _describe(cond: Mapping[str, Any] | None) -> str:
    if not cond:
        return ""
    reason, message = cond.get("reason") or "", cond.get("message") or ""
    return f"{reason}: {message}" if reason and message else str(reason or message)
