"""The manager with a real apiserver: zero writes for unchanged objects, /readyz gated on cache sync,
every metric of ``metrics/registry.py`` on /metrics, and no secret in the logs of ``aimctl run``."""

from __future__ import annotations

import contextlib
import json
import signal
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest

from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.resources import CONFIG_MAPS, CUSTOM_RESOURCE_DEFINITIONS
from aimctl.manager import Manager, ManagerConfig
from aimctl.reconcile import Result, Watch
from informers.handlers import self_key
from informers.resource import Resource
from informers.rest import WRITE_VERBS, ApiError, RestClient
from metrics.registry import METRIC_NAMES, OperatorMetrics
from tests.support.echo_controller import ECHOES, EchoController, ensure_echo_crd
from tests.support.operator_process import OperatorProcess
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster


@pytest.fixture
async def rest(cluster: Any) -> AsyncIterator[RestClient]:
    client = await new_client(ClientSettings(kubeconfig=cluster.kubeconfig))
    try:
        yield client
    finally:
        await client.close()


def local_config(namespace: str) -> ManagerConfig:
    return ManagerConfig(
        namespaces=[namespace],
        leader_election=False,
        metrics_address="127.0.0.1:0",
        probe_address="127.0.0.1:0",
    )


def writes(metrics: OperatorMetrics) -> float:
    """Write requests the client sent, from its own request metric."""
    total = 0.0
    for family in metrics.registry.collect():
        if family.name == "aim_api_requests":
            total += sum(
                s.value for s in family.samples if s.name.endswith("_total") and s.labels["verb"] in WRITE_VERBS
            )
    return total


async def http_get(port: int, path: str) -> tuple[int, str]:
    async with await anyio.connect_tcp("127.0.0.1", port) as s:
        await s.send(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        with anyio.fail_after(10):
            try:
                while True:
                    data += await s.receive()
            except anyio.EndOfStream:
                pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


def echo(namespace: str, name: str, data: dict[str, str], env: list[dict[str, str]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"data": data}
    if env is not None:
        spec["env"] = env
    return {
        "apiVersion": ECHOES.api_version,
        "kind": "Echo",
        "metadata": {"name": name, "namespace": namespace},
        "spec": spec,
    }


async def test_reconciling_an_unchanged_object_makes_zero_writes(rest: RestClient, namespace: str) -> None:
    await ensure_echo_crd(rest)
    await rest.request("create", ECHOES.path(namespace), body=echo(namespace, "e1", {"k": "v"}))
    metrics = OperatorMetrics()
    client = RestClient(rest.api_client, observer=metrics.api_observer)  # shares the connection pool
    manager = Manager(client, local_config(namespace), metrics)
    controller = EchoController(manager)
    manager.add(controller)
    queue = manager.queues["echo"]
    key = f"{namespace}/e1"

    def progress() -> dict[str, Any]:
        obj = controller.echoes.get(key) or {"metadata": {}}
        return {
            "phase": (obj.get("status") or {}).get("phase"),
            "child": controller.configmaps.get(f"{namespace}/e1-echo") is not None,
            "queued": len(queue),
            "processing": queue.stats().processing,
            "cached_rv": obj["metadata"].get("resourceVersion"),
            "reconciled_rv": controller.reconciled_rv.get(key),
        }

    def settled(p: dict[str, Any]) -> bool:
        return (
            p["phase"] == "Echoed"
            and p["child"]
            and p["queued"] == 0
            and not p["processing"]
            and p["cached_rv"] is not None
            and p["reconciled_rv"] == p["cached_rv"]
        )

    async with anyio.create_task_group() as tg:
        await tg.start(manager.run)
        await wait_for(progress, settled, timeout=30, what="the first reconcile's writes to come back by the watch")
        # Events are posted off the reconcile's critical path: wait for the transition's one.
        await wait_for(
            lambda: controller.events.emitted, lambda n: n >= 1, timeout=10, what="the transition's event to be posted"
        )
        first_writes = writes(metrics)
        assert first_writes >= 2, "the first reconcile must have applied the child and the status"
        assert controller.events.emitted == 1

        for _ in range(2):
            before = len(controller.reconciles[key])
            queue.add(key)
            await wait_for(
                lambda: (len(controller.reconciles[key]), queue.stats().processing),
                lambda seen, b=before: seen[0] > b and not seen[1],  # type: ignore[misc]
                timeout=10,
                what="a forced reconcile (reconciles of the key, keys processing)",
            )
        assert writes(metrics) == first_writes, "an unchanged object was written again"
        assert controller.applier.skipped >= 2 and controller.status.skipped >= 2
        assert controller.events.emitted == 1, "events are per transition, not per reconcile"

        # A real change is written, once.
        await rest.request("patch", ECHOES.path(namespace, "e1"), body={"spec": {"data": {"k": "w"}}})
        await wait_for(
            lambda: (controller.configmaps.get(f"{namespace}/e1-echo") or {}).get("data"),
            lambda data: data == {"k": "w"},
            timeout=10,
            what="the changed child's data",
        )
        manager.request_stop()


async def test_readyz_waits_for_cache_sync_and_metrics_lists_every_name(rest: RestClient, namespace: str) -> None:
    suffix = uuid.uuid4().hex[:8]
    group = "testing.aimctl.dev"
    plural = f"gadgets{suffix}"
    gadgets = Resource(group, "v1", plural, f"Gadget{suffix}")

    class GadgetController:
        name = "gadget"

        def watches(self) -> list[Watch]:
            return [Watch(gadgets, self_key)]

        async def reconcile(self, key: str) -> Result:
            return Result()

    metrics = OperatorMetrics()
    manager = Manager(RestClient(rest.api_client, observer=metrics.api_observer), local_config(namespace), metrics)
    manager.add(GadgetController())

    def failed_lists() -> float:
        """Lists of the gadgets the informer tried and the apiserver answered 404 (not served yet)."""
        return sum(
            s.value
            for family in metrics.registry.collect()
            if family.name == "aim_api_requests"
            for s in family.samples
            if s.name.endswith("_total")
            and s.labels["verb"] == "list"
            and plural in s.labels["resource"]
            and s.labels["code"] == "404"
        )

    crd = {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"{plural}.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {"plural": plural, "singular": f"gadget{suffix}", "kind": f"Gadget{suffix}"},
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {"openAPIV3Schema": {"type": "object", "x-kubernetes-preserve-unknown-fields": True}},
                }
            ],
        },
    }
    try:
        async with anyio.create_task_group() as tg:
            await tg.start(manager.run)
            metrics_port = next(s.port for s in manager.servers if "/metrics" in s.routes)
            probe_port = next(s.port for s in manager.servers if "/readyz" in s.routes)
            # The resource does not exist yet: the informer cannot list, so the operator is not ready
            # (checked after each of its first failed attempts, not after a guessed delay).
            for attempt in (1, 2):
                await wait_for(failed_lists, lambda n, a=attempt: n >= a, timeout=30,  # type: ignore[misc]
                               what=f"failed list attempt {attempt} of {plural} (404 answers)")  # fmt: skip
                assert (await http_get(probe_port, "/readyz"))[0] == 503
                assert (await http_get(probe_port, "/healthz"))[0] == 200
            await rest.request("create", CUSTOM_RESOURCE_DEFINITIONS.path(), body=crd)

            await wait_for(
                lambda: http_get(probe_port, "/readyz"),
                lambda answer: answer[0] == 200,
                timeout=60,
                what="/readyz to turn 200 once the resource exists",
            )
            code, body = await http_get(metrics_port, "/metrics")
            assert code == 200
            for name in METRIC_NAMES:
                assert f"# HELP {name} " in body, f"{name} missing from /metrics"
            assert 'workqueue_depth{name="gadget"}' in body
            assert 'aim_informer_synced{resource="' + gadgets.name + '"} 1.0' in body
            manager.request_stop()
    finally:
        with contextlib.suppress(ApiError):
            await rest.request("delete", CUSTOM_RESOURCE_DEFINITIONS.path(None, f"{plural}.{group}"))


