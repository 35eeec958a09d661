"""Read-your-writes after a status write must not pollute the shared informer cache.

A real controller (the AIMRuntimeConfig one, which has no children) runs its reconcile pipeline
(:mod:`aimctl.controllers.base`) against the real apiserver with real informers. The status writer is
wrapped so that the tests can make something happen on the cluster *between* the write and the
moment the pipeline gets the answer — the races the issue describes, made deterministic:

* a spec change that arrives while the status write is in flight must stay in the cache;
* an object deleted while its status write is in flight must not come back into the cache;
* another handler of the same informer must see the status transition (``old`` without the status,
  ``new`` with it), as controllers' ``changed(old, new)`` predicates need.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import anyio
import pytest

from aimctl.controllers.common import changed
from aimctl.controllers.runtimeconfig import RuntimeConfigController
from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import AIM_RUNTIME_CONFIGS
from aimctl.manager import Manager, ManagerConfig
from informers.handlers import InformerEvent
from informers.resource import Resource
from informers.rest import RestClient
from informers.store import Obj
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("aim_crds")


@pytest.fixture
async def rest(cluster: Any) -> AsyncIterator[RestClient]:
    client = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


def runtime_config(namespace: str, name: str, storage_class: str) -> Obj:
    return {
        "apiVersion": AIM_RUNTIME_CONFIGS.api_version,
        "kind": AIM_RUNTIME_CONFIGS.kind,
        "metadata": {"name": name, "namespace": namespace},
        "spec": {"defaultStorageClassName": storage_class},
    }


def rv(obj: Obj | None) -> int:
    return int((obj or {}).get("metadata", {}).get("resourceVersion") or -1)


Hook = Callable[[Obj], Awaitable[None]]


def hook_status_writes(controller: RuntimeConfigController, after_write: Hook) -> list[Obj]:
    """Wrap the controller's status writer: ``after_write(stored)`` runs after the apiserver
    answered and before the pipeline sees the answer. Returns the list of answers."""
    real = controller.status_writer.apply_status
    answers: list[Obj] = []

    async def apply_status(resource: Resource, cached: Obj, status: dict[str, Any]) -> Obj | None:
        stored = await real(resource, cached, status)
        if stored is not None:
            answers.append(stored)
            await after_write(stored)
        return stored

    controller.status_writer.apply_status = apply_status  # type: ignore[method-assign]
    return answers


async def run_cache(manager: Manager, tg: anyio.abc.TaskGroup) -> None:
    tg.start_soon(manager.cache.run)
    with anyio.fail_after(30):
        await manager.cache.wait_synced()


async def watch_barrier(rest: RestClient, store: Any, namespace: str) -> None:
    """Create a marker object and wait until the cache has it: events of one watch arrive in order,
    so every earlier event of the namespace's runtime configs has reached the cache by then."""
    created = await rest.request(
        "create", AIM_RUNTIME_CONFIGS.path(namespace), body=runtime_config(namespace, "barrier", "x")
    )
    await wait_for(
        lambda: rv(store.get(f"{namespace}/barrier")),
        lambda cached: cached >= rv(created),
        timeout=30,
        what="the marker object to reach the cache (resourceVersion)",
    )


def new_controller(rest: RestClient, namespace: str) -> tuple[Manager, RuntimeConfigController]:
    manager = Manager(rest, ManagerConfig(namespaces=[namespace], leader_election=False))
    controller = RuntimeConfigController(manager, namespaced=True)
    manager.add(controller)  # registers the informers (no workers run: the tests reconcile by hand)
    return manager, controller


