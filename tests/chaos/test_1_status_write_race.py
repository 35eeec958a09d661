"""Chaos scenario 1 — the status-write race.

The fault proxy answers the operator's status PATCHes of AIMServices late (the write has happened at
the apiserver; the operator learns of it 1.5 s later) while spec edits arrive at 20 Hz and half the
services are deleted mid-run. A controller that upserts its pre-reconcile object (old spec, new
resourceVersion) into the shared cache after a status write loses the edits that arrived meanwhile
(and a relist cannot repair it) and can resurrect deleted keys.

Proves: every live service converges to its *last* spec (``observedGeneration == generation``, its one
InferenceService carries the last replicas and env, owned by its UID); no InferenceService of a
deleted service is written more than 10 s after its deletion, and none exists 30 s (full size: a minute)
after it.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import time
from pathlib import Path

import anyio
import pytest

from tests.chaos.harness import ChaosCluster, ChaosRuns, Fleet, Phases, figure, operators, size
from tests.support import kube
from tests.support.fault_proxy import Rule

pytestmark = pytest.mark.cluster

EDIT_HZ = 20.0


EXCLUSIVE = False


async def test_status_write_race(chaos_runs: ChaosRuns) -> None:
    await chaos_runs.result(__name__)


async def scenario(chaos: ChaosCluster, chaos_tmp: Path) -> None:
    count = size(100, 500)
    # 10 s of edits is 200 edits, 2 per service, each racing a status answer held back 1.5 s (several
    # write-then-learn windows per service); full size keeps a minute.
    edit_seconds = size(10.0, 60.0)
    # How long after the deletes the fleet is checked for children of deleted services; the writes
    # are checked from the audit log over the whole run (none 10 s after a delete), this only bounds
    # how long a resurrected child has to show up.
    after_deletes = size(30.0, 60.0)
    ns = await chaos.namespace("race")
    fleet = Fleet(chaos, ns, count)
    phases = Phases("1 status-write race")
    try:
        async with operators(chaos, chaos_tmp) as start:
            op = await start("race", ["--no-leader-elect", "--namespaces", ns])
            await op.wait_ready()
            phases.mark("operator ready")
            await fleet.prepare()
            phases.mark("image and template (discovery)")
            t0 = time.monotonic()
            await fleet.create()
            phases.mark("create services")
            first = await fleet.wait_converged(300, "the fleet to converge before the faults")
            phases.mark("initial convergence")
            figure("1 status-write race", services=count, initial_converge_s=time.monotonic() - t0)

            op.proxy.add(Rule("late status answers", method="PATCH", path=r"/aimservices/[^/]+/status$",
                              delay_response=1.5))  # fmt: skip
            rng = random.Random(11)
            edits = failed_edits = 0
            deleted_at: dict[str, dt.datetime] = {}
            to_delete = fleet.names()[1::2]
            base = f"/apis/aim.silogen.ai/v1alpha1/namespaces/{ns}/aimservices"
            # Edits are sent at EDIT_HZ whatever the apiserver's latency (at most 32 in flight), and the
            # deletes beside them (16 at a time); each delete's time is taken as it is sent.
            in_flight, deleting = anyio.Semaphore(32), anyio.CapacityLimiter(16)

            async def edit(name: str, n: int) -> None:
                nonlocal edits, failed_edits
                patch = {"spec": {"replicas": rng.randint(1, 4), "env": [{"name": "EDIT", "value": str(n)}]}}
                try:
                    await kube.request(chaos.api, "PATCH", f"{base}/{name}", patch, "application/merge-patch+json")
                    edits += 1
                except Exception:  # e.g. a service deleted meanwhile
                    failed_edits += 1
                finally:
                    in_flight.release()

            async def delete(name: str) -> None:
                async with deleting:
                    fleet.deleted.add(name)
                    deleted_at[name] = dt.datetime.now(dt.UTC)
                    with contextlib.suppress(Exception):
                        await kube.delete(chaos.api, f"{base}/{name}")

            started = time.monotonic()

            async def deletes_halfway() -> None:
                # On a clock of its own: an edit loop held up by a slow apiserver must not skip them.
                await anyio.sleep(edit_seconds / 2)
                for name in to_delete:
                    tg.start_soon(delete, name)

            async with anyio.create_task_group() as tg:
                sent = 0
                tg.start_soon(deletes_halfway)
                while time.monotonic() - started < edit_seconds:
                    await in_flight.acquire()
                    tg.start_soon(edit, rng.choice(fleet.live()), sent)
                    sent += 1
                    await anyio.sleep(max(0.0, started + sent / EDIT_HZ - time.monotonic()))
            op.proxy.clear()
            phases.mark("edits and deletes under late status answers")
            converge = await fleet.converge(300, "every service to converge to its last spec")
            phases.mark("convergence after the faults")

            # ``after_deletes`` after the deletes, nothing of the deleted services may exist; and nothing
            # may have been written for them once the operator had seen the delete (10 s of grace).
            deletes_done = min(deleted_at.values())
            wait = after_deletes - (dt.datetime.now(dt.UTC) - deletes_done).total_seconds()
            if wait > 0:
                await anyio.sleep(wait)
            phases.mark(f"wait until {after_deletes:.0f} s after the deletes")
            problems = await fleet.problems()
            late_writes = [
                w for w in chaos.writes(user=op.user)
                if w.ok and w.resource == "inferenceservices" and w.name in deleted_at
                and w.received > deleted_at[w.name] + dt.timedelta(seconds=10)
            ]  # fmt: skip
            status_writes = [w for w in chaos.writes(user=op.user) if w.ok and w.subresource == "status"]
            figure(
                "1 status-write race",
                first_converge_s=first,
                edits=edits,
                failed_edits=failed_edits,
                deleted=len(to_delete),
                converge_after_faults_s=converge.figure,
                operator_writes=len([w for w in chaos.writes(user=op.user) if w.ok]),
                status_writes=len(status_writes),
                late_child_writes_for_deleted=len(late_writes),
                unexpected_exits=op.unexpected_exits,
            )
            # The race needs the edits: a test process that lagged (and sent few) proves nothing.
            assert edits + failed_edits >= EDIT_HZ * edit_seconds / 2, (
                f"only {edits + failed_edits} edits sent in {edit_seconds:.0f} s (wanted {EDIT_HZ:.0f} a second)"
            )
            assert converge.ok, converge.message()
            assert problems == [], f"{after_deletes:.0f} s after the deletes the fleet is not converged: {problems[:8]}"
            assert late_writes == [], (
                f"{len(late_writes)} InferenceService write(s) for deleted services more than 10 s after their "
                f"delete, e.g. {late_writes[:3]}"
            )
            assert op.unexpected_exits == 0, f"the operator exited on its own: {op.exit_codes}"
    finally:
        await chaos.drop_namespace(ns)
