"""The reflector's handling of decoded watch events and of errors (no network)."""

from __future__ import annotations

from typing import Any

import pytest

from informers.handlers import EventType, InformerEvent, controller_owner_key, indexed_keys, self_key
from informers.indexers import by_field
from informers.informer import Informer
from informers.reflector import Reflector
from informers.resource import Resource
from informers.rest import ApiError
from informers.store import Obj

CM = Resource("", "v1", "configmaps", "ConfigMap")


class Sink:
    def __init__(self) -> None:
        self.applied: list[tuple[str, str]] = []

    def replace(self, objs: list[Obj], namespace: str | None, initial: bool) -> None:
        raise AssertionError("not expected")

    def apply(self, event_type: str, obj: Obj) -> None:
        self.applied.append((event_type, obj["metadata"]["name"]))


def cm(name: str, rv: str, ns: str = "ns", **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": name, "namespace": ns, "resourceVersion": rv, **meta},
    }


def make() -> tuple[Reflector, Sink]:
    sink = Sink()
    r = Reflector(client=None, resource=CM, sink=sink)  # type: ignore[arg-type]
    r.last_resource_version = "1"
    return r, sink


def test_events_advance_resource_version_and_reach_the_sink() -> None:
    r, sink = make()
    r._handle({"type": "ADDED", "object": cm("a", "5")})
    r._handle({"type": "MODIFIED", "object": cm("a", "6")})
    r._handle({"type": "DELETED", "object": cm("a", "7")})
    assert sink.applied == [("ADDED", "a"), ("MODIFIED", "a"), ("DELETED", "a")]
    assert r.last_resource_version == "7"


def test_bookmark_only_moves_resource_version() -> None:
    r, sink = make()
    r._handle({"type": "BOOKMARK", "object": {"kind": "ConfigMap", "metadata": {"resourceVersion": "42"}}})
    assert sink.applied == []
    assert r.last_resource_version == "42"


def test_error_event_410_is_gone() -> None:
    r, _ = make()
    with pytest.raises(ApiError) as info:
        r._handle(
            {
                "type": "ERROR",
                "object": {
                    "kind": "Status",
                    "code": 410,
                    "reason": "Expired",
                    "message": "too old resource version: 1 (5)",
                },
            }
        )
    assert info.value.gone
    assert r.last_resource_version == "1", "an error must not move the resume point"


def test_malformed_events_raise() -> None:
    r, _ = make()
    with pytest.raises(ValueError, match="malformed"):
        r._handle({"type": "ADDED", "object": "nope"})
    with pytest.raises(ValueError, match="unknown watch event"):
        r._handle({"type": "WHATEVER", "object": cm("a", "2")})


def test_too_large_resource_version_is_recognised() -> None:
    err = ApiError.from_status(
        {"code": 504, "reason": "Timeout", "message": "Too large resource version: 9, current: 3"}
    )
    assert err.too_large_resource_version and not err.gone


def test_informer_dispatches_diff_of_a_relist_and_watch_events() -> None:
    inf = Informer(client=None, resource=CM)  # type: ignore[arg-type]
    seen: list[tuple[EventType, str, bool]] = []
    inf.add_handler(lambda e: seen.append((e.type, e.key, e.initial)))
    inf.replace([cm("a", "1"), cm("b", "1")], None, initial=True)
    inf.apply("MODIFIED", cm("a", "2", managedFields=[{"m": 1}]))
    assert "managedFields" not in inf.store.get("ns/a")["metadata"]  # type: ignore[index]
    inf.apply("DELETED", cm("b", "3"))
    inf.replace([cm("a", "2"), cm("c", "4")], None, initial=False)  # relist: a unchanged, c new
    assert seen == [
        (EventType.ADDED, "ns/a", True),
        (EventType.ADDED, "ns/b", True),
        (EventType.MODIFIED, "ns/a", False),
        (EventType.DELETED, "ns/b", False),
        (EventType.ADDED, "ns/c", False),
    ]
    late: list[str] = []
    inf.add_handler(lambda e: late.append(e.key))
    assert sorted(late) == ["ns/a", "ns/c"], "a late handler is told about cached objects"


