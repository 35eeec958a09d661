"""Benchmark: how long leader hand-offs take with real ``aimctl run`` processes on one Lease.

Run on demand (not collected by pytest), against a running cluster::

    python -m tests.bench.bench_leader_election --kubeconfig PATH [--rounds 3]

Each round starts two processes (``a`` and ``b``) and measures, polling the Lease every 20 ms:

* **graceful hand-off**: from SIGTERM to the leader until the follower holds the Lease (the leader
  releases it on shutdown and the follower, which watches the Lease, takes it at once: expect well
  under 2 s);
* **crash failover**: from SIGKILL to the new leader until a third process holds the Lease (it must
  wait out the 15 s lease from the last renewal it saw, plus at most one jittered 2.4 s retry period:
  expect 15-20 s).

The behaviour (released on SIGTERM, waited out after SIGKILL) is asserted by
``tests/integration/test_leader_election.py``; this script prints figures and asserts nothing about
time.
"""

from __future__ import annotations

import argparse
import signal
import statistics
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace

import anyio
from kubernetes_asyncio import client as kube_client
from kubernetes_asyncio import config as kube_config

from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import NAMESPACES
from informers.rest import RestClient
from tests.integration.test_leader_election import holder, start
from tests.support.aim_crds import install_aim_crds
from tests.support.operator_process import OperatorProcess
from tests.support.wait import wait_for


async def seen_at(client: RestClient, namespace: str, wanted: str, timeout: float) -> float:  # noqa: ASYNC109
    """Poll the Lease every 20 ms until ``wanted`` holds it; the monotonic time it was first seen."""
    await wait_for(
        lambda: holder(client, namespace), lambda h: h == wanted, timeout=timeout, interval=0.02, what=wanted
    )
    return time.monotonic()


async def one_round(client: RestClient, kubeconfig: Path, work: Path) -> tuple[float, float]:
    namespace = f"bench-le-{uuid.uuid4().hex[:6]}"
    await client.request(
        "create", NAMESPACES.path(), body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
    )
    cluster = SimpleNamespace(kubeconfig=kubeconfig)
    procs: dict[str, OperatorProcess] = {}
    try:
        procs = {name: start(cluster, namespace, name, work) for name in ("a", "b")}
        leader = await wait_for(lambda: holder(client, namespace), lambda h: h in ("a", "b"), timeout=60)
        assert leader is not None
        follower = "b" if leader == "a" else "a"
        await procs[follower].wait_logged("caches synced")
        sent = time.monotonic()
        procs[leader].signal(signal.SIGTERM)
        handoff = await seen_at(client, namespace, follower, 30) - sent
        await procs[leader].wait_exit(30)

        procs["c"] = start(cluster, namespace, "c", work)
        await procs["c"].wait_logged("caches synced")
        sent = time.monotonic()
        procs[follower].signal(signal.SIGKILL)
        failover = await seen_at(client, namespace, "c", 60) - sent
        return handoff, failover
    finally:
        for p in procs.values():
            p.kill()
        await client.request("delete", NAMESPACES.path(None, namespace))


async def main(kubeconfig: Path, rounds: int) -> None:
    cfg = kube_client.Configuration()
    await kube_config.load_kube_config(config_file=str(kubeconfig), client_configuration=cfg)
    async with kube_client.ApiClient(cfg) as api:
        await install_aim_crds(api)  # `aimctl run` syncs (and only then elects) once they are served
    client = await new_client(ClientSettings(kubeconfig=kubeconfig))
    handoffs: list[float] = []
    failovers: list[float] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-le-") as tmp:
            for i in range(rounds):
                work = Path(tmp) / str(i)
                work.mkdir()
                handoff, failover = await one_round(client, kubeconfig, work)
                print(f"[bench] round {i + 1}: graceful hand-off {handoff:.3f} s, crash failover {failover:.3f} s")
                handoffs.append(handoff)
                failovers.append(failover)
    finally:
        await client.close()
    print(
        f"[bench] graceful hand-off: median {statistics.median(handoffs):.3f} s, max {max(handoffs):.3f} s; "
        f"crash failover: median {statistics.median(failovers):.3f} s, max {max(failovers):.3f} s "
        f"({rounds} rounds)"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kubeconfig", type=Path, required=True)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    anyio.run(main, args.kubeconfig, args.rounds)
