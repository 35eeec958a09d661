"""A service deleted with its namespace while its status write is in flight is forgotten, not
retried forever (reproduced by a user, issue 11: "a service whose namespace was deleted stayed in the
operator's cache and was retried forever with growing backoff, 404 on its namespace").

Every AIM controller runs in-process against the real cluster (as ``aimctl run`` wires them), with
the simulated KServe controller. The user's set-up: a cluster image with a default cluster template,
which outlive the namespace — a service left in the cache stays deployable, and its InferenceService
apply fails on the vanished namespace at every retry. The race is made deterministic: the AIMService
controller's status writer is wrapped so that, for one write, the namespace is deleted and its
deletion reaches the cache after the apiserver stored the status and before the pipeline sees the
answer (a slow status response, as the chaos suite's delaying proxy makes one).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client

from aimctl.controllers.registry import controllers
from aimctl.kube.client import ClientSettings, new_client
from aimctl.manager import Manager, ManagerConfig
from informers.resource import Resource
from informers.rest import RestClient
from informers.store import Obj
from tests.support import aim, kube
from tests.support.discovery import unique
from tests.support.services import (
    OPERATOR_NAMESPACE,
    apply_all,
    cluster_objects,
    discovery_logs,
    image,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("aim_crds")


@pytest.fixture
async def rest(cluster: Any) -> AsyncIterator[RestClient]:
    c = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    try:
        yield c
    finally:
        await c.close()


async def ensure_namespace(api: client.ApiClient, name: str) -> None:
    try:
        await kube.create(
            api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
    except Exception as exc:
        if getattr(exc, "status", None) != 409:
            raise


async def namespace_gone(api: client.ApiClient, name: str) -> bool:
    try:
        await kube.get(api, f"/api/v1/namespaces/{name}")
    except Exception as exc:
        return getattr(exc, "status", None) == 404
    return False


async def test_a_service_deleted_with_its_namespace_during_a_status_write_leaves_cache_and_queue(
    api: client.ApiClient, rest: RestClient, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AIM_OPERATOR_NAMESPACE", OPERATOR_NAMESPACE)
    await ensure_namespace(api, OPERATOR_NAMESPACE)
    ns = f"t-ns-race-{int(time.time() * 1000) % 10**8}"
    await ensure_namespace(api, ns)
    await aim.apply(
        api, {"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMRuntimeConfig",
              "metadata": {"name": "default", "namespace": ns}, "spec": {}}
    )  # fmt: skip

    manager = Manager(rest, ManagerConfig(leader_election=False, metrics_address=None, probe_address=None))
    for controller in controllers(manager):
        manager.add(controller)
    services = next(c for c in manager.controllers if c.name == "aim-service")
    queue = manager.queues["aim-service"]
    key = f"{ns}/svc"
    armed = False
    raced: list[Obj] = []
    real = services.status_writer.apply_status  # type: ignore[attr-defined]

    async def apply_status(resource: Resource, cached: Obj, status: dict[str, Any]) -> Obj | None:
        nonlocal armed
        stored = await real(resource, cached, status)
        if armed and stored is not None and (cached.get("metadata") or {}).get("namespace") == ns:
            armed = False
            raced.append(stored)
            await kube.delete(api, f"/api/v1/namespaces/{ns}")
            await wait_for(lambda: services.store.get(key), lambda o: o is None, timeout=90,  # type: ignore[attr-defined]
                           what="the service's deletion to reach the cache")  # fmt: skip
        return stored

    services.status_writer.apply_status = apply_status  # type: ignore[attr-defined]

    img, tpl = unique("img-race"), unique("tpl-race")
    async with anyio.create_task_group() as tg, cluster_objects(api) as objs:
        await tg.start(manager.run)
        async with discovery_logs(api, OPERATOR_NAMESPACE, tmp_path):
            objs += [image(img, default=tpl), template(tpl, img)]
            await apply_all(api, *objs)
            await wait_template(api, objs[1], "Available", within=90)
        svc = service(ns, "svc", img)
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running", within=90)

        # A spec change: the InferenceService is re-applied, then the status (observedGeneration) is
        # written — and the namespace goes away while that write's answer is on its way.
        armed = True
        svc["spec"]["replicas"] = 2
        await aim.apply(api, svc)
        await wait_for(lambda: raced, bool, timeout=60, what="the raced status write")
        await wait_for(lambda: namespace_gone(api, ns), bool, timeout=120, what=f"namespace {ns} to be deleted")

        # The key leaves the cache and the queue: no retry is pending once the queue is idle. A retry
        # or a requeue-after would sit among the queue's delayed adds (``_waiting``: no public
        # accessor), so with none there and the key gone from the cache nothing can bring it back.
        await wait_for(
            lambda: {
                "cached": services.store.get(key) is not None,  # type: ignore[attr-defined]
                "requeues": queue.num_requeues(key),
                "processing": queue.stats().processing,
                "ready": len(queue),
                "delayed": key in queue._waiting,
            },
            lambda q: q == {"cached": False, "requeues": 0, "processing": 0, "ready": 0, "delayed": False},
            timeout=30,
            what=f"{key} to leave the cache and the queue",
        )
        assert services.store.get(key) is None  # type: ignore[attr-defined]
        assert queue.num_requeues(key) == 0, f"{key} is still retried ({queue.num_requeues(key)} retries)"
        manager.request_stop()
        tg.cancel_scope.cancel()
