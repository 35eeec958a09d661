"""Leadership under load: the leader keeps its lease through a burst, and a leader paused past its
lease makes no write once resumed.

Two real ``aimctl run`` processes (with the test Echo controller) on one Lease, each behind its own
recording proxy (tests/support/apirecorder.py), so every request each process sends is seen. The
client budget is small (5 requests/s, 32 workers) so that a burst keeps the token bucket busy:

* before the fix the elector shared that bucket (and the write slots): its renewals queued behind
  the workers' requests and the leader dropped its own lease under load;
* then the leader is SIGSTOPped past its lease, the other replica takes over, and the old leader is
  resumed: before the fix its workers went on writing (up to the 10 s renew deadline) while its
  renew loop retried; now the write fence refuses every write at once, and the resumed process steps
  down to a follower (it does not exit) and writes nothing while the other replica leads.
"""

from __future__ import annotations

import datetime as dt
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import LEASES
from informers.rest import ApiError, RestClient
from tests.support import kube
from tests.support.apirecorder import RecordingProxy
from tests.support.echo_controller import ECHOES, EchoController, ensure_echo_crd
from tests.support.operator_metrics import controller_work, scrape, wait_queued_not_taken
from tests.support.operator_process import OperatorProcess
from tests.support.ports import free_port
from tests.support.serviceaccount import token_kubeconfig
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("aim_crds")]

LEASE = "aimctl-fence-test"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
STEPPED_DOWN = "lost the lease; stepped down (leading work stopped, caches kept) and campaigning again"
ECHO = EchoController.name


