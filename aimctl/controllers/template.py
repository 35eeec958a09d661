"""The AIMServiceTemplate and AIMClusterServiceTemplate controllers (field managers
``aim-namespace-template`` and ``aim-cluster-template``).

Observation (caches only, plus the log of a succeeded discovery pod): the runtime config and the image
the template resolves to, GPU availability from the Node cache, the discovery Job of the current image
URI and its pods, other (stale) discovery Jobs the template owns, and the durable memory in the
template's own status. A discovery slot is taken in the pipeline's reserve step
(:meth:`TemplateController.reserve`), never while observing. :mod:`statemachines.template` decides;
this module builds and
applies what the decision asks for: the discovery Job, the (Cluster)ServingRuntime, the
AIMTemplateCache, and deletions of finished or stale Jobs.

Watches and what they wake:

======================================= =================================================================
event                                   templates reconciled
======================================= =================================================================
the template itself                     itself
its discovery Jobs and their pods       the owner (pods via their ``job-name`` label and the Job's owner)
its runtime and template cache          the owner (re-applied if changed or deleted)
AIMImage / AIMClusterImage spec or uid  templates whose ``aimImageName`` names it
AIMRuntimeConfig / AIMClusterRuntime…   templates whose ``runtimeConfigName`` names it (spec changes)
Node labels, allocatable, schedulable   templates whose GPU model the node offers (or offered)
======================================= =================================================================

Discovery never holds a slot forever (issue 12):

* a discovery pod stuck in ``ImagePullBackOff``/``ErrImagePull`` longer than the pull deadline after
  its Job was created is given up on: the Job is deleted (its slot freed), ``Failure`` keeps the pull
  error, and discovery is retried with the backoff (1 min doubling to 1 h). The deadline is
  ``AIMCTL_DISCOVERY_PULL_DEADLINE`` seconds in the operator's environment (default 300; tests use a
  few seconds), and the backoff's first delay ``AIMCTL_DISCOVERY_BACKOFF_BASE`` seconds (default 60;
  tests shorten it). A Job that runs for an hour fails on its own ``activeDeadlineSeconds``;
* a cached Job built with other env, pull secrets or ServiceAccount than the template and runtime
  config ask for now is deleted and created again (a Job's pod template is immutable), so a fixed pull
  secret reaches a pending or retrying discovery; a pull-input change also resets the backoff;
* a Job that completes before the cache shows its pod ``Succeeded`` waits for the pod (requeue): the
  log is read only from a Succeeded pod, and its absence is not a parse failure. (A pod that never
  shows up is bounded by the Job's ``ttlSecondsAfterFinished``: once the Job is gone a new one runs.)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import os
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio
import structlog

from aimctl import labels as L
from aimctl.builders.discovery_job import CONTAINER, build_discovery_job, discovery_inputs, pull_inputs
from aimctl.builders.serving_runtime import build_serving_runtime
from aimctl.builders.template_cache import build_template_cache
from aimctl.controllers.base import Child, Deletion, Desired, KindController
from aimctl.controllers.common import (
    BY_GPU_MODEL,
    BY_IMAGE_NAME,
    BY_IMAGE_NAME_ANY_NS,
    BY_JOB_NAME,
    BY_RUNTIME_CONFIG,
    BY_RUNTIME_CONFIG_ANY_NS,
    POD_PROJECTION,
    changed,
    index_gpu_model,
    index_image_name,
    index_image_name_any_ns,
    index_job_name,
    index_runtime_config,
    index_runtime_config_any_ns,
    io_parts,
    is_discovery_job,
    job_finished,
    name_of,
    namespace_of,
    operator_namespace,
    owner_key,
    owner_key_of,
    spec_changed,
    when,
)
from aimctl.controllers.discovery_slots import DiscoverySlots
from aimctl.discovery.parse import DiscoveryParseError, parse_discovery_output
from aimctl.gpu import GpuOffer, gpu_offer, labels_name_model, unavailable_message
from aimctl.kube.objects import (
    annotations_of,
    condition,
    conditions_of,
    dig,
    dig_list,
    dig_map,
    key_of,
    labels_of,
    meta_of,
    spec_of,
    status_of,
    uid_of,
)
from aimctl.kube.resources import (
    AIM_CLUSTER_IMAGES,
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_CLUSTER_SERVICE_TEMPLATES,
    AIM_IMAGES,
    AIM_RUNTIME_CONFIGS,
    AIM_SERVICE_TEMPLATES,
    AIM_TEMPLATE_CACHES,
    CLUSTER_SERVING_RUNTIMES,
    JOBS,
    NODES,
    PODS,
    SERVING_RUNTIMES,
)
from aimctl.manager import Manager
from aimctl.naming import discovery_job_name
from aimctl.reconcile import Watch
from aimctl.resolve.image import ResolvedImage, missing_image_message, resolve_image
from aimctl.resolve.runtime_config import MissingRuntimeConfig, ResolvedRuntimeConfig, resolve_runtime_config
from informers.handlers import InformerEvent, self_key
from informers.indexers import BY_CONTROLLER_UID, controller_uid
from informers.store import Obj
from statemachines.engine import Decision
from statemachines.template import (
    BACKOFF_BASE_SECONDS,
    DISCOVERY_JOB,
    MACHINE,
    SERVING_RUNTIME,
    STALE_DISCOVERY_JOBS,
    TEMPLATE_CACHE,
    DiscoveryRecord,
    JobView,
    TemplateObservation,
    condition_of,
    discovered_from_memory,
    legacy_memory,
    profile_id_from_memory,
)

log = structlog.get_logger("aimctl.controllers.template")

#: At most this much of a discovery log is read.
LOG_LIMIT_BYTES = 1 << 20
LOG_TIMEOUT_SECONDS = 15.0
PULL_FAILURES = ("ImagePullBackOff", "ErrImagePull")
#: Environment variable: seconds a discovery pod may be stuck in image pull (counted from the Job's
#: creation) before the attempt is given up on and its slot freed.
PULL_DEADLINE_ENV = "AIMCTL_DISCOVERY_PULL_DEADLINE"
DEFAULT_PULL_DEADLINE_SECONDS = 300.0
#: Environment variable: seconds before the first retry of a failed discovery (doubling per failure,
#: capped at an hour). Default 60; tests shorten it instead of waiting a real minute.
BACKOFF_BASE_ENV = "AIMCTL_DISCOVERY_BACKOFF_BASE"


def pull_deadline_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The pull deadline from ``AIMCTL_DISCOVERY_PULL_DEADLINE``; a clear error names a bad value."""
    return _seconds_from_env(PULL_DEADLINE_ENV, DEFAULT_PULL_DEADLINE_SECONDS, environ)


