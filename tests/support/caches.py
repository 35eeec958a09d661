"""Helpers for the model-cache and template-cache e2e tests: manifests, waits, and the one bounded
"nothing happens" observation (no new download Job)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from kubernetes_asyncio import client

from tests.support import aim, kube
from tests.support.discovery import condition, state
from tests.support.operator_metrics import wait_idle
from tests.support.wait import wait_for

GV = "aim.silogen.ai/v1alpha1"
IMMEDIATE = "sim-immediate"
WFFC = "sim-wait-for-first-consumer"
SOURCE = "hf://HuggingFaceTB/SmolLM2-135M"
FAILING_IMAGE = "example.com/kwok-fail/storage-initializer:1"


def model_cache(namespace: str, name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GV,
        "kind": "AIMModelCache",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"sourceUri": SOURCE, "size": "280Mi", **spec},
    }


def template_cache(namespace: str, name: str, template_ref: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": GV,
        "kind": "AIMTemplateCache",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"templateRef": template_ref, **spec},
    }


async def wait_state(
    api: client.ApiClient, obj: dict[str, Any], wanted: str, within: float = 60, **cond: tuple[str, str]
) -> dict[str, Any]:
    """Wait until ``obj`` is in state ``wanted`` with the given conditions ``Type=(status, reason)``."""

    def ok(o: dict[str, Any]) -> bool:
        if state(o) != wanted:
            return False
        return all((condition(o, t).get("status"), condition(o, t).get("reason")) == sr for t, sr in cond.items())

    return await wait_for(lambda: aim.get(api, obj), ok, timeout=within, what=f"{obj['metadata']['name']} {wanted}")


async def apply_runtime_config(api: client.ApiClient, rc: dict[str, Any]) -> dict[str, Any]:
    """Apply a runtime config and wait until the operator has reported on it.

    A cache's storage class is fixed when its PVC is created, so a test about the runtime config's
    ``defaultStorageClassName`` must not create the cache before the operator's cache holds the
    config. The runtime-config controller shares that informer; once it has written the config's
    ``observedGeneration``, the config is in the cache.
    """
    applied = await aim.apply(api, rc)
    generation = applied["metadata"]["generation"]
    return await wait_for(
        lambda: aim.get(api, rc),
        lambda o: (o.get("status") or {}).get("observedGeneration") == generation,
        timeout=30,
        what=f"runtime config {rc['metadata']['name']} observed",
    )


def pvc_path(namespace: str, name: str) -> str:
    return f"/api/v1/namespaces/{namespace}/persistentvolumeclaims/{name}"


def job_path(namespace: str, name: str) -> str:
    return f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}"


async def jobs(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await kube.get(api, f"/apis/batch/v1/namespaces/{namespace}/jobs"))["items"]
    return items


async def delete_and_wait_gone(api: client.ApiClient, path: str, within: float = 30) -> None:
    """Delete an object (background propagation, as the TTL controller does) and wait until it is gone."""
    await kube.delete(api, path)

    async def gone() -> bool:
        try:
            await kube.get(api, path)
        except Exception as e:
            if getattr(e, "status", None) == 404:
                return True
            raise
        return False

    await wait_for(gone, bool, timeout=within, what=f"{path} deleted")


#: The model caches' controller (its name in the metrics).
MODEL_CACHES = "aim-model-cache"


async def assert_no_job_appears(
    api: client.ApiClient, namespace: str, metrics: Callable[[], str], after: float
) -> None:
    """Fail if the namespace has a Job once the model-cache controller has handled the event under test.

    ``after`` is the controller's reconcile total read while it was idle before the event (from
    :func:`~tests.support.operator_metrics.wait_idle`); the event (a Job deleted, a poke of the cache)
    makes it reconcile, so once it has reconciled since and is idle again, any Job it were going to
    create exists: a positive signal instead of watching for a guessed few seconds.
    """
    await wait_idle(metrics, MODEL_CACHES, after=after)
    found = await jobs(api, namespace)
    assert not found, f"unexpected Job(s): {[j['metadata']['name'] for j in found]}"


async def lose_volume(api: client.ApiClient, namespace: str, pvc_name: str) -> str:
    """Make a Bound PVC ``Lost`` the way it happens on a real cluster: its PersistentVolume disappears.

    The PV is deleted (it stays Terminating behind the ``kubernetes.io/pv-protection`` finalizer while
    bound), then the finalizer is removed, so the PV is gone while the claim still names it; the PV
    controller then marks the claim Lost on its next sync. Returns the PV name.
    """
    claim = await kube.get(api, pvc_path(namespace, pvc_name))
    pv = claim["spec"]["volumeName"]
    await kube.delete(api, f"/api/v1/persistentvolumes/{pv}")
    await kube.request(
        api,
        "PATCH",
        f"/api/v1/persistentvolumes/{pv}",
        [{"op": "remove", "path": "/metadata/finalizers"}],
        content_type="application/json-patch+json",
    )
    return str(pv)
