"""The Helm chart against real apiservers.

* ``helm template`` with the default and with non-default values, applied by server-side dry-run to
  the test cluster (schemas, CRD validation, admission — what a real apply would check);
* one ``helm install`` on a cluster of this module's own (the chart's CRDs and ClusterRole would clash
  with the shared cluster's): the operator runs, as in tests/integration/test_deploy_rbac.py, with a
  token of the **chart's** ServiceAccount, through a recording proxy, while the samples converge;
  nothing is denied. The release installs its CRDs from its ``crds/`` directory and the default
  AIMClusterRuntimeConfig (``defaultRuntimeConfig``) from a plain template, which the cluster-scoped
  samples resolve. ``helm uninstall`` then keeps the CRDs (Helm never deletes those of ``crds/``) and the
  runtime config (``helm.sh/resource-policy: keep``) and removes the rest.
"""

from __future__ import annotations

import os
import signal
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from kubernetes_asyncio import client, config

from aimctl import rbac
from aimctl.api.crdgen import render_all
from aimctl.devcluster.upstream_crds import monitoring_crd_files
from tests.integration.test_deploy_rbac import (
    EXERCISE_TIMEOUT,
    RESTRICTED,
    _reported,
    check_job_pods_admitted,
    controlled_kinds,
    coverage_workload,
    unused_grants,
)
from tests.sim.gateway_controller import GatewaySimulator
from tests.sim.oci_registry import Registry, start_registry
from tests.sim.storage_provisioner import install_storage_classes, run_storage_provisioner
from tests.support import aim, kube
from tests.support.aim_crds import CRD_PATH
from tests.support.apirecorder import RecordingProxy
from tests.support.background import Background
from tests.support.chart import CHART, NON_DEFAULT, RELEASE, helm, template, values_file
from tests.support.manifests import apply_docs
from tests.support.operator_process import OperatorProcess
from tests.support.ports import start_private_cluster
from tests.support.samples import prepare, sample_objects
from tests.support.serviceaccount import OPERATOR_NAMESPACE, service_account_token, token_kubeconfig
from tests.support.services import absent
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster


# -- server-side dry-run on the test cluster ------------------------------------------------------------


@pytest.fixture(scope="session")
async def chart_monitoring_crds(cluster: Any) -> None:
    local = cluster._local()
    await anyio.to_thread.run_sync(local.install_crds, monitoring_crd_files())


@pytest.mark.usefixtures("aim_crds", "chart_monitoring_crds")
@pytest.mark.parametrize("values", ["default", "non-default"])
async def test_server_side_dry_run(api: client.ApiClient, namespace: str, values: str, tmp_path: Path) -> None:
    """Every rendered object (hooks included) is accepted by the apiserver, in a namespace of the test's
    own (namespaced objects need an existing namespace; the dry-run of the Namespace creates nothing)."""
    if values == "default":
        docs = template(None, tmp_path, namespace=namespace)
    else:
        docs = template({**NON_DEFAULT, "namespace": {"name": namespace, "create": True}}, tmp_path)
    answers = await apply_docs(api, docs, dry_run=True)
    assert len(answers) == len(docs)
    for doc, answer in zip(docs, answers, strict=True):
        assert (answer["kind"], answer["metadata"]["name"]) == (doc["kind"], doc["metadata"]["name"])
        if (
            doc["kind"] != "Namespace"
            and doc["kind"] not in ("ClusterRole", "ClusterRoleBinding")
            and (doc["kind"] != "CustomResourceDefinition" and doc["kind"] != "AIMClusterRuntimeConfig")
        ):
            assert answer["metadata"]["namespace"] == namespace, doc["metadata"]


# -- helm install on a private cluster ----------------------------------------------------------------

PRIVATE_CLUSTER = f"test-deploy-chart-{os.getpid()}"


@pytest.fixture(scope="module")
def chart_cluster(cluster: Any) -> Iterator[Any]:
    with start_private_cluster(cluster, PRIVATE_CLUSTER) as local:
        yield local


