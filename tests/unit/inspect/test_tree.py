"""The dependency tree and first blocker of ``aimctl explain``, on fixed objects (no cluster)."""

from __future__ import annotations

import json
from typing import Any

from aimctl.builders.derived_template import derived_name
from aimctl.inspect import render
from aimctl.inspect.tree import Snapshot, explain
from tests.unit.inspect.fixtures import (
    IMAGE,
    NODE_MI300X,
    NOW,
    TEMPLATE_GPU,
    TEMPLATE_OK,
    cond,
    group,
    obj,
    owner,
    running_service,
    service,
)


def snap(
    *objs: dict[str, Any],
    nodes: list[dict[str, Any]] | None = None,
    events: list[dict[str, Any]] = (),  # type: ignore[assignment]
    unreadable: dict[str, str] | None = None,
) -> Snapshot:
    return Snapshot(group(*objs), NOW, events=list(events), nodes=nodes, unreadable=unreadable or {})


def shape(node: Any, depth: int = 0) -> list[str]:
    out = [f"{'  ' * depth}{node.kind} {node.name} {node.state.state}"]
    for c in node.children:
        out += shape(c, depth + 1)
    return out


def test_running_service_has_no_blocker_and_shows_the_whole_chain() -> None:
    svc, *rest = running_service()
    result = explain(snap(svc, *rest, IMAGE, TEMPLATE_OK), "AIMService", svc)
    assert result.blocker is None and result.waiting_on is None
    assert shape(result.root) == [
        "AIMService chat Running",
        "  AIMClusterServiceTemplate llama-mi300x Available",
        "    AIMClusterImage llama Ready",
        "    AIMRuntimeConfig default Defaults",
        "  AIMRuntimeConfig default Defaults",
        "  InferenceService chat Ready",
        "    Pod chat-predictor-abc Running",
        "  HTTPRoute chat Accepted",
        "    Gateway gw Programmed",
    ]
    text = render.explanation(result, NOW)
    assert "AIMService ns/chat is Running: nothing blocks it" in text
    assert "\x1b[" not in text  # no colour unless asked


def test_template_whose_gpu_no_node_offers_is_the_blocker_with_a_labelling_hint() -> None:
    svc = service(
        "chat", "Degraded", cond("Failure", "True", "GPUNotAvailable", "No node offers"), templateRef="llama-mi325x"
    )
    result = explain(snap(svc, IMAGE, TEMPLATE_GPU, nodes=[NODE_MI300X]), "AIMService", svc)
    b = result.blocker
    assert b is not None
    assert (b.kind, b.name, b.state.state, b.state.reason) == (
        "AIMClusterServiceTemplate",
        "llama-mi325x",
        "Degraded",
        "GPUNotAvailable",
    )
    assert "MI325X" in b.state.message
    assert "no node offers 1x MI325X: label a node with amd.com/gpu.product-name=MI325X" in b.hint
    assert "MI300X" in b.hint and "choose another template" in b.hint
    text = render.explanation(result, NOW)
    assert "Blocked by AIMClusterServiceTemplate llama-mi325x: Degraded (GPUNotAvailable)" in text
    assert "<- blocker" in text.splitlines()[1]


def test_gpu_hint_says_when_nodes_are_not_readable() -> None:
    svc = service("chat", "Degraded", cond("Failure", "True", "GPUNotAvailable"), templateRef="llama-mi325x")
    result = explain(snap(svc, IMAGE, TEMPLATE_GPU, nodes=None), "AIMService", svc)
    assert result.blocker is not None
    assert "not readable" in result.blocker.hint


def _failed_download() -> tuple[dict[str, Any], list[dict[str, Any]]]:
    svc = service(
        "chat",
        "Degraded",
        cond("Failure", "True", "CacheFailed", "model cache failed"),
        templateRef="llama-mi300x",
        cacheModel=True,
    )
    tc = obj(
        "AIMTemplateCache",
        "llama-mi300x",
        "ns",
        spec={"templateRef": "llama-mi300x"},
        status={"status": "Failed", "conditions": [cond("Failure", "True", "ModelCacheFailed", "1 failed")]},
    )
    mc = obj(
        "AIMModelCache",
        "llama-weights",
        "ns",
        owners=[owner(tc)],
        spec={"sourceUri": "hf://org/llama"},
        status={
            "status": "Failed",
            "persistentVolumeClaim": "llama-weights-cache",
            "conditions": [cond("Failure", "True", "DownloadFailed", "Download job failed: BackoffLimitExceeded")],
        },
    )
    pvc = obj("PersistentVolumeClaim", "llama-weights-cache", "ns", api_version="v1", status={"phase": "Bound"})
    job = obj(
        "Job",
        "llama-weights-cache-download",
        "ns",
        api_version="batch/v1",
        owners=[owner(mc)],
        status={"failed": 3, "conditions": [cond("Failed", "True", "BackoffLimitExceeded", "too many")]},
    )
    pod = obj(
        "Pod",
        "llama-weights-cache-download-x",
        "ns",
        api_version="v1",
        labels={"job-name": "llama-weights-cache-download"},
        status={"phase": "Failed"},
    )
    return svc, [tc, mc, pvc, job, pod]