async def test_a_spec_change_during_a_status_write_stays_in_the_cache(rest: RestClient, namespace: str) -> None:
    await rest.request("create", AIM_RUNTIME_CONFIGS.path(namespace), body=runtime_config(namespace, "rc", "before"))
    manager, controller = new_controller(rest, namespace)
    key = f"{namespace}/rc"
    store = controller.store

    async def spec_changes_meanwhile(stored: Obj) -> None:
        # The status write is done; a user edits the spec, and the watch delivers both events (the
        # status write's and the edit's) before the pipeline resumes.
        patch = {"spec": {"defaultStorageClassName": "after"}}
        edited = await rest.request("patch", AIM_RUNTIME_CONFIGS.path(namespace, "rc"), body=patch)
        await wait_for(
            lambda: rv(store.get(key)),
            lambda cached: cached >= rv(edited),
            timeout=30,
            what="the spec edit to reach the cache (resourceVersion)",
        )

    async with anyio.create_task_group() as tg:
        await run_cache(manager, tg)
        answers = hook_status_writes(controller, spec_changes_meanwhile)
        await controller.reconcile(key)
        assert answers, "the first reconcile must write the status"
        await watch_barrier(rest, store, namespace)  # any later watch event of this object has arrived
        cached = store.get(key)
        assert cached is not None
        assert cached["spec"]["defaultStorageClassName"] == "after", (
            "the cache lost a spec change that arrived during a status write"
        )
        server = await rest.request("get", AIM_RUNTIME_CONFIGS.path(namespace, "rc"))
        assert rv(cached) == rv(server)
        # What the controller reads for its next reconcile is the new spec too.
        read = controller._read(key)
        assert read is not None and read["spec"]["defaultStorageClassName"] == "after"
        tg.cancel_scope.cancel()


async def test_an_object_deleted_during_a_status_write_does_not_come_back(rest: RestClient, namespace: str) -> None:
    await rest.request("create", AIM_RUNTIME_CONFIGS.path(namespace), body=runtime_config(namespace, "rc", "x"))
    manager, controller = new_controller(rest, namespace)
    key = f"{namespace}/rc"
    store = controller.store

    async def deleted_meanwhile(stored: Obj) -> None:
        await rest.request("delete", AIM_RUNTIME_CONFIGS.path(namespace, "rc"))
        await wait_for(
            lambda: store.get(key), lambda cached: cached is None, timeout=30, what="the deletion to reach the cache"
        )

    async with anyio.create_task_group() as tg:
        await run_cache(manager, tg)
        answers = hook_status_writes(controller, deleted_meanwhile)
        await controller.reconcile(key)
        assert answers, "the first reconcile must write the status"
        await watch_barrier(rest, store, namespace)  # any later watch event of this object has arrived
        assert store.get(key) is None, "a deleted object came back into the shared cache"
        assert controller._read(key) is None, "the controller still sees a deleted object"
        writes = controller.status_writer.written
        await controller.reconcile(key)
        assert controller.status_writer.written == writes, "a deleted object was reconciled again"
        tg.cancel_scope.cancel()


async def test_other_handlers_see_the_status_transition(rest: RestClient, namespace: str) -> None:
    names = [f"rc{i}" for i in range(5)]
    for name in names:
        await rest.request("create", AIM_RUNTIME_CONFIGS.path(namespace), body=runtime_config(namespace, name, "x"))
    manager, controller = new_controller(rest, namespace)
    informer = manager.cache.informer(AIM_RUNTIME_CONFIGS)
    seen: set[str] = set()

    def another_controllers_handler(event: InformerEvent) -> None:
        # What e.g. the service controller does with model caches: act on a status change only.
        if event.old is not None and changed(event, "status.conditions"):
            seen.add(event.key)

    informer.add_handler(another_controllers_handler)
    async with anyio.create_task_group() as tg:
        await run_cache(manager, tg)
        for name in names:
            await controller.reconcile(f"{namespace}/{name}")
        assert controller.status_writer.written == len(names)
        await wait_for(
            lambda: sorted(seen),
            lambda keys: len(keys) == len(names),
            timeout=30,
            what="every status transition to reach the other handler (keys seen)",
        )
        tg.cancel_scope.cancel()
