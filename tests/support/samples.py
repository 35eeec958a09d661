"""deploy/samples on the local cluster: what the samples expect to find, and the samples themselves.

The samples are written for a real cluster (an ``rwx-nfs`` StorageClass, the KServe ingress Gateway
``kgateway-system/kserve-ingress-gateway``, Secrets ``hf-token`` and ``amd-registry``, a ServiceAccount
``aim-runtime``). :func:`prepare` creates those on the local cluster — the StorageClass served by the
simulated provisioner, the Gateway by the simulated Gateway controller — so the same files apply
unchanged. :func:`sample_objects` renders the samples; with ``suffix`` the cluster-scoped ones get
unique names (and the references to them follow), so concurrent test sessions do not share them.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

from kubernetes_asyncio import client

from tests.sim.gateway_controller import gateway_manifests
from tests.sim.pod_logs import serve_logs
from tests.sim.storage_provisioner import PROVISIONER
from tests.support import kube
from tests.support.discovery import AIMDUMMY_RESULT
from tests.support.manifests import apply_docs, render

STORAGE_CLASS = "rwx-nfs"
GATEWAY_NAMESPACE = "kgateway-system"
GATEWAY_NAME = "kserve-ingress-gateway"
CLUSTER_KINDS = {"AIMClusterImage", "AIMClusterServiceTemplate"}
#: What the discovery pods of the sample templates print (the llama profile of the samples).
DISCOVERY_OUTPUT = [
    dict(
        AIMDUMMY_RESULT,
        profile=dict(
            AIMDUMMY_RESULT["profile"],
            model="meta-llama/Llama-3.1-8B-Instruct",
            metadata={"engine": "vllm", "gpu": "MI300X", "precision": "fp8", "gpu_count": 1, "metric": "latency"},
        ),
        models=[{"name": "meta-llama/Llama-3.1-8B-Instruct", "source": "hf://meta-llama/Llama-3.1-8B-Instruct",
                 "size_gb": 16}],
    )
]  # fmt: skip


async def _ensure_namespace(api: client.ApiClient, name: str) -> None:
    await kube.apply(api, f"/api/v1/namespaces/{name}", {"apiVersion": "v1", "kind": "Namespace",
                                                          "metadata": {"name": name}})  # fmt: skip


async def prepare(api: client.ApiClient, namespace: str, log_dir: Path, operator_namespace: str = "aim-system") -> None:
    """Everything the samples reference, for namespace ``namespace`` (idempotent)."""
    await kube.apply(
        api,
        f"/apis/storage.k8s.io/v1/storageclasses/{STORAGE_CLASS}",
        {"apiVersion": "storage.k8s.io/v1", "kind": "StorageClass", "metadata": {"name": STORAGE_CLASS},
         "provisioner": PROVISIONER, "reclaimPolicy": "Delete", "volumeBindingMode": "Immediate"},
    )  # fmt: skip
    await _ensure_namespace(api, GATEWAY_NAMESPACE)
    await apply_docs(api, gateway_manifests(GATEWAY_NAMESPACE, name=GATEWAY_NAME, class_name="sim-kserve-ingress"))
    await _ensure_namespace(api, namespace)
    for name, data in (("hf-token", {"token": "aGYtZGVtby10b2tlbg=="}),):
        await kube.apply(api, f"/api/v1/namespaces/{namespace}/secrets/{name}",
                         {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name}, "data": data})  # fmt: skip
    await kube.apply(
        api,
        f"/api/v1/namespaces/{namespace}/secrets/amd-registry",
        {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "amd-registry"},
         "type": "kubernetes.io/dockerconfigjson", "data": {".dockerconfigjson": "eyJhdXRocyI6e319"}},
    )  # fmt: skip
    await kube.apply(api, f"/api/v1/namespaces/{namespace}/serviceaccounts/aim-runtime",
                     {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "aim-runtime"}})  # fmt: skip
    text = json.dumps(DISCOVERY_OUTPUT)
    await serve_logs(api, namespace, text, log_dir, name=f"samples-{namespace}")
    await serve_logs(api, operator_namespace, text, log_dir, name=f"samples-{operator_namespace}")


def sample_objects(suffix: str = "") -> list[dict[str, Any]]:
    """deploy/samples rendered; cluster-scoped objects (but the runtime config ``default``) renamed."""
    docs = [copy.deepcopy(d) for d in render("samples")]
    if not suffix:
        return docs
    renamed: dict[tuple[str, str], str] = {}
    for d in docs:
        if d["kind"] in CLUSTER_KINDS:
            old = d["metadata"]["name"]
            d["metadata"]["name"] = renamed[(d["kind"], old)] = f"{old}-{suffix}"[:63]
    images = {old: new for (kind, old), new in renamed.items() if kind == "AIMClusterImage"}
    templates = {old: new for (kind, old), new in renamed.items() if kind == "AIMClusterServiceTemplate"}
    for d in docs:
        spec = d.get("spec") or {}
        if d["kind"] == "AIMClusterServiceTemplate" and spec.get("aimImageName") in images:
            spec["aimImageName"] = images[spec["aimImageName"]]
        if d["kind"] == "AIMClusterImage" and spec.get("defaultServiceTemplate") in templates:
            spec["defaultServiceTemplate"] = templates[spec["defaultServiceTemplate"]]
        if d["kind"] in ("AIMService", "AIMTemplateCache") and spec.get("templateRef") in templates:
            spec["templateRef"] = templates[spec["templateRef"]]
    return docs


#: What the samples' AIM image would say about itself in its OCI config labels (the labels the real
#: image carries; recommendedDeployments drives the auto-created cluster templates).
SAMPLE_IMAGE_LABELS = {
    "org.opencontainers.image.title": "AIM: Llama 3.1 8B Instruct",
    "org.opencontainers.image.vendor": "Advanced Micro Devices, Inc.",
    "org.opencontainers.image.version": "0.8.4",
    "org.amd.silogen.model.canonicalName": "meta-llama/Llama-3.1-8B-Instruct",
    "org.amd.silogen.model.source": "https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct",
    "org.amd.silogen.model.tags": "text-generation, chat, instruction",
    "org.amd.silogen.hfToken.required": "true",
    "org.amd.silogen.model.recommendedDeployments": json.dumps(
        [
            {"gpuModel": "MI300X", "gpuCount": 1, "precision": "fp8", "metric": "latency"},
            {"gpuModel": "MI300X", "gpuCount": 1, "precision": "fp8", "metric": "throughput"},
            {"gpuModel": "MI325X", "gpuCount": 1, "precision": "fp8", "metric": "latency"},
        ]
    ),
}


def sample_image_labels() -> dict[str, dict[str, str]]:
    """Image reference (as written in the samples, Docker Hub implied) → its labels, for every image
    sample with discovery enabled."""
    out: dict[str, dict[str, str]] = {}
    for d in render("samples"):
        if d["kind"] in ("AIMImage", "AIMClusterImage") and (d["spec"].get("discovery") or {}).get("enabled"):
            out[d["spec"]["image"]] = dict(SAMPLE_IMAGE_LABELS)
    return out
