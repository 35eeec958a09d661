"""AIMService e2e helpers: manifests of images, templates, runtime configs and services, discovery logs,
and waits that show the service's status on failure.

Discovery runs for real (kwok pods, logs served by :func:`tests.sim.pod_logs.serve_logs`), so a
template becomes Available exactly as in production; the simulated KServe and Gateway controllers
(``kserve`` and ``gateway`` fixtures) give InferenceServices and HTTPRoutes their status.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from tests.sim.pod_logs import serve_logs
from tests.support import aim, kube
from tests.support.discovery import AIMDUMMY_RESULT, condition, state, unique
from tests.support.wait import wait_for

API = "aim.silogen.ai/v1alpha1"
KIND = "AIMService"
OPERATOR_NAMESPACE = "aim-system"
IMAGE_URI = "aimdummy:dev-latest"
IMAGE_RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}


def image(name: str, namespace: str | None = None, default: str | None = None, **spec: Any) -> dict[str, Any]:
    """An AIMImage (with ``namespace``) or AIMClusterImage of the aimdummy image."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    body: dict[str, Any] = {"image": IMAGE_URI, "resources": IMAGE_RESOURCES}
    if default:
        body["defaultServiceTemplate"] = default
    body.update(spec)
    return {"apiVersion": API, "kind": "AIMImage" if namespace else "AIMClusterImage", "metadata": meta, "spec": body}


