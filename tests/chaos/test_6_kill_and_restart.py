"""Chaos scenario 6 — the operator SIGKILLed every 10 s (full size: 20 s) during a burst; the apiserver
restarted once, etcd restarted once.

A burst of services arrives while the operator is killed (SIGKILL, no goodbye) every 10 s and
restarted a second later, as a Deployment would; the apiserver is restarted once and etcd is stopped
for 5 s and started again once, in the middle of it.

Proves: the operator never exits on its own (leader election is on; the etcd outage, with the
apiserver's recovery, can outlast the lease's renew deadline: the leader then steps down and leads
again); every service converges with exactly one InferenceService (owned by it), the template keeps
exactly one ServingRuntime; and once idle the operator writes nothing (from the audit log, over
:data:`IDLE_SECONDS`) — restarts must not leave work that repeats forever.
"""

from __future__ import annotations

import signal
import time
from pathlib import Path

import anyio
import pytest

from tests.chaos.harness import ChaosCluster, ChaosRuns, Fleet, Phases, figure, operators, size
from tests.support import audit, kube

pytestmark = pytest.mark.cluster

# Reduced: a kill every 10 s (the operator is up and reconciling for several seconds between two) and
# 15 s without writes once idle (the leader renews its Lease every 2 s: a repeating write loop shows
# within seconds); full size: every 20 s and a minute.
KILL_EVERY = size(10.0, 20.0)
IDLE_SECONDS = size(15.0, 60.0)
SETTLE_SECONDS = size(5.0, 10.0)


EXCLUSIVE = True


async def test_kill_and_restart(chaos_runs: ChaosRuns) -> None:
    await chaos_runs.result(__name__)


async def scenario(chaos: ChaosCluster, chaos_tmp: Path) -> None:
    count = size(100, 500)
    kills = size(3, 8)
    ns = await chaos.namespace("kill")
    fleet = Fleet(chaos, ns, count)
    local = chaos.local
    phases = Phases("6 kill and restart")
    try:
        async with operators(chaos, chaos_tmp) as start:
            # Leader election on (the default of a Deployment), with a fixed identity as a restarted
            # pod would have: the etcd outage outlasts the renew deadline, and the leader must step
            # down and lead again, not exit.
            op = await start("kill", ["--namespaces", ns, "--leader-election-namespace", ns,
                                      "--leader-election-id", "chaos-kill",
                                      "--leader-election-identity", "kill"])  # fmt: skip
            await op.wait_ready()
            phases.mark("operator ready")
            await fleet.prepare()
            phases.mark("image and template (discovery)")
            t0 = time.monotonic()
            outages: dict[str, float] = {}
            kill_times: list[float] = []
            burst_over: list[float] = []
            async with anyio.create_task_group() as tg:
                # A burst spread over the faults: the last service is sent half a period after the
                # last kill, so every kill lands during the burst.
                async def burst() -> None:
                    await fleet.create(None, 4, (kills + 0.5) * KILL_EVERY)
                    burst_over.append(time.monotonic())

                tg.start_soon(burst)

                async def killer() -> None:
                    for _ in range(kills):
                        await anyio.sleep(KILL_EVERY)
                        if op.alive():  # not when it is down (restarting, or exited on its own)
                            kill_times.append(time.monotonic())
                        op.kill(signal.SIGKILL)

                async def components() -> None:
                    await anyio.sleep(KILL_EVERY / 2)
                    t = time.monotonic()
                    await anyio.to_thread.run_sync(local.restart_component, "kube-apiserver")
                    outages["apiserver_restart_s"] = time.monotonic() - t
                    await anyio.sleep(KILL_EVERY)
                    t = time.monotonic()
                    await anyio.to_thread.run_sync(local.stop_component, "etcd")
                    await anyio.sleep(5)
                    await anyio.to_thread.run_sync(local.start_component, "etcd")
                    await anyio.to_thread.run_sync(local.start_component, "kube-apiserver")  # waits for readyz
                    outages["etcd_outage_s"] = time.monotonic() - t
                    # Whatever else of the cluster the outage took down comes back (later scenarios use it).
                    for name in local.components:
                        await anyio.to_thread.run_sync(local.start_component, name)

                tg.start_soon(killer)
                tg.start_soon(components)
            faults_over = time.monotonic()
            phases.mark("burst under kills and restarts")
            converge = await fleet.converge(600, "every service to converge after the kills and restarts")
            phases.mark("convergence after the faults")

            runtimes = (await kube.get(chaos.api, f"/apis/serving.kserve.io/v1alpha1/namespaces/{ns}/servingruntimes"))[
                "items"
            ]
            await anyio.sleep(SETTLE_SECONDS)  # settle: the last status writes and events
            since = audit.now()
            await anyio.sleep(IDLE_SECONDS)
            phases.mark("settle and idle window")
            # The leader's Lease renewals (every 2 s) are not work: counted apart.
            idle = [w for w in chaos.writes(since, op.user) if w.ok]
            idle_writes = [w for w in idle if w.resource != "leases"]
            all_writes = [w for w in chaos.writes(user=op.user) if w.ok]
            figure(
                "6 kill and restart",
                services=count,
                kills=op.intentional_kills,
                kills_during_burst=sum(t < burst_over[0] for t in kill_times),
                starts=op.starts,
                converge_after_faults_s=converge.figure,
                converge_since_burst_s=time.monotonic() - t0 - SETTLE_SECONDS - IDLE_SECONDS,
                faults_s=faults_over - t0,
                operator_writes=len(all_writes),
                idle_writes=len(idle_writes),
                idle_lease_renewals=len(idle) - len(idle_writes),
                serving_runtimes=len(runtimes),
                unexpected_exits=op.unexpected_exits,
                step_downs=sum(str(e.get("event", "")).startswith("lost the lease") for e in op.log_events()),
                **outages,
            )
            assert converge.ok, converge.message()
            assert len(runtimes) == 1, f"{len(runtimes)} ServingRuntimes for one template"
            assert idle_writes == [], (
                f"{len(idle_writes)} write(s) in {IDLE_SECONDS:.0f} s once idle, e.g. "
                + "; ".join(f"{w.verb} {w.resource}/{w.subresource} {w.name}" for w in idle_writes[:5])
            )
            assert op.unexpected_exits == 0, f"the operator exited on its own: {op.exit_codes}"
    finally:
        await chaos.drop_namespace(ns)
