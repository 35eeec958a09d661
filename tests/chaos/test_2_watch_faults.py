"""Chaos scenario 2 — oversized and lagging watches.

1. A pull Secret (``kubernetes.io/dockerconfigjson``, a kind the operator watches — and keeps watching
   once it narrows its Secret watch to pull-secret types) grows to ≈800 KB while the watch runs: its
   watch event is one line of ≈1 MB. (aiohttp's ``readline()`` refuses a line longer than twice the
   session's ``read_bufsize``; kubernetes_asyncio sets 2 MiB, so the limit is 4 MiB — above anything
   etcd stores, whose request limit is 1.5 MiB. The scenario checks the event did reach the watch.)
2. For :data:`FAULT_SECONDS` (8 s; 20 s at full size) the fault proxy answers every watch with an
   ``ERROR`` event of 410 Gone; then as long with 504 "Too large resource version" (how the apiserver
   refuses a resourceVersion it has not seen).

Proves: the operator never exits and ``/healthz`` answers; after each fault a spec change of every
service converges; relists back off — at most :data:`MAX_LISTS_PER_RESOURCE` lists by any one
informer during each fault (client-go's reflector backs off 0.8 s → 30 s: about 4 lists in 8 s; a reflector
that relists at once makes hundreds).
"""

from __future__ import annotations

import base64
import collections
import json
import time
from pathlib import Path

import anyio
import pytest

from tests.chaos.harness import (
    ChaosCluster,
    ChaosRuns,
    Convergence,
    Fleet,
    Phases,
    figure,
    healthz_monitor,
    operators,
    size,
)
from tests.support import kube
from tests.support.fault_proxy import Rule

pytestmark = pytest.mark.cluster

# Each fault lasts long enough for several relist-and-back-off cycles (client-go's reflector lists at
# 0, 0.8, 2.4, 5.6 s ... under a lasting fault: four lists in 8 s, against hundreds without backoff).
FAULT_SECONDS = size(8.0, 20.0)
# Lists of one informer during a fault: above what a backing-off reflector makes in the window (0,
# 0.8, 2.4, 5.6 s: 4 in 8 s; 6 in 20 s); one that retries every second makes 8-9 in 8 s, one that
# relists at once hundreds.
MAX_LISTS_PER_RESOURCE = size(8, 15)


def pull_secret(ns: str, padding: int) -> dict[str, object]:
    config = {"auths": {"registry.example:5000": {"auth": base64.b64encode(b"u:p").decode()}},
              "padding": "p" * padding}  # fmt: skip
    return {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "big-pull", "namespace": ns},
            "type": "kubernetes.io/dockerconfigjson",
            "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()}}  # fmt: skip


def informer(path: str, query: dict[str, str]) -> str:
    """What one informer lists: a path and its selectors."""
    selectors = "&".join(f"{k}={query[k]}" for k in ("fieldSelector", "labelSelector") if query.get(k))
    return f"{path}?{selectors}" if selectors else path


async def bump_all(fleet: Fleet, value: str) -> None:
    base = f"/apis/aim.silogen.ai/v1alpha1/namespaces/{fleet.namespace}/aimservices"
    limiter = anyio.CapacityLimiter(16)

    async def one(name: str) -> None:
        async with limiter:
            patch = {"spec": {"env": [{"name": "PHASE", "value": value}]}}
            await kube.request(fleet.api, "PATCH", f"{base}/{name}", patch, "application/merge-patch+json")

    async with anyio.create_task_group() as tg:
        for n in fleet.live():
            tg.start_soon(one, n)


EXCLUSIVE = False


async def test_oversized_and_lagging_watches(chaos_runs: ChaosRuns) -> None:
    await chaos_runs.result(__name__)


