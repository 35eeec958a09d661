"""A leader that cannot renew its lease steps down and campaigns again; it never exits.

One real ``aimctl run`` process (with the test Echo controller) behind its own fault proxy
(tests/support/fault_proxy.py). The proxy drops every Lease PUT for longer than the renew deadline
(as during an etcd outage or a partition from the apiserver): the renewal fails. Before the fix the
elector gave up and the process exited 1 (and a Deployment restarted it, cold caches and all).

Proves: the process stays up and ``/healthz`` answers; it logs the step-down, its leader gauge drops
to 0 and it writes nothing but Lease requests while it follows (an Echo created meanwhile is not
reconciled); once the Lease can be written again it becomes leader again, logs it, and converges
both the Echo created while it followed and one created afterwards.
"""

from __future__ import annotations

import urllib.request
from pathlib import Path
from typing import Any

import pytest

from aimctl.devcluster.pki import ClientIdentity, ensure_client_certificate
from aimctl.kube.client import ClientSettings, new_client
from informers.rest import RestClient
from tests.support.echo_controller import ECHOES, EchoController, ensure_echo_crd
from tests.support.fault_proxy import WRITE_METHODS, FaultProxy, Rule
from tests.support.operator_metrics import controller_work, scrape, wait_queued_not_taken
from tests.support.operator_process import OperatorProcess
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("aim_crds")]

LEASE = "aimctl-step-down-test"
STEPPED_DOWN = "lost the lease; stepped down (leading work stopped, caches kept) and campaigning again"
REACQUIRED = "became leader again after stepping down"
ECHO = EchoController.name


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as resp:
            return int(resp.status), resp.read().decode()
    except urllib.error.HTTPError as err:
        return int(err.code), ""
    except OSError:
        return 0, ""


def leader_gauge(metrics_port: int) -> float | None:
    _, text = _get(f"http://127.0.0.1:{metrics_port}/metrics")
    for line in text.splitlines():
        if line.startswith("leader_election_master_status{") and f'name="{LEASE}"' in line:
            return float(line.rsplit(" ", 1)[1])
    return None


async def create_echo(rest: RestClient, namespace: str, name: str) -> None:
    await rest.request("create", ECHOES.path(namespace), body={
        "apiVersion": ECHOES.api_version, "kind": "Echo",
        "metadata": {"name": name, "namespace": namespace}, "spec": {"data": {"v": name}}})  # fmt: skip


async def echoed(rest: RestClient, namespace: str, name: str) -> bool:
    obj: dict[str, Any] = await rest.request("get", ECHOES.path(namespace, name))
    return (obj.get("status") or {}).get("phase") == "Echoed"


async def test_a_leader_that_cannot_renew_steps_down_and_leads_again(
    cluster: Any, namespace: str, tmp_path: Path
) -> None:
    local = cluster.local
    if local is None:
        pytest.skip("needs the local development cluster (its PKI for the fault proxy)")
    rest = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    await ensure_echo_crd(rest)
    pki = Path(local.layout.pki)
    cert, key = ensure_client_certificate(pki, ClientIdentity("step-down", "step-down-test", ("system:masters",)))
    proxy = FaultProxy(local.server, pki, cert, key)
    await proxy.start()
    probe, metrics = _free_port(), _free_port()
    proc = OperatorProcess(
        proxy.kubeconfig(tmp_path / "op.kubeconfig"),
        ["--leader-elect", f"--leader-election-id={LEASE}", f"--leader-election-namespace={namespace}",
         "--leader-election-identity=only", f"--namespaces={namespace}",
         "--controller=tests.support.echo_controller:factory",
         f"--metrics-bind-address=127.0.0.1:{metrics}", f"--health-probe-bind-address=127.0.0.1:{probe}"],
        tmp_path / "op.log",
    )  # fmt: skip
    try:
        await proc.wait_logged("workers started", timeout=90)
        await create_echo(rest, namespace, "before")
        await wait_for(lambda: echoed(rest, namespace, "before"), timeout=60, what="the first Echo reconciled")
        assert leader_gauge(metrics) == 1

        # The Lease cannot be written for longer than the renew deadline (10 s).
        drop = Rule("lease writes dropped", method="PUT", path=rf"/leases/{LEASE}$", drop=True)
        proxy.add(drop)
        await proc.wait_logged(STEPPED_DOWN, timeout=40)
        assert proc.proc.poll() is None, f"the process exited:\n{proc.text()[-3000:]}"
        seen = len(proxy.records)
        assert leader_gauge(metrics) == 0, "the leader gauge must drop when the process steps down"
        assert _get(f"http://127.0.0.1:{probe}/healthz")[0] == 200, "/healthz must stay 200 while following"
        assert _get(f"http://127.0.0.1:{probe}/readyz")[0] == 200, "a follower with synced caches is ready"
        # The follower sees the new Echo (its informers run) and queues it, and no worker takes it:
        # shown by its metrics instead of waiting for as long as a leader would take.
        follower = f"http://127.0.0.1:{metrics}/metrics"
        before = controller_work(scrape(follower), ECHO)
        await create_echo(rest, namespace, "while-following")
        await wait_queued_not_taken(lambda: scrape(follower), ECHO, before)
        assert not await echoed(rest, namespace, "while-following"), "a follower reconciled an Echo"
        writes = [f"{r.method} {r.path} -> {r.status}" for r in proxy.records[seen:]
                  if r.method in WRITE_METHODS and "/leases/" not in r.path]  # fmt: skip
        assert not writes, "a process that stepped down wrote:\n" + "\n".join(writes)
        still = controller_work(scrape(follower), ECHO)
        assert still["total"] == before["total"] and still["queued"] >= 1, (
            f"a follower took work: {before} then {still}"
        )
        assert proc.proc.poll() is None, f"the process exited:\n{proc.text()[-3000:]}"

        # The Lease can be written again: the same process leads again, without a restart.
        proxy.remove(drop)
        await proc.wait_logged(REACQUIRED, timeout=40)
        await create_echo(rest, namespace, "after")
        for name in ("while-following", "after"):
            await wait_for(lambda n=name: echoed(rest, namespace, n), timeout=60, what=f"Echo {name} reconciled")  # type: ignore[misc]
        assert leader_gauge(metrics) == 1
        assert proc.proc.poll() is None, f"the process exited:\n{proc.text()[-3000:]}"
    finally:
        proc.kill()
        await proxy.stop()
        await rest.close()