def template(name: str, image_name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    """An AIMServiceTemplate (with ``namespace``) or AIMClusterServiceTemplate: latency, MI300X x1."""
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    body: dict[str, Any] = {"aimImageName": image_name, "metric": "latency"}
    body["gpuSelector"] = {"model": "MI300X", "count": 1}
    body.update(spec)
    kind = "AIMServiceTemplate" if namespace else "AIMClusterServiceTemplate"
    return {"apiVersion": API, "kind": kind, "metadata": meta, "spec": body}


def service(
    namespace: str,
    name: str,
    image_name: str,
    labels: dict[str, str] | None = None,
    annotations: dict[str, str] | None = None,
    **spec: Any,
) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    if annotations:
        meta["annotations"] = annotations
    return {"apiVersion": API, "kind": "AIMService", "metadata": meta, "spec": {"aimImageName": image_name, **spec}}


def runtime_config(name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    kind = "AIMRuntimeConfig" if namespace else "AIMClusterRuntimeConfig"
    return {"apiVersion": API, "kind": kind, "metadata": meta, "spec": spec}


def discovery_output(gpu_count: int = 0, models: list[dict[str, Any]] | None = None) -> str:
    """The aimdummy dry-run output, optionally with another GPU count or model list."""
    result = json.loads(json.dumps(AIMDUMMY_RESULT))
    result["profile"]["metadata"]["gpu_count"] = gpu_count
    if models is not None:
        result["models"] = models
    return json.dumps([result])


@contextlib.asynccontextmanager
async def discovery_logs(
    api: client.ApiClient, namespace: str, directory: Path, text: str | None = None
) -> AsyncIterator[None]:
    """Discovery pods of ``namespace`` print ``text`` (default: the aimdummy result) while active."""
    name = unique(f"svc-logs-{namespace}"[:40])
    await serve_logs(api, namespace, text or discovery_output(), directory, name=name)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await kube.delete(api, f"/apis/kwok.x-k8s.io/v1alpha1/clusterlogs/{name}")


@contextlib.asynccontextmanager
async def cluster_objects(api: client.ApiClient) -> AsyncIterator[list[dict[str, Any]]]:
    """Cluster-scoped objects a test creates (append them); deleted when it ends."""
    objs: list[dict[str, Any]] = []
    try:
        yield objs
    finally:
        for obj in reversed(objs):
            with contextlib.suppress(Exception):
                await aim.delete(api, obj)


async def apply_all(api: client.ApiClient, *objs: dict[str, Any]) -> None:
    for obj in objs:
        await aim.apply(api, obj)


def conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    """``{type: (status, reason)}``."""
    return {c["type"]: (c["status"], c.get("reason", "")) for c in (obj.get("status") or {}).get("conditions") or []}


async def wait_service(
    api: client.ApiClient, svc: dict[str, Any], wanted: str, within: float = 45, **cond: tuple[str, str]
) -> dict[str, Any]:
    """Wait until the service is ``wanted`` with conditions ``Type=(status, reason)``, for its current
    generation."""

    def ok(o: dict[str, Any]) -> bool:
        st = o.get("status") or {}
        if state(o) != wanted or st.get("observedGeneration") != o["metadata"].get("generation"):
            return False
        return all((condition(o, t).get("status"), condition(o, t).get("reason")) == sr for t, sr in cond.items())

    return await wait_for(lambda: aim.get(api, svc), ok, timeout=within, what=f"{svc['metadata']['name']} {wanted}")


async def wait_template(api: client.ApiClient, obj: dict[str, Any], wanted: str, within: float = 45) -> dict[str, Any]:
    what = f"{obj['metadata']['name']} {wanted}"
    return await wait_for(lambda: aim.get(api, obj), lambda o: state(o) == wanted, timeout=within, what=what)


def isvc_path(namespace: str, name: str) -> str:
    return f"/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/{name}"


def route_path(namespace: str, name: str) -> str:
    return f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/{name}"


def template_path(namespace: str, name: str) -> str:
    return f"/apis/{API}/namespaces/{namespace}/aimservicetemplates/{name}"


async def get_isvc(api: client.ApiClient, namespace: str, name: str, within: float = 30) -> dict[str, Any]:
    result: dict[str, Any] = await wait_for(
        lambda: kube.get(api, isvc_path(namespace, name)), bool, timeout=within, what=f"InferenceService {name}"
    )
    return result


async def absent(api: client.ApiClient, path: str) -> bool:
    """True when ``GET path`` is a 404."""
    try:
        await kube.get(api, path)
    except Exception as exc:
        if getattr(exc, "status", None) == 404:
            return True
        raise
    return False


async def events_for(api: client.ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    """Events regarding the AIMService ``name``, once settled (see :func:`kube.settled_events`)."""

    async def fetch() -> list[dict[str, Any]]:
        items = (await kube.get(api, f"/apis/events.k8s.io/v1/namespaces/{namespace}/events"))["items"]
        return [e for e in items if (e.get("regarding") or {}).get("name") == name and e["regarding"]["kind"] == KIND]

    return await kube.settled_events(fetch)


async def isolate(api: client.ApiClient, namespace: str) -> None:
    """An empty ``AIMRuntimeConfig default`` in ``namespace``: a namespaced config replaces the cluster
    one wholesale, so cluster-wide defaults other tests or demos install (routing, storage) do not
    leak into this test's services."""
    await aim.apply(api, runtime_config("default", namespace))


async def release_discovery(api: client.ApiClient, namespace: str) -> None:
    """Delete the discovery Jobs of ``namespace`` and let their pods go.

    Pods of a Job carry the ``batch.kubernetes.io/job-tracking`` finalizer, which the Job controller
    removes only once a pod is terminal; a kwok pod that hangs or never pulls is never terminal, and
    the dev cluster's kwok ``pod-delete`` stage does not empty finalizers, so such pods (and with them
    their Jobs, which hold discovery slots, and the namespace) would stay forever. Tests that start
    such pods call this when they end.
    """
    jobs = await kube.get(api, f"/apis/batch/v1/namespaces/{namespace}/jobs")
    for job in jobs.get("items") or []:
        with contextlib.suppress(Exception):
            await kube.delete(api, f"/apis/batch/v1/namespaces/{namespace}/jobs/{job['metadata']['name']}")
    pods = await kube.get(api, f"/api/v1/namespaces/{namespace}/pods")
    for pod in pods.get("items") or []:
        path = f"/api/v1/namespaces/{namespace}/pods/{pod['metadata']['name']}"
        with contextlib.suppress(Exception):
            await kube.request(api, "PATCH", path, {"metadata": {"finalizers": None}}, "application/merge-patch+json")
        with contextlib.suppress(Exception):
            await kube.delete(api, path)
