"""deploy/: every kustomization renders, and the manager Deployment meets the restricted profile.

Server-side dry-run of each rendering against the real apiserver: tests/integration/test_deploy_kustomize.py.
"""

from __future__ import annotations

import shutil
from typing import Any

import pytest
import yaml

from aimctl.devcluster.tools import kustomize_build
from tests.unit.deploy.conftest import DEPLOY, load_all

KUSTOMIZATIONS = sorted(p.parent.name for p in DEPLOY.glob("*/kustomization.yaml"))


def render(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(kustomize_build(DEPLOY / name)) if d]


def test_expected_kustomizations() -> None:
    assert set(KUSTOMIZATIONS) >= {"crds", "rbac", "manager", "default", "monitoring", "samples", "kind"}


@pytest.mark.parametrize("name", KUSTOMIZATIONS)
def test_kustomization_renders(name: str) -> None:
    docs = render(name)
    assert docs, f"deploy/{name} renders nothing"
    for d in docs:
        assert d.get("apiVersion") and d.get("kind") and d["metadata"].get("name"), d


def _deployment(docs: list[dict[str, Any]]) -> dict[str, Any]:
    return next(d for d in docs if d["kind"] == "Deployment")


def test_default_is_complete_and_in_aim_system() -> None:
    docs = render("default")
    kinds = {d["kind"] for d in docs}
    assert {"CustomResourceDefinition", "Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role",
            "RoleBinding", "Deployment", "Service"} <= kinds  # fmt: skip
    for d in docs:
        if d["kind"] not in ("CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "aim-system", d["metadata"]
    ns = next(d for d in docs if d["kind"] == "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert _deployment(docs)["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/silogen/aimctl:0.1.0"


def test_kind_overlay_uses_the_loaded_image() -> None:
    image = _deployment(render("kind"))["spec"]["template"]["spec"]["containers"][0]["image"]
    assert image == "aimctl:dev"  # what `make image` builds and `make kind-load` loads


def test_manager_pod_is_restricted() -> None:
    dep = load_all(DEPLOY / "manager" / "manager.yaml")[0]
    pod = dep["spec"]["template"]["spec"]
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert pod["serviceAccountName"] == "aimctl"
    (c,) = pod["containers"]
    sc = c["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False
    assert sc["readOnlyRootFilesystem"] is True
    assert sc["capabilities"] == {"drop": ["ALL"]}
    assert {m["mountPath"] for m in c["volumeMounts"]} == {"/tmp"}


def test_manager_probes_resources_leader_election() -> None:
    dep = load_all(DEPLOY / "manager" / "manager.yaml")[0]
    (c,) = dep["spec"]["template"]["spec"]["containers"]
    assert c["livenessProbe"]["httpGet"] == {"path": "/healthz", "port": "health"}
    assert c["readinessProbe"]["httpGet"] == {"path": "/readyz", "port": "health"}
    ports = {p["name"]: p["containerPort"] for p in c["ports"]}
    assert ports == {"metrics": 8080, "health": 8081}
    assert "--leader-elect" in c["args"]
    assert f"--metrics-bind-address=:{ports['metrics']}" in c["args"]
    assert f"--health-probe-bind-address=:{ports['health']}" in c["args"]
    assert c["resources"]["requests"]["cpu"] and c["resources"]["requests"]["memory"]
    assert c["resources"]["limits"]["memory"]
    env = {e["name"]: e for e in c["env"]}
    assert env["POD_NAMESPACE"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.namespace"
    assert env["POD_NAME"]["valueFrom"]["fieldRef"]["fieldPath"] == "metadata.name"
    # The grace period covers the operator's own graceful shutdown (--shutdown-timeout, 30 s).
    assert dep["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] > 30


def test_replicas_configurable_by_overlay(tmp_path: Any) -> None:
    shutil.copytree(DEPLOY, tmp_path / "deploy")
    overlay = tmp_path / "deploy" / "ha"
    overlay.mkdir()
    (overlay / "kustomization.yaml").write_text(
        "resources: [../default]\nreplicas:\n- name: aimctl-manager\n  count: 3\n"
    )
    docs = [d for d in yaml.safe_load_all(kustomize_build(overlay)) if d]
    assert _deployment(docs)["spec"]["replicas"] == 3


def test_metrics_service_selects_the_manager_and_servicemonitor_selects_the_service() -> None:
    svc = load_all(DEPLOY / "manager" / "metrics_service.yaml")[0]
    dep = load_all(DEPLOY / "manager" / "manager.yaml")[0]
    pod_labels = dep["spec"]["template"]["metadata"]["labels"]
    assert svc["spec"]["selector"].items() <= pod_labels.items()
    assert svc["spec"]["ports"][0]["targetPort"] == "metrics"
    sm = load_all(DEPLOY / "monitoring" / "servicemonitor.yaml")[0]
    assert sm["spec"]["selector"]["matchLabels"].items() <= svc["metadata"]["labels"].items()
    assert sm["spec"]["endpoints"][0]["port"] == svc["spec"]["ports"][0]["name"]
    assert sm["spec"]["endpoints"][0]["honorLabels"] is True


def test_kind_cluster_gpu_workers_match_the_simulated_nodes() -> None:
    from aimctl.devcluster.nodes import load_node_specs, node_manifest

    cluster = yaml.safe_load((DEPLOY / "kind" / "cluster.yaml").read_text())
    kind_labels = [n.get("labels", {}) for n in cluster["nodes"] if n["role"] == "worker"]
    for spec in load_node_specs():
        if not spec.get("gpu"):
            continue
        sim = node_manifest(spec)["metadata"]["labels"]
        gpu_labels = {k: v for k, v in sim.items() if "amd.com/" in k}
        assert any(gpu_labels.items() <= labels.items() for labels in kind_labels), spec["name"]
