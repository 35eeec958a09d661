"""The service, image and runtime-config controllers over in-memory caches (issue 15): what each
observes from the stores and which keys each informer event maps to. No API server: a client that
fails any request (observation reads caches only; the image registry is a recording fake)."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from aimctl import labels
from aimctl.controllers.image import ImageController
from aimctl.controllers.runtimeconfig import RuntimeConfigController
from aimctl.controllers.service import ServiceController
from aimctl.kube.resources import (
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_CLUSTER_SERVICE_TEMPLATES,
    AIM_IMAGES,
    AIM_MODEL_CACHES,
    AIM_RUNTIME_CONFIGS,
    AIM_SERVICE_TEMPLATES,
    AIM_SERVICES,
    AIM_TEMPLATE_CACHES,
    INFERENCE_SERVICES,
    SECRETS,
    STORAGE_CLASSES,
)
from aimctl.manager import Manager, ManagerConfig
from informers.handlers import EventType, InformerEvent
from informers.resource import Resource
from informers.store import Obj
from statemachines.image import MACHINE as IMAGE_MACHINE
from statemachines.runtimeconfig import MACHINE as RC_MACHINE
from statemachines.service import MACHINE as SERVICE_MACHINE

GV = "aim.silogen.ai/v1alpha1"
URI = "registry.example/model:1"


class NoServer:
    async def request(self, verb: str, path: str, **kwargs: Any) -> Any:
        raise AssertionError(f"unexpected API call: {verb} {path}")


class FakeRegistry:
    """Records registry reads; answers with no labels (the metadata parser then reports them)."""

    def __init__(self) -> None:
        self.reads: list[str] = []

    def registry_for(self, ref: Any) -> str:
        return "registry.example"

    async def labels(self, ref: Any, credentials: Any) -> dict[str, str]:
        self.reads.append(str(ref))
        return {}


def manager() -> Manager:
    return Manager(NoServer(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]


def put(mgr: Manager, resource: Resource, *objs: Obj) -> None:
    for obj in objs:
        mgr.cache.informer(resource).apply("ADDED", obj)


def obj(kind: str, name: str, ns: str | None = "ns", spec: Any = None, status: Any = None, **meta: Any) -> Obj:
    metadata: dict[str, Any] = {"name": name, "uid": f"{name}-uid", "resourceVersion": "1", "generation": 1, **meta}
    if ns:
        metadata["namespace"] = ns
    out: Obj = {"apiVersion": GV, "kind": kind, "metadata": metadata, "spec": spec or {}}
    if status is not None:
        out["status"] = status
    return out


def event(resource: Resource, o: Obj, old: Obj | None = None) -> InformerEvent:
    return InformerEvent(EventType.MODIFIED if old is not None else EventType.ADDED, resource, o, old)


def keys(controller: Any, resource: Resource, ev: InformerEvent) -> set[str]:
    return {k for w in controller.watches() if w.resource == resource for k in w.map(ev)}


# -- service -----------------------------------------------------------------------------------------


def service(name: str = "svc", **spec: Any) -> Obj:
    return obj("AIMService", name, spec={"aimImageName": "img", "templateRef": "tpl", **spec})


def available_template(name: str = "tpl", image: str = "img") -> Obj:
    return obj(
        "AIMServiceTemplate",
        name,
        spec={"aimImageName": image, "metric": "latency"},
        status={"status": "Available", "modelSources": [{"name": "m", "sourceUri": "hf://org/m"}]},
    )


def service_setup(*cached: tuple[Resource, Obj]) -> ServiceController:
    mgr = manager()
    controller = ServiceController(mgr)
    put(mgr, AIM_IMAGES, obj("AIMImage", "img", spec={"image": URI}))
    for resource, o in cached:
        put(mgr, resource, o)
    return controller


async def test_service_observes_its_template_image_and_missing_inference_service() -> None:
    svc = service()
    controller = service_setup((AIM_SERVICES, svc), (AIM_SERVICE_TEMPLATES, available_template()))
    obs = await controller.observe(svc)
    assert obs.final_name == "tpl" and obs.template is not None and obs.template.status == "Available"
    assert obs.image is not None and obs.image.uri == URI and not obs.image_error and not obs.image_mismatch
    assert not obs.isvc_exists and not obs.isvc_conflict and not obs.runtime_config_error
    decision = SERVICE_MACHINE.decide(obs, None)
    assert "inference-service" in {getattr(e, "role", "") for e in decision.effects}


async def test_service_reports_a_foreign_inference_service_and_a_missing_runtime_config() -> None:
    svc = service(runtimeConfigName="nope")
    foreign = obj(
        "InferenceService", "svc", ownerReferences=[{"kind": "X", "name": "x", "uid": "x", "controller": True}]
    )
    foreign["apiVersion"] = INFERENCE_SERVICES.api_version
    controller = service_setup(
        (AIM_SERVICES, svc), (AIM_SERVICE_TEMPLATES, available_template()), (INFERENCE_SERVICES, foreign)
    )
    obs = await controller.observe(svc)
    assert not obs.isvc_exists and 'is controlled by X "x"' in obs.isvc_conflict
    assert "nope" in obs.runtime_config_error


async def test_service_notices_a_template_for_another_image() -> None:
    svc = service()
    controller = service_setup(
        (AIM_SERVICES, svc),
        (AIM_SERVICE_TEMPLATES, available_template(image="other")),
        (AIM_IMAGES, obj("AIMImage", "other", spec={"image": "registry.example/other:1"})),
    )
    obs = await controller.observe(svc)
    assert not obs.image_error and 'is for image "other", but the service names image "img"' in obs.image_mismatch
    assert obs.image is not None and obs.image.uri == "registry.example/other:1", "the template's image runs"


def test_service_event_mappers() -> None:
    a, b = service("a"), service("b", templateRef="tpl2", aimImageName="img2", runtimeConfigName="rc")
    controller = service_setup((AIM_SERVICES, a), (AIM_SERVICES, b))
    tpl = available_template()
    assert keys(controller, AIM_SERVICE_TEMPLATES, event(AIM_SERVICE_TEMPLATES, tpl)) == {"ns/a"}
    ctpl = obj("AIMClusterServiceTemplate", "tpl2", ns=None)
    assert keys(controller, AIM_CLUSTER_SERVICE_TEMPLATES, event(AIM_CLUSTER_SERVICE_TEMPLATES, ctpl)) == {"ns/b"}
    img2 = obj("AIMImage", "img2", spec={"image": "x:2"})
    assert keys(controller, AIM_IMAGES, event(AIM_IMAGES, img2, obj("AIMImage", "img2", spec={"image": "x:1"}))) == {
        "ns/b"
    }
    assert keys(controller, AIM_IMAGES, event(AIM_IMAGES, img2, img2)) == set(), "no spec change, no wake-up"
    rc = obj("AIMRuntimeConfig", "rc", spec={"a": 1})
    assert keys(controller, AIM_RUNTIME_CONFIGS, event(AIM_RUNTIME_CONFIGS, rc)) == {"ns/b"}
    crc = obj("AIMClusterRuntimeConfig", "rc", ns=None, spec={"a": 1})
    assert keys(controller, AIM_CLUSTER_RUNTIME_CONFIGS, event(AIM_CLUSTER_RUNTIME_CONFIGS, crc)) == {"ns/b"}
    owned = obj("InferenceService", "a", ownerReferences=[{"apiVersion": GV, "kind": "AIMService", "name": "a",
                                                          "uid": "a-uid", "controller": True}])  # fmt: skip
    assert keys(controller, INFERENCE_SERVICES, event(INFERENCE_SERVICES, owned)) == {"ns/a"}
    namesake = obj("InferenceService", "b")
    assert keys(controller, INFERENCE_SERVICES, event(INFERENCE_SERVICES, namesake)) == {"ns/b"}, "foreign namesake"
    tc = obj("AIMTemplateCache", "tpl", spec={"templateRef": "tpl"})
    assert keys(controller, AIM_TEMPLATE_CACHES, event(AIM_TEMPLATE_CACHES, tc)) == {"ns/a"}


def test_service_wakes_on_a_model_cache_of_its_template_cache() -> None:
    a = service("a")
    tc = obj("AIMTemplateCache", "tpl", spec={"templateRef": "tpl"})
    controller = service_setup((AIM_SERVICES, a), (AIM_TEMPLATE_CACHES, tc))
    mc = obj("AIMModelCache", "mc", ownerReferences=[{"kind": "AIMTemplateCache", "name": "tpl", "controller": True}],
             status={"status": "Available"})  # fmt: skip
    old = obj("AIMModelCache", "mc", status={"status": "Progressing"})
    assert keys(controller, AIM_MODEL_CACHES, event(AIM_MODEL_CACHES, mc, old)) == {"ns/a"}
    assert keys(controller, AIM_MODEL_CACHES, event(AIM_MODEL_CACHES, mc, mc)) == set(), "no state change"


# -- image -------------------------------------------------------------------------------------------


def image_setup(*cached: tuple[Resource, Obj], cluster: bool = False) -> tuple[ImageController, FakeRegistry]:
    mgr = manager()
    registry = FakeRegistry()
    controller = ImageController(mgr, cluster_scoped=cluster, registry=registry)  # type: ignore[arg-type]
    for resource, o in cached:
        put(mgr, resource, o)
    return controller, registry


async def test_image_without_discovery_reads_no_registry_and_lists_its_templates() -> None:
    img = obj("AIMImage", "img", spec={"image": URI})
    mine = obj("AIMServiceTemplate", "img-a", ownerReferences=[{"apiVersion": GV, "kind": "AIMImage", "name": "img",
                                                               "uid": "img-uid", "controller": True}],
               status={"status": "Available"})  # fmt: skip
    controller, registry = image_setup((AIM_IMAGES, img), (AIM_SERVICE_TEMPLATES, mine))
    obs = await controller.observe(img)
    assert registry.reads == [] and not obs.attempted and obs.metadata is None
    assert [(t.name, t.state) for t in obs.templates] == [("img-a", "Available")]
    assert IMAGE_MACHINE.decide(obs, None).state


async def test_image_with_discovery_reads_the_registry_once_per_observation() -> None:
    img = obj("AIMImage", "img", spec={"image": URI, "discovery": {"enabled": True}})
    controller, registry = image_setup((AIM_IMAGES, img))
    obs = await controller.observe(img)
    assert registry.reads and obs.attempted and obs.metadata is None and obs.error is not None


def test_image_event_mappers() -> None:
    img, other = obj("AIMImage", "img"), obj("AIMImage", "far", ns="elsewhere")
    rc = obj("AIMRuntimeConfig", "default", spec={"imagePullSecrets": [{"name": "pull"}]})
    controller, _ = image_setup((AIM_IMAGES, img), (AIM_IMAGES, other), (AIM_RUNTIME_CONFIGS, rc))
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": "ns", "uid": "s"}}
    assert keys(controller, SECRETS, event(SECRETS, secret)) == {"ns/img"}
    unrelated = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "other", "namespace": "ns", "uid": "s2"}}
    assert keys(controller, SECRETS, event(SECRETS, unrelated)) == set()
    assert keys(controller, AIM_RUNTIME_CONFIGS, event(AIM_RUNTIME_CONFIGS, rc)) == {"ns/img"}
    named = obj("AIMRuntimeConfig", "custom")
    assert keys(controller, AIM_RUNTIME_CONFIGS, event(AIM_RUNTIME_CONFIGS, named)) == set(), "only `default`"
    crc = obj("AIMClusterRuntimeConfig", "default", ns=None)
    assert keys(controller, AIM_CLUSTER_RUNTIME_CONFIGS, event(AIM_CLUSTER_RUNTIME_CONFIGS, crc)) == {
        "ns/img",
        "elsewhere/far",
    }


# -- runtime config ------------------------------------------------------------------------------------


def rc_setup(*cached: tuple[Resource, Obj], namespaced: bool = True) -> RuntimeConfigController:
    mgr = manager()
    controller = RuntimeConfigController(mgr, namespaced=namespaced)
    for resource, o in cached:
        put(mgr, resource, o)
    return controller


async def test_runtime_config_observes_missing_secrets_and_storage_class() -> None:
    rc = obj("AIMRuntimeConfig", "rc", spec={"imagePullSecrets": [{"name": "here"}, {"name": "gone"}],
                                             "defaultStorageClassName": "fast"})  # fmt: skip
    here = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "here", "namespace": "ns", "uid": "s"}}
    controller = rc_setup((AIM_RUNTIME_CONFIGS, rc), (SECRETS, here))
    obs = await controller.observe(rc)
    assert obs.pull_secrets == ("here", "gone") and obs.missing_pull_secrets == ("gone",)
    assert obs.storage_class == "fast" and not obs.storage_class_found
    decision = RC_MACHINE.decide(obs, None)
    assert any(c.status == "False" for c in decision.conditions)
    assert "status" not in controller.compose_status(rc, obs, decision), "these kinds have no state field"


@pytest.mark.parametrize("namespaced", [True, False])
def test_runtime_config_event_mappers(namespaced: bool) -> None:
    kind = "AIMRuntimeConfig" if namespaced else "AIMClusterRuntimeConfig"
    resource = AIM_RUNTIME_CONFIGS if namespaced else AIM_CLUSTER_RUNTIME_CONFIGS
    rc = obj(kind, "rc", ns="ns" if namespaced else None,
             spec={"imagePullSecrets": [{"name": "pull"}], "defaultStorageClassName": "fast"})  # fmt: skip
    controller = rc_setup((resource, rc), namespaced=namespaced)
    key = "ns/rc" if namespaced else "rc"
    assert keys(controller, resource, event(resource, rc)) == {key}
    sc = {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": "fast", "uid": "sc"}}
    assert keys(controller, STORAGE_CLASSES, event(STORAGE_CLASSES, sc)) == {key}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pull", "namespace": "ns", "uid": "s"}}
    assert keys(controller, SECRETS, event(SECRETS, secret)) == ({key} if namespaced else set())


async def test_image_memory_is_the_annotation_and_messages_do_not_matter() -> None:
    """A failed read is remembered in the memory annotation: the next observations do not read the
    registry again for the same inputs, whatever the condition messages say (reworded or empty)."""
    img = obj("AIMImage", "img", spec={"image": URI, "discovery": {"enabled": True}})
    controller, registry = image_setup((AIM_IMAGES, img))
    first_obs = await controller.observe(img)
    first = IMAGE_MACHINE.decide(first_obs, None)
    assert registry.reads and first.memory["attempts"]["count"] == 1  # type: ignore[index]
    after = copy.deepcopy(img)
    after["status"] = controller.compose_status(img, first_obs, first)
    after["metadata"]["annotations"] = {labels.METADATA_STATE: json.dumps(dict(first.memory))}
    for how in ("keep", "reword", "strip"):
        changed = copy.deepcopy(after)
        for c in changed["status"]["conditions"]:
            c["message"] = {"keep": c["message"], "reword": "Reworded for people", "strip": ""}[how]
        registry.reads.clear()
        obs = await controller.observe(changed)
        decision = IMAGE_MACHINE.decide(obs, controller.current_state(changed))
        assert registry.reads == [], how
        assert (decision.rule, decision.state, dict(decision.memory)) == (first.rule, first.state, dict(first.memory))
