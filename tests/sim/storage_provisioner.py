"""Simulated dynamic storage provisioner (there is no CSI driver or provisioner in the local cluster).

It acts through the real API exactly as an external provisioner does: for every Pending PVC whose
StorageClass names :data:`PROVISIONER`, it creates a PersistentVolume pre-bound to the claim
(``claimRef``) and kube-controller-manager's PV binder completes the binding. For a
``WaitForFirstConsumer`` class it waits, like a real provisioner, until the scheduler has chosen a
node (annotation ``volume.kubernetes.io/selected-node``) and pins the PV to that node.

Two test classes are installed by :func:`install_storage_classes`: ``sim-immediate`` and
``sim-wait-for-first-consumer``.
"""

from __future__ import annotations

import contextlib
from typing import Any

import anyio
from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from tests.support import kube

PROVISIONER = "sim.aimctl.dev/storage"
IMMEDIATE_CLASS = "sim-immediate"
WFFC_CLASS = "sim-wait-for-first-consumer"
SELECTED_NODE = "volume.kubernetes.io/selected-node"


def storage_class(name: str, binding_mode: str, default: bool = False) -> dict[str, Any]:
    return {
        "apiVersion": "storage.k8s.io/v1",
        "kind": "StorageClass",
        "metadata": {
            "name": name,
            "annotations": {"storageclass.kubernetes.io/is-default-class": str(default).lower()},
        },
        "provisioner": PROVISIONER,
        "reclaimPolicy": "Delete",
        "volumeBindingMode": binding_mode,
        "allowVolumeExpansion": True,
    }


async def _apply(api: client.ApiClient, path: str, body: dict[str, Any]) -> None:
    await kube.apply(api, path, body, manager="sim-storage-provisioner")


async def install_storage_classes(api: client.ApiClient) -> None:
    """Create (or update) the two simulated StorageClasses; ``sim-immediate`` is the cluster default."""
    for sc in (
        storage_class(IMMEDIATE_CLASS, "Immediate", default=True),
        storage_class(WFFC_CLASS, "WaitForFirstConsumer"),
    ):
        await _apply(api, f"/apis/storage.k8s.io/v1/storageclasses/{sc['metadata']['name']}", sc)


async def _get(api: client.ApiClient, path: str) -> dict[str, Any]:
    data: dict[str, Any] = await kube.get(api, path)
    return data


def persistent_volume(pvc: dict[str, Any], sc: dict[str, Any], node: str | None) -> dict[str, Any]:
    """The PV a provisioner would create for ``pvc`` (pure)."""
    meta = pvc["metadata"]
    spec = pvc["spec"]
    pv: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "PersistentVolume",
        "metadata": {
            "name": f"pvc-{meta['uid']}",
            "annotations": {"pv.kubernetes.io/provisioned-by": PROVISIONER},
        },
        "spec": {
            "capacity": {"storage": spec.get("resources", {}).get("requests", {}).get("storage", "1Gi")},
            "accessModes": spec.get("accessModes") or ["ReadWriteOnce"],
            "persistentVolumeReclaimPolicy": sc.get("reclaimPolicy", "Delete"),
            "storageClassName": sc["metadata"]["name"],
            "volumeMode": spec.get("volumeMode", "Filesystem"),
            "claimRef": {
                "apiVersion": "v1",
                "kind": "PersistentVolumeClaim",
                "namespace": meta["namespace"],
                "name": meta["name"],
                "uid": meta["uid"],
            },
            "hostPath": {"path": f"/tmp/sim-volumes/{meta['uid']}", "type": "DirectoryOrCreate"},
        },
    }
    if node:
        pv["spec"]["nodeAffinity"] = {
            "required": {
                "nodeSelectorTerms": [
                    {"matchExpressions": [{"key": "kubernetes.io/hostname", "operator": "In", "values": [node]}]}
                ]
            }
        }
    return pv


async def _provision_once(api: client.ApiClient) -> None:
    classes = {
        sc["metadata"]["name"]: sc
        for sc in (await _get(api, "/apis/storage.k8s.io/v1/storageclasses"))["items"]
        if sc.get("provisioner") == PROVISIONER
    }
    if not classes:
        return
    pvcs = (await _get(api, "/api/v1/persistentvolumeclaims"))["items"]
    for pvc in pvcs:
        sc = classes.get(pvc["spec"].get("storageClassName") or "")
        if sc is None or pvc.get("status", {}).get("phase") != "Pending" or pvc["spec"].get("volumeName"):
            continue
        if pvc["metadata"].get("deletionTimestamp"):
            continue
        node = (pvc["metadata"].get("annotations") or {}).get(SELECTED_NODE)
        if sc.get("volumeBindingMode") == "WaitForFirstConsumer" and not node:
            continue
        pv = persistent_volume(pvc, sc, node)
        try:
            await kube.create(api, "/api/v1/persistentvolumes", pv)
        except ApiException as e:
            if e.status != 409:
                raise


async def run_storage_provisioner(api: client.ApiClient, interval: float = 0.2) -> None:
    """Provision until cancelled. Transient API errors are retried on the next pass."""
    while True:
        with contextlib.suppress(ApiException, OSError):
            await _provision_once(api)
        await anyio.sleep(interval)