@pytest.fixture
async def chart_api(chart_cluster: Any) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(chart_cluster.kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        await install_storage_classes(api)
        provisioner = Background(run_storage_provisioner(api), "storage provisioner")
        try:
            yield api
        finally:
            await provisioner.stop()


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with start_registry(tmp_path / "registry") as reg:
        yield reg


async def test_helm_install_runs_the_samples_with_the_charts_service_account(
    chart_api: client.ApiClient, chart_cluster: Any, tmp_path: Path, registry: Registry
) -> None:
    api, local, namespace = chart_api, chart_cluster, "chart-samples"
    kubeconfig = str(local.kubeconfig)
    await kube.apply(api, f"/api/v1/namespaces/{OPERATOR_NAMESPACE}", {"apiVersion": "v1", "kind": "Namespace",
                     "metadata": {"name": OPERATOR_NAMESPACE, "labels": RESTRICTED}})  # fmt: skip
    # The chart's default AIMClusterRuntimeConfig replaces the samples' own (same spec): an instance of
    # a CRD the same release installs, which Helm must know of when it builds the templates.
    (sample_rc,) = [o for o in sample_objects() if o["kind"] == "AIMClusterRuntimeConfig"]
    values = values_file({"defaultRuntimeConfig": {"enabled": True, "spec": sample_rc["spec"]}}, tmp_path)
    started_install = time.monotonic()
    await anyio.to_thread.run_sync(
        lambda: helm(
            "install",
            RELEASE,
            str(CHART),
            "--namespace",
            OPERATOR_NAMESPACE,
            "--values",
            str(values),
            "--kubeconfig",
            kubeconfig,
            "--timeout",
            "120s",
        )
    )
    status = await anyio.to_thread.run_sync(
        lambda: helm("status", RELEASE, "--namespace", OPERATOR_NAMESPACE, "--kubeconfig", kubeconfig)
    )
    assert "STATUS: deployed" in status.stdout, status.stdout
    print(f"helm install: {time.monotonic() - started_install:.1f} s")
    rc_path = "/apis/aim.silogen.ai/v1alpha1/aimclusterruntimeconfigs/default"
    chart_rc = await kube.get(api, rc_path)
    assert chart_rc["spec"] == sample_rc["spec"]
    assert chart_rc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "Helm"
    assert chart_rc["metadata"]["annotations"]["helm.sh/resource-policy"] == "keep"
    crd_names = [d["metadata"]["name"] for d in template(None, tmp_path) if d["kind"] == "CustomResourceDefinition"]
    assert len(crd_names) == len(render_all()) - 1, crd_names  # all but kustomization.yaml
    for name in crd_names:
        await wait_for(lambda name=name: kube.get(api, f"{CRD_PATH}/{name}"),  # type: ignore[misc]
                       lambda c: any(x["type"] == "Established" and x["status"] == "True"
                                     for x in (c.get("status") or {}).get("conditions") or []),
                       timeout=60, what=f"{name} Established")  # fmt: skip

    token = await service_account_token(api)  # the chart's ServiceAccount aim-system/aimctl
    proxy = RecordingProxy(local.server, local.layout.pki / "ca.crt")
    await proxy.start()
    sa_kubeconfig = token_kubeconfig(tmp_path / "sa.kubeconfig", f"http://127.0.0.1:{proxy.port}", token, None)
    gateway = GatewaySimulator(api)  # KServe itself runs in the private cluster
    sims = [Background(gateway.run(), "gateway simulator")]
    lease = f"aimctl-chart-test-{uuid.uuid4().hex[:6]}"
    op = OperatorProcess(
        sa_kubeconfig,
        ["--leader-elect", f"--leader-election-id={lease}", f"--leader-election-namespace={OPERATOR_NAMESPACE}",
         "--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0"],
        tmp_path / "operator.log",
        env={"AIM_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE},
    )  # fmt: skip
    objs: list[dict[str, Any]] = []
    try:

        def started() -> bool:
            assert not proxy.denied(), f"denied: {proxy.denied()}\n{op.text()[-3000:]}"
            return op.logged("workers started")

        await wait_for(started, timeout=120, what="the operator leads and its workers run")
        await prepare(api, namespace, tmp_path)
        await kube.apply(api, f"/api/v1/namespaces/{namespace}", {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": namespace, "labels": RESTRICTED}})  # fmt: skip
        objs = [o for o in sample_objects() if o["kind"] != "AIMClusterRuntimeConfig"]
        for o in objs:
            if not o["kind"].startswith("AIMCluster"):
                o["metadata"]["namespace"] = namespace
        await apply_docs(api, objs)
        # The cluster-scoped samples resolve the chart's runtime config (the only cluster one named default).
        resolving = [o for o in objs if o["kind"] in ("AIMClusterImage", "AIMClusterServiceTemplate")]
        assert resolving, "the samples have no cluster image or template"
        objs += await coverage_workload(api, namespace, tmp_path, registry)
        objs.append(chart_rc)
        controlled = controlled_kinds()
        chart_ref = {"name": "default", "scope": "Cluster", "kind": "AIMClusterRuntimeConfig",
                     "uid": chart_rc["metadata"]["uid"]}  # fmt: skip

        async def without_status() -> list[str]:
            return [
                f"{o['kind']}/{o['metadata']['name']}"
                for o in objs
                if o["kind"] in controlled and not _reported(await aim.get(api, o))
            ]

        async def not_on_chart_config() -> list[str]:
            waiting = []
            for o in resolving:
                resolved = ((await aim.get(api, o)).get("status") or {}).get("resolvedRuntimeConfig")
                if resolved != chart_ref:
                    waiting.append(f"{o['kind']}/{o['metadata']['name']} resolvedRuntimeConfig={resolved}")
            return waiting

        # Instead of a fixed settle: the samples exercise the operator until it has used every
        # permission it needs (any request denied on the way fails at once).
        granted = rbac.grants((*rbac.CLUSTER_PERMISSIONS, *rbac.LEADER_ELECTION_PERMISSIONS))
        try:
            await wait_for(without_status, lambda waiting: not waiting, timeout=90,
                           what="every sample of a controlled kind has a status (samples without)")  # fmt: skip
            await wait_for(not_on_chart_config, lambda waiting: not waiting, timeout=90,
                           what="the cluster samples resolve the chart's runtime config (samples not yet)")  # fmt: skip
            await wait_for(lambda: unused_grants(proxy, granted), lambda unused: not unused, timeout=EXERCISE_TIMEOUT,
                           what="the operator to use every permission it needs but delete (unused)")  # fmt: skip
        except AssertionError as e:
            raise AssertionError(f"{e}\n{op.text()[-3000:]}") from e
    finally:
        op.signal(signal.SIGTERM)
        code = await op.wait_exit()
        for t in sims:
            await t.stop()
        await proxy.stop()

    assert code == 0, op.text()[-4000:]
    await check_job_pods_admitted(api, [namespace, OPERATOR_NAMESPACE])
    denied = proxy.denied()
    assert not denied, "requests denied by RBAC:\n" + "\n".join(f"{r.method} {r.path}?{r.query}" for r in denied)
    assert proxy.grants(), "the operator made no request through the proxy"

    # Upgrade as the README says: the chart's CRDs first (Helm upgrades none), as `helm show crds ... |
    # kubectl apply --server-side --force-conflicts -f -` would, then `helm upgrade`, which changes the
    # default runtime config in place (same object: the operator sees an update, not a delete and a create).
    show = await anyio.to_thread.run_sync(lambda: helm("show", "crds", str(CHART)))
    shown = [d for d in yaml.safe_load_all(show.stdout) if d]
    assert sorted(d["metadata"]["name"] for d in shown) == sorted(crd_names)
    await apply_docs(api, shown, manager="kubectl")
    upgraded_spec = {**sample_rc["spec"], "defaultStorageClassName": "fast-rwx"}
    upgraded = values_file({"defaultRuntimeConfig": {"enabled": True, "spec": upgraded_spec}}, tmp_path)
    await anyio.to_thread.run_sync(
        lambda: helm("upgrade", RELEASE, str(CHART), "--namespace", OPERATOR_NAMESPACE, "--values", str(upgraded),
                     "--kubeconfig", kubeconfig, "--timeout", "120s")
    )  # fmt: skip
    after = await kube.get(api, rc_path)
    assert (after["metadata"]["uid"], after["spec"]) == (chart_rc["metadata"]["uid"], upgraded_spec)

    # Uninstall: the CRDs, the default runtime config (and the AIM objects) stay, the operator's RBAC goes.
    await anyio.to_thread.run_sync(
        lambda: helm("uninstall", RELEASE, "--namespace", OPERATOR_NAMESPACE, "--kubeconfig", kubeconfig)
    )
    for name in crd_names:
        assert (await kube.get(api, f"{CRD_PATH}/{name}"))["metadata"]["name"] == name
    assert (await kube.get(api, rc_path))["metadata"]["uid"] == chart_rc["metadata"]["uid"]
    role = "/apis/rbac.authorization.k8s.io/v1/clusterroles/aimctl-manager"
    await wait_for(lambda: absent(api, role), bool, timeout=30, what="ClusterRole aimctl-manager removed")
