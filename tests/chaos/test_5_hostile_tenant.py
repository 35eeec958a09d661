"""Chaos scenario 5 — a hostile tenant among many.

The operator (leader election on) watches 25 namespaces. One tenant sets a runtime config
``routeTemplate`` with a catastrophic regex filter (``=~ "^(a+)+$"``) and labels a service with 37
characters, gives services 20 000 env values, and (in a second namespace) has a template whose
discovery prints JSON nested 100 000 deep. Meanwhile the other tenants create their services.

Proves: ``/healthz`` answers 200 within 5 s at every probe (once a second) throughout; the lease stays
with the one replica (never lost, no exit); the other tenants' services converge; the deeply nested
discovery output ends the template Failed (never a retry loop). A hostile object the apiserver refuses
(CRD validation) is a fine outcome and is printed.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio.client.rest import ApiException

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
from tests.sim.pod_logs import serve_logs
from tests.support import aim, kube
from tests.support import services as svc
from tests.support.discovery import one_model, state
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster

NAMESPACES = 25
FLEETS = 4
REGEX_TEMPLATE = '/{.metadata.labels[?(@ =~ "^(a+)+$")]}/x'
LEASE = "chaos-hostile"
ENV_VALUES, ENV_SERVICES = 20_000, 10


EXCLUSIVE = True  # its hostile objects load the apiserver itself: run alone


async def test_hostile_tenant(chaos_runs: ChaosRuns) -> None:
    await chaos_runs.result(__name__)


async def scenario(chaos: ChaosCluster, chaos_tmp: Path) -> None:
    count = size(100, 400)
    prefixes = ["hostile", "deep", *(f"tenant{i}" for i in range(FLEETS)),
                *(f"idle{i}" for i in range(NAMESPACES - 2 - FLEETS))]  # fmt: skip
    made: dict[str, str] = {}

    async def make(prefix: str) -> None:
        made[prefix] = await chaos.namespace(prefix)

    async with anyio.create_task_group() as namespaces:  # 25 namespaces at once, not one by one
        for prefix in prefixes:
            namespaces.start_soon(make, prefix)
    all_ns = [made[p] for p in prefixes]
    hostile, deep_ns = all_ns[0], all_ns[1]
    fleets = [Fleet(chaos, made[f"tenant{i}"], count // FLEETS) for i in range(FLEETS)]
    assert len(all_ns) == NAMESPACES
    failures: list[str] = []
    stop = anyio.Event()
    refusals: dict[str, str] = {}
    tenant_errors: list[str] = []
    phases = Phases("5 hostile tenant")

    async def hostile_apply(what: str, obj: dict[str, Any]) -> None:
        try:
            await aim.apply(chaos.api, obj)
        except ApiException as err:
            refusals[what] = f"{err.status}: {(err.body or '')[:300]}"

    try:
        async with operators(chaos, chaos_tmp) as start, anyio.create_task_group() as tg:
            op = await start(
                "hostile",
                ["--namespaces", ",".join(all_ns), "--leader-election-namespace", fleets[0].namespace,
                 "--leader-election-id", LEASE, "--leader-election-identity", "only"],
            )  # fmt: skip
            await op.wait_ready(300)
            phases.mark("operator ready (25 namespaces)")
            tg.start_soon(healthz_monitor, op, failures, stop)
            lease_path = f"/apis/coordination.k8s.io/v1/namespaces/{fleets[0].namespace}/leases/{LEASE}"

            # The hostile tenant (applied while the other tenants create theirs): a template that
            # discovers normally, the regex route template, a 37-character label, 20 000 env values; and
            # a template with deeply nested discovery output.
            deep_tpl = svc.template("deep", "img", deep_ns)

            async def hostile_objects() -> None:
                await serve_logs(chaos.api, hostile, one_model(), chaos.tmp)
                tpl = svc.template("tpl", "img", hostile)
                await svc.apply_all(chaos.api, svc.image("img", hostile), tpl)
                await hostile_apply("routeTemplate", svc.runtime_config(
                    "default", hostile, routing={"enabled": True, "gatewayRef": {"name": "gw"},
                                                 "routeTemplate": REGEX_TEMPLATE}))  # fmt: skip
                await hostile_apply("labelled service", svc.service(
                    hostile, "regex", "img", labels={"x": "a" * 36 + "b"}, templateRef="tpl"))  # fmt: skip
                # 20 000 distinct env values over 10 services (one object with all of them, and its
                # managedFields, is over etcd's 1.5 MiB request limit), 2 at a time.
                limiter = anyio.CapacityLimiter(2)

                async def env_service(k: int) -> None:
                    async with limiter:
                        env = [{"name": f"E{i:05d}", "value": f"v{k:02d}{i:05d}"}
                               for i in range(ENV_VALUES // ENV_SERVICES)]  # fmt: skip
                        await hostile_apply(
                            f"env-{k}", svc.service(hostile, f"env-{k}", "img", templateRef="tpl", env=env)
                        )

                async with anyio.create_task_group() as envs:
                    for k in range(ENV_SERVICES):
                        envs.start_soon(env_service, k)
                phases.mark("hostile objects applied")

            async def deep_objects() -> None:
                deep = "[" * 100_000 + "]" * 100_000
                await serve_logs(chaos.api, deep_ns, deep, chaos.tmp)
                await svc.apply_all(chaos.api, svc.image("img", deep_ns), deep_tpl)

            # The other tenants.
            t0 = time.monotonic()
            async with anyio.create_task_group() as tenants:
                tenants.start_soon(hostile_objects)
                tenants.start_soon(deep_objects)
                for f in fleets:

                    async def one(f: Fleet = f) -> None:
                        try:
                            await f.prepare()
                        except AssertionError as err:  # reported with the figures, asserted below
                            tenant_errors.append(f"{f.namespace}: {err}")
                            return
                        await f.create()

                    tenants.start_soon(one)
            failed = {e.split(":")[0] for e in tenant_errors}
            results: list[Convergence] = []
            for i, f in enumerate(fleets):
                what = f"tenant {f.namespace} to converge"
                if f.namespace in failed:
                    results.append(Convergence(what, 0, None, ["its template never became Available"]))
                else:
                    results.append(await f.converge(300 if i == 0 else 60, what))
            converge = time.monotonic() - t0
            phases.mark("tenants: templates, services, convergence")

            def settled(o: dict[str, Any]) -> bool:
                return state(o) in ("Failed", "Available")

            deep_obj: dict[str, Any] = {}
            try:
                deep_obj = await wait_for(lambda: aim.get(chaos.api, deep_tpl), settled, timeout=120,
                                          what="the deeply nested template to settle")  # fmt: skip
            except AssertionError:
                deep_obj = await aim.get(chaos.api, deep_tpl)
            phases.mark("deeply nested template settled")
            try:
                lease: dict[str, Any] = await kube.get(chaos.api, lease_path)
            except ApiException as err:
                if err.status != 404:
                    raise
                lease = {"spec": {}}  # never acquired: asserted below, after the figures
            stop.set()
            figure(
                "5 hostile tenant",
                namespaces=len(all_ns),
                services=sum(f.count for f in fleets),
                tenants_converge_s=converge,
                tenants_converged=sum(r.ok for r in results),
                tenant_errors=[e[:200] for e in tenant_errors],
                list_watch_failures=sum(e.get("event") == "list/watch failed; backing off" for e in op.log_events()),
                healthz_failures=len(failures),
                lease_holder=lease["spec"].get("holderIdentity"),
                lease_transitions=lease["spec"].get("leaseTransitions", 0),
                deep_template=state(deep_obj),
                refused=refusals,
                operator_writes=len([w for w in chaos.writes(user=op.user) if w.ok]),
                unexpected_exits=op.unexpected_exits,
            )
            assert not tenant_errors, f"the other tenants' templates never became Available: {tenant_errors}"
            for r in results:
                assert r.ok, r.message()
            assert failures == [], f"/healthz failed {len(failures)} time(s): {failures[:5]}"
            assert op.unexpected_exits == 0 and not any(
                str(e.get("event", "")).startswith("lost the lease") for e in op.log_events()
            ), f"the replica lost its lease or exited: exits {op.exit_codes}"
            assert lease["spec"].get("holderIdentity") == "only", f"the lease is held by {lease['spec']}"
            assert lease["spec"].get("leaseTransitions", 0) == 0, "the lease changed hands"
            assert state(deep_obj) == "Failed", f"deeply nested discovery output left the template {state(deep_obj)}"
    finally:
        async with anyio.create_task_group() as dropping:  # 25 at once, not one by one
            for ns in all_ns:
                dropping.start_soon(chaos.drop_namespace, ns)
