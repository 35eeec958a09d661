"""Optional APIs (KServe, Gateway API) missing at start: the operator keeps running, says so, and
picks the API up when it is installed — on a cluster of this module's own (CRDs are deleted).

Before: the informers of the missing kinds never synced (404 on every list), the caches timed out
after two minutes and ``aimctl run`` exited, again and again. Now: one warning per API, the
``/readyz`` body names it (still 200), an AIMService that needs an InferenceService carries an
``APIsInstalled=False`` condition naming KServe, and once KServe's CRDs are installed the
InferenceService is created without a restart.
"""

from __future__ import annotations

import os
import signal
import urllib.request
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client, config

from aimctl.devcluster.upstream_crds import upstream_crd_files
from tests.support import aim, kube
from tests.support.aim_crds import CRD_PATH, load_crds
from tests.support.operator_process import OperatorProcess
from tests.support.ports import start_private_cluster
from tests.support.services import (
    OPERATOR_NAMESPACE,
    apply_all,
    discovery_logs,
    image,
    isvc_path,
    service,
    template,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster

PRIVATE_CLUSTER = f"test-optional-apis-{os.getpid()}"
KSERVE = "serving.kserve.io"
GATEWAY = "gateway.networking.k8s.io"


@pytest.fixture(scope="module")
def private_cluster(cluster: Any) -> Iterator[Any]:
    # Without KServe's manager and webhooks: the cluster plays one where KServe is not installed yet.
    with start_private_cluster(cluster, PRIVATE_CLUSTER, kserve=False) as local:
        yield local


def _established(crd: dict[str, Any]) -> bool:
    return any(
        c["type"] == "Established" and c["status"] == "True" for c in (crd.get("status") or {}).get("conditions") or []
    )


@pytest.fixture
async def api(private_cluster: Any) -> AsyncIterator[client.ApiClient]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(private_cluster.kubeconfig), client_configuration=cfg)
    async with client.ApiClient(cfg) as api:
        for crd in load_crds():
            await kube.apply(api, f"{CRD_PATH}/{crd['metadata']['name']}", crd)
        for crd in load_crds():
            name = crd["metadata"]["name"]
            await wait_for(lambda name=name: kube.get(api, f"{CRD_PATH}/{name}"), _established,  # type: ignore[misc]
                           timeout=60, what=f"{name} Established")  # fmt: skip
        # KServe and the Gateway API are not installed (yet).
        crds = (await kube.get(api, CRD_PATH))["items"]
        for crd in crds:
            if crd["spec"]["group"] in (KSERVE, GATEWAY):
                await kube.delete(api, f"{CRD_PATH}/{crd['metadata']['name']}")
        for path in (isvc_path("default", "x").rsplit("/", 1)[0], f"/apis/{GATEWAY}/v1/namespaces/default/httproutes"):

            async def served(path: str = path) -> int:
                """200 while the path is served, else the error's HTTP status."""
                try:
                    await kube.get(api, path)
                except Exception as exc:
                    return int(getattr(exc, "status", None) or 0)
                return 200

            await wait_for(served, lambda status: status == 404, timeout=60, what=f"{path} no longer served (status)")
        for ns in (OPERATOR_NAMESPACE, "optional-apis"):
            await kube.apply(api, f"/api/v1/namespaces/{ns}", {"apiVersion": "v1", "kind": "Namespace",
                             "metadata": {"name": ns}})  # fmt: skip
        yield api


def readyz(port: int) -> tuple[int, str]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/readyz", timeout=5) as resp:
        return resp.status, resp.read().decode()


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_missing_optional_apis_are_reported_and_picked_up(
    api: client.ApiClient, private_cluster: Any, tmp_path: Path
) -> None:
    namespace = "optional-apis"
    probe = free_port()
    op = OperatorProcess(
        private_cluster.kubeconfig,
        ["--no-leader-elect", "--metrics-bind-address=0", f"--health-probe-bind-address=127.0.0.1:{probe}"],
        tmp_path / "operator.log",
        env={"AIM_OPERATOR_NAMESPACE": OPERATOR_NAMESPACE, "AIMCTL_LOG_FORMAT": "json"},
    )
    try:
        await op.wait_logged("workers started", timeout=90)
        code, body = await anyio.to_thread.run_sync(readyz, probe)
        assert code == 200, body
        assert "KServe API not installed" in body and "Gateway API not installed" in body, body
        kserve_lines = [line for line in op.lines() if "KServe API not installed" in str(line.get("event"))]
        assert len(kserve_lines) == 1, kserve_lines

        async with discovery_logs(api, OPERATOR_NAMESPACE, tmp_path):
            img, tpl = "img-optional", "tpl-optional"
            await apply_all(api, image(img, default=tpl), template(tpl, img))
            await wait_template(api, template(tpl, img), "Available", within=90)
            svc = service(namespace, "svc", img)
            await aim.apply(api, svc)

            def says_kserve_missing(o: dict[str, Any]) -> bool:
                conds = {c["type"]: c for c in (o.get("status") or {}).get("conditions") or []}
                c = conds.get("APIsInstalled")
                return bool(c and c["status"] == "False" and "KServe" in c["message"])

            await wait_for(lambda: aim.get(api, svc), says_kserve_missing, timeout=60,
                           what="the service reports that KServe is not installed")  # fmt: skip
            assert op.proc.poll() is None, "aimctl run must not exit for a missing optional API"

            # KServe is installed: the InferenceService is created, without a restart.
            files = [f for f in upstream_crd_files() if KSERVE in f.name]
            await anyio.to_thread.run_sync(private_cluster.install_crds, files)
            await wait_for(lambda: kube.get(api, isvc_path(namespace, "svc")), bool, timeout=120,
                           what="the InferenceService once KServe is installed")  # fmt: skip
            await wait_for(lambda: aim.get(api, svc), lambda o: not says_kserve_missing(o), timeout=60,
                           what="the APIsInstalled condition cleared")  # fmt: skip
        # Each KServe resource (InferenceServices, ServingRuntimes, ClusterServingRuntimes) is picked up
        # on its own: the InferenceService above can exist before the last of them is; wait for all.
        code, body = await wait_for(
            lambda: anyio.to_thread.run_sync(readyz, probe),
            lambda answer: answer[0] == 200 and "KServe" not in answer[1],
            timeout=60,
            what="/readyz without the KServe line",
        )
        assert "Gateway API not installed" in body, body
        assert op.proc.poll() is None
    finally:
        op.signal(signal.SIGTERM)
        code = await op.wait_exit()
    assert code == 0, op.text()[-4000:]
