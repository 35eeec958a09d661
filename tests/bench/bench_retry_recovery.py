"""Benchmark: time to recover after an apiserver outage that hits a burst of failing keys.

Run on demand (not collected by pytest)::

    python -m tests.bench.bench_retry_recovery --kubeconfig PATH [--objects 500] [--outage 30]

What happens, with the test ``Echo`` controller (tests/support/echo_controller.py) in-process and
the manager's connections going through a loopback TCP proxy that can cut the apiserver off:

1. ``--objects`` Echoes converge; then every Echo's spec changes (a burst: every key is queued);
2. as soon as the informer holds every change, the proxy cuts the apiserver off for ``--outage``
   seconds: open connections are closed and new ones refused, so every reconcile fails at once and
   is retried through the work queue's rate limiter, again and again;
3. the proxy lets traffic through again; **recovery** is the time from then until every Echo's
   status reports its new generation (read from the apiserver directly).

It runs twice: with client-go's limiter (per-key backoff max'd with an *unbounded* 10 qps / burst
100 bucket — "before") and with the bounded bucket of :mod:`informers.ratelimit` ("after"). It prints
figures and asserts nothing about time.
"""

from __future__ import annotations

import argparse
import os
import time
import uuid
from pathlib import Path
from typing import Any

import anyio
import anyio.abc

from aimctl.kube.client import ClientSettings, load_configuration, new_client
from aimctl.kube.resources import NAMESPACES
from aimctl.logging import configure_logging
from aimctl.manager import Manager, ManagerConfig
from informers.ratelimit import default_controller_rate_limiter
from informers.rest import RestClient
from tests.support.echo_controller import ECHOES, EchoController, ensure_echo_crd
from tests.support.wait import wait_for


class CuttableProxy:
    """A loopback TCP proxy that can cut every connection and refuse new ones until restored."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.port = 0
        self.cut = False
        self._scopes: set[anyio.CancelScope] = set()

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
        async with listener:
            self.port = int(listener.extra(anyio.abc.SocketAttribute.local_port))
            task_status.started(self.port)
            await listener.serve(self._handle)

    def cut_off(self) -> None:
        """Close every open connection; refuse new ones until :attr:`cut` is reset."""
        self.cut = True
        for scope in list(self._scopes):
            scope.cancel()

    async def _handle(self, client: anyio.abc.SocketStream) -> None:
        if self.cut:
            await client.aclose()
            return
        try:
            upstream = await anyio.connect_tcp(*self.target)
        except OSError:
            await client.aclose()
            return
        async with client, upstream, anyio.create_task_group() as tg:
            self._scopes.add(tg.cancel_scope)
            tg.start_soon(self._pump, client, upstream, tg.cancel_scope)
            tg.start_soon(self._pump, upstream, client, tg.cancel_scope)
        self._scopes.discard(tg.cancel_scope)

    async def _pump(self, src: Any, dst: Any, scope: anyio.CancelScope) -> None:
        try:
            while True:
                data = await src.receive()
                await dst.send(data)
        except (anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            pass
        scope.cancel()


async def run_once(kubeconfig: Path, admin: RestClient, objects: int, outage: float, unbounded: bool) -> float:
    ns = f"bench-recovery-{uuid.uuid4().hex[:6]}"
    await admin.request("create", NAMESPACES.path(), body={"apiVersion": "v1", "kind": "Namespace",
                                                           "metadata": {"name": ns}})  # fmt: skip
    for i in range(objects):
        await admin.request("create", ECHOES.path(ns), body={"apiVersion": ECHOES.api_version, "kind": "Echo",
                            "metadata": {"name": f"e{i}", "namespace": ns}, "spec": {"data": {"v": "0"}}})  # fmt: skip
    cfg = await load_configuration(kubeconfig)
    host, _, port = cfg.host.removeprefix("https://").rpartition(":")
    proxy = CuttableProxy(host, int(port))
    async with anyio.create_task_group() as tg:
        proxy_port = await tg.start(proxy.serve)
        os.environ.pop("KUBECONFIG", None)
        client = await new_client(ClientSettings(kubeconfig=kubeconfig, qps=50, burst=100))
        client.api_client.configuration.host = f"https://127.0.0.1:{proxy_port}"
        if client.watch_api_client is not None:
            client.watch_api_client.configuration.host = f"https://127.0.0.1:{proxy_port}"
        manager = Manager(client, ManagerConfig(namespaces=[ns], leader_election=False, metrics_address=None,
                                                probe_address=None))  # fmt: skip
        echo = EchoController(manager)
        manager.add(echo)
        if unbounded:  # client-go's DefaultControllerRateLimiter
            manager.queues["echo"]._limiter = default_controller_rate_limiter(bucket_max_delay=None)
        tg.start_soon(manager.run)

        async def converged(generation: int) -> bool:
            items = (await admin.request("list", ECHOES.path(ns)))["items"]
            return len(items) == objects and all(
                (o.get("status") or {}).get("observedGeneration") == generation for o in items
            )

        await wait_for(lambda: converged(1), timeout=3600, interval=0.5, what="every Echo at generation 1")
        for i in range(objects):  # the burst
            await admin.request("patch", ECHOES.path(ns, f"e{i}"), body={"spec": {"data": {"v": "1"}}})

        async def burst_seen() -> bool:
            return sum(1 for o in manager.cache.store(ECHOES) if o["metadata"].get("generation") == 2) == objects

        await wait_for(burst_seen, timeout=3600, interval=0.02, what="the burst in the cache")
        proxy.cut_off()
        await anyio.sleep(outage)  # the outage itself (the experiment's parameter)
        failures = sum(manager.queues["echo"].num_requeues(f"{ns}/e{i}") for i in range(objects))
        proxy.cut = False
        back = time.monotonic()
        await wait_for(lambda: converged(2), timeout=3600, interval=0.25, what="every Echo at generation 2")
        recovery = time.monotonic() - back
        print(f"  {'before (unbounded bucket)' if unbounded else 'after (bounded bucket)'}: "
              f"recovery {recovery:.1f} s after a {outage:.0f} s outage, {objects} keys, "
              f"{failures} failures still counted at the end of the outage")  # fmt: skip
        manager.request_stop()
        tg.cancel_scope.cancel()
    await client.close()
    await admin.request("delete", NAMESPACES.path(None, ns))
    return recovery


async def bench(kubeconfig: Path, objects: int, outage: float) -> None:
    admin = await new_client(ClientSettings(kubeconfig=kubeconfig))
    await ensure_echo_crd(admin)
    print(f"retry recovery after an outage ({objects} Echo keys, {outage:.0f} s outage):")
    for unbounded in (True, False):
        await run_once(kubeconfig, admin, objects, outage, unbounded)
    await admin.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kubeconfig", type=Path, default=os.environ.get("KUBECONFIG"))
    parser.add_argument("--objects", type=int, default=500)
    parser.add_argument("--outage", type=float, default=30.0)
    args = parser.parse_args()
    configure_logging("critical", "console")  # reconcile failures during the outage are expected
    if args.kubeconfig is None:
        raise SystemExit("--kubeconfig (or $KUBECONFIG) is required")
    anyio.run(bench, Path(args.kubeconfig), args.objects, args.outage, backend="asyncio")


if __name__ == "__main__":
    main()