def backoff_base_from_env(environ: Mapping[str, str] | None = None) -> float:
    """The discovery retry backoff's base from ``AIMCTL_DISCOVERY_BACKOFF_BASE``; a clear error names a
    bad value."""
    return _seconds_from_env(BACKOFF_BASE_ENV, BACKOFF_BASE_SECONDS, environ)


def _seconds_from_env(name: str, default: float, environ: Mapping[str, str] | None) -> float:
    raw = (os.environ if environ is None else environ).get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not value > 0:
        raise ValueError(f"{name}={raw!r}: expected a positive number of seconds (e.g. {default:g})")
    return value


@dataclass(frozen=True)
class TemplateView(TemplateObservation):
    """The machine's observation plus what the builders need (the machine ignores the extra fields)."""

    template: Obj = field(default_factory=dict)
    job_namespace: str = ""
    runtime_config: ResolvedRuntimeConfig | None = None
    image: ResolvedImage | None = None


class TemplateController(KindController[TemplateView]):
    """One instance per kind; both share one :class:`DiscoverySlots`."""

    machine = MACHINE
    memory_annotation = L.DISCOVERY_STATE

    def __init__(self, manager: Manager, cluster_scoped: bool, slots: DiscoverySlots) -> None:
        self.cluster_scoped = cluster_scoped
        self.resource = AIM_CLUSTER_SERVICE_TEMPLATES if cluster_scoped else AIM_SERVICE_TEMPLATES
        self.kind = self.resource.kind
        self.name = "aim-cluster-template" if cluster_scoped else "aim-namespace-template"
        self.client = manager.client
        self.slots = slots
        self.pull_deadline = pull_deadline_from_env()
        self.backoff_base = backoff_base_from_env()
        self.operator_namespace = operator_namespace()
        cache = manager.cache
        templates = cache.informer(self.resource)
        for index, fn in {
            BY_RUNTIME_CONFIG: index_runtime_config,
            BY_RUNTIME_CONFIG_ANY_NS: index_runtime_config_any_ns,
            BY_IMAGE_NAME: index_image_name,
            BY_IMAGE_NAME_ANY_NS: index_image_name_any_ns,
            BY_GPU_MODEL: index_gpu_model,
        }.items():
            templates.add_indexer(index, fn)
        self.images = cache.informer(AIM_IMAGES).store
        self.cluster_images = cache.informer(AIM_CLUSTER_IMAGES).store
        self.runtime_configs = cache.informer(AIM_RUNTIME_CONFIGS).store
        self.cluster_runtime_configs = cache.informer(AIM_CLUSTER_RUNTIME_CONFIGS).store
        self.nodes = cache.informer(NODES).store
        jobs = cache.informer(JOBS)
        jobs.add_indexer(BY_CONTROLLER_UID, controller_uid)
        self.jobs = jobs.store
        pods = cache.informer(PODS, POD_PROJECTION)
        pods.add_indexer(BY_JOB_NAME, index_job_name)
        self.pods = pods.store
        self.runtime_resource = CLUSTER_SERVING_RUNTIMES if cluster_scoped else SERVING_RUNTIMES
        self.runtimes = cache.informer(self.runtime_resource).store
        self.template_caches = None if cluster_scoped else cache.informer(AIM_TEMPLATE_CACHES).store
        #: The discovery slot each reconcile in flight holds, by template key (see :meth:`reserve`).
        self._reservations: dict[str, str] = {}
        super().__init__(templates.store, *io_parts(manager.client, self.name), manager.metrics)

    # -- watches -----------------------------------------------------------------------------------------

    def watches(self) -> Sequence[Watch]:
        owner = owner_key(self.kind, self.cluster_scoped)
        watches = [
            Watch(self.resource, self_key),
            Watch(JOBS, when(lambda e: is_discovery_job(e.obj), owner)),
            Watch(PODS, self._pod_owner, transform=POD_PROJECTION),
            Watch(self.runtime_resource, owner),
            Watch(AIM_CLUSTER_IMAGES, when(_image_changed, self._by_values(BY_IMAGE_NAME_ANY_NS, _plain_name))),
            Watch(
                AIM_CLUSTER_RUNTIME_CONFIGS,
                when(spec_changed, self._by_values(BY_RUNTIME_CONFIG_ANY_NS, _plain_name)),
            ),
            Watch(NODES, when(_node_changed, self._node_templates)),
        ]
        if self.cluster_scoped:
            watches.append(
                Watch(
                    AIM_RUNTIME_CONFIGS,
                    when(
                        lambda e: spec_changed(e) and namespace_of(e.obj) == self.operator_namespace,
                        self._by_values(BY_RUNTIME_CONFIG, _plain_name),
                    ),
                )
            )
        else:
            watches += [
                Watch(AIM_IMAGES, when(_image_changed, self._by_values(BY_IMAGE_NAME, _ns_name))),
                Watch(AIM_RUNTIME_CONFIGS, when(spec_changed, self._by_values(BY_RUNTIME_CONFIG, _ns_name))),
                Watch(AIM_TEMPLATE_CACHES, owner),
            ]
        return watches

    def _by_values(self, index: str, value: Any) -> Any:
        store = self.store

        def mapper(event: InformerEvent) -> list[str]:
            return store.keys_by_index(index, value(event.obj))

        return mapper

    def _pod_owner(self, event: InformerEvent) -> list[str]:
        lab = labels_of(event.obj)
        if lab.get(L.COMPONENT) != L.COMPONENT_DISCOVERY or not lab.get(L.JOB_NAME):
            return []
        job = self.jobs.get(f"{namespace_of(event.obj)}/{lab[L.JOB_NAME]}")
        key = owner_key_of(job, self.kind, self.cluster_scoped) if job else None
        return [key] if key else []

    def _node_templates(self, event: InformerEvent) -> list[str]:
        keys: list[str] = []
        nodes = [event.obj] + ([event.old] if event.old is not None else [])
        for model in self.store.index_values(BY_GPU_MODEL):
            if any(labels_name_model(n, model) for n in nodes):
                keys.extend(self.store.keys_by_index(BY_GPU_MODEL, model))
        return keys

    # -- observation -----------------------------------------------------------------------------------

    async def observe(self, obj: Obj) -> TemplateView:
        meta, spec, status = meta_of(obj), spec_of(obj), status_of(obj)
        conditions = conditions_of(obj)
        name = str(meta["name"])
        ns = None if self.cluster_scoped else str(meta["namespace"])
        generation = int(meta.get("generation") or 0)
        job_ns = ns or self.operator_namespace
        now = dt.datetime.now(dt.UTC).replace(microsecond=0)
        image_name = str(spec.get("aimImageName") or "")
        memory = self.memory(obj) if L.DISCOVERY_STATE in annotations_of(obj) else legacy_memory(conditions)
        discovered = discovered_from_memory(memory)

        rc = resolve_runtime_config(
            ns or self.operator_namespace,
            spec.get("runtimeConfigName"),
            self.runtime_configs,
            self.cluster_runtime_configs,
        )
        image = resolve_image(ns, image_name, self.images, self.cluster_images) if image_name else None
        gpu = dig_map(spec, "gpuSelector")
        model, count = str(gpu.get("model") or ""), int(gpu.get("count") or 0)
        offer = gpu_offer(self.nodes, model, count) if model else GpuOffer.OFFERED

        base: dict[str, Any] = {
            "name": name,
            "generation": generation,
            "now": now,
            "cluster_scoped": self.cluster_scoped,
            "image_name": image_name,
            "image_missing_message": missing_image_message(image_name, self.cluster_scoped),
            "runtime_config_missing": rc.message if isinstance(rc, MissingRuntimeConfig) else None,
            "gpu_model": model or None,
            "gpu_count": count,
            "gpu_available": offer is GpuOffer.OFFERED,
            "gpu_cordoned": offer is GpuOffer.CORDONED,
            "gpu_message": unavailable_message(model, count, offer) if model else "",
            "has_results": bool(status.get("profile")),
            "discovered_image": discovered[0],
            "discovered_inputs": discovered[1],
            "discovered_profile_id": profile_id_from_memory(memory),
            "pull_deadline_seconds": self.pull_deadline,
            "previous_failure": condition_of(conditions, "Failure"),
            "caching_enabled": bool(dig(spec, "caching", "enabled")) and not self.cluster_scoped,
            "template_cache_owned": self._owns_template_cache(obj),
            "template": obj,
            "job_namespace": job_ns,
            "runtime_config": rc if isinstance(rc, ResolvedRuntimeConfig) else None,
            "image": image,
        }
        if image is None or not image.uri:
            return TemplateView(**base)
        uri = image.uri
        job_name = discovery_job_name(name, image_name, uri)
        wanted = self._job_manifest(obj, uri, job_ns, base["runtime_config"])
        inputs, pulls = discovery_inputs(wanted), pull_inputs(wanted)
        record = DiscoveryRecord.from_memory(memory, uri, generation, pulls, self.backoff_base)
        uid = str(meta.get("uid") or "")
        owned = self.jobs.by_index(BY_CONTROLLER_UID, uid) if uid else []
        stale = tuple(sorted(name_of(j) for j in owned if name_of(j) != job_name))
        job_obj = next((j for j in owned if name_of(j) == job_name), None)
        view = _job_view(job_obj) if job_obj is not None else None
        base.update(
            image_uri=uri, job_name=job_name, record=record, stale_jobs=stale, job=view,
            discovery_inputs=inputs, pull_inputs=pulls,
            job_outdated=job_obj is not None
            and (discovery_inputs(job_obj), pull_inputs(job_obj)) != (inputs, pulls),
        )  # fmt: skip

        if view is not None and view.outcome == "running":
            base["pull_stuck"] = self._pull_stuck(job_ns, job_name)
        if view is not None and view.outcome == "succeeded":
            recorded = record.failures > 0 and view.finished_at == record.last_failure
            done = base["has_results"] and base["discovered_image"] == uri
            if not recorded and not done and not self._pod_succeeded(job_ns, job_name):
                base["awaiting_pod"] = True  # the cache shows the Job Complete before its pod Succeeded
            elif not recorded and not done:
                try:
                    result = parse_discovery_output(await self._discovery_log(job_ns, job_name))
                except DiscoveryParseError as err:
                    base["result_error"] = str(err)
                else:
                    base["result_profile"] = result.profile
                    base["result_model_sources"] = tuple(result.model_sources)
                    base["result_profile_id"] = result.profile_id
        return TemplateView(**base)

    # -- resources -------------------------------------------------------------------------------------

    def reserve(self, key: str, obs: TemplateView) -> TemplateView:
        """A discovery slot, when this template has no Job for its image and wants one: ``slot_free``
        says whether it got one (the machine defers discovery otherwise)."""
        if obs.job is not None or obs.image_uri is None or not _wants_job(obs):
            return obs
        job_key = f"{obs.job_namespace}/{obs.job_name}"
        free = self.slots.try_reserve(job_key)
        if free:
            self._reservations[key] = job_key
        return dataclasses.replace(obs, slot_free=free)

    def release(self, key: str, applied: Collection[str]) -> None:
        """The slot goes back unless this reconcile created (or tried to create) the Job; a taken
        slot is then held until the cache shows the Job, or for the slots' TTL."""
        job_key = self._reservations.pop(key, None)
        if job_key is not None and DISCOVERY_JOB not in applied:
            self.slots.release(job_key)

    def _owns_template_cache(self, obj: Obj) -> bool:
        if self.template_caches is None:
            return False
        cached = self.template_caches.get(f"{namespace_of(obj)}/{name_of(obj)}")
        return cached is not None and controller_uid(cached) == [uid_of(obj)]

    def _job_manifest(self, obj: Obj, uri: str, job_ns: str, rc: ResolvedRuntimeConfig | None) -> dict[str, Any]:
        secrets = rc.image_pull_secrets if rc else []
        return build_discovery_job(obj, self.kind, uri, job_ns, secrets, rc.service_account_name if rc else None)

    def _pod_succeeded(self, namespace: str, job_name: str) -> bool:
        pods = self.pods.by_index(BY_JOB_NAME, f"{namespace}/{job_name}")
        return any(status_of(p).get("phase") == "Succeeded" for p in pods)

    def _pull_stuck(self, namespace: str, job_name: str) -> str | None:
        for pod in self.pods.by_index(BY_JOB_NAME, f"{namespace}/{job_name}"):
            for statuses, what in (("initContainerStatuses", "Init container"), ("containerStatuses", "Container")):
                for cs in dig_list(pod, "status", statuses):
                    waiting = dig_map(cs, "state", "waiting")
                    reason = waiting.get("reason")
                    if reason in PULL_FAILURES:
                        return f'{what} "{cs.get("name")}" is stuck in {reason}: {waiting.get("message", "")}'
        return None

    async def _discovery_log(self, namespace: str, job_name: str) -> str:
        """The ``discovery`` container's log of a Succeeded pod of the Job (the one non-cache read)."""
        pods = self.pods.by_index(BY_JOB_NAME, f"{namespace}/{job_name}")
        if not pods:
            raise DiscoveryParseError(f"no pods found for discovery job {job_name}", "")
        succeeded = [p for p in pods if status_of(p).get("phase") == "Succeeded"]
        if not succeeded:
            raise DiscoveryParseError(f"no succeeded pod found for discovery job {job_name}", "")
        pod = name_of(succeeded[0])
        path = PODS.path(namespace, pod, "log")
        query = [("container", CONTAINER), ("limitBytes", str(LOG_LIMIT_BYTES))]
        with anyio.fail_after(LOG_TIMEOUT_SECONDS):
            async with self.client.stream(path, query, resource="pods/log", read_timeout=LOG_TIMEOUT_SECONDS) as resp:
                raw = await resp.read()
        return bytes(raw).decode("utf-8", errors="replace")

    # -- children ---------------------------------------------------------------------------------------

    def children(self) -> Sequence[Child[TemplateView]]:
        return [
            Child(DISCOVERY_JOB, JOBS, self._discovery_job, _delete_discovery_job),
            Child(STALE_DISCOVERY_JOBS, JOBS, delete=_delete_stale_jobs),
            Child(SERVING_RUNTIME, self.runtime_resource, self._serving_runtime),
            Child(TEMPLATE_CACHE, AIM_TEMPLATE_CACHES, self._template_cache, self._delete_template_cache),
        ]

    def _discovery_job(self, obj: Obj, obs: TemplateView) -> list[Desired]:
        assert obs.image_uri is not None
        manifest = self._job_manifest(obj, obs.image_uri, obs.job_namespace, obs.runtime_config)
        return [Desired(JOBS, manifest, None)]

    def _serving_runtime(self, obj: Obj, obs: TemplateView) -> list[Desired]:
        assert obs.image_uri is not None
        rc = obs.runtime_config
        status = status_of(obj)
        profile = obs.result_profile if obs.result_profile is not None else dict(dig_map(status, "profile"))
        pid = obs.result_profile_id if obs.result_profile is not None else obs.discovered_profile_id
        if pid:  # the profile's id lives in the memory, not in status.profile (the API has no field)
            profile = {**profile, "id": pid}
        sources = list(obs.result_model_sources) or list(dig_list(status, "modelSources"))
        gpu_count = int(dig(profile, "metadata", "gpu_count") or 0)
        secrets = rc.image_pull_secrets if rc else []
        manifest = build_serving_runtime(obj, self.kind, obs.image_uri, gpu_count, sources, secrets, profile)
        return [Desired(self.runtime_resource, manifest, self.runtimes.get(key_of(obj)))]

    def _template_cache(self, obj: Obj, obs: TemplateView) -> list[Desired]:
        if self.template_caches is None:
            return []  # a cluster template never caches (``caching_enabled`` is False for it)
        rc = obs.runtime_config
        manifest = build_template_cache(obj, rc.default_storage_class_name if rc else None)
        return [Desired(AIM_TEMPLATE_CACHES, manifest, self.template_caches.get(key_of(obj)))]

    def _delete_template_cache(self, obj: Obj, obs: TemplateView, name: str) -> list[Deletion]:
        if self.template_caches is None:
            return []  # nor owns one (``template_cache_owned`` is False for it)
        return [Deletion(AIM_TEMPLATE_CACHES, namespace_of(obj), name_of(obj))]

    def status_fields(self, obj: Obj, obs: TemplateView, decision: Decision) -> dict[str, Any]:
        old = status_of(obj)
        rc = obs.runtime_config
        fields = {
            "resolvedRuntimeConfig": dict(rc.reference) if rc and rc.reference else None,
            "resolvedImage": dict(obs.image.reference) if obs.image else None,
            "profile": old.get("profile"),
            "modelSources": old.get("modelSources"),
        }
        return {k: v for k, v in fields.items() if v is not None}


