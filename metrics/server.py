"""A minimal HTTP/1.1 server for ``/metrics``, ``/healthz`` and ``/readyz`` on anyio.

Why not ``prometheus_client.start_http_server``: it serves from a thread, and the scrape-time
collectors (``aim_resources`` from the stores, queue depths) would then read dictionaries that the
event loop mutates concurrently. Serving from the event loop makes every scrape a consistent
snapshot without locks. The server is deliberately tiny: GET/HEAD only, one request per connection,
a 10 s deadline per connection, requests over 16 KiB refused.

Routes (each server is given the subset it serves):
    * ``/metrics`` — Prometheus text exposition of the registry;
    * ``/healthz`` — 200 while ``healthy()`` is true (the event loop answers, so the process lives);
    * ``/readyz`` — 200 once ``ready()`` is true (the caches have synced), 503 before; the body adds
      one line per ``ready_detail()`` entry (e.g. an optional API that is not installed).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

import anyio
import anyio.abc
from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

MAX_REQUEST_BYTES = 16 * 1024
ALL_ROUTES = frozenset({"/metrics", "/healthz", "/readyz"})


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
        listener = await anyio.create_tcp_listener(local_host=self.host, local_port=self.port, reuse_port=False)
        async with listener:
            sock = listener.listeners[0]
            self.port = int(sock.extra(anyio.abc.SocketAttribute.local_port))
            task_status.started(self.port)
            await listener.serve(self._handle)

    async def _handle(self, stream: anyio.abc.SocketStream) -> None:
        async with stream:
            try:
                with anyio.fail_after(10):
                    request = await self._read_request(stream)
                    if request is None:
                        await self._respond(stream, 400, b"bad request\n")
                        return
                    method, path = request
                    await self._route(stream, method, path)
            except (TimeoutError, anyio.EndOfStream, anyio.BrokenResourceError, OSError):
                return

    @staticmethod
    async def _read_request(stream: anyio.abc.SocketStream) -> tuple[str, str] | None:
        data = b""
        while b"\r\n\r\n" not in data and b"\n\n" not in data:
            chunk = await stream.receive(4096)
            data += chunk
            if len(data) > MAX_REQUEST_BYTES:
                return None
        line = data.split(b"\n", 1)[0].decode("latin-1").strip()
        parts = line.split()
        if len(parts) < 2:
            return None
        return parts[0].upper(), parts[1].split("?", 1)[0]

    async def _route(self, stream: anyio.abc.SocketStream, method: str, path: str) -> None:
        if method not in ("GET", "HEAD"):
            await self._respond(stream, 405, b"method not allowed\n", head=False)
            return
        head = method == "HEAD"
        if path not in self.routes:
            await self._respond(stream, 404, b"not found\n", head=head)
        elif path == "/metrics":
            await self._respond(stream, 200, generate_latest(self.registry), CONTENT_TYPE_LATEST, head=head)
        elif path == "/healthz":
            ok = self.healthy()
            await self._respond(stream, 200 if ok else 503, b"ok\n" if ok else b"unhealthy\n", head=head)
        else:
            ok = self.ready()
            body = "ok\n" if ok else "caches not synced\n"
            body += "".join(f"{line}\n" for line in self.ready_detail())
            await self._respond(stream, 200 if ok else 503, body.encode(), head=head)

    @staticmethod
    async def _respond(
        stream: anyio.abc.SocketStream,
        status: int,
        body: bytes,
        content_type: str = "text/plain; charset=utf-8",
        head: bool = False,
    ) -> None:
        reason = {
            200: "OK",
            400: "Bad Request",
            404: "Not Found",
            405: "Method Not Allowed",
            503: "Service Unavailable",
        }[status]
        header = (
            f"HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode("latin-1")
        await stream.send(header if head else header + body)
