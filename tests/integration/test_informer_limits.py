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
from tests.support.polling import until, until_async
from tests.support.services import runtime_config

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
        await until(lambda: {"big", "probe"} <= {e.obj["metadata"]["name"] for e in rec.events if not e.initial},
                    30, "the large events through the watch")  # fmt: skip
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
        await until(lambda: informer.store.get(f"{namespace}/big") is not None, 60, "the object, by a relist")
        assert informer.reflectors[0].relists >= 1
        await put(rest, namespace, "small", "x")  # and the watch goes on
        await until(lambda: informer.store.get(f"{namespace}/small") is not None, 30, "a later event")
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
        await until(
            lambda: (
                {"pull-json", "pull-cfg"} <= rec.names()
                and "padding" in (informer.store.get(f"{namespace}/pull-json") or {}).get("data", {})
            ),
            30,
            "both pull secrets, and the large update",
        )
        await anyio.sleep(2)  # time for any event about the other Secrets to arrive
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

            async def reconciled() -> bool:
                obj = await aim.get(api, last)
                return bool((obj.get("status") or {}).get("conditions"))

            await until_async(reconciled, 180, "the runtime config in the 50th namespace reconciled")
            assert manager.synced
            manager.request_stop()
    finally:
        await rest.close()
        for ns in names:
            await kube.delete(api, f"/api/v1/namespaces/{ns}")
    print(f"50 namespaces: {watches} watches")