def _wants_job(obs: TemplateView) -> bool:
    """Whether discovery would run now if a slot were free (no config or GPU problem, no fresh
    results, not backing off)."""
    if obs.runtime_config_missing or not obs.gpu_available or obs.fresh:
        return False
    retry = obs.record.retry_at
    return not (obs.record.failures > 0 and retry is not None and obs.now < retry)


def _delete_discovery_job(obj: Obj, obs: TemplateView, name: str) -> list[Deletion]:
    return [Deletion(JOBS, obs.job_namespace, obs.job_name)]


def _delete_stale_jobs(obj: Obj, obs: TemplateView, name: str) -> list[Deletion]:
    return [Deletion(JOBS, obs.job_namespace, n) for n in obs.stale_jobs]


def _job_view(job: Obj) -> JobView:
    outcome = job_finished(job)
    name = name_of(job)
    if outcome is None:
        return JobView(name, "running", started_at=str(meta_of(job).get("creationTimestamp") or ""))
    cond = condition(job, outcome) or {}
    finished = str(cond.get("lastTransitionTime") or "")
    if outcome == "Complete":
        return JobView(name, "succeeded", finished)
    return JobView(name, "failed", finished, str(cond.get("message") or cond.get("reason") or ""))


def _image_changed(event: InformerEvent) -> bool:
    return changed(event, "spec.image", "metadata.uid")


def _node_changed(event: InformerEvent) -> bool:
    return changed(event, "metadata.labels", "status.allocatable", "spec.unschedulable")


def _plain_name(obj: Obj) -> str:
    return name_of(obj)


def _ns_name(obj: Obj) -> str:
    return f"{namespace_of(obj)}/{name_of(obj)}"


__all__ = ["TemplateController", "TemplateView"]
