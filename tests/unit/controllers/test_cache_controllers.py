"""The model-cache and template-cache controllers over in-memory stores: observation, children,
event mapping and the writes of whole reconciles (a recording client instead of an apiserver)."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from aimctl.builders.download_job import GENERATION_ANNOTATION, PVC_UID_ANNOTATION
from aimctl.controllers.modelcache import ModelCacheController
from aimctl.controllers.templatecache import TemplateCacheController, resolve_template
from aimctl.kube.apply import DESIRED_HASH
from aimctl.kube.resources import (
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_CLUSTER_SERVICE_TEMPLATES,
    AIM_MODEL_CACHES,
    AIM_RUNTIME_CONFIGS,
    AIM_SERVICE_TEMPLATES,
    AIM_TEMPLATE_CACHES,
    JOBS,
    PERSISTENT_VOLUME_CLAIMS,
    STORAGE_CLASSES,
)
from aimctl.manager import Manager, ManagerConfig
from informers.handlers import EventType, InformerEvent
from informers.resource import Resource
from informers.store import Obj

GV = "aim.silogen.ai/v1alpha1"


class RecordingClient:
    """Stands in for :class:`informers.rest.RestClient`: records requests, echoes bodies."""

    def __init__(self) -> None:
        self.requests: list[tuple[str, str, Any]] = []

    async def request(self, verb: str, path: str, **kwargs: Any) -> Any:
        self.requests.append((verb, path, kwargs.get("body")))
        return kwargs.get("body") or {}

    def writes(self, verb: str, fragment: str = "") -> list[Any]:
        return [body for v, p, body in self.requests if v == verb and fragment in p]


def _manager() -> tuple[Manager, RecordingClient]:
    client = RecordingClient()
    return Manager(client, ManagerConfig(leader_election=False)), client  # type: ignore[arg-type]


def _put(manager: Manager, resource: Resource, *objs: Obj) -> None:
    for obj in objs:
        manager.cache.store(resource).upsert(obj)


def model_cache(name: str = "mc", ns: str = "ns", **spec: Any) -> Obj:
    return {
        "apiVersion": GV,
        "kind": "AIMModelCache",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "generation": 1},
        "spec": {"sourceUri": "hf://org/model", "size": "1Gi", **spec},
    }


def owned(obj: Obj, owner: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    obj["metadata"]["ownerReferences"] = [
        {"apiVersion": GV, "kind": owner["kind"], "name": owner["metadata"]["name"],
         "uid": owner["metadata"]["uid"], "controller": True}
    ]  # fmt: skip
    return obj


def pvc(cache: Obj, phase: str = "Bound", cls: str = "sim-immediate", uid: str = "pvc-uid") -> Obj:
    meta = cache["metadata"]
    return owned(
        {
            "apiVersion": "v1",
            "kind": "PersistentVolumeClaim",
            "metadata": {"name": f"{meta['name']}-cache", "namespace": meta["namespace"], "uid": uid},
            "spec": {"storageClassName": cls},
            "status": {"phase": phase},
        },
        cache,
    )


def job(cache: Obj, **status: Any) -> Obj:
    meta = cache["metadata"]
    return owned(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {
                "name": f"{meta['name']}-cache-download",
                "namespace": meta["namespace"],
                "annotations": {GENERATION_ANNOTATION: "1", PVC_UID_ANNOTATION: "pvc-uid"},
            },
            "status": status,
        },
        cache,
    )


def storage_class(name: str, mode: str = "Immediate", default: bool = False) -> Obj:
    ann = {"storageclass.kubernetes.io/is-default-class": "true"} if default else {}
    return {"metadata": {"name": name, "annotations": ann}, "volumeBindingMode": mode}


@pytest.fixture
def mc_setup() -> tuple[Manager, RecordingClient, ModelCacheController]:
    manager, client = _manager()
    controller = ModelCacheController(manager)
    manager.add(controller)
    _put(manager, STORAGE_CLASSES, storage_class("sim-immediate", default=True))
    _put(manager, STORAGE_CLASSES, storage_class("wffc", "WaitForFirstConsumer"))
    return manager, client, controller


# -- model cache -----------------------------------------------------------------------------------


async def test_new_cache_applies_a_pvc_with_the_runtime_config_default_class(
    mc_setup: tuple[Manager, RecordingClient, ModelCacheController],
) -> None:
    manager, client, controller = mc_setup
    cache = model_cache()
    _put(manager, AIM_MODEL_CACHES, cache)
    _put(
        manager,
        AIM_CLUSTER_RUNTIME_CONFIGS,
        {"metadata": {"name": "default"}, "spec": {"defaultStorageClassName": "wffc"}},
    )
    await controller.reconcile("ns/mc")
    (applied,) = client.writes("apply", "/persistentvolumeclaims/")
    assert applied["spec"]["storageClassName"] == "wffc"
    assert not client.writes("apply", "/jobs/")
    (status,) = client.writes("apply", "/aimmodelcaches/mc/status")
    assert status["status"]["status"] == "Progressing"
    assert status["status"]["persistentVolumeClaim"] == "mc-cache"
    assert status["status"]["observedGeneration"] == 1
    (event,) = client.writes("create", "/events")
    assert event["reason"] == "WaitingForPVC"


async def test_namespace_runtime_config_wins_wholesale_and_spec_class_wins_over_both(
    mc_setup: tuple[Manager, RecordingClient, ModelCacheController],
) -> None:
    manager, client, controller = mc_setup
    _put(
        manager,
        AIM_CLUSTER_RUNTIME_CONFIGS,
        {"metadata": {"name": "default"}, "spec": {"defaultStorageClassName": "c"}},
    )
    _put(manager, AIM_RUNTIME_CONFIGS, {"metadata": {"name": "default", "namespace": "ns"}, "spec": {}})
    _put(manager, AIM_MODEL_CACHES, model_cache("a"), model_cache("b", storageClassName="own"))
    await controller.reconcile("ns/a")
    await controller.reconcile("ns/b")
    a, b = client.writes("apply", "/persistentvolumeclaims/")
    assert "storageClassName" not in a["spec"]  # the namespace config has none: cluster default
    assert b["spec"]["storageClassName"] == "own"


async def test_bound_pvc_gets_the_job_with_its_uid(
    mc_setup: tuple[Manager, RecordingClient, ModelCacheController],
) -> None:
    manager, client, controller = mc_setup
    cache = model_cache()
    _put(manager, AIM_MODEL_CACHES, cache)
    _put(manager, PERSISTENT_VOLUME_CLAIMS, pvc(cache))
    await controller.reconcile("ns/mc")
    assert not client.writes("apply", "/persistentvolumeclaims/")  # exists: never re-applied
    (created,) = client.writes("apply", "/jobs/")
    assert created["metadata"]["annotations"][PVC_UID_ANNOTATION] == "pvc-uid"


async def test_wffc_pending_pvc_gets_the_job(mc_setup: tuple[Manager, RecordingClient, ModelCacheController]) -> None:
    manager, client, controller = mc_setup
    cache = model_cache()
    _put(manager, AIM_MODEL_CACHES, cache)
    _put(manager, PERSISTENT_VOLUME_CLAIMS, pvc(cache, "Pending", "wffc"))
    await controller.reconcile("ns/mc")
    assert len(client.writes("apply", "/jobs/")) == 1


async def test_children_of_a_previous_cache_with_the_same_name_are_not_adopted(
    mc_setup: tuple[Manager, RecordingClient, ModelCacheController],
) -> None:
    manager, client, controller = mc_setup
    cache = model_cache()
    previous = model_cache()
    previous["metadata"]["uid"] = "uid-old"
    _put(manager, AIM_MODEL_CACHES, cache)
    _put(manager, PERSISTENT_VOLUME_CLAIMS, pvc(previous))
    _put(manager, JOBS, job(previous, succeeded=1, conditions=[{"type": "Complete", "status": "True"}]))
    obs = await controller.observe(cache)
    assert obs.pvc_deleting and obs.job_deleting
    await controller.reconcile("ns/mc")
    assert not client.writes("apply", "/persistentvolumeclaims/")
    assert not client.writes("apply", "/jobs/")
    (status,) = client.writes("apply", "/status")
    assert status["status"]["status"] == "Progressing"  # not Available: that success was not ours


async def test_available_cache_stays_available_without_writes_when_the_job_is_gone(
    mc_setup: tuple[Manager, RecordingClient, ModelCacheController],
) -> None:
    manager, client, controller = mc_setup
    cache = model_cache()
    _put(manager, AIM_MODEL_CACHES, cache)
    _put(manager, PERSISTENT_VOLUME_CLAIMS, pvc(cache))
    _put(manager, JOBS, job(cache, succeeded=1, conditions=[{"type": "Complete", "status": "True"}]))
    await controller.reconcile("ns/mc")
    (status,) = client.writes("apply", "/status")
    assert status["status"]["status"] == "Available"
    # the status as stored, with a lastUsed written by the service controller
    stored = {**cache, "status": {**status["status"], "lastUsed": "2026-01-01T00:00:00Z"}}
    _put(manager, AIM_MODEL_CACHES, stored)
    manager.cache.store(JOBS).delete("ns/mc-cache-download")  # the TTL controller
    client.requests.clear()
    await controller.reconcile("ns/mc")
    assert client.requests == []  # no Job, no status write, no event


async def test_retry_after_spec_edit_deletes_the_failed_job(
    mc_setup: tuple[Manager, RecordingClient, ModelCacheController],
) -> None:
    manager, client, controller = mc_setup
    cache = model_cache()
    cache["metadata"]["generation"] = 2
    cache["status"] = {"status": "Failed", "observedGeneration": 1}
    _put(manager, AIM_MODEL_CACHES, cache)
    _put(manager, PERSISTENT_VOLUME_CLAIMS, pvc(cache))
    _put(manager, JOBS, job(cache, failed=3, conditions=[{"type": "Failed", "status": "True", "reason": "B"}]))
    await controller.reconcile("ns/mc")
    assert [(v, p) for v, p, _ in client.requests if v == "delete"] == [
        ("delete", "/apis/batch/v1/namespaces/ns/jobs/mc-cache-download")
    ]
    (status,) = client.writes("apply", "/status")
    assert status["status"]["status"] == "Progressing"


def test_storage_class_and_runtime_config_events_map_to_the_right_caches(
    mc_setup: tuple[Manager, RecordingClient, ModelCacheController],
) -> None:
    manager, _client, controller = mc_setup
    with_pvc, without, own_class = model_cache("a"), model_cache("b"), model_cache("c", storageClassName="x")
    _put(manager, AIM_MODEL_CACHES, with_pvc, without, own_class, model_cache("d", ns="other"))
    pvc_a = pvc(with_pvc, "Pending", "wffc")
    manager.cache.informer(PERSISTENT_VOLUME_CLAIMS).store.upsert(pvc_a)
    watches = {w.resource: w for w in controller.watches()}
    sc_event = InformerEvent(EventType.MODIFIED, STORAGE_CLASSES, storage_class("wffc"))
    assert list(watches[STORAGE_CLASSES].map(sc_event)) == ["ns/a"]
    rc = {"metadata": {"name": "default", "namespace": "ns"}}
    rc_event = InformerEvent(EventType.ADDED, AIM_RUNTIME_CONFIGS, rc)
    assert list(watches[AIM_RUNTIME_CONFIGS].map(rc_event)) == ["ns/b"]
    other = InformerEvent(EventType.ADDED, AIM_RUNTIME_CONFIGS, {"metadata": {"name": "x", "namespace": "ns"}})
    assert list(watches[AIM_RUNTIME_CONFIGS].map(other)) == []
    crc_event = InformerEvent(EventType.ADDED, AIM_CLUSTER_RUNTIME_CONFIGS, {"metadata": {"name": "default"}})
    assert sorted(watches[AIM_CLUSTER_RUNTIME_CONFIGS].map(crc_event)) == ["ns/b", "other/d"]
    job_event = InformerEvent(EventType.MODIFIED, JOBS, job(with_pvc))
    assert list(watches[JOBS].map(job_event)) == ["ns/a"]


# -- template cache --------------------------------------------------------------------------------


def template_cache(name: str = "tc", ns: str = "ns", **spec: Any) -> Obj:
    return {
        "apiVersion": GV,
        "kind": "AIMTemplateCache",
        "metadata": {"name": name, "namespace": ns, "uid": f"uid-{name}", "generation": 1},
        "spec": {"templateRef": "tpl", "runtimeConfigName": "default", **spec},
    }


def template(kind: str = "AIMServiceTemplate", ns: str | None = "ns", sources: Any = None) -> Obj:
    meta: dict[str, Any] = {"name": "tpl", "uid": f"uid-{kind}"}
    if ns:
        meta["namespace"] = ns
    return {"apiVersion": GV, "kind": kind, "metadata": meta, "spec": {}, "status": {"modelSources": sources}}


SOURCES = [
    {"name": "a", "sourceUri": "hf://o/a", "size": "1Gi"},
    {"name": "b", "sourceUri": "hf://o/b", "size": "2Gi"},
]


@pytest.fixture
def tc_setup() -> tuple[Manager, RecordingClient, TemplateCacheController]:
    manager, client = _manager()
    controller = TemplateCacheController(manager)
    manager.add(controller)
    return manager, client, controller


def test_template_resolution_prefers_the_namespace() -> None:
    manager, _ = _manager()
    TemplateCacheController(manager)
    ns_store = manager.cache.store(AIM_SERVICE_TEMPLATES)
    cl_store = manager.cache.store(AIM_CLUSTER_SERVICE_TEMPLATES)
    cl_store.upsert(template("AIMClusterServiceTemplate", None))
    resolved = resolve_template("ns", "tpl", ns_store, cl_store)
    assert resolved is not None and resolved.kind == "AIMClusterServiceTemplate"
    ns_store.upsert(template())
    resolved = resolve_template("ns", "tpl", ns_store, cl_store)
    assert resolved is not None and resolved.kind == "AIMServiceTemplate"
    assert resolve_template("ns", "nope", ns_store, cl_store) is None


async def test_template_cache_creates_one_model_cache_per_source(
    tc_setup: tuple[Manager, RecordingClient, TemplateCacheController],
) -> None:
    manager, client, controller = tc_setup
    _put(manager, AIM_TEMPLATE_CACHES, template_cache(storageClassName="fast"))
    _put(manager, AIM_CLUSTER_SERVICE_TEMPLATES, template("AIMClusterServiceTemplate", None, SOURCES))
    await controller.reconcile("ns/tc")
    applied = client.writes("apply", "/aimmodelcaches/")
    assert [m["metadata"]["name"] for m in applied] == ["tc-a", "tc-b"]
    assert all(m["spec"]["storageClassName"] == "fast" for m in applied)
    (status,) = client.writes("apply", "/aimtemplatecaches/tc/status")
    assert status["status"]["status"] == "Progressing"
    assert status["status"]["resolvedTemplateKind"] == "AIMClusterServiceTemplate"
    assert "resolvedRuntimeConfig" not in status["status"]


async def test_template_cache_aggregates_prunes_and_waits_for_foreign_children(
    tc_setup: tuple[Manager, RecordingClient, TemplateCacheController],
) -> None:
    manager, client, controller = tc_setup
    tc = template_cache()
    _put(manager, AIM_TEMPLATE_CACHES, tc)
    _put(manager, AIM_SERVICE_TEMPLATES, template(sources=SOURCES))
    _put(manager, AIM_RUNTIME_CONFIGS, {"metadata": {"name": "default", "namespace": "ns", "uid": "rc"}, "spec": {}})
    a = owned(model_cache("tc-a", sourceUri="hf://o/a", size="1Gi"), tc)
    a["status"] = {"status": "Available"}
    old_b = owned(model_cache("tc-b", sourceUri="hf://o/OLD", size="2Gi"), tc)  # same name, other URI
    gone = owned(model_cache("tc-gone", sourceUri="hf://o/gone"), tc)
    _put(manager, AIM_MODEL_CACHES, a, old_b, gone)
    obs = await controller.observe(tc)
    assert obs.stale_children == ("tc-b", "tc-gone")
    await controller.reconcile("ns/tc")
    deleted = sorted(p.rsplit("/", 1)[-1] for v, p, _ in client.requests if v == "delete")
    assert deleted == ["tc-b", "tc-gone"]
    applied = [m["metadata"]["name"] for m in client.writes("apply", "/aimmodelcaches/tc-")]
    assert "tc-b" not in applied  # re-created once the old one is gone (immutable sourceUri)
    (status,) = client.writes("apply", "/aimtemplatecaches/tc/status")
    assert status["status"]["status"] == "Progressing"
    assert status["status"]["resolvedRuntimeConfig"]["kind"] == "AIMRuntimeConfig"


async def test_template_cache_available_when_all_children_are(
    tc_setup: tuple[Manager, RecordingClient, TemplateCacheController],
) -> None:
    manager, client, controller = tc_setup
    tc = template_cache()
    _put(manager, AIM_TEMPLATE_CACHES, tc)
    _put(manager, AIM_SERVICE_TEMPLATES, template(sources=SOURCES))
    children = []
    for name, uri, size in (("tc-a", "hf://o/a", "1Gi"), ("tc-b", "hf://o/b", "2Gi")):
        child = owned(model_cache(name, sourceUri=uri, size=size), tc)
        child["metadata"]["labels"] = {
            "app.kubernetes.io/managed-by": "aim-controller",
            "aim.silogen.ai/templatecache": "tc",
            "aim.silogen.ai/template": "tpl",
        }
        child["metadata"]["ownerReferences"][0]["blockOwnerDeletion"] = True
        child["status"] = {"status": "Available"}
        children.append(child)
    _put(manager, AIM_MODEL_CACHES, *children)
    await controller.reconcile("ns/tc")
    # Children written by an operator without the desired-hash annotation: applied once (upgrade).
    (status,) = client.writes("apply", "/aimtemplatecaches/tc/status")
    assert status["status"]["status"] == "Available"
    upgraded = client.writes("apply", "/aimmodelcaches/tc-")
    assert sorted(m["metadata"]["name"] for m in upgraded) == ["tc-a", "tc-b"]
    for child, body in zip(children, sorted(upgraded, key=lambda m: m["metadata"]["name"]), strict=True):
        child["metadata"]["annotations"] = body["metadata"]["annotations"]
        assert child["metadata"]["annotations"][DESIRED_HASH]
    _put(manager, AIM_MODEL_CACHES, *children)
    client.requests.clear()
    controller._written.clear()  # the recording client's answers carry no resourceVersion anyway
    await controller.reconcile("ns/tc")
    assert not client.writes("apply", "/aimmodelcaches/tc-")  # the cache already matches: no write


def test_template_events_map_to_template_caches(
    tc_setup: tuple[Manager, RecordingClient, TemplateCacheController],
) -> None:
    manager, _client, controller = tc_setup
    _put(
        manager,
        AIM_TEMPLATE_CACHES,
        template_cache(),
        template_cache("other", ns="ns2"),
        template_cache("x", templateRef="y"),
    )
    watches = {w.resource: w for w in controller.watches()}
    ns_event = InformerEvent(EventType.MODIFIED, AIM_SERVICE_TEMPLATES, template())
    assert list(watches[AIM_SERVICE_TEMPLATES].map(ns_event)) == ["ns/tc"]
    cl_event = InformerEvent(
        EventType.MODIFIED, AIM_CLUSTER_SERVICE_TEMPLATES, template("AIMClusterServiceTemplate", None)
    )
    assert sorted(watches[AIM_CLUSTER_SERVICE_TEMPLATES].map(cl_event)) == ["ns/tc", "ns2/other"]
    crc = InformerEvent(EventType.MODIFIED, AIM_CLUSTER_RUNTIME_CONFIGS, {"metadata": {"name": "default"}})
    assert sorted(watches[AIM_CLUSTER_RUNTIME_CONFIGS].map(crc)) == ["ns/tc", "ns/x", "ns2/other"]
    child = owned(model_cache("tc-a"), template_cache())
    mc_event = InformerEvent(EventType.MODIFIED, AIM_MODEL_CACHES, child)
    assert list(watches[AIM_MODEL_CACHES].map(mc_event)) == ["ns/tc"]