def test_failed_download_names_the_model_cache_and_the_jobs_logs() -> None:
    svc, children = _failed_download()
    result = explain(snap(svc, *children, IMAGE, TEMPLATE_OK), "AIMService", svc)
    b = result.blocker
    assert b is not None
    assert (b.kind, b.name, b.state.reason) == ("AIMModelCache", "llama-weights", "DownloadFailed")
    assert "`kubectl logs -n ns job/llama-weights-cache-download`" in b.hint
    assert "spec.sourceUri" in b.hint
    kinds = [n.kind for n in result.root.walk()]
    assert kinds.count("Job") == 1 and "PersistentVolumeClaim" in kinds


def test_missing_runtime_config_is_the_blocker() -> None:
    svc = service(
        "chat",
        "Degraded",
        cond("Failure", "True", "RuntimeConfigMissing", 'AIMRuntimeConfig "nope" not found'),
        templateRef="llama-mi300x",
        runtimeConfigName="nope",
    )
    result = explain(snap(svc, IMAGE, TEMPLATE_OK), "AIMService", svc)
    b = result.blocker
    assert b is not None
    assert (b.kind, b.namespace, b.name, b.state.state) == ("AIMRuntimeConfig", "ns", "nope", "NotFound")
    assert b.hint.startswith('create AIMRuntimeConfig nope in namespace "ns" or AIMClusterRuntimeConfig nope')


def test_missing_template_is_the_blocker() -> None:
    svc = service(
        "chat",
        "Degraded",
        cond("Resolved", "False", "TemplateNotFound", 'Template "nope" not found.'),
        templateRef="nope",
    )
    result = explain(snap(svc, IMAGE), "AIMService", svc)
    b = result.blocker
    assert b is not None
    assert (b.kind, b.name, b.state.state, b.state.message) == (
        "AIMServiceTemplate",
        "nope",
        "NotFound",
        'Template "nope" not found.',
    )
    assert "spec.templateRef" in b.hint


def test_no_template_candidate_shows_what_was_considered() -> None:
    message = 'No templateRef ... Considered: AIMServiceTemplate "a": not Available (Pending)'
    svc = service("chat", "Degraded", cond("Resolved", "False", "NoTemplateCandidate", message))
    image = {**IMAGE, "spec": {"image": "aim/llama:1"}}  # no defaultServiceTemplate
    b = explain(snap(svc, image), "AIMService", svc).blocker
    assert b is not None
    assert (b.kind, b.name, b.state.message) == ("AIMServiceTemplate", "(none)", message)
    assert "spec.templateRef" in b.hint


def test_derived_template_is_found_by_its_derived_name() -> None:
    overrides = {"metric": "throughput"}
    name = derived_name("llama-mi300x", overrides)
    derived = obj(
        "AIMServiceTemplate",
        name,
        "ns",
        labels={"aim.silogen.ai/derived-template": "true"},
        spec={"aimImageName": "llama", "gpuSelector": {"model": "MI300X", "count": 1}},
        status={"status": "Progressing", "conditions": []},
    )
    svc = service("chat", "Pending", templateRef="llama-mi300x", overrides=overrides)
    result = explain(snap(svc, derived, IMAGE, TEMPLATE_OK), "AIMService", svc)
    tpl = result.root.children[0]
    assert (tpl.kind, tpl.name, tpl.note) == ("AIMServiceTemplate", name, "derived, 1x MI300X")
    assert result.blocker is None


def test_waiting_service_waits_on_its_deepest_pending_object() -> None:
    svc, isvc, pod, *_ = running_service()
    svc["status"]["status"] = "Starting"
    isvc["status"]["conditions"] = [cond("Ready", "False", "PredictorNotReady")]
    pod["status"] = {"phase": "Pending", "conditions": [cond("PodScheduled", "False", "Unschedulable", "0/3 nodes")]}
    result = explain(snap(svc, isvc, pod, IMAGE, TEMPLATE_OK), "AIMService", svc)
    assert result.blocker is None
    w = result.waiting_on
    assert w is not None
    assert (w.kind, w.state.reason) == ("Pod", "Unschedulable")
    assert "kubectl describe pod -n ns chat-predictor-abc" in w.hint
    assert "Waiting on Pod ns/chat-predictor-abc: Pending (Unschedulable)" in render.explanation(result, NOW)


