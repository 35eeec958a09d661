"""Event bodies and the resource table."""

from __future__ import annotations

from datetime import UTC, datetime

from aimctl.api.kinds import KINDS
from aimctl.kube import resources
from aimctl.kube.events import MAX_NOTE, build_event

SVC = {
    "apiVersion": "aim.silogen.ai/v1alpha1",
    "kind": "AIMService",
    "metadata": {"name": "llama", "namespace": "team", "uid": "u-1", "resourceVersion": "9"},
}


def test_event_body() -> None:
    ev = build_event(
        SVC,
        "Normal",
        "Ready",
        "Reconcile",
        "service is ready",
        "aimservice",
        "pod-0",
        now=datetime(2025, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
    )
    assert ev["apiVersion"] == "events.k8s.io/v1"
    assert ev["metadata"]["namespace"] == "team"
    assert ev["metadata"]["name"].startswith("llama.")
    assert ev["eventTime"] == "2025-01-02T03:04:05.000006Z"
    assert ev["regarding"] == {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMService",
        "name": "llama",
        "namespace": "team",
        "uid": "u-1",
        "resourceVersion": "9",
    }
    assert ev["reportingController"] == "aim.silogen.ai/aimservice"
    assert ev["reportingInstance"] == "pod-0"


def test_event_limits_and_cluster_scoped_namespace() -> None:
    node = {"apiVersion": "v1", "kind": "Node", "metadata": {"name": "n1", "uid": "x"}}
    ev = build_event(node, "Warning", "R" * 300, "A" * 300, "é" * 2000, "c", "i")
    assert ev["metadata"]["namespace"] == "default"
    assert len(ev["reason"]) == 128 and len(ev["action"]) == 128
    assert len(ev["note"].encode()) <= MAX_NOTE


def test_resource_table_matches_the_api_kinds() -> None:
    table = {r.kind: r for r in resources.AIM_RESOURCES}
    assert len(table) == 9
    for info in KINDS:
        r = table[info.kind]
        assert r.plural == info.plural
        assert r.namespaced == (info.scope == "Namespaced")
        assert r.group == "aim.silogen.ai" and r.version == "v1alpha1"


def test_lookups() -> None:
    assert resources.by_kind("Job") is resources.JOBS
    assert (
        resources.by_api_version_kind("serving.kserve.io/v1beta1", "InferenceService") is resources.INFERENCE_SERVICES
    )
