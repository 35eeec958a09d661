"""Fixtures of the chaos suite: one private cluster (audit log on) for the whole suite, its admin client
with the AIM CRDs, the KServe stand-in, and the scheduler that runs the scenarios; see harness.py.

**KServe.** The cluster runs *without* KServe's controller: the stand-in
:mod:`tests.sim.inferenceservice_ready_on_sight` marks every InferenceService Ready once it exists (as
the scale benchmark does). What the suite proves is the operator's behaviour under faults — its
writes, its children, its convergence, its exits — and at 100 services a scenario the real KServe
(Deployments, pods from kwok, status roll-ups) took most of each convergence; the e2e tests keep
testing the operator against the real KServe.

**Concurrency** (by default; ``AIMCTL_CHAOS_PARALLEL=0`` runs them one at a time). Scenarios marked
``EXCLUSIVE = False`` in their module (each has namespaces, operator processes and fault proxies of
its own) run at the same time; the exclusive ones run alone after them, one at a time (scenario 5,
whose hostile objects load the apiserver itself; scenario 6, which restarts the apiserver and etcd).
The fault proxies and the KServe stand-in share the test process: on an oversubscribed machine their
lag under four scenarios at once can reach the scenarios' own windows, hence the switch.

Each test waits for its scenario's outcome and raises its exception, so a failure is reported by the
scenario's own test. Only the selected tests' scenarios run (``pytest tests/chaos/test_3_leadership.py``
runs scenario 3 alone).
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client, config

from tests.chaos.harness import OPERATOR_NAMESPACE, ChaosCluster, ChaosRuns, Outcome
from tests.sim.inferenceservice_ready_on_sight import ReadyOnSight
from tests.support import kube
from tests.support.aim_crds import install_aim_crds
from tests.support.ports import free_port_base

Scenario = Callable[[ChaosCluster, Path], Awaitable[None]]


@pytest.fixture(scope="session")
def chaos_local(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    """The chaos suite's own cluster: scenarios run operators of their own, delete CRDs and restart
    etcd and the apiserver, none of which may touch the session's shared cluster."""
    if os.environ.get("AIMCTL_TEST_CLUSTER") == "external":
        pytest.skip("the chaos suite needs the local development cluster (restarts, audit log)")
    from aimctl.devcluster.cluster import DevCluster

    name = f"chaos-{os.getpid()}"
    # AIMCTL_CHAOS_PORT_BASE pins the port range (e.g. one reserved for you on a shared machine).
    base = int(os.environ["AIMCTL_CHAOS_PORT_BASE"]) if os.environ.get("AIMCTL_CHAOS_PORT_BASE") else free_port_base()
    local = DevCluster(name, port_base=base, log=lambda m: print(f"[{name}] {m}"), audit_log=True, kserve=False)
    try:
        started = time.monotonic()
        local.up()
        print(f"[chaos phase] suite: cluster up took {time.monotonic() - started:.1f} s", flush=True)
        yield local
    finally:
        local.destroy()


@pytest.fixture(scope="session")
async def chaos(chaos_local: Any, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[ChaosCluster]:
    cfg = client.Configuration()
    await config.load_kube_config(config_file=str(chaos_local.kubeconfig), client_configuration=cfg)
    tmp = tmp_path_factory.mktemp("chaos")
    async with client.ApiClient(cfg) as api:
        await install_aim_crds(api)
        await kube.create(
            api,
            "/api/v1/namespaces",
            {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": OPERATOR_NAMESPACE}},
        )
        # A task, not a task group: pytest-asyncio tears a fixture down in another task.
        standin = asyncio.get_running_loop().create_task(ReadyOnSight(api).run())
        try:
            yield ChaosCluster(chaos_local, api, tmp)
        finally:
            standin.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await standin


@pytest.fixture(scope="session")
async def chaos_runs(
    chaos: ChaosCluster, request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[ChaosRuns]:
    selected = {getattr(item, "module", None) for item in request.session.items if "tests/chaos/" in str(item.fspath)}
    names = sorted(m.__name__ for m in selected if m is not None)  # scenario order: 1 … 6
    modules = {name: importlib.import_module(name) for name in names}
    scenarios = {name: m for name, m in modules.items() if hasattr(m, "scenario")}
    outcomes = {name: Outcome() for name in scenarios}
    suite_start = time.monotonic()

    async def run(name: str) -> None:
        outcome = outcomes[name]
        tmp = tmp_path_factory.mktemp(name.rsplit(".", 1)[-1])
        started = time.monotonic()
        try:
            await scenarios[name].scenario(chaos, tmp)
        except BaseException as exc:  # re-raised by the scenario's test (cancellation too)
            outcome.error = exc
            if not isinstance(exc, Exception):
                raise
        finally:
            outcome.seconds = time.monotonic() - started
            short = name.rsplit(".", 1)[-1]
            print(f"[chaos phase] {short}: took {outcome.seconds:.1f} s in all "
                  f"(ended {time.monotonic() - suite_start:.1f} s into the suite)", flush=True)  # fmt: skip
            outcome.done.set()

    async def schedule() -> None:
        parallel = os.environ.get("AIMCTL_CHAOS_PARALLEL", "1") != "0"
        shared = [n for n in scenarios if parallel and not getattr(scenarios[n], "EXCLUSIVE", False)]
        exclusive = [n for n in scenarios if n not in shared]
        async with anyio.create_task_group() as group:
            for n in shared:
                group.start_soon(run, n)
        for n in exclusive:
            await run(n)

    task = asyncio.get_running_loop().create_task(schedule())
    try:
        yield ChaosRuns(outcomes)
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
