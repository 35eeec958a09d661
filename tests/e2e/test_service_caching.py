"""AIMService caching end to end (docs/original-behaviour.md, fix 3): ``cacheModel`` or template ``caching.enabled``
creates a template cache; the service waits (Starting, ``CacheReady=False``) until its model caches
are Available, then mounts their PVCs into the InferenceService and records ``lastUsed``.

The model caches' volumes use a StorageClass without a provisioner, so a PVC stays Pending until the
test binds it to a PersistentVolume (static provisioning, done by the PV binder of
kube-controller-manager): that is how the test holds the caches not-ready for as long as it checks
the waiting state, without any timing assumption.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.sim.storage_provisioner import persistent_volume
from tests.support import aim, kube
from tests.support.discovery import condition
from tests.support.services import (
    absent,
    apply_all,
    conditions,
    discovery_logs,
    get_isvc,
    image,
    isvc_path,
    runtime_config,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve")

MANUAL_CLASS = "aimctl-manual-binding"
API = "aim.silogen.ai/v1alpha1"


async def manual_storage(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    """A StorageClass nobody provisions for, as the namespace's default cache storage class."""
    sc = {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {"name": MANUAL_CLASS},
        "provisioner": "kubernetes.io/no-provisioner",
        "volumeBindingMode": "Immediate",
        "reclaimPolicy": "Delete",
    }
    await kube.apply(api, f"/apis/storage.k8s.io/v1/storageclasses/{MANUAL_CLASS}", sc)
    await aim.apply(api, runtime_config("default", namespace, defaultStorageClassName=MANUAL_CLASS))
    return sc


async def model_caches(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await kube.get(api, f"/apis/{API}/namespaces/{namespace}/aimmodelcaches"))["items"]
    return items


@pytest.fixture
async def volumes(api: client.ApiClient) -> AsyncIterator[list[str]]:
    """Names of the PersistentVolumes a test creates; deleted when it ends."""
    names: list[str] = []
    yield names
    for name in names:
        with contextlib.suppress(Exception):
            await kube.delete(api, f"/api/v1/persistentvolumes/{name}")


async def bind_pending_pvcs(api: client.ApiClient, namespace: str, sc: dict[str, Any], volumes: list[str]) -> list[str]:
    """Create a PersistentVolume for every cache PVC of ``namespace``; returns the PVC names."""
    pvcs = await wait_for(
        lambda: kube.get(api, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"),
        lambda r: bool(r["items"]),
        what="model cache PVCs",
    )
    for pvc in pvcs["items"]:
        pv = persistent_volume(pvc, sc, None)
        await kube.create(api, "/api/v1/persistentvolumes", pv)
        volumes.append(pv["metadata"]["name"])
    return [p["metadata"]["name"] for p in pvcs["items"]]


async def test_cache_model_waits_for_caches_then_mounts_them(
    api: client.ApiClient, namespace: str, tmp_path: Path, volumes: list[str]
) -> None:
    sc = await manual_storage(api, namespace)
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        available = await wait_template(api, tpl, "Available")
        env = [{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}}]
        svc = service(namespace, "svc", "img", templateRef="tpl", cacheModel=True, env=env)
        await aim.apply(api, svc)

        # Waiting: the template cache exists, its model cache's PVC is not bound, no InferenceService.
        waiting = await wait_service(api, svc, "Starting", CacheReady=("False", "WaitingForCache"))
        assert conditions(waiting)["RuntimeReady"] == ("False", "WaitingForCache")
        tc = await kube.get(api, f"/apis/{API}/namespaces/{namespace}/aimtemplatecaches/tpl")
        (owner,) = tc["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"]) == ("AIMServiceTemplate", "tpl")
        assert owner["uid"] == available["metadata"]["uid"]
        assert not owner.get("controller")
        assert tc["spec"]["templateRef"] == "tpl"
        assert tc["spec"]["env"] == svc["spec"]["env"]
        caches = await wait_for(lambda: model_caches(api, namespace), bool, what="model caches")
        assert [c["spec"]["sourceUri"] for c in caches] == ["hf://HuggingFaceTB/SmolLM2-135M"]
        assert await absent(api, isvc_path(namespace, "svc"))

        # The volume appears: the download runs, the caches become Available, the service runs on them.
        (claim,) = await bind_pending_pvcs(api, namespace, sc, volumes)
        running = await wait_service(api, svc, "Running", CacheReady=("True", "CacheWarm"), within=60)
        assert condition(running, "CacheReady")["message"] == "Model caches are ready"
        predictor = (await get_isvc(api, namespace, "svc"))["spec"]["predictor"]
        assert predictor["volumes"] == [{"name": "model-cache-0", "persistentVolumeClaim": {"claimName": claim}}]
        assert predictor["model"]["volumeMounts"] == [
            {"name": "model-cache-0", "mountPath": "/workspace/cache/smol2-135m"}
        ]
        (cache,) = await model_caches(api, namespace)
        assert cache["status"]["status"] == "Available"
        assert cache["status"]["persistentVolumeClaim"] == claim
        used = await wait_for(
            lambda: model_caches(api, namespace), lambda cs: bool(cs[0]["status"].get("lastUsed")), what="lastUsed"
        )
        isvc = await kube.get(api, isvc_path(namespace, "svc"))
        assert used[0]["status"]["lastUsed"] >= isvc["metadata"]["creationTimestamp"]


async def test_template_caching_is_honoured(
    api: client.ApiClient, namespace: str, tmp_path: Path, volumes: list[str]
) -> None:
    """A template with ``caching.enabled`` caches for every service on it (its own controller creates
    the template cache); the service waits and mounts just the same."""
    sc = await manual_storage(api, namespace)
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace, caching={"enabled": True})
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "svc", "img", templateRef="tpl")
        await aim.apply(api, svc)
        await wait_service(api, svc, "Starting", CacheReady=("False", "WaitingForCache"))
        tc = await kube.get(api, f"/apis/{API}/namespaces/{namespace}/aimtemplatecaches/tpl")
        assert tc["metadata"]["ownerReferences"][0]["controller"] is True
        assert await absent(api, isvc_path(namespace, "svc"))
        (claim,) = await bind_pending_pvcs(api, namespace, sc, volumes)
        await wait_service(api, svc, "Running", CacheReady=("True", "CacheWarm"), within=60)
        predictor = (await get_isvc(api, namespace, "svc"))["spec"]["predictor"]
        assert predictor["volumes"][0]["persistentVolumeClaim"]["claimName"] == claim
