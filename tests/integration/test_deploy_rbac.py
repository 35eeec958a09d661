"""Least privilege, proven against the RBAC-enforcing apiserver.

The operator runs as it runs in-cluster — with a token of the ServiceAccount of deploy/rbac, bound to
the generated ClusterRole and leader-election Role — through a recording proxy
(:mod:`tests.support.apirecorder`), while the samples of deploy/samples converge (with the simulated
storage provisioner, KServe and Gateway controllers, and discovery logs). Then:

* **sufficient**: no request was denied (403);
* **necessary**: every (group, resource, verb) the roles grant was used by an allowed request. Each is
  granted by exactly one rule (tests/unit/deploy/test_rbac.py), so removing any rule — or any verb of
  one — denies a request the operator made.

``delete`` grants are the exception: the samples converge without deleting anything (deletions
happen on rediscovery, when routing or caching is turned off, for unreferenced derived templates).
They are proven necessary statically — each is a ``Deletion(<resource>, …)`` in a controller, and
each such ``Deletion`` is granted (``test_write_grants_equal_what_the_controllers_write``); deletes the
run happens to make are checked like everything else.
"""

from __future__ import annotations

import os
import signal
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client, config

from aimctl import rbac
from aimctl.cli.run import builtin_controllers
from aimctl.kube.resources import AIM_RESOURCES
from aimctl.manager import Manager, ManagerConfig
from informers.store import Obj
from tests.e2e.test_images import AIMDUMMY_LABELS
from tests.sim.gateway_controller import GatewaySimulator
from tests.sim.oci_registry import Registry, push_image, start_registry
from tests.sim.pod_logs import serve_logs
from tests.sim.storage_provisioner import install_storage_classes, run_storage_provisioner
from tests.support import aim, kube
from tests.support import services as svc
from tests.support.aim_crds import install_aim_crds
from tests.support.apirecorder import RecordingProxy
from tests.support.background import Background
from tests.support.manifests import apply_docs
from tests.support.operator_process import OperatorProcess
from tests.support.ports import start_private_cluster
from tests.support.samples import prepare, sample_objects
from tests.support.serviceaccount import OPERATOR_NAMESPACE, install_rbac, service_account_token, token_kubeconfig
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster

#: A cluster of this module's own: an operator of another test session watching every namespace of a
#: shared cluster would create some children first, and the grants that creates them would look unused.
PRIVATE_CLUSTER = f"test-deploy-rbac-{os.getpid()}"


@pytest.fixture(scope="module")
def private_cluster(cluster: Any) -> Iterator[Any]:
    with start_private_cluster(cluster, PRIVATE_CLUSTER) as local:
        yield local


