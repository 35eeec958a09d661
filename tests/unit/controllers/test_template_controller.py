"""The template controller over in-memory caches (issue 15): its memory lives in an annotation, not in
condition messages (rewording or stripping every message leaves each decision unchanged); the
discovery slot is taken in the reserve step and released unless the Job was applied; its event
mappers wake the right templates."""

from __future__ import annotations

import copy
import datetime as dt
import json
from typing import Any

from aimctl import labels
from aimctl.controllers.discovery_slots import DiscoverySlots
from aimctl.controllers.template import TemplateController
from aimctl.kube.resources import (
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_IMAGES,
    AIM_RUNTIME_CONFIGS,
    AIM_SERVICE_TEMPLATES,
    JOBS,
    NODES,
    PODS,
)
from aimctl.manager import Manager, ManagerConfig
from informers.handlers import EventType, InformerEvent
from informers.resource import Resource
from informers.store import Obj
from statemachines.engine import Decision
from statemachines.template import DISCOVERY_JOB, MACHINE, MEMORY_FAILURES
from tests.unit.controllers.test_template_observe import JOB, URI, NoServer


def stamp(seconds_ago: float) -> str:
    when = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=seconds_ago)
    return when.strftime("%Y-%m-%dT%H:%M:%SZ")


def template(name: str = "tpl", **spec: Any) -> Obj:
    return {
        "apiVersion": AIM_SERVICE_TEMPLATES.api_version,
        "kind": "AIMServiceTemplate",
        "metadata": {"name": name, "namespace": "ns", "uid": f"{name}-uid", "generation": 1, "resourceVersion": "5"},
        "spec": {"aimImageName": "img", "metric": "latency", **spec},
        "status": {"status": "Progressing"},
    }


def image(name: str = "img", uri: str = URI) -> Obj:
    return {
        "apiVersion": AIM_IMAGES.api_version,
        "kind": "AIMImage",
        "metadata": {"name": name, "namespace": "ns", "uid": f"{name}-uid", "resourceVersion": "3"},
        "spec": {"image": uri},
    }


def node(name: str, model: str) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": name, "uid": f"{name}-uid", "labels": {"amd.com/gpu.model": model}},
        "status": {"allocatable": {"amd.com/gpu": "8"}},
    }


