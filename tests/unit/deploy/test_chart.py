"""The Helm chart deploy/chart/aimctl: lints, is generated from the sources of deploy/, and renders —
with the defaults — exactly what the kustomize units do; the values do what docs/helm-values.md says.

The server-side dry-run of its renderings and a real ``helm install`` are in
tests/integration/test_deploy_chart.py.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml
from typer.testing import CliRunner

from aimctl.api.crdgen import KUSTOMIZATION_FILE, render_all
from aimctl.cli.deploy import CHART_CRDS, generated_files
from aimctl.cli.main import app as cli_app
from tests.support.chart import (
    CHART,
    LIKE_KUSTOMIZE,
    NON_DEFAULT,
    helm,
    keyed,
    template,
    values_file,
    without_helm_metadata,
)
from tests.unit.deploy.conftest import DEPLOY, ROOT
from tests.unit.deploy.test_manifests import render


def test_chart_files_and_values_reference_are_current() -> None:
    generated = generated_files(DEPLOY)
    for path, content in generated.items():
        if CHART in path.parents or path == ROOT / "docs" / "helm-values.md":
            assert path.read_text(encoding="utf-8") == content, f"{path} is stale: run `aimctl deploy manifests`"
    crds = {n for n in render_all() if n != KUSTOMIZATION_FILE}
    directory = CHART / "charts" / "crds" / "crds"
    assert {p.name for p in directory.iterdir()} == crds, "stale CRD: run `aimctl deploy manifests`"


def test_crds_are_installed_from_crds_directories_before_the_templates(tmp_path: Path) -> None:
    """The CRDs are in the ``crds/`` directory of the chart's ``crds`` subchart (condition
    ``crds.enabled``), byte for byte ``aimctl crds`` behind a ``---`` (so that ``helm show crds`` is one
    document per CRD, ready for ``kubectl apply``): ``helm install`` creates them before it renders
    the templates and waits until they are Established, so the default AIMClusterRuntimeConfig (a plain
    template) never races discovery of its own CRD. No template renders a CRD; Helm never upgrades or
    deletes those of ``crds/`` (kept on uninstall by construction)."""
    expected = {n: c for n, c in render_all().items() if n != KUSTOMIZATION_FILE}
    directory = CHART / "charts" / "crds" / "crds"
    assert directory.is_dir(), f"{directory} missing: the CRDs must be in a crds/ directory"
    assert {p.name: p.read_text(encoding="utf-8") for p in directory.iterdir()} == {
        n: "---\n" + c for n, c in expected.items()
    }
    shown = [d for d in yaml.safe_load_all(helm("show", "crds", str(CHART)).stdout) if d]
    assert sorted(shown, key=lambda d: d["metadata"]["name"]) == sorted(
        (yaml.safe_load(c) for c in expected.values()), key=lambda d: d["metadata"]["name"]
    )
    templated = template(NON_DEFAULT, tmp_path, include_crds=False)
    assert not [d for d in templated if d["kind"] == "CustomResourceDefinition"]
    (rc,) = [d for d in templated if d["kind"] == "AIMClusterRuntimeConfig"]
    annotations = rc["metadata"].get("annotations") or {}
    assert "helm.sh/hook" not in annotations, "a hook is built before Helm's discovery knows the CRD"
    assert annotations["helm.sh/resource-policy"] == "keep"
    with_crds = template({"crds": {"enabled": False}}, tmp_path, include_crds=True)
    assert not [d for d in with_crds if d["kind"] == "CustomResourceDefinition"], "crds.enabled=false"


def test_manifests_removes_a_chart_crd_no_kind_has(tmp_path: Path) -> None:
    """A CRD file left in the chart's crds/ (a kind removed or renamed) would still be installed by
    Helm: ``--check`` names it, ``aimctl deploy manifests`` removes it."""
    deploy = tmp_path / "deploy"
    shutil.copytree(DEPLOY, deploy)
    (tmp_path / "docs").mkdir()
    shutil.copy(ROOT / "docs" / "helm-values.md", tmp_path / "docs" / "helm-values.md")
    stray = deploy / CHART_CRDS / "aim.silogen.ai_aimgone.yaml"
    stray.write_text("---\n", encoding="utf-8")
    args = ["deploy", "manifests", "--deploy-dir", str(deploy)]
    checked = CliRunner().invoke(cli_app, [*args, "--check"])
    assert checked.exit_code == 1 and f"not generated any more: {stray}" in checked.output, checked.output
    assert CliRunner().invoke(cli_app, args).exit_code == 0
    assert not stray.exists()
    assert CliRunner().invoke(cli_app, [*args, "--check"]).exit_code == 0


@pytest.mark.parametrize("values", [None, NON_DEFAULT], ids=["default", "non-default"])
def test_helm_lint(values: dict[str, Any] | None, tmp_path: Path) -> None:
    args = ["lint", "--strict", str(CHART)]
    if values:
        args += ["--values", str(values_file(values, tmp_path))]
    helm(*args)


def test_defaults_render_exactly_the_kustomize_units(tmp_path: Path) -> None:
    """The drift test: deploy/default + deploy/monitoring and the chart (namespace created, monitoring
    on) are the same objects, field for field, once Helm's own labels are set aside."""
    chart = keyed([without_helm_metadata(d) for d in template(LIKE_KUSTOMIZE, tmp_path)])
    kustomize = keyed([*render("default"), *render("monitoring")])
    assert sorted(chart) == sorted(kustomize)
    for key, doc in kustomize.items():
        assert chart[key] == doc, f"{key} differs from kustomize:\n{yaml.safe_dump(chart[key])}"


