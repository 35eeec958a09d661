"""Upstream CRDs, read at cluster start from their Go modules at pinned versions (never copied here).

KServe (InferenceService, ServingRuntime, ClusterServingRuntime and the others its controller manager
watches: InferenceGraph, TrainedModel, LocalModel*, ClusterStorageContainer), Gateway API standard channel
(GatewayClass, Gateway, HTTPRoute, ReferenceGrant) and kwok's own Logs/ClusterLogs (container logs of
simulated pods). Each is a plain YAML file in the module cache; ``go mod download`` fetches a module
once through the proxy.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from aimctl.devcluster import kserve, versions
from aimctl.devcluster.gobuild import module_dir

#: (module, version, files relative to the module root)
UPSTREAM_CRDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "github.com/kserve/kserve",
        versions.KSERVE,
        kserve.CRD_FILES,
    ),
    (
        "sigs.k8s.io/gateway-api",
        versions.GATEWAY_API,
        (
            "config/crd/standard/gateway.networking.k8s.io_gatewayclasses.yaml",
            "config/crd/standard/gateway.networking.k8s.io_gateways.yaml",
            "config/crd/standard/gateway.networking.k8s.io_httproutes.yaml",
            "config/crd/standard/gateway.networking.k8s.io_referencegrants.yaml",
        ),
    ),
    (
        "sigs.k8s.io/kwok",
        versions.KWOK,
        (
            "kustomize/crd/bases/kwok.x-k8s.io_logs.yaml",
            "kustomize/crd/bases/kwok.x-k8s.io_clusterlogs.yaml",
        ),
    ),
)


#: The prometheus-operator CRDs ``deploy/monitoring`` needs (ServiceMonitor, PrometheusRule). Not part of
#: :data:`UPSTREAM_CRDS`: a cluster without Prometheus operator is the common case, so only the tests
#: that apply ``deploy/monitoring`` install them (``install_crds(monitoring_crd_files())``).
MONITORING_CRDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (
        "github.com/prometheus-operator/prometheus-operator",
        versions.PROMETHEUS_OPERATOR,
        (
            "example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml",
            "example/prometheus-operator-crd/monitoring.coreos.com_prometheusrules.yaml",
        ),
    ),
)


def crd_files(table: tuple[tuple[str, str, tuple[str, ...]], ...]) -> list[Path]:
    """The CRD files of a table like :data:`UPSTREAM_CRDS` (downloading the modules when absent)."""
    files: list[Path] = []
    for module, version, rel_paths in table:
        root = module_dir(module, version)
        files.extend(root / p for p in rel_paths)
    return files


def monitoring_crd_files() -> list[Path]:
    """Paths of the ServiceMonitor and PrometheusRule CRDs (downloading the module when absent)."""
    return crd_files(MONITORING_CRDS)


def upstream_crd_files() -> list[Path]:
    """Paths of every upstream CRD file, downloading the modules when absent from the cache."""
    return crd_files(UPSTREAM_CRDS)


def load_crds(files: list[Path]) -> list[dict[str, Any]]:
    """The CustomResourceDefinition documents of ``files`` (other documents are ignored)."""
    crds: list[dict[str, Any]] = []
    for f in files:
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and doc.get("kind") == "CustomResourceDefinition":
                crds.append(doc)
    return crds
