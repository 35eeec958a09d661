"""The operator under test: one real ``aimctl run`` process for the whole e2e session.

It runs against the session's cluster with every built-in controller, leader election off, metrics
and probes on free loopback ports, and the operator namespace ``aim-system`` (cluster-scoped work,
such as cluster templates' discovery Jobs, runs there). Its JSON log goes to a file that tests can
read (``operator.log_text()``), e.g. to prove secrets never reach the log. Tests isolate themselves
with their own namespace and unique names for cluster-scoped objects.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from tests.support import kube
from tests.support.background import Background
from tests.support.wait import wait_for

OPERATOR_NAMESPACE = "aim-system"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Operator:
    process: subprocess.Popen[bytes]
    log_path: Path
    metrics_url: str
    probe_url: str
    namespace: str = OPERATOR_NAMESPACE
    #: ``POD_NAME`` of the process: the ``reportingInstance`` of its events. Several test sessions may
    #: share the cluster, each with its own operator; tests count only their operator's events.
    instance: str = ""

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def metrics(self) -> str:
        with urllib.request.urlopen(self.metrics_url, timeout=5) as resp:
            return str(resp.read().decode())


async def _wait_ready(op: Operator, timeout: float = 120.0) -> None:  # noqa: ASYNC109
    def readyz() -> int:
        assert op.process.poll() is None, f"aimctl run exited with {op.process.returncode}:\n{op.log_text()[-4000:]}"
        with urllib.request.urlopen(op.probe_url, timeout=2) as resp:  # 503: an HTTPError, "not yet"
            return int(resp.status)

    try:
        await wait_for(readyz, lambda status: status == 200, timeout=timeout, interval=0.2, what="aimctl run ready")
    except AssertionError as e:
        raise AssertionError(f"{e}\n{op.log_text()[-4000:]}") from e


@pytest.fixture(scope="session")
async def operator_namespace(api: Any) -> str:
    try:
        await kube.create(
            api,
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}},
        )
    except Exception as e:  # already there from an earlier session
        if getattr(e, "status", None) != 409:
            raise
    return OPERATOR_NAMESPACE


@pytest.fixture(scope="session")
async def operator(
    cluster: Any, operator_namespace: str, aim_crds: Any, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Operator]:
    """A running operator (``aimctl run``) for the session; stopped with SIGTERM at the end."""
    log_path = tmp_path_factory.mktemp("operator") / "operator.log"
    metrics_port, probe_port = free_port(), free_port()
    env = dict(os.environ)
    instance = f"aimctl-e2e-{os.getpid()}-{metrics_port}"
    env.update(
        {
            "POD_NAME": instance,
            "KUBECONFIG": str(cluster.kubeconfig),
            "AIM_OPERATOR_NAMESPACE": operator_namespace,
            "AIMCTL_LOG_LEVEL": os.environ.get("AIMCTL_TEST_LOG_LEVEL", "debug"),
            "AIMCTL_LOG_FORMAT": "json",
            # Give up on a discovery pod stuck in image pull after 5 s (default 5 min), so tests
            # with unpullable images free their discovery slots quickly.
            "AIMCTL_DISCOVERY_PULL_DEADLINE": "5",
            # Collect a derived template 2 s after its last consumer is gone (default 60 s).
            "AIMCTL_DERIVED_TEMPLATE_GRACE": "2",
            # Retry a failed discovery after 15 s (default 1 min), so the retry test does not wait a
            # real minute; still long enough for the tests that check a template stays backing off.
            "AIMCTL_DISCOVERY_BACKOFF_BASE": "15",
        }
    )
    argv = [
        sys.executable, "-m", "aimctl.cli.main", "run", "--no-leader-elect",
        "--metrics-bind-address", f"127.0.0.1:{metrics_port}",
        "--health-probe-bind-address", f"127.0.0.1:{probe_port}",
        "--workers", "2",
    ]  # fmt: skip
    with log_path.open("wb") as log:
        proc = subprocess.Popen(argv, env=env, stdout=log, stderr=subprocess.STDOUT)  # noqa: ASYNC220 - returns at once
    op = Operator(
        proc,
        log_path,
        f"http://127.0.0.1:{metrics_port}/metrics",
        f"http://127.0.0.1:{probe_port}/readyz",
        instance=instance,
    )
    try:
        await _wait_ready(op)
        yield op
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=35)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
async def kserve(api: Any) -> Any:
    """KServe itself: its controller manager and webhooks run in the local cluster (``aimctl dev
    cluster up`` starts them); on an external cluster, KServe must be installed in Standard mode. This
    waits until its InferenceService webhooks are registered. Tests steer predictor pods with
    ``tests.support.kserve`` (kwok decides what a pod does; KServe reports it)."""
    from tests.support.wait import wait_for

    hooks = "/apis/admissionregistration.k8s.io/v1/validatingwebhookconfigurations"
    await wait_for(
        lambda: kube.get(api, f"{hooks}/inferenceservice.serving.kserve.io"),
        lambda o: bool(o.get("webhooks")),
        timeout=60,
        what="KServe's InferenceService webhooks",
    )
    return api


@pytest.fixture(scope="session")
async def gateway(api: Any) -> Any:
    """The simulated Gateway API controller (``tests/sim/gateway_controller.py``) for the session."""
    from tests.sim.gateway_controller import GatewaySimulator

    sim = GatewaySimulator(api)
    task = Background(sim.run(), "gateway simulator")
    yield sim
    await task.stop()
