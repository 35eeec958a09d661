"""Fixtures of the chaos suite: one private cluster (audit log on, KServe running in it) for the whole
suite and its admin client with the AIM CRDs; see harness.py."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client, config

from tests.chaos.harness import OPERATOR_NAMESPACE, ChaosCluster
from tests.support import kube
from tests.support.aim_crds import install_aim_crds
from tests.support.ports import free_port_base
from tests.support.wait import wait_for


@pytest.fixture(scope="session")
def chaos_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The chaos suite's own cluster: scenarios run operators of their own, delete CRDs and restart
    etcd and the apiserver, none of which may touch the session's shared cluster."""
    if os.environ.get("AIMCTL_TEST_CLUSTER") == "external":
        pytest.skip("the chaos suite needs the local development cluster (restarts, audit log)")
    from aimctl.devcluster.cluster import DevCluster

    name = f"chaos-{os.getpid()}"
    # AIMCTL_CHAOS_PORT_BASE pins the port range (e.g. one reserved for you on a shared machine).
    base = int(os.environ["AIMCTL_CHAOS_PORT_BASE"]) if os.environ.get("AIMCTL_CHAOS_PORT_BASE") else free_port_base()
    local = DevCluster(name, port_base=base, log=lambda m: print(f"[{name}] {m}"), audit_log=True)
    try:
        local.up()
        yield local
    finally:
        local.destroy()


@pytest.fixture(scope="session")
async def chaos(chaos_local: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ChaosCluster]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(chaos_local.kubeconfig), client_configuration=cfg)
    tmp = tmp_path_factory.mktemp("chaos")
    async with client.ApiClient(cfg) as api:
        await install_aim_crds(api)
        await kube.create(
            api,
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}},
        )
        # KServe itself runs in the local cluster (its controller manager and webhooks start with it).
        hooks = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
        await wait_for(
            lambda: kube.get(api, f"{hooks}/inferenceservice.serving.kserve.io"),
            lambda o: bool(o.get("webhooks")),
            timeout=120,
            what="KServe's InferenceService webhooks",
        )
        yield ChaosCluster(chaos_local, api, tmp)


@pytest.fixture
def chaos_tmp(tmp_path: Path) -> Path:
    return tmp_path
