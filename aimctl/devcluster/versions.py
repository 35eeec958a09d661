"""Pinned versions of every upstream component of the development cluster: the one place to bump them.

The binary cache directory is keyed by :func:`binaries_key`, so bumping a version here builds anew
next to the old cache instead of overwriting it.
"""

from __future__ import annotations

from typing import Final

#: Kubernetes release; kube-apiserver, kube-controller-manager and kube-scheduler are built from
#: ``k8s.io/kubernetes`` at this tag, its staging modules replaced by the matching ``v0.N.x``.
KUBERNETES: Final = "v1.35.4"
#: etcd server module ``go.etcd.io/etcd/server/v3`` (Kubernetes 1.31+ needs etcd >= 3.5.11).
ETCD: Final = "v3.6.16"
#: kwok (``sigs.k8s.io/kwok``): simulated nodes and pod lifecycles, kubelet-like log server.
KWOK: Final = "v0.8.0"
#: KServe module ``github.com/kserve/kserve``: InferenceService, ServingRuntime, ClusterServingRuntime CRDs.
KSERVE: Final = "v0.16.0"
#: Gateway API module ``sigs.k8s.io/gateway-api``: Gateway, HTTPRoute CRDs (standard channel).
GATEWAY_API: Final = "v1.6.3"
#: Prometheus operator module ``github.com/prometheus-operator/prometheus-operator``: ServiceMonitor and
#: PrometheusRule CRDs (``example/prometheus-operator-crd/``), installed only by the tests that apply
#: ``deploy/monitoring`` (never at cluster start). (The proxy does not serve every release; v0.87.1 is one it does.)
PROMETHEUS_OPERATOR: Final = "v0.87.1"
#: kustomize (``sigs.k8s.io/kustomize/kustomize/v5``): renders ``deploy/`` in tests and ``make deploy``.
#: Built on first use into its own cache directory (see :mod:`aimctl.devcluster.tools`), so bumping it
#: never rebuilds Kubernetes. v5.8.1 is the newest release buildable with Go 1.25/1.26 (v5.8.3 needs 1.27).
KUSTOMIZE: Final = "v5.8.1"
#: helm (``helm.sh/helm/v3``, ``cmd/helm``): lints, renders and installs ``deploy/chart/aimctl`` in tests.
#: Built on first use like kustomize. v3.20.2 is the newest v3 release whose go.mod asks only Go 1.25.
HELM: Final = "v3.20.2"


def staging_version(kubernetes: str = KUBERNETES) -> str:
    """The ``k8s.io/<staging>`` module version matching a Kubernetes release (v1.35.4 → v0.35.4)."""
    major, minor, patch = kubernetes.lstrip("v").split(".")
    if major != "1":
        raise ValueError(f"unsupported Kubernetes major version in {kubernetes!r}")
    return f"v0.{minor}.{patch}"


def binaries_key() -> str:
    """Directory name of the binary cache for these versions, e.g. ``k8s-v1.35.4_etcd-v3.6.16_kwok-v0.8.0``."""
    return f"k8s-{KUBERNETES}_etcd-{ETCD}_kwok-{KWOK}"