def test_a_failing_pod_under_a_running_job_is_a_blocker() -> None:
    """Pods are evidence only under a *failed* parent: a pod that cannot pull its image while its Job
    and cache still progress is the first thing to fix."""
    tc = obj("AIMTemplateCache", "t", "ns", status={"status": "Progressing"})
    mc = obj("AIMModelCache", "m", "ns", owners=[owner(tc)], status={"status": "Progressing"})
    job = obj("Job", "m-cache-download", "ns", api_version="batch/v1", status={"active": 1})
    pod = obj(
        "Pod",
        "m-cache-download-p",
        "ns",
        api_version="v1",
        labels={"job-name": "m-cache-download"},
        status={"phase": "Pending", "containerStatuses": [{"state": {"waiting": {"reason": "ImagePullBackOff"}}}]},
    )
    result = explain(snap(tc, mc, job, pod), "AIMTemplateCache", tc)
    assert result.blocker is not None
    assert (result.blocker.kind, result.blocker.state.reason) == ("Pod", "ImagePullBackOff")
    assert "cannot be pulled" in result.blocker.hint


def test_unreadable_kinds_are_unknown_not_missing() -> None:
    svc, *_ = running_service()
    result = explain(
        snap(svc, IMAGE, TEMPLATE_OK, unreadable={"InferenceService": "list ...: forbidden"}), "AIMService", svc
    )
    isvc = next(n for n in result.root.walk() if n.kind == "InferenceService")
    assert (isvc.state.state, isvc.state.reason) == ("Unknown", "Unreadable")
    assert result.blocker is None


def test_events_of_the_chain_only_oldest_first_and_at_most_ten() -> None:
    svc, *rest = running_service()
    mine = [
        {
            "regarding": {"uid": svc["metadata"]["uid"], "kind": "AIMService", "name": "chat"},
            "reason": f"R{i}",
            "type": "Normal",
            "note": "n",
            "eventTime": f"2026-01-02T03:{i:02d}:00.000000Z",
        }
        for i in range(12)
    ]
    other = {"regarding": {"uid": "someone-else"}, "reason": "Other", "eventTime": "2026-01-02T03:09:00Z"}
    result = explain(snap(svc, *rest, IMAGE, TEMPLATE_OK, events=[*reversed(mine), other]), "AIMService", svc)
    assert [e["reason"] for e in result.events] == [f"R{i}" for i in range(2, 12)]
    doc = result.to_dict(NOW)
    json.dumps(doc)
    assert doc["events"][-1]["object"] == "AIMService/chat"
    assert doc["tree"]["children"][0]["kind"] == "AIMClusterServiceTemplate"


def test_json_names_the_blocker() -> None:
    svc = service("chat", "Degraded", cond("Failure", "True", "GPUNotAvailable"), templateRef="llama-mi325x")
    doc = explain(snap(svc, IMAGE, TEMPLATE_GPU, nodes=[]), "AIMService", svc).to_dict(NOW)
    assert doc["blocker"]["name"] == "llama-mi325x"
    assert doc["blocker"]["reason"] == "GPUNotAvailable"
    assert "no node carries AMD GPU labels" in doc["blocker"]["hint"]
    assert doc["waitingOn"] is None


def test_colour_marks_the_blocker() -> None:
    svc = service("chat", "Degraded", cond("Failure", "True", "GPUNotAvailable"), templateRef="llama-mi325x")
    text = render.explanation(explain(snap(svc, IMAGE, TEMPLATE_GPU, nodes=[]), "AIMService", svc), NOW, colour=True)
    assert "\x1b[31m" in text and "\x1b[1m" in text


def test_an_existing_image_with_failed_metadata_is_context_not_the_blocker() -> None:
    """The registry metadata of an image does not stop a template that names it: the GPU does."""
    bad_image = obj(
        "AIMClusterImage",
        "llama",
        spec={"image": "aim/llama:1"},
        status={"status": "Failed", "conditions": [cond("Failure", "True", "ImageNotFoundInRegistry")]},
    )
    svc = service("chat", "Degraded", cond("Failure", "True", "GPUNotAvailable"), templateRef="llama-mi325x")
    result = explain(snap(svc, bad_image, TEMPLATE_GPU, nodes=[]), "AIMService", svc)
    assert result.blocker is not None
    assert (result.blocker.kind, result.blocker.name) == ("AIMClusterServiceTemplate", "llama-mi325x")
    image = next(n for n in result.root.walk() if n.kind == "AIMClusterImage")
    assert image.state.state == "Failed" and image.to_dict()["context"] is True


def test_the_blocker_agrees_with_the_reason_the_service_reports() -> None:
    """Two problems (a GPU nobody offers, a missing runtime config): the service reports
    RuntimeConfigMissing, so the runtime config is the blocker, not the template listed first."""
    svc = service(
        "chat",
        "Degraded",
        cond("Failure", "True", "RuntimeConfigMissing", "missing"),
        templateRef="llama-mi325x",
        runtimeConfigName="nope",
    )
    result = explain(snap(svc, IMAGE, TEMPLATE_GPU, nodes=[]), "AIMService", svc)
    assert result.blocker is not None
    assert (result.blocker.kind, result.blocker.name) == ("AIMRuntimeConfig", "nope")
    assert [c.kind for c in result.root.children][:2] == ["AIMClusterServiceTemplate", "AIMRuntimeConfig"]
