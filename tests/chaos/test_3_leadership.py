"""Chaos scenario 3 — leadership under load.

Two replicas (each with its own client certificate, so the apiserver's audit log tells their writes
apart) elect a leader on one Lease; every write but the Lease's is answered 0.1 s late by their fault
proxies; a burst of services arrives; the leader is SIGSTOPped for longer than its lease (15 s + 3 s and
at least 2 s past the takeover; full size 15 s + 10 s), the other takes over, then the old leader is
resumed (SIGCONT).

Proves (from the audit log): the old leader makes no write that takes effect after the new leader's
first write — a leader that cannot renew must stop writing once its lease may have been taken; the
resumed old leader steps down to a follower and does not exit; nothing is lost: every service
converges; and every InferenceService is created once (one successful write that creates it: no
delete-and-recreate).
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import anyio
import pytest

from tests.chaos.harness import ChaosCluster, ChaosRuns, Fleet, Phases, figure, operators, size
from tests.support import kube
from tests.support.fault_proxy import WRITE_METHODS, Rule

pytestmark = pytest.mark.cluster

LEASE = "chaos-leadership"
LEASE_SECONDS = 15.0  # the operator's lease duration
# How long past the lease the old leader stays stopped (and at least 2 s past the takeover): the new
# leader must have taken over and written before the old one resumes; full size keeps 10 s.
STOP_PAST_LEASE = size(3.0, 10.0)


async def holder(chaos: ChaosCluster, ns: str) -> str | None:
    try:
        lease = await kube.get(chaos.api, f"/apis/coordination.k8s.io/v1/namespaces/{ns}/leases/{LEASE}")
    except Exception:  # not created yet, or the apiserver is busy
        return None
    return (lease.get("spec") or {}).get("holderIdentity")


async def wait_holder(chaos: ChaosCluster, ns: str, wanted: set[str], within: float) -> str:
    deadline = time.monotonic() + within
    while True:
        h = await holder(chaos, ns)
        if h in wanted:
            assert h is not None
            return h
        if time.monotonic() > deadline:
            raise AssertionError(f"lease holder is {h!r}, not one of {wanted} after {within:.0f} s")
        await anyio.sleep(0.1)


EXCLUSIVE = False


async def test_leadership_under_load(chaos_runs: ChaosRuns) -> None:
    await chaos_runs.result(__name__)


async def scenario(chaos: ChaosCluster, chaos_tmp: Path) -> None:
    count = size(100, 400)
    ns = await chaos.namespace("lead")
    fleet = Fleet(chaos, ns, count)
    phases = Phases("3 leadership")
    try:
        async with operators(chaos, chaos_tmp) as start:
            replicas = {}
            for name in ("a", "b"):
                replicas[name] = await start(
                    name,
                    ["--namespaces", ns, "--leader-election-namespace", ns, "--leader-election-id", LEASE,
                     "--leader-election-identity", name],
                )  # fmt: skip
            leader_name = await wait_holder(chaos, ns, {"a", "b"}, 300)
            old, new = replicas[leader_name], replicas["b" if leader_name == "a" else "a"]
            await old.wait_ready()
            phases.mark("replicas up, leader elected")
            await fleet.prepare()
            phases.mark("image and template (discovery)")
            for op in replicas.values():
                op.proxy.add(Rule("slow writes", method=WRITE_METHODS, not_path=r"/leases/", delay_response=0.1))

            t0 = time.monotonic()
            async with anyio.create_task_group() as tg:
                tg.start_soon(fleet.create, None, 16)
                await anyio.sleep(3)  # the burst is under way
                old.kill(signal.SIGSTOP)
                stopped = time.monotonic()
                await wait_holder(chaos, ns, {new.name}, LEASE_SECONDS + 30)
                took_over = time.monotonic() - stopped
                resume_at = max(stopped + LEASE_SECONDS + STOP_PAST_LEASE, time.monotonic() + 2)
                await anyio.sleep(max(0.0, resume_at - time.monotonic()))
                old.kill(signal.SIGCONT)
                resumed = time.monotonic()
            phases.mark("burst, SIGSTOP past the lease, takeover, SIGCONT")
            converge = await fleet.converge(300, "every service to converge after the failover")
            phases.mark("convergence after the resume")

            await anyio.sleep(5)  # let the resumed replica do whatever it will do
            new_writes = [w for w in chaos.writes(user=new.user) if w.ok and w.resource != "leases"]
            old_writes = [w for w in chaos.writes(user=old.user) if w.ok]
            assert new_writes, "the new leader wrote nothing"
            first_new = new_writes[0].received
            stale = [w for w in old_writes if w.received > first_new]
            creates: dict[str, int] = {}
            for w in chaos.writes():
                # Server-side apply creates with a PATCH answered 201: count both ways of creating.
                created = w.verb == "create" or (w.verb == "patch" and w.code == 201)
                if w.ok and w.resource == "inferenceservices" and w.namespace == ns and created and not w.subresource:
                    creates[w.name] = creates.get(w.name, 0) + 1
            deletes = [w for w in chaos.writes() if w.ok and w.resource == "inferenceservices"
                       and w.namespace == ns and w.verb == "delete"]  # fmt: skip
            figure(
                "3 leadership",
                services=count,
                takeover_after_stop_s=took_over,
                converge_after_resume_s=converge.figure,
                converge_since_burst_s=time.monotonic() - t0,
                old_leader_writes=len(old_writes),
                new_leader_writes=len(new_writes),
                stale_writes_by_old_leader=len(stale),
                isvc_creates=sum(creates.values()),
                isvc_deletes=len(deletes),
                exits={r.name: r.exit_codes for r in replicas.values()},
                resumed_s_ago=time.monotonic() - resumed,
            )
            assert converge.ok, converge.message()
            assert stale == [], (
                f"the old leader made {len(stale)} write(s) after the new leader's first ({first_new}), e.g. "
                + "; ".join(f"{w.verb} {w.resource}/{w.subresource} {w.name} at {w.received}" for w in stale[:5])
            )
            exited = {r.name: r.exit_codes for r in replicas.values() if r.unexpected_exits}
            assert not exited, f"a replica exited on its own (a lost lease is a step-down, not an exit): {exited}"
            recreated = {n: c for n, c in creates.items() if c > 1}
            assert not recreated and not deletes, f"InferenceServices re-created {recreated}, deleted {deletes[:3]}"
    finally:
        await chaos.drop_namespace(ns)
