"""The reflector against a real apiserver: restarts, compaction (410 → relist), silent watches.

"No event is lost" is checked the level-triggered way a controller needs it: every object created,
modified or deleted while the watch was broken produces the matching handler event, and afterwards
the informer's store equals a fresh list from the apiserver, resourceVersion for resourceVersion.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest

from aimctl.kube.client import ClientSettings, load_configuration, new_client
from aimctl.kube.resources import CONFIG_MAPS
from aimctl.kube.transport import ApiTransport
from informers.handlers import EventType, InformerEvent
from informers.informer import Informer
from informers.rest import RestClient
from tests.support.tcp_proxy import FreezableProxy
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture
async def rest(cluster: Any) -> AsyncIterator[RestClient]:
    client = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


class Recorder:
    """Every event the informer dispatched, in order."""

    def __init__(self) -> None:
        self.events: list[InformerEvent] = []

    def __call__(self, event: InformerEvent) -> None:
        self.events.append(event)

    def saw(self, etype: EventType, name: str, data: dict[str, str] | None = None) -> bool:
        return any(
            e.type == etype and e.obj["metadata"]["name"] == name and (data is None or e.obj.get("data") == data)
            for e in self.events
        )

    def summary(self) -> list[tuple[str, str, Any]]:
        """(type, name, data) of every event so far: what a failed wait shows."""
        return [(str(e.type), e.obj["metadata"]["name"], e.obj.get("data")) for e in self.events]


def cm(ns: str, name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": ns}, "data": {"v": value}}


async def put(client: RestClient, ns: str, name: str, value: str) -> None:
    await client.request(
        "apply",
        CONFIG_MAPS.path(ns, name),
        query=[("fieldManager", "test"), ("force", "true")],
        body=cm(ns, name, value),
    )


async def server_state(client: RestClient, ns: str) -> dict[str, str]:
    listing = await client.request("list", CONFIG_MAPS.path(ns))
    return {i["metadata"]["name"]: i["metadata"]["resourceVersion"] for i in listing["items"]}


def store_state(informer: Informer, ns: str) -> dict[str, str]:
    return {o["metadata"]["name"]: o["metadata"]["resourceVersion"] for o in informer.store.list(ns)}


async def converged(informer: Informer, client: RestClient, ns: str, timeout: float = 60) -> None:  # noqa: ASYNC109
    async def both() -> dict[str, dict[str, str]]:
        return {"store": store_state(informer, ns), "server": await server_state(client, ns)}

    await wait_for(
        both,
        lambda seen: seen["store"] == seen["server"],
        timeout=timeout,
        what="the store to equal a fresh list from the apiserver (name: resourceVersion)",
    )


async def test_watch_survives_apiserver_restart(cluster: Any, rest: RestClient, namespace: str) -> None:
    for i in range(3):
        await put(rest, namespace, f"before-{i}", "0")
    informer = Informer(rest, CONFIG_MAPS, namespaces=[namespace])
    rec = Recorder()
    informer.add_handler(rec)
    async with anyio.create_task_group() as tg:
        tg.start_soon(informer.run)
        with anyio.fail_after(30):
            await informer.wait_synced()
        await put(rest, namespace, "before-0", "1")
        await wait_for(rec.summary, lambda _: rec.saw(EventType.MODIFIED, "before-0", {"v": "1"}), timeout=10,
                       what="the pre-restart update (events seen)")  # fmt: skip

        await cluster.restart_apiserver()

        await put(rest, namespace, "after", "0")
        await put(rest, namespace, "before-1", "2")
        await rest.request("delete", CONFIG_MAPS.path(namespace, "before-2"))
        await wait_for(
            rec.summary,
            lambda _: (
                rec.saw(EventType.ADDED, "after")
                and rec.saw(EventType.MODIFIED, "before-1", {"v": "2"})
                and rec.saw(EventType.DELETED, "before-2")
            ),
            timeout=60,
            what="the post-restart changes (events seen)",
        )
        await converged(informer, rest, namespace)
        reflector = informer.reflectors[0]
        assert reflector.errors + reflector.relists >= 1, "the restart was not noticed at all"
        tg.cancel_scope.cancel()


async def test_relists_after_compaction_past_its_resource_version(
    cluster: Any, rest: RestClient, namespace: str
) -> None:
    for name in ("keep", "modify", "delete"):
        await put(rest, namespace, name, "0")
    informer = Informer(rest, CONFIG_MAPS, namespaces=[namespace])
    rec = Recorder()
    informer.add_handler(rec)
    reflector = informer.reflectors[0]
    # Phase 1: sync, then stop watching (as if the connection had dropped).
    async with anyio.create_task_group() as tg:
        tg.start_soon(informer.run)
        with anyio.fail_after(30):
            await informer.wait_synced()
        tg.cancel_scope.cancel()
    stale_rv = int(reflector.last_resource_version or 0)
    # Phase 2: changes the informer does not see, then history is compacted past its resourceVersion
    # and the apiserver restarted, so its watch cache cannot serve the old revision either.
    await put(rest, namespace, "modify", "1")
    await put(rest, namespace, "create", "0")
    await rest.request("delete", CONFIG_MAPS.path(namespace, "delete"))
    compacted_at = await cluster.compact_etcd()
    assert compacted_at > stale_rv
    await cluster.restart_apiserver()
    relists_before = reflector.relists
    # Phase 3: resume from the stale resourceVersion: 410 Gone → relist → events for the diff.
    async with anyio.create_task_group() as tg:
        tg.start_soon(informer.run)
        await wait_for(
            rec.summary,
            lambda _: (
                rec.saw(EventType.ADDED, "create")
                and rec.saw(EventType.MODIFIED, "modify", {"v": "1"})
                and rec.saw(EventType.DELETED, "delete")
            ),
            timeout=60,
            what="the changes made while disconnected (events seen)",
        )
        await converged(informer, rest, namespace)
        assert reflector.relists > relists_before, "resuming from a compacted revision must relist"
        tg.cancel_scope.cancel()
    keep_events = [e for e in rec.events if e.obj["metadata"]["name"] == "keep"]
    assert [e.type for e in keep_events] == [EventType.ADDED], "an unchanged object must not be re-announced"


async def test_silent_watch_is_detected_by_the_watchdog(cluster: Any, namespace: str) -> None:
    cfg = await load_configuration(cluster.kubeconfig)
    host, _, port = cfg.host.rpartition(":")
    proxy = FreezableProxy(host.removeprefix("https://"), int(port))
    async with anyio.create_task_group() as tg:
        proxy_port = await tg.start(proxy.serve)
        cfg.host = f"https://127.0.0.1:{proxy_port}"
        via_proxy = RestClient(ApiTransport(cfg), own_client=True)
        direct = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
        try:
            # 3 s of silence counts as dead here (90 s in production); the freeze lasts longer.
            informer = Informer(via_proxy, CONFIG_MAPS, namespaces=[namespace], inactivity_timeout=3.0)
            rec = Recorder()
            informer.add_handler(rec)
            tg.start_soon(informer.run)
            with anyio.fail_after(30):
                await informer.wait_synced()
            await put(direct, namespace, "a", "0")
            await wait_for(rec.summary, lambda _: rec.saw(EventType.ADDED, "a"), timeout=10,
                           what="an event through the proxy (events seen)")  # fmt: skip
            reflector = informer.reflectors[0]
            timeouts_before = reflector.watchdog_timeouts

            proxy.freeze_existing()  # the open watch now receives nothing, and nothing fails
            await put(direct, namespace, "a", "1")
            await put(direct, namespace, "b", "0")
            # Without the watchdog the frozen watch would sit until aiohttp's read timeout (>5 min).
            await wait_for(
                rec.summary,
                lambda _: rec.saw(EventType.MODIFIED, "a", {"v": "1"}) and rec.saw(EventType.ADDED, "b"),
                timeout=30,
                what="the changes made while the watch was frozen (events seen)",
            )
            assert reflector.watchdog_timeouts > timeouts_before
            await converged(informer, direct, namespace)
        finally:
            tg.cancel_scope.cancel()
            with anyio.CancelScope(shield=True):
                await via_proxy.close()
                await direct.close()