async def admin_token(api: client.ApiClient, namespace: str) -> str:
    """A token of a ServiceAccount bound to cluster-admin (the proxies forward tokens, not certs)."""
    sa = "fence-admin"
    await kube.create(api, f"/api/v1/namespaces/{namespace}/serviceaccounts",
                      {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": sa}})  # fmt: skip
    await kube.apply(
        api,
        f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{namespace}-fence-admin",
        {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding",
         "metadata": {"name": f"{namespace}-fence-admin"},
         "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"},
         "subjects": [{"kind": "ServiceAccount", "name": sa, "namespace": namespace}]},
    )  # fmt: skip
    answer = await kube.create(api, f"/api/v1/namespaces/{namespace}/serviceaccounts/{sa}/token",
                               {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                                "spec": {"expirationSeconds": 3600}})  # fmt: skip
    return str(answer["status"]["token"])


async def create_echo(rest: RestClient, namespace: str, name: str) -> None:
    await rest.request("create", ECHOES.path(namespace), body={
        "apiVersion": ECHOES.api_version, "kind": "Echo",
        "metadata": {"name": name, "namespace": namespace}, "spec": {"data": {"v": name}}})  # fmt: skip


async def holder(rest: RestClient, namespace: str) -> str | None:
    try:
        lease = await rest.request("get", LEASES.path(namespace, LEASE), request_timeout=5)
    except ApiError as exc:
        if exc.not_found:
            return None
        raise
    return (lease.get("spec") or {}).get("holderIdentity")


async def lease_spec(rest: RestClient, namespace: str) -> dict[str, Any]:
    return (await rest.request("get", LEASES.path(namespace, LEASE), request_timeout=5)).get("spec") or {}


def renewed_since(spec: dict[str, Any], since: dt.datetime) -> float:
    """Seconds between ``since`` and the lease's last renewal (negative: renewed before)."""
    return (dt.datetime.fromisoformat(spec["renewTime"]) - since).total_seconds()


async def test_leader_keeps_its_lease_under_load_and_a_resumed_leader_writes_nothing(
    cluster: Any, api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    local = cluster.local
    if local is None:
        pytest.skip("needs the local development cluster")
    rest = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    await ensure_echo_crd(rest)
    token = await admin_token(api, namespace)
    proxies: dict[str, RecordingProxy] = {}
    procs: dict[str, OperatorProcess] = {}
    metrics = {name: free_port() for name in ("a", "b")}
    try:
        for name in ("a", "b"):
            proxy = proxies[name] = RecordingProxy(local.server, local.layout.pki / "ca.crt")
            await proxy.start()
            kc = token_kubeconfig(tmp_path / f"{name}.kubeconfig", f"http://127.0.0.1:{proxy.port}", token, None)
            procs[name] = OperatorProcess(
                kc,
                ["--leader-elect", f"--leader-election-id={LEASE}", f"--leader-election-namespace={namespace}",
                 f"--leader-election-identity={name}", f"--namespaces={namespace}",
                 "--controller=tests.support.echo_controller:factory", "--workers=32",
                 "--api-qps=5", "--api-burst=5",
                 f"--metrics-bind-address=127.0.0.1:{metrics[name]}", "--health-probe-bind-address=0"],
                tmp_path / f"{name}.log",
            )  # fmt: skip
            if name == "a":
                await procs["a"].wait_logged("workers started", timeout=90)
        await procs["b"].wait_logged("caches synced", timeout=90)
        assert await holder(rest, namespace) == "a"

        # A burst: ~3 writes per Echo at 5 requests/s keeps the leader's bucket busy for a minute.
        count = 100
        burst = dt.datetime.now(dt.UTC)
        for i in range(count):
            await create_echo(rest, namespace, f"e{i}")
        # Held for more than a lease since the burst began: the leader renewed a lease's duration after
        # it (else the follower would have taken over), so renewals got through the busy bucket.
        await wait_for(
            lambda: lease_spec(rest, namespace),
            lambda spec: (
                spec.get("holderIdentity") != "a"
                or renewed_since(spec, burst) > spec["leaseDurationSeconds"]
                or procs["a"].proc.poll() is not None
            ),
            timeout=60,
            what="a renewal by the leader more than a lease after the burst began",
        )
        assert procs["a"].proc.poll() is None, f"the leader dropped its lease under load:\n{procs['a'].text()[-3000:]}"
        assert await holder(rest, namespace) == "a"

        # Pause the leader past its lease; the other replica takes over and works.
        procs["a"].signal(signal.SIGSTOP)
        stopped = time.monotonic()

        await wait_for(
            lambda: holder(rest, namespace),
            lambda h: h == "b",
            timeout=40,
            what="the follower takes the lease of the paused leader (holder)",
        )
        await procs["b"].wait_logged("workers started", timeout=10)
        await wait_for(
            lambda: proxies["a"].unanswered,
            lambda n: n == 0,
            timeout=30,
            what="an answer to every request the leader sent before it was stopped (unanswered)",
        )
        seen = len(proxies["a"].records)  # everything a sent before it was stopped has been answered
        procs["a"].signal(signal.SIGCONT)
        await procs["a"].wait_logged(STEPPED_DOWN, timeout=40)
        # ... and it stays a follower: one more Echo reaches its cache and queue, and no worker of
        # its takes it (shown by its metrics rather than by waiting a while); still no write.
        a_metrics = f"http://127.0.0.1:{metrics['a']}/metrics"
        following = controller_work(scrape(a_metrics), ECHO)
        await create_echo(rest, namespace, "marker")
        await wait_queued_not_taken(lambda: scrape(a_metrics), ECHO, following)
        after = proxies["a"].records[seen:]
        writes = [f"{r.method} {r.path} -> {r.status}" for r in after if r.method in WRITES]
        assert not writes, (
            f"the resumed leader wrote after losing its lease (paused {time.monotonic() - stopped:.0f}s):\n"
            + "\n".join(writes)
        )
        still = controller_work(scrape(a_metrics), ECHO)
        assert still["total"] == following["total"], f"the follower reconciled: {following} then {still}"
        assert procs["a"].proc.poll() is None, "the resumed leader must step down, not exit"

        async def phases() -> dict[str, Any]:
            items = (await rest.request("list", ECHOES.path(namespace)))["items"]
            return {o["metadata"]["name"]: (o.get("status") or {}).get("phase") for o in items}

        await wait_for(
            phases,
            lambda seen: len(seen) == count + 1 and all(phase == "Echoed" for phase in seen.values()),
            timeout=180,
            what="every Echo reconciled by the new leader (phase by name)",
        )
    finally:
        for p in procs.values():
            if p.proc.poll() is None:
                p.signal(signal.SIGCONT)
            p.kill()
        for proxy in proxies.values():
            await proxy.stop()
        await rest.close()
        await kube.delete(api, f"/apis/rbac.authorization.k8s.io/v1/clusterrolebindings/{namespace}-fence-admin")