def setup(*cached: tuple[Resource, Obj], slots: DiscoverySlots | None = None) -> TemplateController:
    manager = Manager(NoServer(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    jobs = manager.cache.informer(JOBS).store
    controller = TemplateController(manager, cluster_scoped=False, slots=slots or DiscoverySlots(jobs))
    manager.cache.informer(AIM_IMAGES).apply("ADDED", image())
    for resource, obj in cached:
        manager.cache.informer(resource).apply("ADDED", obj)
    return controller


def failed_job(controller: TemplateController, tpl: Obj, finished: str) -> Obj:
    obj = copy.deepcopy(controller._job_manifest(tpl, URI, "ns", None))
    obj["metadata"].update(uid="j-1", resourceVersion="7", creationTimestamp=finished)
    obj["status"] = {
        "failed": 1,
        "conditions": [{"type": "Failed", "status": "True", "lastTransitionTime": finished, "message": "boom"}],
    }
    return obj


async def decide(controller: TemplateController, tpl: Obj) -> Decision:
    obs = await controller.observe(tpl)
    return MACHINE.decide(obs, controller.current_state(tpl))


async def written(controller: TemplateController, tpl: Obj, decision: Decision) -> Obj:
    """``tpl`` as the reconcile leaves it: the decision's status and memory annotation."""
    out = copy.deepcopy(tpl)
    out["status"] = controller.compose_status(tpl, await controller.observe(tpl), decision)
    out["metadata"]["annotations"] = {labels.DISCOVERY_STATE: json.dumps(dict(decision.memory))}
    return out


def reworded(obj: Obj, how: str) -> Obj:
    out = copy.deepcopy(obj)
    for c in out["status"]["conditions"]:
        c["message"] = "" if how == "strip" else f"Reworded for people: {c['type']}"
    return out


def same(a: Decision, b: Decision) -> bool:
    shape = [(c.type, c.status, c.reason) for c in a.conditions] == [(c.type, c.status, c.reason) for c in b.conditions]
    kinds = [type(e).__name__ for e in a.effects] == [type(e).__name__ for e in b.effects]
    return (a.rule, a.state, dict(a.memory)) == (b.rule, b.state, dict(b.memory)) and shape and kinds


async def test_a_failure_is_remembered_in_the_annotation_and_messages_do_not_matter() -> None:
    tpl = template()
    probe = setup()
    controller = setup((JOBS, failed_job(probe, tpl, stamp(10))))
    first = await decide(controller, tpl)
    assert first.memory[MEMORY_FAILURES]["count"] == 1, first.rule
    after = await written(controller, tpl, first)

    second = await decide(controller, after)
    assert second.rule != "discovery_job_failed"  # counted once: backing off, not failing again
    assert dict(second.memory) == dict(first.memory)
    for how in ("reword", "strip"):
        assert same(await decide(controller, reworded(after, how)), second), how


async def test_an_available_template_stays_available_whatever_its_messages_say() -> None:
    tpl = template()
    controller = setup()
    memory = {"discovered": {"image": URI}}
    tpl["metadata"]["annotations"] = {labels.DISCOVERY_STATE: json.dumps(memory)}
    tpl["status"] = {
        "status": "Available",
        "profile": {"metadata": {"gpu_count": 1}},
        "conditions": [{"type": "Discovered", "status": "True", "reason": "Discovered", "message": "x"}],
    }
    decision = await decide(controller, tpl)
    assert (decision.rule, decision.state) == ("still_available", "Available")
    assert dict(decision.memory) == memory
    assert same(await decide(controller, reworded(tpl, "strip")), decision)


async def test_an_older_operators_message_is_read_once_when_there_is_no_annotation() -> None:
    tpl = template()
    controller = setup()
    tpl["status"] = {
        "status": "Available",
        "profile": {"metadata": {"gpu_count": 1}},
        "conditions": [
            {"type": "Discovered", "status": "True", "reason": "Discovered",
             "message": f'Model sources discovered from image "{URI}"'},
        ],
    }  # fmt: skip
    decision = await decide(controller, tpl)
    assert decision.state == "Available" and dict(decision.memory) == {"discovered": {"image": URI}}


async def test_the_slot_is_reserved_in_the_reserve_step_and_released_unless_the_job_was_applied() -> None:
    controller = setup()
    slots = controller.slots
    tpl = template()
    obs = await controller.observe(tpl)
    assert not slots.active(), "observing takes no slot"
    granted = controller.reserve("ns/tpl", obs)
    assert granted.slot_free and slots.active() == {f"ns/{JOB}"}
    controller.release("ns/tpl", [])
    assert not slots.active(), "not applied: the slot goes back"
    controller.reserve("ns/tpl", obs)
    controller.release("ns/tpl", [DISCOVERY_JOB])
    assert slots.active() == {f"ns/{JOB}"}, "applied: held until the cache shows the Job"


async def test_a_full_cap_defers_discovery() -> None:
    manager = Manager(NoServer(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    slots = DiscoverySlots(manager.cache.informer(JOBS).store, limit=1)
    slots.try_reserve("ns/someone-else")
    controller = setup(slots=slots)
    obs = controller.reserve("ns/tpl", await controller.observe(template()))
    assert not obs.slot_free
    assert MACHINE.decide(obs, "Pending").rule == "discovery_deferred"
    controller.release("ns/tpl", [])
    assert slots.active() == {"ns/someone-else"}


def event(resource: Resource, obj: Obj, old: Obj | None = None) -> InformerEvent:
    return InformerEvent(EventType.MODIFIED if old is not None else EventType.ADDED, resource, obj, old)


def mapper(controller: TemplateController, resource: Resource) -> Any:
    return [w.map for w in controller.watches() if w.resource == resource]


def keys(controller: TemplateController, resource: Resource, ev: InformerEvent) -> set[str]:
    return {k for m in mapper(controller, resource) for k in m(ev)}


def test_image_and_runtime_config_events_wake_the_templates_naming_them() -> None:
    uses = template("a", runtimeConfigName="rc")
    other = template("b", aimImageName="other")
    controller = setup((AIM_SERVICE_TEMPLATES, uses), (AIM_SERVICE_TEMPLATES, other))
    changed = image(uri="registry.example/model:2")
    assert keys(controller, AIM_IMAGES, event(AIM_IMAGES, changed, image())) == {"ns/a"}
    assert keys(controller, AIM_IMAGES, event(AIM_IMAGES, image(), image())) == set(), "no spec change"
    rc = {"metadata": {"name": "rc", "namespace": "ns", "uid": "rc-1"}, "spec": {"x": 1}}
    assert keys(controller, AIM_RUNTIME_CONFIGS, event(AIM_RUNTIME_CONFIGS, rc)) == {"ns/a"}
    crc = {"metadata": {"name": "rc", "uid": "crc-1"}, "spec": {}}
    assert keys(controller, AIM_CLUSTER_RUNTIME_CONFIGS, event(AIM_CLUSTER_RUNTIME_CONFIGS, crc)) == {"ns/a"}


def test_discovery_pods_and_jobs_wake_their_template() -> None:
    tpl = template()
    probe = setup()
    job = failed_job(probe, tpl, stamp(1))
    controller = setup((AIM_SERVICE_TEMPLATES, tpl), (JOBS, job))
    assert keys(controller, JOBS, event(JOBS, job)) == {"ns/tpl"}
    pod: Obj = {
        "metadata": {"name": f"{JOB}-x", "namespace": "ns", "uid": "p",
                     "labels": {"job-name": JOB, "app.kubernetes.io/component": "discovery-job"}},
        "status": {"phase": "Running"},
    }  # fmt: skip
    assert keys(controller, PODS, event(PODS, pod)) == {"ns/tpl"}
    stranger = copy.deepcopy(pod)
    stranger["metadata"]["labels"] = {"job-name": JOB}
    assert keys(controller, PODS, event(PODS, stranger)) == set()


def test_node_events_wake_templates_of_the_gpu_model_the_node_offers_or_offered() -> None:
    wants = template("gpu", gpuSelector={"model": "MI300X", "count": 1})
    controller = setup((AIM_SERVICE_TEMPLATES, wants), (AIM_SERVICE_TEMPLATES, template("cpu")))
    offers, bare = node("n", "MI300X"), node("n", "MI210")
    assert keys(controller, NODES, event(NODES, offers)) == {"ns/gpu"}
    assert keys(controller, NODES, event(NODES, bare, offers)) == {"ns/gpu"}, "a node that stopped offering it"
    assert keys(controller, NODES, event(NODES, bare)) == set()