@pytest.fixture
async def private_api(private_cluster: Any) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(private_cluster.kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        await install_aim_crds(api)
        await anyio.to_thread.run_sync(private_cluster.install_crds, [])  # (upstream ones: at start)
        await install_storage_classes(api)
        provisioner = Background(run_storage_provisioner(api), "storage provisioner")
        try:
            yield api
        finally:
            await provisioner.stop()


#: Longest the samples get, once each has a status, to make the operator use every permission it is
#: granted (a condition, not a fixed settle: it ends as soon as they all are used).
EXERCISE_TIMEOUT = 90.0


def unused_grants(proxy: RecordingProxy, granted: set[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The granted permissions (but ``delete``) the operator has not used yet; a request denied by RBAC
    fails the test at once."""
    denied = proxy.denied()
    assert not denied, "requests denied by RBAC:\n" + "\n".join(f"{r.method} {r.path}?{r.query}" for r in denied)
    return sorted(g for g in granted - proxy.grants() if g[2] != "delete")


def controlled_kinds() -> set[str]:
    """AIM kinds that have a built-in controller (the reconciled kind of each)."""
    manager = Manager(object(), ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    return {c.resource.kind for c in builtin_controllers(manager) if hasattr(c, "resource")}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[Registry]:
    with start_registry(tmp_path / "registry") as reg:
        yield reg


async def coverage_workload(api: client.ApiClient, namespace: str, tmp_path: Path, registry: Registry) -> list[Obj]:
    """Beyond the samples (whose image lives on Docker Hub, out of reach here): an image in a local
    registry whose labels recommend deployments — so templates are created from images, cluster and
    namespaced — a service on it with routing, and a cluster runtime config of this test's own."""
    sfx = uuid.uuid4().hex[:6]
    uri = registry.image("aim/dummy", sfx)
    push_image(registry, "aim/dummy", sfx, AIMDUMMY_LABELS)
    objs: list[Obj] = [
        svc.image(f"rbac-img-{sfx}", image=uri, discovery={"enabled": True, "autoCreateTemplates": True}),
        svc.image("rbac-img", namespace, image=uri, discovery={"enabled": True, "autoCreateTemplates": True}),
        svc.runtime_config(f"rbac-{sfx}", defaultStorageClassName="rwx-nfs"),
        svc.service(
            namespace,
            "rbac-svc",
            "meta-llama-llama-3-1-8b-instruct-0-8-4",
            labels={"team": "rbac"},
            templateRef="llama-3-1-8b-instruct-mi300x-throughput-bf16",
            routing={"enabled": True},
        ),
    ]
    await serve_logs(api, namespace, svc.discovery_output(), tmp_path, name=f"rbac-{namespace}"[:60])
    for o in objs:
        await aim.apply(api, o)
    return objs


RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


async def check_job_pods_admitted(api: client.ApiClient, namespaces: list[str]) -> None:
    """Every discovery and download Job the operator created in the restricted namespaces got its pod:
    the Job controller's events say ``SuccessfulCreate`` and never ``FailedCreate`` (how a Pod Security
    rejection shows). Events, not Jobs: finished discovery Jobs are deleted once their result is read."""
    created: set[str] = set()
    for ns in namespaces:
        events = (await kube.get(api, f"/api/v1/namespaces/{ns}/events"))["items"]
        jobs = [e for e in events if (e.get("involvedObject") or {}).get("kind") == "Job"]
        failed = [e["message"] for e in jobs if e.get("reason") == "FailedCreate"]
        assert not failed, f"pods rejected in {ns}: {failed}"
        for e in jobs:
            if e.get("reason") == "SuccessfulCreate":
                created.add("discovery" if e["involvedObject"]["name"].startswith("discover-") else "download")
    assert created == {"discovery", "download"}, f"expected discovery and download Job pods, saw {created}"


def _reported(obj: dict[str, Any]) -> bool:
    """A status was written (runtime configs have conditions but no ``status.status``)."""
    status = obj.get("status") or {}
    return bool(status.get("status") or status.get("conditions"))


async def test_service_account_rbac_is_sufficient_and_necessary(
    private_api: client.ApiClient, private_cluster: Any, tmp_path: Path, registry: Registry
) -> None:
    api, local, namespace = private_api, private_cluster, "rbac-samples"
    await install_rbac(api)
    token = await service_account_token(api)
    proxy = RecordingProxy(local.server, local.layout.pki / "ca.crt")
    await proxy.start()
    kubeconfig = token_kubeconfig(tmp_path / "sa.kubeconfig", f"http://127.0.0.1:{proxy.port}", token, None)
    granted = rbac.grants((*rbac.CLUSTER_PERMISSIONS, *rbac.LEADER_ELECTION_PERMISSIONS))
    gateway = GatewaySimulator(api)  # KServe itself runs in the private cluster
    sims = [Background(gateway.run(), "gateway simulator")]
    lease = f"aimctl-rbac-test-{uuid.uuid4().hex[:6]}"
    op = OperatorProcess(
        kubeconfig,
        ["--leader-elect", f"--leader-election-id={lease}", f"--leader-election-namespace={OPERATOR_NAMESPACE}",
         "--metrics-bind-address=127.0.0.1:0", "--health-probe-bind-address=127.0.0.1:0"],
        tmp_path / "operator.log",
        env={"AIM_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE},
    )  # fmt: skip
    try:

        def started() -> bool:
            assert not proxy.denied(), f"denied: {proxy.denied()}\n{op.text()[-3000:]}"
            return op.logged("workers started")

        await wait_for(started, timeout=120, what="the operator leads and its workers run")
        await prepare(api, namespace, tmp_path)
        for ns in (namespace, OPERATOR_NAMESPACE):  # the Job pods must pass "restricted" (checked below)
            await kube.apply(api, f"/api/v1/namespaces/{ns}", {"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": ns, "labels": RESTRICTED}})  # fmt: skip
        objs = sample_objects()  # unchanged: this cluster is the test's own
        for o in objs:
            if not o["kind"].startswith("AIMCluster"):
                o["metadata"]["namespace"] = namespace
        await apply_docs(api, objs)
        objs += await coverage_workload(api, namespace, tmp_path, registry)
        controlled = controlled_kinds()

        async def without_status() -> list[str]:
            return [
                f"{o['kind']}/{o['metadata']['name']}"
                for o in objs
                if o["kind"] in controlled and not _reported(await aim.get(api, o))
            ]

        try:
            await wait_for(without_status, lambda waiting: not waiting, timeout=90,
                           what="every sample of a controlled kind has a status (samples without)")  # fmt: skip
            await wait_for(lambda: unused_grants(proxy, granted), lambda unused: not unused, timeout=EXERCISE_TIMEOUT,
                           what="the operator to use every permission it is granted but delete (unused)")  # fmt: skip
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
    used = proxy.grants()
    assert used <= granted  # (implied by no 403, checked for the message)
    unused = sorted(g for g in granted - used if g[2] != "delete")
    if unused:
        services = [o for o in objs if o["kind"] == "AIMService"]
        states = [((await aim.get(api, o)).get("status") or {}) for o in services]
        detail = "\n".join(f"{o['metadata']['name']}: {st.get('status')} {st.get('conditions')}"
                           for o, st in zip(services, states, strict=True))  # fmt: skip
        raise AssertionError(f"granted but never used by the operator (too broad): {unused}\nservices:\n{detail}")
    assert {r.kind for r in AIM_RESOURCES} <= controlled_kinds()
