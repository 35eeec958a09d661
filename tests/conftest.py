"""Shared pytest fixtures: one real Kubernetes cluster per session, a fresh namespace per test.

By default the session starts the local development cluster named ``test`` (see ``aimctl dev
cluster``) from empty and stops it at the end unless ``AIMCTL_KEEP_CLUSTER=1``; a cluster that was
already running is reused as it is and left running. With
``AIMCTL_TEST_CLUSTER=external`` the tests use the cluster of ``$KUBECONFIG`` instead (for example
kind); tests that need to restart components or compact etcd are then skipped.
``AIMCTL_TEST_CLUSTER_NAME`` and ``AIMCTL_TEST_PORT_BASE`` select another local cluster than ``test``
(e.g. to run two suites side by side; port bases must stay below 32761). Cluster tests are
marked ``cluster``; ``pytest -m "not cluster"`` runs the pure unit tests alone.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import pytest
from kubernetes_asyncio import client, config

from tests.sim.storage_provisioner import install_storage_classes, run_storage_provisioner
from tests.support import kube
from tests.support.aim_crds import aim_crds  # noqa: F401 - a session fixture for every test package
from tests.support.background import Background


@dataclass
class TestCluster:
    """The cluster under test. ``local`` is None for an external cluster."""

    kubeconfig: Path
    local: object | None = None

    @property
    def etcd_endpoint(self) -> str:
        return self._local().etcd_endpoint

    def _local(self):  # type: ignore[no-untyped-def]
        if self.local is None:
            pytest.skip("needs the local development cluster (AIMCTL_TEST_CLUSTER=external is set)")
        return self.local

    async def restart_apiserver(self) -> None:
        """Stop and start kube-apiserver; returns once it serves again."""
        local = self._local()
        await anyio.to_thread.run_sync(local.restart_component, "kube-apiserver")

    async def stop_component(self, name: str) -> None:
        await anyio.to_thread.run_sync(self._local().stop_component, name)

    async def start_component(self, name: str) -> None:
        await anyio.to_thread.run_sync(self._local().start_component, name)

    async def compact_etcd(self) -> int:
        """Compact etcd to its current revision; returns that revision."""
        rev: int = await anyio.to_thread.run_sync(self._local().compact_etcd)
        return rev

    async def restart(self) -> None:
        """Stop every component and bring the cluster up again (data kept)."""
        local = self._local()
        await anyio.to_thread.run_sync(local.down)
        await anyio.to_thread.run_sync(local.up)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if any(f"tests/{d}" in str(item.fspath) for d in ("integration", "e2e", "chaos")):
            item.add_marker(pytest.mark.cluster)


@pytest.fixture(scope="session")
def cluster() -> Iterator[TestCluster]:
    if os.environ.get("AIMCTL_TEST_CLUSTER") == "external":
        kc = os.environ.get("KUBECONFIG")
        if not kc:
            raise pytest.UsageError("AIMCTL_TEST_CLUSTER=external needs KUBECONFIG")
        yield TestCluster(Path(kc))
        return
    from aimctl.devcluster.cluster import DevCluster

    name = os.environ.get("AIMCTL_TEST_CLUSTER_NAME", "test")
    port_base = int(os.environ["AIMCTL_TEST_PORT_BASE"]) if os.environ.get("AIMCTL_TEST_PORT_BASE") else None
    local = DevCluster(name, port_base=port_base, log=lambda m: print(f"[cluster] {m}"))
    already_running = local.running()
    if not already_running:
        # A session that starts the cluster starts it empty: leftovers of earlier sessions (cluster-
        # scoped objects, namespaces still terminating) must not leak into this one.
        local.destroy()
    local.up()
    try:
        yield TestCluster(local.kubeconfig, local)
    finally:
        # A cluster this session found running belongs to someone else (another session, a developer).
        if not already_running and os.environ.get("AIMCTL_KEEP_CLUSTER") != "1":
            local.down()


@pytest.fixture(scope="session")
async def api(cluster: TestCluster) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(cluster.kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api_client:
        yield api_client


@pytest.fixture(scope="session")
async def storage(api: client.ApiClient) -> AsyncIterator[None]:
    """The simulated storage provisioner and its two StorageClasses, for the whole session."""
    await install_storage_classes(api)
    provisioner = Background(run_storage_provisioner(api), "storage provisioner")
    yield
    await provisioner.stop()


def _namespace_name(nodeid: str) -> str:
    # Short: KServe names a predictor's host "<isvc>-predictor-<namespace>" and refuses to reconcile an
    # InferenceService when that exceeds 63 characters (a DNS label), so 29 characters leave 23 for names.
    base = re.sub(r"[^a-z0-9-]+", "-", nodeid.split("::")[-1].lower()).strip("-")[:20].strip("-")
    return f"t-{base}-{uuid.uuid4().hex[:6]}"


@pytest.fixture
async def namespace(api: client.ApiClient, request: pytest.FixtureRequest) -> AsyncIterator[str]:
    """A fresh namespace for one test, deleted (without waiting) afterwards."""
    name = _namespace_name(request.node.nodeid)
    await kube.create(
        api,
        "/api/v1/namespaces",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": {"aimctl.dev/test": "true"}}},
    )
    yield name
    if os.environ.get("AIMCTL_KEEP_NAMESPACES") != "1":
        await kube.delete(api, f"/api/v1/namespaces/{name}")
