"""Read-your-writes of the reconcile pipeline over in-memory informers (the pure counterpart of
``tests/integration/test_read_your_writes.py``): a status write never puts an older spec into the
shared store, never resurrects a deleted key, never hides a status transition from other handlers —
and the controller still reads its own write before the watch delivers it."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

from aimctl.controllers.common import changed
from aimctl.controllers.runtimeconfig import RuntimeConfigController
from aimctl.kube.resources import AIM_RUNTIME_CONFIGS
from aimctl.manager import Manager, ManagerConfig
from informers.handlers import InformerEvent
from informers.informer import Informer
from informers.store import Obj

KEY = "ns/rc"


class Server:
    """A stand-in apiserver for status applies: bumps the resourceVersion and answers with the
    whole stored object; ``between`` runs after the write and before the answer is returned."""

    def __init__(self, obj: Obj) -> None:
        self.obj = copy.deepcopy(obj)
        self.between: Callable[[], None] = lambda: None
        self.status_writes = 0
        self.events = 0

    def bump(self) -> Obj:
        meta = self.obj["metadata"]
        meta["resourceVersion"] = str(int(meta["resourceVersion"]) + 1)
        return copy.deepcopy(self.obj)

    async def request(self, verb: str, path: str, **kwargs: Any) -> Any:
        if verb == "create" and path.endswith("/events"):
            self.events += 1
            return kwargs.get("body")
        assert verb == "apply" and path.endswith("/status"), (verb, path)
        self.obj["status"] = copy.deepcopy(kwargs["body"]["status"])
        self.status_writes += 1
        answer = self.bump()
        self.between()
        return answer


def runtime_config(rv: int = 10, storage_class: str = "before") -> Obj:
    return {
        "apiVersion": AIM_RUNTIME_CONFIGS.api_version,
        "kind": "AIMRuntimeConfig",
        "metadata": {"name": "rc", "namespace": "ns", "uid": "u1", "generation": 1, "resourceVersion": str(rv)},
        "spec": {"defaultStorageClassName": storage_class},
    }


def setup(obj: Obj) -> tuple[Server, RuntimeConfigController, Informer]:
    server = Server(obj)
    manager = Manager(server, ManagerConfig(leader_election=False))  # type: ignore[arg-type]
    controller = RuntimeConfigController(manager, namespaced=True)
    manager.add(controller)
    informer = manager.cache.informer(AIM_RUNTIME_CONFIGS)
    informer.apply("ADDED", copy.deepcopy(obj))
    return server, controller, informer


async def test_a_spec_change_during_the_status_write_stays_in_the_store() -> None:
    server, controller, informer = setup(runtime_config())

    def edit_and_deliver() -> None:
        written = copy.deepcopy(server.obj)
        informer.apply("MODIFIED", written)  # the status write's watch event
        server.obj["spec"]["defaultStorageClassName"] = "after"
        informer.apply("MODIFIED", server.bump())  # a user's edit and its event

    server.between = edit_and_deliver
    await controller.reconcile(KEY)
    cached = controller.store.get(KEY)
    assert cached is not None
    assert cached["spec"]["defaultStorageClassName"] == "after"
    assert cached == server.obj
    read = controller._read(KEY)
    assert read is not None and read["spec"]["defaultStorageClassName"] == "after"


async def test_a_key_deleted_during_the_status_write_is_not_resurrected() -> None:
    server, controller, informer = setup(runtime_config())
    server.between = lambda: informer.apply("DELETED", copy.deepcopy(server.obj))
    await controller.reconcile(KEY)
    assert controller.store.get(KEY) is None
    assert controller._read(KEY) is None
    await controller.reconcile(KEY)
    assert server.status_writes == 1


async def test_other_handlers_see_the_status_transition() -> None:
    server, controller, informer = setup(runtime_config())
    seen: list[InformerEvent] = []

    def handler(event: InformerEvent) -> None:
        if event.old is not None and changed(event, "status.conditions"):
            seen.append(event)

    informer.add_handler(handler)
    await controller.reconcile(KEY)
    assert not seen  # nothing is delivered but by the watch
    informer.apply("MODIFIED", copy.deepcopy(server.obj))  # the watch event of the write
    assert len(seen) == 1
    assert "status" not in seen[0].old  # type: ignore[operator]


async def test_the_controller_reads_its_own_write_until_the_watch_catches_up() -> None:
    server, controller, informer = setup(runtime_config())
    await controller.reconcile(KEY)
    assert (server.status_writes, server.events) == (1, 1)
    # The watch event has not arrived: the shared store is as the apiserver last sent it ...
    assert "status" not in controller.store.get(KEY)  # type: ignore[operator]
    # ... but the next reconcile decides from the written status: no second write, no second event.
    await controller.reconcile(KEY)
    assert (server.status_writes, server.events) == (1, 1)
    # An older event arriving late changes nothing either; the current one drops the overlay.
    informer.apply("MODIFIED", runtime_config(rv=10))
    await controller.reconcile(KEY)
    assert (server.status_writes, server.events) == (1, 1)
    informer.apply("MODIFIED", copy.deepcopy(server.obj))
    assert controller._read(KEY) == server.obj
    assert KEY not in controller._written
