"""Informers at their limits against the real apiserver: watch events far over aiohttp's line
limit, the Secret informer that never sees a non-pull Secret, and ``--namespaces`` with 50
namespaces (one watch per namespace per kind).
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client

from aimctl.cli.run import builtin_controllers
from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import CONFIG_MAPS, SECRETS
from aimctl.manager import Manager, ManagerConfig
from informers.handlers import InformerEvent
from informers.informer import Informer
from informers.rest import RestClient
from tests.support import aim, kube
from tests.support.services import runtime_config
from tests.support.wait import wait_for

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("aim_crds")]


@pytest.fixture
async def rest(cluster: Any) -> AsyncIterator[RestClient]:
    c = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    try:
        yield c
    finally:
        await c.close()


class Recorder:
    def __init__(self) -> None:
        self.events: list[InformerEvent] = []

    def __call__(self, event: InformerEvent) -> None:
        self.events.append(event)

    def names(self) -> set[str]:
        return {e.obj["metadata"]["name"] for e in self.events}


#: 1 MB of ``<``: stored as 1 MB (a ConfigMap's limit is 1 MiB), sent by the apiserver's JSON encoder as
#: ``\u003c`` — six bytes each, a 6 MB watch event, over aiohttp's 4 MiB line limit (kubernetes_asyncio
#: sets a 2 MiB read buffer; the limit is twice that). Pods and Jobs (env values, args) of a tenant can
#: do the same in the operator's own informers.
ESCAPED = "<" * 1_000_000


def configmap(namespace: str, name: str, value: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "namespace": namespace},
            "data": {"v": value}}  # fmt: skip


async def put(rest: RestClient, namespace: str, name: str, value: str) -> None:
    await rest.request("apply", CONFIG_MAPS.path(namespace, name), query=[("fieldManager", "test"), ("force", "true")],
                       body=configmap(namespace, name, value))  # fmt: skip


async def test_watch_events_over_aiohttps_line_limit_are_read(rest: RestClient, namespace: str) -> None:
    await rest.request("create", CONFIG_MAPS.path(namespace), body=configmap(namespace, "probe", ESCAPED))
    raw = await rest.api_client.call_api(
        CONFIG_MAPS.path(namespace, "probe"), "GET", header_params={"Accept": "application/json"},
        auth_settings=["BearerToken"], _preload_content=False,
    )  # fmt: skip
    size = len(await raw.read())
    assert size > 4 * 1024 * 1024, f"the apiserver's JSON of the object is only {size} bytes"

    informer = Informer(rest, CONFIG_MAPS, namespaces=[namespace])
    rec = Recorder()
    informer.add_handler(rec)
    async with anyio.create_task_group() as tg:
        tg.start_soon(informer.run)
        with anyio.fail_after(30):
            await informer.wait_synced()
        reflector = informer.reflectors[0]
        await put(rest, namespace, "big", ESCAPED)  # created while the watch runs
        await put(rest, namespace, "probe", ESCAPED + "<")  # modified while the watch runs
        await wait_for(lambda: {e.obj["metadata"]["name"] for e in rec.events if not e.initial},
                       lambda names: {"big", "probe"} <= names, timeout=30,
                       what="the large events through the watch (names seen)")  # fmt: skip
        assert informer.store.get(f"{namespace}/probe")["data"]["v"] == ESCAPED + "<"  # type: ignore[index]
        assert reflector.relists == 0, "read from the watch, not recovered by a relist"
        tg.cancel_scope.cancel()


async def test_an_unreadable_watch_event_relists_instead_of_crashing(rest: RestClient, namespace: str) -> None:
    informer = Informer(rest, CONFIG_MAPS, namespaces=[namespace], max_event_bytes=1024 * 1024)
    async with anyio.create_task_group() as tg:
        tg.start_soon(informer.run)
        with anyio.fail_after(30):
            await informer.wait_synced()
        await put(rest, namespace, "big", ESCAPED)
        await wait_for(lambda: informer.store.get(f"{namespace}/big"), lambda o: o is not None, timeout=60,
                       what="the object, by a relist")  # fmt: skip
        assert informer.reflectors[0].relists >= 1
        await put(rest, namespace, "small", "x")  # and the watch goes on
        await wait_for(lambda: informer.store.get(f"{namespace}/small"), lambda o: o is not None, timeout=30,
                       what="a later event")  # fmt: skip
        tg.cancel_scope.cancel()


def secret(namespace: str, name: str, type_: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "Secret", "type": type_, "metadata": {"name": name, "namespace": namespace},
            "data": {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}}  # fmt: skip


async def test_the_operators_secret_informer_holds_pull_secrets_only(
    rest: RestClient,
    namespace: str,
    aim_crds: Any,
) -> None:
    manager = Manager(rest, ManagerConfig(namespaces=[namespace], leader_election=False))
    for controller in builtin_controllers(manager):
        manager.add(controller)
    informer = manager.cache.informer(SECRETS)
    rec = Recorder()
    informer.add_handler(rec)
    auths = json.dumps({"auths": {"registry.example:5000": {"auth": base64.b64encode(b"u:p").decode()}}})
    big = "x" * 600_000  # a pull secret over 512 KiB, changed while the watch runs
    async with anyio.create_task_group() as tg:
        tg.start_soon(informer.run)
        with anyio.fail_after(30):
            await informer.wait_synced()
        for s in (
            secret(namespace, "opaque", "Opaque", {"password": "hunter2"}),
            secret(namespace, "tls", "kubernetes.io/tls", {"tls.crt": "c", "tls.key": "k"}),
            secret(namespace, "pull-json", "kubernetes.io/dockerconfigjson", {".dockerconfigjson": auths}),
            secret(namespace, "pull-cfg", "kubernetes.io/dockercfg", {".dockercfg": auths}),
        ):
            await rest.request("create", SECRETS.path(namespace), body=s)
        big_secret = secret(namespace, "pull-json", "kubernetes.io/dockerconfigjson",
                            {".dockerconfigjson": auths, "padding": big})  # fmt: skip
        await rest.request("update", SECRETS.path(namespace, "pull-json"), body=big_secret)
        await rest.request("update", SECRETS.path(namespace, "opaque"),
                           body=secret(namespace, "opaque", "Opaque", {"password": "hunter3"}))  # fmt: skip
        await wait_for(
            lambda: {
                "names": rec.names(),
                "pull-json keys": sorted((informer.store.get(f"{namespace}/pull-json") or {}).get("data", {})),
            },
            lambda seen: {"pull-json", "pull-cfg"} <= seen["names"] and "padding" in seen["pull-json keys"],
            timeout=30,
            what="both pull secrets, and the large update",
        )
        # A barrier on every watch of the informer (one per pull-secret type): events of one watch
        # arrive in order, so once these later writes are cached, any event about the other Secrets
        # that a watch would deliver has been delivered.
        bumps: dict[str, int] = {}
        for name in ("pull-json", "pull-cfg"):
            bumped = await rest.request("patch", SECRETS.path(namespace, name),
                                        body={"metadata": {"annotations": {"aimctl.dev/barrier": "1"}}})  # fmt: skip
            bumps[name] = int(bumped["metadata"]["resourceVersion"])
        await wait_for(
            lambda: {n: int((informer.store.get(f"{namespace}/{n}") or {"metadata": {}})["metadata"].get(
                "resourceVersion") or -1) for n in bumps},
            lambda cached: all(cached[n] >= rv for n, rv in bumps.items()),
            timeout=30,
            what=f"the barrier writes {bumps} in the cache (cached resourceVersions)",
        )  # fmt: skip
        assert rec.names() == {"pull-json", "pull-cfg"}, "a non-pull Secret reached the operator's informer"
        assert {o["metadata"]["name"] for o in informer.store.list(namespace)} == {"pull-json", "pull-cfg"}
        tg.cancel_scope.cancel()


async def test_fifty_namespaces(cluster: Any, api: client.ApiClient) -> None:
    """One watch per namespace per kind: several hundred watches. Objects in the 50th namespace are
    reconciled (before: the watches held the whole connection pool, lists and writes waited for a
    connection, the caches never synced)."""
    names = [f"ns50-{i:02d}" for i in range(50)]
    for ns in names:
        await kube.apply(api, f"/api/v1/namespaces/{ns}", {"apiVersion": "v1", "kind": "Namespace",
                         "metadata": {"name": ns, "labels": {"aimctl.dev/test": "true"}}})  # fmt: skip
    rest = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    config = ManagerConfig(namespaces=names, leader_election=False, metrics_address=None, probe_address=None,
                           cache_sync_timeout=120)  # fmt: skip
    manager = Manager(rest, config)
    for controller in builtin_controllers(manager):
        manager.add(controller)
    watches = sum(len(i.reflectors) for i in manager.cache)
    assert watches >= 50 * 8, watches
    last = runtime_config("default", names[-1])
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(manager.run)
            await aim.apply(api, last)

            await wait_for(
                lambda: aim.get(api, last),
                lambda obj: bool((obj.get("status") or {}).get("conditions")),
                timeout=180,
                what="the runtime config in the 50th namespace reconciled",
            )
            assert manager.synced
            manager.request_stop()
    finally:
        await rest.close()
        for ns in names:
            await kube.delete(api, f"/api/v1/namespaces/{ns}")
    print(f"50 namespaces: {watches} watches")
