"""The operator as its image runs it: built from the Dockerfile without Docker, started as UID 65532
on a read-only root filesystem, configured in-cluster from a projected service-account token.

:mod:`tests.support.dockerfile` executes the Dockerfile's own RUN lines (hashed lock installs, wheel
build) into the image's paths (``/opt/aimctl``), then runs the ENTRYPOINT in a mount namespace that
reproduces the Deployment's pod: read-only root, a tmpfs ``/tmp`` (the emptyDir), the token, CA and
namespace files at ``/var/run/secrets/kubernetes.io/serviceaccount``, ``KUBERNETES_SERVICE_HOST`` and
``_PORT`` pointing at the apiserver, no capabilities. The token is the deploy/ ServiceAccount's, so
the RBAC of deploy/rbac is what the apiserver enforces.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client

from tests.support import kube
from tests.support.dockerfile import ImageLayout, build, run_in_image
from tests.support.serviceaccount import OPERATOR_NAMESPACE, install_rbac, service_account_token

pytestmark = [
    pytest.mark.cluster,
    pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("unshare"), reason="needs root and unshare"),
]


@pytest.fixture(scope="session")
def image(tmp_path_factory: pytest.TempPathFactory) -> ImageLayout:
    return build(tmp_path_factory.mktemp("image"))


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_entrypoint_runs_non_root_on_read_only_root(image: ImageLayout) -> None:
    probe = run_in_image(image, ["--help"])
    out, _ = probe.communicate(timeout=60)
    assert probe.returncode == 0, out.decode()
    assert b"--leader-elect" in out
    # The namespace really is what the pod gets: nothing writable but /tmp, and not root.
    image.runtime.entrypoint, saved = (
        ["sh", "-c", "id -u; touch /opt/aimctl/x 2>&1; touch /x 2>&1; touch /tmp/x"],
        image.runtime.entrypoint,
    )
    try:
        check = run_in_image(image)
        out, _ = check.communicate(timeout=30)
    finally:
        image.runtime.entrypoint = saved
    text = out.decode()
    assert text.splitlines()[0] == "65532", text
    assert text.count("Read-only file system") == 2, text
    assert check.returncode == 0, text


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, ""
    except OSError:
        return 0, ""


@pytest.fixture
async def sa_files(api: client.ApiClient, cluster: Any) -> dict[str, bytes]:
    await install_rbac(api)
    token = await service_account_token(api)
    ca = (cluster._local().layout.pki / "ca.crt").read_bytes()
    return {"token": token.encode(), "ca.crt": ca, "namespace": OPERATOR_NAMESPACE.encode()}


@pytest.fixture
def lease_id() -> str:
    return f"aimctl-image-test-{uuid.uuid4().hex[:6]}"


async def test_in_cluster_with_service_account(
    image: ImageLayout, sa_files: dict[str, bytes], cluster: Any, api: client.ApiClient, namespace: str, lease_id: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    metrics, probe = free_port(), free_port()
    log = tmp_path / "operator.log"
    port = cluster._local().layout.ports.apiserver
    with log.open("wb") as out:
        proc = run_in_image(
            image,
            [
                "--leader-elect",
                f"--leader-election-id={lease_id}",
                f"--metrics-bind-address=127.0.0.1:{metrics}",
                f"--health-probe-bind-address=127.0.0.1:{probe}",
                f"--namespaces={namespace}",
            ],
            env={"KUBERNETES_SERVICE_HOST": "127.0.0.1", "KUBERNETES_SERVICE_PORT": str(port)},
            service_account=sa_files,
            stdout=out,  # type: ignore[arg-type]
        )
    try:
        deadline = time.monotonic() + 90
        leading = ""
        while time.monotonic() < deadline:
            assert proc.poll() is None, f"operator exited {proc.returncode}:\n{log.read_text()[-4000:]}"
            ready, _ = _get(f"http://127.0.0.1:{probe}/readyz")
            _, text = _get(f"http://127.0.0.1:{metrics}/metrics")
            mine = f'leader_election_master_status{{name="{lease_id}"}}'
            leading = next((ln for ln in text.splitlines() if ln.startswith(mine)), "")
            if ready == 200 and leading.endswith(" 1.0"):
                break
            await anyio.sleep(0.3)
        else:
            pytest.fail(f"not ready and leading (last: {leading!r}):\n{log.read_text()[-4000:]}")
        # The lease lives in the namespace read from the projected namespace file, held by this pod.
        lease = await kube.get(api, f"/apis/coordination.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/leases/{lease_id}")
        assert lease["spec"]["holderIdentity"]
        assert ' code="403"' not in text, [ln for ln in text.splitlines() if 'code="403"' in ln]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            code = proc.wait(timeout=40)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
        await kube.delete(api, f"/apis/coordination.k8s.io/v1/namespaces/{OPERATOR_NAMESPACE}/leases/{lease_id}")
    assert code == 0, log.read_text()[-4000:]
