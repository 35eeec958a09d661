"""Leader election with two real ``aimctl run`` processes on one Lease.

Behaviour, read from the Lease's own timestamps rather than from the test's clock: a graceful
hand-off (SIGTERM to the leader) releases the lease, so the follower acquires it before the leader's
last lease would have expired; after a crash (SIGKILL) the follower waits the lease out, so it
acquires no earlier than the last renewal plus the lease duration. How long each takes is a figure,
printed by ``tests/bench/bench_leader_election.py``.
"""

from __future__ import annotations

import datetime as dt
import signal
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import LEASES
from informers.leaderelection import micro_time
from informers.rest import ApiError, RestClient
from tests.support.operator_process import OperatorProcess
from tests.support.ports import free_port
from tests.support.wait import wait_for

# `aimctl run` syncs its caches (and only then elects) once the AIM CRDs are served.
pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("aim_crds")]

LEASE = "aimctl-le-test"
STEPPED_DOWN = "lost the lease; stepped down (leading work stopped, caches kept) and campaigning again"
REACQUIRED = "became leader again after stepping down"


def start(cluster: Any, namespace: str, identity: str, tmp_path: Path, metrics_port: int = 0) -> OperatorProcess:
    """An ``aimctl run`` on the test Lease; with ``metrics_port``, its /metrics served there."""
    return OperatorProcess(
        cluster.kubeconfig,
        [
            "--namespaces",
            namespace,
            "--leader-election-namespace",
            namespace,
            "--leader-election-id",
            LEASE,
            "--leader-election-identity",
            identity,
            "--metrics-bind-address",
            f"127.0.0.1:{metrics_port}" if metrics_port else "0",
            "--health-probe-bind-address",
            "0",
        ],
        tmp_path / f"{identity}.log",
    )


async def holder(client: RestClient, namespace: str) -> str | None:
    try:
        lease = await client.request("get", LEASES.path(namespace, LEASE), request_timeout=5)
    except ApiError as exc:
        if exc.not_found:
            return None
        raise
    return (lease.get("spec") or {}).get("holderIdentity")


async def lease_spec(client: RestClient, namespace: str) -> dict[str, Any]:
    return (await client.request("get", LEASES.path(namespace, LEASE), request_timeout=5)).get("spec") or {}


def lease_time(spec: dict[str, Any], field: str) -> dt.datetime:
    return dt.datetime.fromisoformat(spec[field])


async def wait_holder(client: RestClient, namespace: str, wanted: set[str], timeout: float) -> str:  # noqa: ASYNC109
    """Wait until one of ``wanted`` holds the Lease; return it."""
    h = await wait_for(
        lambda: holder(client, namespace),
        lambda h: h in wanted,
        timeout=timeout,
        what=f"the lease to be held by one of {sorted(wanted)} (holder)",
    )
    assert h is not None
    return h


def lease_reads(port: int) -> float:
    """Lease reads the process made, from its /metrics: one per attempt to acquire (or renew)."""
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
        text = resp.read().decode()
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        if family.name == "aim_api_requests"
        for s in family.samples
        if s.name.endswith("_total") and s.labels.get("verb") == "get" and s.labels.get("resource") == LEASES.name
    )


async def wait_attempt(port: int, proc: OperatorProcess | None = None) -> None:
    """Wait until the process has made another attempt to acquire the lease (a positive signal that it
    saw the lease held, where a fixed sleep would only guess); with ``proc``, fail at once if it exits."""

    def reads() -> float:
        assert proc is None or proc.proc.poll() is None, f"the process exited:\n{proc.text()[-3000:]}"
        return lease_reads(port)

    before = await wait_for(reads, lambda _: True, timeout=30, what=f"/metrics on port {port}")
    await wait_for(reads, lambda n: n > before, timeout=30, what="another lease attempt (reads)")


