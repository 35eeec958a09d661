"""Simulated nodes: a small YAML description turned into Node manifests (pure) for kwok to manage.

A GPU node gets the AMD node-labeller labels (``amd.com/gpu.product-name``, ``.device-id``,
``.family``, ``.vram``, their ``beta.amd.com/`` twins and the GPU model as ``amd.com/gpu.model``)
and ``amd.com/gpu`` capacity. Every node carries the ``kwok.x-k8s.io/node=fake`` annotation and a
matching taint-free spec, so ordinary pods schedule on it and kwok drives their lifecycle.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from aimctl.kube.objects import dig_map

GPU_RESOURCE = "amd.com/gpu"


def load_node_specs(path: Path | None = None) -> list[dict[str, Any]]:
    """The node descriptions from ``path``, or the packaged default set (an MI300X, an MI325X, a CPU node)."""
    text = path.read_text() if path else resources.files(__package__).joinpath("nodes.yaml").read_text()
    doc = yaml.safe_load(text) or {}
    nodes = doc.get("nodes")
    if not isinstance(nodes, list) or not nodes:
        raise ValueError(f"{path or 'nodes.yaml'}: expected a non-empty list under 'nodes'")
    for i, n in enumerate(nodes):
        if not isinstance(n, dict) or not n.get("name"):
            raise ValueError(f"{path or 'nodes.yaml'}: nodes[{i}] needs a 'name'")
    return nodes


def node_manifest(spec: dict[str, Any], kubelet_port: int | None = None) -> dict[str, Any]:
    """The Node object for one description (see the module docstring for labels and capacity).

    With ``kubelet_port`` the status also names the node's address (127.0.0.1) and kwok's kubelet-like
    endpoint, through which the apiserver serves ``pods/log``; written at every cluster start, so a
    node can never be left without them."""
    name = spec["name"]
    labels = {
        "kubernetes.io/hostname": name,
        "kubernetes.io/os": "linux",
        "kubernetes.io/arch": "amd64",
        "type": "kwok",
        "node-role.kubernetes.io/worker": "",
    }
    capacity: dict[str, str] = {
        "cpu": str(spec.get("cpu", "32")),
        "memory": str(spec.get("memory", "128Gi")),
        "pods": str(spec.get("pods", "250")),
        "ephemeral-storage": "1Ti",
    }
    gpu = spec.get("gpu")
    if gpu:
        for prefix in ("amd.com", "beta.amd.com"):
            labels[f"{prefix}/gpu.product-name"] = str(gpu["product"])
            labels[f"{prefix}/gpu.device-id"] = str(gpu["deviceId"])
            labels[f"{prefix}/gpu.family"] = str(gpu.get("family", "AI"))
            if gpu.get("vram"):
                labels[f"{prefix}/gpu.vram"] = str(gpu["vram"])
        if gpu.get("model"):
            labels["amd.com/gpu.model"] = str(gpu["model"])
        capacity[GPU_RESOURCE] = str(gpu.get("count", 8))
    labels.update({str(k): str(v) for k, v in dig_map(spec, "labels").items()})
    node: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": labels,
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }
    if kubelet_port is not None:
        node["status"]["addresses"] = [
            {"type": "InternalIP", "address": "127.0.0.1"},
            {"type": "Hostname", "address": name},
        ]
        node["status"]["daemonEndpoints"] = {"kubeletEndpoint": {"Port": kubelet_port}}
    return node
