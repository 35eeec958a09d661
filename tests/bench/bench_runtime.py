"""Benchmark of the controller runtime: watch-event → reconcile latency and the no-op reconcile rate.

Run on demand (not collected by pytest)::

    python -m tests.bench.bench_runtime [--kubeconfig PATH] [--updates 300] [--objects 1000]

Without ``--kubeconfig`` (or ``$KUBECONFIG``) it starts — or reuses — the local ``test`` cluster and
leaves it running. It prints figures and asserts nothing about time.

What is measured, with the test ``Echo`` controller (tests/support/echo_controller.py) in-process:

* **latency** (idle cluster, one change at a time): for each spec change of one Echo, the time from
  the watch event reaching the informer to (a) the reconcile starting and (b) the first write (the
  child apply) being sent; and, for context, from the client's PATCH being sent to the reconcile
  starting (apiserver + watch delivery included);
* **no-op rate**: with ``--objects`` Echoes converged, every key is enqueued again; a reconcile reads
  the caches, finds the child and the status unchanged and writes nothing. Reconciles per second are
  reported for 1 and 4 workers, together with the number of writes made (expected: 0).
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path
from typing import Any

import anyio

from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import NAMESPACES
from aimctl.logging import configure_logging
from aimctl.manager import Manager, ManagerConfig
from aimctl.reconcile import Result
from informers.handlers import InformerEvent
from informers.rest import WRITE_VERBS, RestClient
from informers.store import Obj
from metrics.registry import OperatorMetrics
from tests.support.echo_controller import ECHOES, EchoController, ensure_echo_crd
from tests.support.wait import wait_for


class TimedEcho(EchoController):
    """The Echo controller, recording when reconciles and child applies began, with the
    resourceVersion of the Echo they saw (several events may collapse into one reconcile)."""

    def __init__(self, manager: Manager) -> None:
        super().__init__(manager)
        self.starts: list[tuple[float, int]] = []
        self.applies: list[tuple[float, int]] = []
        self.count = 0
        self._seen = 0
        original_apply = self.applier.apply

        async def timed_apply(resource: Any, desired: Obj, cached: Obj | None = None, force: bool = True) -> Any:
            self.applies.append((time.perf_counter(), self._seen))
            return await original_apply(resource, desired, cached, force)

        self.applier.apply = timed_apply  # type: ignore[method-assign]

    async def reconcile(self, key: str) -> Result:
        self.count += 1
        obj = self.echoes.get(key)
        if obj is not None:
            self._seen = int(obj["metadata"]["resourceVersion"])
            self.starts.append((time.perf_counter(), self._seen))
        return await super().reconcile(key)


def first_after(records: list[tuple[float, int]], rv: int, since: float) -> float:
    """Time of the first record that saw resourceVersion ``rv`` or later (etcd revisions grow)."""
    return min(t for t, seen in records if seen >= rv and t >= since)


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def ms(values: list[float]) -> str:
    return f"p50 {pct(values, 50) * 1e3:7.2f} ms   p99 {pct(values, 99) * 1e3:7.2f} ms   (n={len(values)})"


def writes(metrics: OperatorMetrics) -> float:
    total = 0.0
    for family in metrics.registry.collect():
        if family.name == "aim_api_requests":
            total += sum(
                s.value for s in family.samples if s.name.endswith("_total") and s.labels["verb"] in WRITE_VERBS
            )
    return total


async def bench(kubeconfig: Path, updates: int, objects: int) -> None:
    admin = await new_client(ClientSettings(kubeconfig=kubeconfig, qps=0))
    ns = f"bench-{uuid.uuid4().hex[:6]}"
    await admin.request(
        "create", NAMESPACES.path(), body={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": ns}}
    )
    await ensure_echo_crd(admin)
    try:
        for workers in (1, 4):
            await run_once(kubeconfig, admin, ns, updates if workers == 1 else 0, objects, workers)
    finally:
        await admin.request("delete", NAMESPACES.path(None, ns))
        await admin.close()


async def run_once(kubeconfig: Path, admin: RestClient, ns: str, updates: int, objects: int, workers: int) -> None:
    metrics = OperatorMetrics()
    client = await new_client(ClientSettings(kubeconfig=kubeconfig), observer=metrics.api_observer)
    config = ManagerConfig(
        namespaces=[ns], leader_election=False, metrics_address=None, probe_address=None, default_workers=workers
    )
    manager = Manager(client, config, metrics)
    arrivals: dict[tuple[str, str], float] = {}

    def record(event: InformerEvent) -> None:
        arrivals.setdefault((event.key, event.obj["metadata"]["resourceVersion"]), time.perf_counter())

    manager.cache.informer(ECHOES).add_handler(record)
    ctrl = TimedEcho(manager)
    manager.add(ctrl)
    queue = manager.queues["echo"]

    def idle() -> bool:
        return len(queue) == 0 and not queue.stats().processing and queue.stats().waiting == 0

    async with anyio.create_task_group() as tg:
        await tg.start(manager.run)
        with anyio.fail_after(120):
            await manager.cache.wait_synced()

        if updates:
            name = "latency"
            key = f"{ns}/{name}"
            await admin.request(
                "apply",
                ECHOES.path(ns, name),
                query=[("fieldManager", "bench"), ("force", "true")],
                body={
                    "apiVersion": ECHOES.api_version,
                    "kind": "Echo",
                    "metadata": {"name": name, "namespace": ns},
                    "spec": {"data": {"i": "-1"}},
                },
            )
            await wait_for(
                lambda: (ctrl.echoes.get(key) or {}).get("status", {}).get("phase") == "Echoed" and idle(),
                timeout=30,
                what="the first Echo to converge",
                interval=0.01,
            )
            ev_to_rec: list[float] = []
            ev_to_write: list[float] = []
            patch_to_rec: list[float] = []
            for i in range(updates):
                await anyio.sleep(0.02)  # idle between changes
                sent = time.perf_counter()
                obj = await admin.request("patch", ECHOES.path(ns, name), body={"spec": {"data": {"i": str(i)}}})
                rv = int(obj["metadata"]["resourceVersion"])
                generation = obj["metadata"]["generation"]
                await wait_for(
                    lambda g=generation: (  # type: ignore[misc]
                        (ctrl.echoes.get(key) or {}).get("status", {}).get("observedGeneration") == g and idle()
                    ),
                    timeout=10,
                    what=f"the reconcile of generation {generation}",
                    interval=0.0005,
                )
                arrived = arrivals[(key, str(rv))]
                ev_to_rec.append(first_after(ctrl.starts, rv, arrived) - arrived)
                ev_to_write.append(first_after(ctrl.applies, rv, arrived) - arrived)
                patch_to_rec.append(first_after(ctrl.starts, rv, arrived) - sent)
            print(f"latency, idle, 1 worker, {updates} spec changes of one object:")
            print(f"  watch event -> reconcile start : {ms(ev_to_rec)}")
            print(f"  watch event -> first write sent: {ms(ev_to_write)}")
            print(f"  PATCH sent  -> reconcile start : {ms(patch_to_rec)}")

        names = [f"e{i:05d}" for i in range(objects)]
        existing = {o["metadata"]["name"] for o in ctrl.echoes.list(ns)}
        todo = [n for n in names if n not in existing]
        t0 = time.perf_counter()
        async with anyio.create_task_group() as creators:
            limiter = anyio.CapacityLimiter(16)

            async def create(n: str) -> None:
                async with limiter:
                    await admin.request(
                        "create",
                        ECHOES.path(ns),
                        body={
                            "apiVersion": ECHOES.api_version,
                            "kind": "Echo",
                            "metadata": {"name": n, "namespace": ns},
                            "spec": {"data": {"n": n}},
                        },
                    )

            for n in todo:
                creators.start_soon(create, n)
        keys = [f"{ns}/{n}" for n in names]

        def converged() -> bool:
            return all((ctrl.echoes.get(k) or {}).get("status", {}).get("phase") == "Echoed" for k in keys) and idle()

        await wait_for(converged, timeout=600, what="all Echo objects to converge", interval=0.1)
        if todo:
            print(
                f"converged {len(todo)} new Echo objects (1 child + 1 status + 1 event each) in "
                f"{time.perf_counter() - t0:.1f}s with {workers} worker(s)"
            )
        await anyio.sleep(1.0)
        before_writes = writes(metrics)
        before = ctrl.count
        rounds = 5
        t0 = time.perf_counter()
        for _ in range(rounds):
            for k in keys:
                queue.add(k)
            await wait_for(idle, timeout=120, what="the queue to drain", interval=0.001)
        elapsed = time.perf_counter() - t0
        done = ctrl.count - before
        print(
            f"no-op reconciles, {workers} worker(s), {objects} objects x {rounds} rounds: "
            f"{done / elapsed:8.0f} reconciles/s ({done} in {elapsed:.2f}s), "
            f"writes during the no-op phase: {writes(metrics) - before_writes:.0f}"
        )
        manager.request_stop()
    await client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--updates", type=int, default=300)
    parser.add_argument("--objects", type=int, default=1000)
    args = parser.parse_args()
    configure_logging("warning", "console")
    kubeconfig = args.kubeconfig
    if kubeconfig is None:
        from aimctl.devcluster.cluster import DevCluster

        cluster = DevCluster("test", log=lambda m: print(f"[cluster] {m}"))
        cluster.up()
        kubeconfig = cluster.kubeconfig
    anyio.run(bench, Path(kubeconfig), args.updates, args.objects, backend="asyncio")


if __name__ == "__main__":
    main()