def test_plain_defaults(tmp_path: Path) -> None:
    docs = template(None, tmp_path, namespace="ops")
    kinds = sorted({d["kind"] for d in docs})
    assert kinds == ["ClusterRole", "ClusterRoleBinding", "CustomResourceDefinition", "Deployment", "Role",
                     "RoleBinding", "Service", "ServiceAccount"]  # fmt: skip
    for d in docs:
        if d["kind"] == "CustomResourceDefinition":
            continue  # from crds/, not templated: exactly `aimctl crds` (above)
        if d["kind"] not in ("ClusterRole", "ClusterRoleBinding"):
            assert d["metadata"]["namespace"] == "ops", d["metadata"]
        assert d["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    (binding,) = [d for d in docs if d["kind"] == "ClusterRoleBinding"]
    assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "aimctl", "namespace": "ops"}]
    (deployment,) = [d for d in docs if d["kind"] == "Deployment"]
    assert deployment["spec"]["template"]["spec"]["containers"][0]["image"] == "ghcr.io/silogen/aimctl:0.1.0"


def test_non_default_values(tmp_path: Path) -> None:
    docs = keyed(template(NON_DEFAULT, tmp_path))
    ns = "aim-operators"
    dep = docs[("Deployment", ns, "aimctl-manager")]
    pod = dep["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "registry.example.com/aim/aimctl@sha256:" + "ab" * 32
    assert container["imagePullPolicy"] == "Always"
    assert pod["imagePullSecrets"] == [{"name": "regcred"}]
    assert dep["spec"]["replicas"] == 3 and "--leader-elect" in container["args"]
    assert container["resources"] == NON_DEFAULT["resources"]
    assert pod["nodeSelector"] == NON_DEFAULT["nodeSelector"]
    assert pod["tolerations"] == NON_DEFAULT["tolerations"]
    assert pod["affinity"] == NON_DEFAULT["affinity"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["AIMCTL_REGISTRY_MIRRORS"] == "docker.io=mirror.example.com"
    assert (env["AIMCTL_LOG_LEVEL"], env["AIMCTL_LOG_FORMAT"]) == ("debug", "text")
    assert dep["spec"]["template"]["metadata"]["annotations"]["example.com/team"] == "platform"
    assert docs[("Namespace", "", ns)]["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert docs[("ServiceAccount", ns, "aimctl")]["metadata"]["annotations"] == {"example.com/role": "aimctl"}
    assert docs[("ServiceMonitor", ns, "aimctl")]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert docs[("PrometheusRule", ns, "aimctl")]["metadata"]["labels"]["release"] == "kube-prometheus-stack"
    assert docs[("ConfigMap", ns, "aimctl-grafana-dashboard")]["metadata"]["labels"]["team"] == "platform"
    assert len([k for k in docs if k[0] == "CustomResourceDefinition"]) == 9
    rc = docs[("AIMClusterRuntimeConfig", "", "default")]
    assert rc["spec"] == {"defaultStorageClassName": "rwx-nfs"}
    assert rc["metadata"]["annotations"] == {"helm.sh/resource-policy": "keep"}
    assert rc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"


def test_toggles_off(tmp_path: Path) -> None:
    off = {"crds": {"enabled": False}, "metrics": {"service": {"enabled": False}}}
    kinds = {d["kind"] for d in template(off, tmp_path)}
    assert kinds == {"ClusterRole", "ClusterRoleBinding", "Deployment", "Role", "RoleBinding", "ServiceAccount"}