def test_handler_exception_does_not_stop_dispatch() -> None:
    inf = Informer(client=None, resource=CM)  # type: ignore[arg-type]
    seen: list[str] = []

    def boom(e: InformerEvent) -> None:
        raise RuntimeError("handler bug")

    inf.add_handler(boom)
    inf.add_handler(lambda e: seen.append(e.key))
    inf.apply("ADDED", cm("a", "1"))
    assert seen == ["ns/a"]


def test_key_mappers() -> None:
    child = cm(
        "c",
        "1",
        ownerReferences=[
            {"apiVersion": "v1", "kind": "Other", "name": "x", "uid": "1", "controller": False},
            {
                "apiVersion": "aim.silogen.ai/v1alpha1",
                "kind": "AIMService",
                "name": "svc",
                "uid": "2",
                "controller": True,
            },
        ],
    )
    ev = InformerEvent(EventType.ADDED, CM, child)
    assert self_key(ev) == ["ns/c"]
    assert controller_owner_key("AIMService", "aim.silogen.ai")(ev) == ["ns/svc"]
    assert controller_owner_key("AIMService", "other.group")(ev) == []
    services = Informer(client=None, resource=CM, indexers={"tpl": by_field("spec.templateRef")})  # type: ignore[arg-type]
    services.store.upsert({**cm("s1", "1"), "spec": {"templateRef": "t"}})
    services.store.upsert({**cm("s2", "1"), "spec": {"templateRef": "u"}})
    mapper = indexed_keys(
        services.store, "tpl", lambda e: [f"{e.obj['metadata']['namespace']}/{e.obj['metadata']['name']}"]
    )
    assert mapper(InformerEvent(EventType.MODIFIED, CM, cm("t", "2"))) == ["ns/s1"]


def test_resource_paths() -> None:
    assert CM.path() == "/api/v1/configmaps"
    assert CM.path("ns") == "/api/v1/namespaces/ns/configmaps"
    assert CM.path("ns", "a", "status") == "/api/v1/namespaces/ns/configmaps/a/status"
    node = Resource("", "v1", "nodes", "Node", namespaced=False)
    assert node.path("ignored", "n1") == "/api/v1/nodes/n1"
    svc = Resource("aim.silogen.ai", "v1alpha1", "aimservices", "AIMService")
    assert svc.path("ns", "x") == "/apis/aim.silogen.ai/v1alpha1/namespaces/ns/aimservices/x"
    assert svc.api_version == "aim.silogen.ai/v1alpha1"
    with pytest.raises(ValueError, match="is namespaced"):
        svc.path(None, "x")


async def test_a_full_resync_yields_to_the_loop_between_batches() -> None:
    """A re-acquired lease replays every cached object (10 000 services: seconds of work); before,
    that ran in one synchronous step and starved the new term's lease renewals. Now it yields every
    RESYNC_BATCH objects, and every object is still replayed once, as a low-priority MODIFIED."""
    import anyio

    from informers.informer import RESYNC_BATCH

    inf = Informer(client=None, resource=CM)  # type: ignore[arg-type]
    count = RESYNC_BATCH * 5
    inf.replace([cm(f"o{i}", "1") for i in range(count)], None, initial=True)
    replayed: list[str] = []
    inf.add_handler(lambda e: replayed.append(e.key) if e.type is EventType.MODIFIED and e.initial else None)
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await anyio.lowlevel.checkpoint()

    async with anyio.create_task_group() as tg:
        tg.start_soon(ticker)
        await anyio.lowlevel.checkpoint()
        before = ticks
        await inf.resync_yielding()
        during = ticks - before
        tg.cancel_scope.cancel()
    assert sorted(replayed) == sorted(f"ns/o{i}" for i in range(count))
    assert during >= 4, f"other tasks ran only {during} times during a replay of {count} objects"
