"""Objects as the apiserver returns them, for the pure ``get``/``explain`` tests: a small namespace
``ns`` with a cluster image and template, services in several states, and their children."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

NOW = datetime(2026, 1, 2, 3, 10, 0, tzinfo=UTC)
T0 = "2026-01-02T03:00:00Z"
API = "aim.silogen.ai/v1alpha1"


def obj(
    kind: str,
    name: str,
    namespace: str | None = None,
    *,
    uid: str = "",
    spec: Any = None,
    status: Any = None,
    labels: dict[str, str] | None = None,
    owners: list[dict[str, Any]] | None = None,
    api_version: str = API,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "uid": uid or f"uid-{kind}-{name}", "creationTimestamp": T0}
    if namespace:
        meta["namespace"] = namespace
    if labels:
        meta["labels"] = labels
    if owners:
        meta["ownerReferences"] = owners
    out: dict[str, Any] = {"apiVersion": api_version, "kind": kind, "metadata": meta}
    if spec is not None:
        out["spec"] = spec
    if status is not None:
        out["status"] = status
    return out


def owner(o: dict[str, Any], controller: bool = True) -> dict[str, Any]:
    return {
        "apiVersion": o["apiVersion"],
        "kind": o["kind"],
        "name": o["metadata"]["name"],
        "uid": o["metadata"]["uid"],
        "controller": controller,
    }


def cond(type_: str, status: str, reason: str = "", message: str = "") -> dict[str, str]:
    return {"type": type_, "status": status, "reason": reason, "message": message, "lastTransitionTime": T0}


def aim_status(state: str, *conds: dict[str, str], **extra: Any) -> dict[str, Any]:
    return {"status": state, "conditions": list(conds), **extra}


IMAGE = obj(
    "AIMClusterImage",
    "llama",
    spec={"image": "aim/llama:1", "defaultServiceTemplate": "llama-mi300x"},
    status=aim_status("Ready", cond("Ready", "True", "Ready")),
)
TEMPLATE_OK = obj(
    "AIMClusterServiceTemplate",
    "llama-mi300x",
    spec={"aimImageName": "llama", "gpuSelector": {"model": "MI300X", "count": 1}},
    status=aim_status("Available", cond("Ready", "True", "Available", "Template is ready")),
)
GPU_MESSAGE = 'No schedulable node offers 1 GPU(s) of model "MI325X" (node labels ...)'
TEMPLATE_GPU = obj(
    "AIMClusterServiceTemplate",
    "llama-mi325x",
    spec={"aimImageName": "llama", "gpuSelector": {"model": "MI325X", "count": 1}},
    status=aim_status(
        "Degraded",
        cond("Failure", "True", "GPUNotAvailable", GPU_MESSAGE),
        cond("Ready", "False", "GPUNotAvailable", "No node offers the GPU model this template needs"),
    ),
)
NODE_MI300X = {
    "apiVersion": "v1",
    "kind": "Node",
    "metadata": {"name": "n0", "labels": {"amd.com/gpu.product-name": "AMD_Instinct_MI300X_OAM"}},
    "status": {"allocatable": {"amd.com/gpu": "8"}},
}


def service(name: str, state: str, *conds: dict[str, str], **spec: Any) -> dict[str, Any]:
    status = aim_status(state, *conds)
    return obj("AIMService", name, "ns", spec={"aimImageName": "llama", **spec}, status=status)


def running_service() -> list[dict[str, Any]]:
    """A Running service with its InferenceService, a ready predictor pod, a route and a gateway."""
    svc = service(
        "chat", "Running", cond("Ready", "True", "RuntimeReady"), templateRef="llama-mi300x", routing={"enabled": True}
    )
    svc["status"]["resolvedTemplate"] = {
        "name": "llama-mi300x",
        "kind": "AIMClusterServiceTemplate",
        "scope": "Cluster",
    }
    svc["status"]["routing"] = {"path": "/ns/chat"}
    isvc = obj(
        "InferenceService",
        "chat",
        "ns",
        api_version="serving.kserve.io/v1beta1",
        owners=[owner(svc)],
        status={"url": "http://chat.ns.example", "conditions": [cond("Ready", "True")]},
    )
    pod = obj(
        "Pod",
        "chat-predictor-abc",
        "ns",
        api_version="v1",
        labels={"serving.kserve.io/inferenceservice": "chat"},
        status={"phase": "Running", "conditions": [cond("Ready", "True")]},
    )
    route = obj(
        "HTTPRoute",
        "chat",
        "ns",
        api_version="gateway.networking.k8s.io/v1",
        spec={"parentRefs": [{"name": "gw", "namespace": "gw-system"}]},
        status={"parents": [{"conditions": [cond("Accepted", "True", "Accepted")]}]},
    )
    gw = obj(
        "Gateway",
        "gw",
        "gw-system",
        api_version="gateway.networking.k8s.io/v1",
        status={"addresses": [{"value": "10.0.0.1"}], "conditions": [cond("Programmed", "True")]},
    )
    return [svc, isvc, pod, route, gw]


def group(*objs: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    out: dict[str, list[dict[str, Any]]] = {}
    for o in objs:
        out.setdefault(o["kind"], []).append(o)
    return out