async def scenario(chaos: ChaosCluster, chaos_tmp: Path) -> None:
    count = size(100, 400)
    ns = await chaos.namespace("watch")
    fleet = Fleet(chaos, ns, count)
    secrets = f"/api/v1/namespaces/{ns}/secrets"
    await kube.create(chaos.api, secrets, pull_secret(ns, 10))
    failures: list[str] = []
    stop = anyio.Event()
    phases = Phases("2 watches")
    try:
        async with operators(chaos, chaos_tmp) as start, anyio.create_task_group() as tg:
            op = await start("watch", ["--no-leader-elect", "--namespaces", ns])
            await op.wait_ready()
            tg.start_soon(healthz_monitor, op, failures, stop)
            phases.mark("operator ready")
            await fleet.prepare()
            phases.mark("image and template (discovery)")
            await fleet.create()
            initial = await fleet.wait_converged(300, "the fleet to converge before the faults")
            phases.mark("create and initial convergence")

            # 1. An ≈800 KB pull Secret change while the watch runs.
            watched = f"/api/v1/namespaces/{ns}/secrets"
            before = op.proxy.watch_bytes.get(watched, 0) + op.proxy.watch_bytes.get("/api/v1/secrets", 0)
            await kube.apply(chaos.api, f"{secrets}/big-pull", pull_secret(ns, 800_000))

            def relayed_bytes() -> int:
                return op.proxy.watch_bytes.get(watched, 0) + op.proxy.watch_bytes.get("/api/v1/secrets", 0) - before

            for _ in range(150):  # up to 30 s, until the event has crossed the proxy (asserted below)
                if relayed_bytes() > 1_000_000:
                    break
                await anyio.sleep(0.2)
            relayed = relayed_bytes()
            await bump_all(fleet, "after-large-event")
            after_large = await fleet.converge(300, "the fleet to converge after the large watch event")
            phases.mark("large watch event and convergence")

            # 2. Watches answered 410 Gone, then 504 Too large resource version.
            lists: dict[str, dict[str, int]] = {}
            converge: dict[str, Convergence] = {}
            cut: dict[str, int] = {}
            faults = {
                "410 Gone": Rule("watch 410", watch=True, watch_error=410, reason="Expired",
                                 message="too old resource version: 1 (2)"),
                "too large RV": Rule("watch too large RV", watch=True, status=504, reason="Timeout",
                                     message="Too large resource version: 999999999, current: 1",
                                     cause="ResourceVersionTooLarge", retry_after=1),
            }  # fmt: skip
            for name, rule in faults.items():
                since = time.monotonic()
                op.proxy.add(rule)
                cut[name] = op.proxy.close_watches()  # established watches meet the fault at once
                await anyio.sleep(FAULT_SECONDS)
                op.proxy.remove(rule)
                # Per informer: a resource watched with two selectors (e.g. Secrets by type) is two.
                per_resource = collections.Counter(
                    informer(r.path, r.query) for r in op.proxy.records if r.at >= since and r.list
                )
                lists[name] = dict(per_resource)
                await bump_all(fleet, name)
                converge[name] = await fleet.converge(300, f"the fleet to converge after {name}")
                phases.mark(f"{name} and convergence")
            stop.set()

            figure(
                "2 watches",
                services=count,
                initial_converge_s=initial,
                large_event_bytes_relayed=relayed,
                converge_after_large_event_s=after_large.figure,
                watches_cut=cut,
                converge_after_410_s=converge["410 Gone"].figure,
                converge_after_too_large_rv_s=converge["too large RV"].figure,
                lists_during_410=sum(lists["410 Gone"].values()),
                max_lists_one_resource_410=max(lists["410 Gone"].values(), default=0),
                lists_during_too_large=sum(lists["too large RV"].values()),
                max_lists_one_resource_too_large=max(lists["too large RV"].values(), default=0),
                operator_writes=len([w for w in chaos.writes(user=op.user) if w.ok]),
                healthz_failures=len(failures),
                unexpected_exits=op.unexpected_exits,
            )
            assert relayed > 1_000_000, f"the large Secret event did not reach the operator's watch ({relayed} bytes)"
            assert op.unexpected_exits == 0, f"the operator exited on its own: {op.exit_codes}"
            for result in (after_large, *converge.values()):
                assert result.ok, result.message()
            assert failures == [], f"/healthz failed: {failures[:5]}"
            for name, per_resource in lists.items():
                worst = {p: n for p, n in per_resource.items() if n > MAX_LISTS_PER_RESOURCE}
                assert not worst, (
                    f"relists did not back off during {FAULT_SECONDS:.0f} s of {name}: lists per resource {worst}"
                )
    finally:
        await chaos.drop_namespace(ns)