async def test_one_leads_graceful_handoff_and_crash_failover(cluster: Any, namespace: str, tmp_path: Path) -> None:
    client = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    ports = {name: free_port() for name in ("a", "b", "c")}
    procs = {name: start(cluster, namespace, name, tmp_path, ports[name]) for name in ("a", "b")}
    try:
        leader = await wait_holder(client, namespace, {"a", "b"}, 60)
        follower = "b" if leader == "a" else "a"
        await procs[leader].wait_logged("became leader")
        await procs[follower].wait_logged("caches synced")
        await wait_attempt(ports[follower])
        assert not procs[follower].logged("became leader"), "two processes lead at once"
        assert await holder(client, namespace) == leader

        # Graceful: SIGTERM → the leader drains, releases; the follower takes over without waiting the
        # lease out (it acquires before the last lease it saw before the signal would have expired).
        before = await lease_spec(client, namespace)
        assert before["holderIdentity"] == leader
        procs[leader].signal(signal.SIGTERM)
        new_leader = await wait_holder(client, namespace, {follower}, 30)
        taken = await lease_spec(client, namespace)
        expiry = lease_time(before, "renewTime") + dt.timedelta(seconds=before["leaseDurationSeconds"])
        assert lease_time(taken, "acquireTime") < expiry, f"the lease was not released: {before} then {taken}"
        assert await procs[leader].wait_exit(30) == 0
        assert procs[leader].logged("released lease")

        # Crash: SIGKILL the new leader; a fresh follower must take over after the lease expires.
        procs["c"] = start(cluster, namespace, "c", tmp_path, ports["c"])
        await procs["c"].wait_logged("caches synced")
        await wait_attempt(ports["c"])
        assert await holder(client, namespace) == new_leader
        assert not procs["c"].logged("became leader"), "two processes lead at once"
        procs[new_leader].signal(signal.SIGKILL)
        last = await lease_spec(client, namespace)  # no renewal after the kill: the crashed leader's last
        await wait_holder(client, namespace, {"c"}, 60)
        taken = await lease_spec(client, namespace)
        expiry = lease_time(last, "renewTime") + dt.timedelta(seconds=last["leaseDurationSeconds"])
        assert lease_time(taken, "acquireTime") >= expiry, f"taken before the lease expired: {last} then {taken}"
    finally:
        for p in procs.values():
            p.kill()
        await client.close()


async def test_a_process_whose_lease_is_taken_steps_down_and_leads_again_later(
    cluster: Any, namespace: str, tmp_path: Path
) -> None:
    client = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    port = free_port()
    proc = start(cluster, namespace, "victim", tmp_path, port)
    try:
        await wait_holder(client, namespace, {"victim"}, 60)
        await proc.wait_logged("became leader")
        # Another party takes the lease over (as after a partition): renewals now fail.
        lease = await client.request("get", LEASES.path(namespace, LEASE))
        lease["spec"].update(holderIdentity="thief", renewTime=micro_time(), leaseDurationSeconds=3600)
        await client.request("update", LEASES.path(namespace, LEASE), body=lease)
        await proc.wait_logged(STEPPED_DOWN, timeout=40)
        # It campaigns as a follower: another attempt (it read the thief's lease) proves it is past the
        # step-down and has left the lease alone, where a fixed sleep would only guess.
        await wait_attempt(port, proc)
        assert proc.proc.poll() is None, "a process that lost its lease steps down; it does not exit"
        assert await holder(client, namespace) == "thief", "a process that lost the lease must not release it"
        # The thief releases the lease: the follower (which watches the Lease) takes it again.
        lease = await client.request("get", LEASES.path(namespace, LEASE))
        lease["spec"].update(holderIdentity="", renewTime=micro_time(), leaseDurationSeconds=1)
        await client.request("update", LEASES.path(namespace, LEASE), body=lease)
        await wait_holder(client, namespace, {"victim"}, 30)
        await proc.wait_logged(REACQUIRED, timeout=10)
        assert proc.proc.poll() is None
    finally:
        proc.kill()
        await client.close()