@pytest.mark.usefixtures("aim_crds")  # `aimctl run` holds its cache sync (and every worker) until they are served
async def test_secret_in_env_never_appears_in_logs(
    cluster: Any, rest: RestClient, namespace: str, tmp_path: Path
) -> None:
    await ensure_echo_crd(rest)
    canary = f"hf_canary_{uuid.uuid4().hex}"
    await rest.request(
        "create",
        ECHOES.path(namespace),
        body=echo(namespace, "leaky", {"model": "llama"}, env=[{"name": "HF_TOKEN", "value": canary}]),
    )
    proc = OperatorProcess(
        cluster.kubeconfig,
        [
            "--namespaces",
            namespace,
            "--no-leader-elect",
            "--log-level",
            "debug",
            "--metrics-bind-address",
            "0",
            "--health-probe-bind-address",
            "0",
            "--controller",
            "tests.support.echo_controller:factory",
        ],
        tmp_path / "operator.log",
    )
    try:

        async def echo_object() -> dict[str, Any]:
            assert proc.proc.poll() is None, proc.text()
            return await rest.request("get", ECHOES.path(namespace, "leaky"))

        await wait_for(
            echo_object,
            lambda obj: (obj.get("status") or {}).get("phase") == "Echoed",
            timeout=60,
            what="the operator to reconcile the Echo",
        )
        cm = await rest.request("get", CONFIG_MAPS.path(namespace, "leaky-echo"))
        assert cm["data"] == {"model": "llama"}
        proc.signal(signal.SIGTERM)
        assert await proc.wait_exit(30) == 0, "graceful shutdown must exit 0"
    finally:
        proc.kill()
    text = proc.text()
    assert canary not in text
    observed = [line for line in proc.lines() if line.get("event") == "observed" and line.get("name") == "leaky"]
    assert observed, "the test controller must have logged the object (else this test proves nothing)"
    line = observed[0]
    assert line["echo"]["spec"]["env"] == [{"name": "HF_TOKEN", "value": "[REDACTED]"}]
    assert {"controller", "namespace", "name", "reconcile_id"} <= set(line)
    assert line["controller"] == "echo" and line["namespace"] == namespace
    assert all(not entry.get("unparsed") for entry in proc.lines()), "every log line is JSON"
    json.dumps(line)
