"""``/metrics``, ``/healthz`` and ``/readyz`` over HTTP, served by aiohttp's web server on the event loop.

Why not ``prometheus_client.start_http_server``: it serves from a thread, and the scrape-time
collectors (``aim_resources`` from the stores, queue depths) would then read dictionaries that the
event loop mutates concurrently. Serving from the event loop makes every scrape a consistent
snapshot without locks. aiohttp is already the client's HTTP stack, so the server adds no
dependency; it parses HTTP (request lines and headers over its limits, 8 KiB each, are answered 400),
and :class:`ProbeServer` only routes: GET and HEAD (HEAD: headers without the body), one request
per connection (``Connection: close``), an idle connection closed after 10 s, no access log.

Routes (each server is given the subset it serves; any other path is 404, any other method 405):
    * ``/metrics`` — Prometheus text exposition of the registry;
    * ``/healthz`` — 200 ``ok`` while ``healthy()`` is true (the event loop answers, so the process
      lives), 503 ``unhealthy`` otherwise;
    * ``/readyz`` — 200 ``ok`` once ``ready()`` is true (the caches have synced), 503
      ``caches not synced`` before; the body adds one line per ``ready_detail()`` entry (e.g. an
      optional API that is not installed).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import anyio
import anyio.abc
from aiohttp import web
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

ALL_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})
TEXT = "text/plain; charset=utf-8"
#: Seconds an idle connection is kept before the server closes it.
IDLE_TIMEOUT = 10.0


def parse_address(address: str, default_host: str = "0.0.0.0") -> tuple[str, int]:
    """``":8080"`` → ``("0.0.0.0", 8080)``; ``"127.0.0.1:0"`` → ``("127.0.0.1", 0)``."""
    host, sep, port = address.rpartition(":")
    if not sep:
        raise ValueError(f"address {address!r} must be host:port or :port")
    return (host.strip("[]") or default_host), int(port)


class ProbeServer:
    """Serves the routes in ``routes`` on ``host:port`` (port 0 picks a free one; see :attr:`port`)."""

    def __init__(
        self,
        registry: CollectorRegistry,
        host: str,
        port: int,
        *,
        ready: Callable[[], bool],
        healthy: Callable[[], bool] = lambda: True,
        routes: Collection[str] = ALL_ROUTES,
        ready_detail: Callable[[], list[str]] = list,
    ) -> None:
        self.registry = registry
        self.host = host
        self.port = port
        self.ready = ready
        self.healthy = healthy
        self.ready_detail = ready_detail
        self.routes = frozenset(routes)

    async def serve(self, *, task_status: anyio.abc.TaskStatus[int] = anyio.TASK_STATUS_IGNORED) -> None:
        """Listen until cancelled; reports the bound port through ``task_status``."""
        runner = web.ServerRunner(
            web.Server(self.handle, access_log=None, keepalive_timeout=IDLE_TIMEOUT), handle_signals=False
        )
        await runner.setup()
        try:
            site = web.TCPSite(runner, self.host, self.port, reuse_port=False)
            await site.start()
            self.port = int(runner.addresses[0][1])
            task_status.started(self.port)
            await anyio.sleep_forever()
        finally:
            with anyio.CancelScope(shield=True):
                await runner.cleanup()

    async def handle(self, request: web.BaseRequest) -> web.Response:
        """Route one request (see the module docstring)."""
        response = self.respond(request.method, request.path)
        response.force_close()
        return response

    def respond(self, method: str, path: str) -> web.Response:
        if method not in ("GET", "HEAD"):
            return _text(405, "method not allowed\n")
        if path not in self.routes:
            return _text(404, "not found\n")
        if path == "/metrics":
            return web.Response(
                status=200, body=generate_latest(self.registry), headers={"Content-Type": CONTENT_TYPE_LATEST}
            )
        if path == "/healthz":
            ok = self.healthy()
            return _text(200 if ok else 503, "ok\n" if ok else "unhealthy\n")
        ok = self.ready()
        body = "ok\n" if ok else "caches not synced\n"
        body += "".join(f"{line}\n" for line in self.ready_detail())
        return _text(200 if ok else 503, body)


def _text(status: int, body: str) -> web.Response:
    return web.Response(status=status, body=body.encode(), headers={"Content-Type": TEXT})
