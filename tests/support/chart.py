"""The Helm chart of deploy/chart/aimctl in tests: ``helm template`` and ``helm lint`` with the pinned
helm (built once from its Go module, :func:`aimctl.devcluster.tools.ensure_helm`), and the comparison
of a rendering with the kustomize units it must equal."""

from __future__ import annotations

import copy
import subprocess
from pathlib import Path
from typing import Any

import yaml

from aimctl.devcluster.tools import ensure_helm

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "chart" / "aimctl"
RELEASE = "aimctl"

#: Labels Helm charts conventionally add (and kustomize units do not have).
HELM_LABELS = (
    "helm.sh/chart",
    "app.kubernetes.io/managed-by",
    "app.kubernetes.io/instance",
    "app.kubernetes.io/version",
)
#: What the chart renders for the kustomize units deploy/default + deploy/monitoring.
LIKE_KUSTOMIZE = {
    "namespace": {"create": True},
    "metrics": {"serviceMonitor": {"enabled": True}, "prometheusRule": {"enabled": True}},
    "grafanaDashboard": {"enabled": True},
}

#: Values unlike every default (for lint, template and the server-side dry-run).
NON_DEFAULT = {
    "image": {"repository": "registry.example.com/aim/aimctl", "digest": "sha256:" + "ab" * 32,
              "pullPolicy": "Always", "pullSecrets": [{"name": "regcred"}]},
    "replicas": 3,
    "resources": {"requests": {"cpu": "250m", "memory": "512Mi"}, "limits": {"cpu": "2", "memory": "2Gi"}},
    "nodeSelector": {"node-role.kubernetes.io/control-plane": ""},
    "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "operator": "Exists", "effect": "NoSchedule"}],
    "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
        {"matchExpressions": [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]}]}]}}},
    "podAnnotations": {"example.com/team": "platform"},
    "log": {"level": "debug", "format": "text"},
    "extraEnv": [{"name": "AIMCTL_REGISTRY_MIRRORS", "value": "docker.io=mirror.example.com"}],
    "namespace": {"name": "aim-operators", "create": True},
    "serviceAccount": {"annotations": {"example.com/role": "aimctl"}},
    "crds": {"enabled": True},
    "metrics": {"service": {"enabled": True},
                "serviceMonitor": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}},
                "prometheusRule": {"enabled": True, "labels": {"release": "kube-prometheus-stack"}}},
    "grafanaDashboard": {"enabled": True, "labels": {"team": "platform"}},
    "defaultRuntimeConfig": {"enabled": True, "spec": {"defaultStorageClassName": "rwx-nfs"}},
}  # fmt: skip


def helm(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([str(ensure_helm(log=lambda m: None)), *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        raise AssertionError(f"helm {' '.join(args)} failed (exit {proc.returncode}):\n{proc.stderr}{proc.stdout}")
    return proc


def values_file(values: dict[str, Any], directory: Path) -> Path:
    path = directory / "values.yaml"
    path.write_text(yaml.safe_dump(values), encoding="utf-8")
    return path


def template(values: dict[str, Any] | None, directory: Path, namespace: str = "aim-system",
             hooks: bool = True, include_crds: bool = True) -> list[dict[str, Any]]:  # fmt: skip
    """``helm template aimctl deploy/chart/aimctl -n NAMESPACE -f VALUES --include-crds`` as documents
    (the CRDs of the chart's ``crds/`` directories first, as ``helm install`` creates them)."""
    args = ["template", RELEASE, str(CHART), "--namespace", namespace]
    if values:
        args += ["--values", str(values_file(values, directory))]
    if not hooks:
        args.append("--no-hooks")
    if include_crds:
        args.append("--include-crds")
    return [d for d in yaml.safe_load_all(helm(*args).stdout) if d]


def without_helm_metadata(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` without Helm's conventional labels."""
    out = copy.deepcopy(doc)
    for meta in (out["metadata"], ((out.get("spec") or {}).get("template") or {}).get("metadata")):
        if not meta:
            continue
        labels = {k: v for k, v in (meta.get("labels") or {}).items() if k not in HELM_LABELS}
        meta.pop("labels", None)
        if labels:
            meta["labels"] = labels
    return out


def keyed(docs: list[dict[str, Any]]) -> dict[tuple[str, str, str], dict[str, Any]]:
    return {(d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d for d in docs}
