"""The probe/metrics HTTP server, exercised over a real loopback socket."""

from __future__ import annotations

import anyio
import pytest

from metrics.registry import OperatorMetrics
from metrics.server import ProbeServer, parse_address


async def http_get(port: int, path: str, method: str = "GET") -> tuple[int, str]:
    async with await anyio.connect_tcp("127.0.0.1", port) as s:
        await s.send(f"{method} {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
        data = b""
        with anyio.fail_after(5):
            try:
                while True:
                    data += await s.receive()
            except anyio.EndOfStream:
                pass
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body.decode()


async def test_routes_and_readiness() -> None:
    ready = False
    m = OperatorMetrics()
    server = ProbeServer(m.registry, "127.0.0.1", 0, ready=lambda: ready)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        assert (await http_get(port, "/readyz"))[0] == 503
        ready = True
        assert (await http_get(port, "/readyz")) == (200, "ok\n")
        assert (await http_get(port, "/healthz"))[0] == 200
        code, body = await http_get(port, "/metrics")
        assert code == 200 and "# HELP workqueue_depth" in body
        assert (await http_get(port, "/nope"))[0] == 404
        assert (await http_get(port, "/metrics", "POST"))[0] == 405
        code, body = await http_get(port, "/metrics", "HEAD")
        assert (code, body) == (200, "")
        tg.cancel_scope.cancel()


async def test_route_subsets() -> None:
    m = OperatorMetrics()
    server = ProbeServer(m.registry, "127.0.0.1", 0, ready=lambda: True, routes={"/healthz", "/readyz"})
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        assert (await http_get(port, "/metrics"))[0] == 404
        assert (await http_get(port, "/healthz"))[0] == 200
        tg.cancel_scope.cancel()


def test_parse_address() -> None:
    assert parse_address(":8080") == ("0.0.0.0", 8080)
    assert parse_address("127.0.0.1:0") == ("127.0.0.1", 0)
    assert parse_address("[::1]:9") == ("::1", 9)
    with pytest.raises(ValueError, match="host:port"):
        parse_address("8080")


async def test_readyz_names_what_is_missing_and_stays_ready() -> None:
    missing = ["KServe API not installed: serving.kserve.io (...)"]
    m = OperatorMetrics()
    server = ProbeServer(m.registry, "127.0.0.1", 0, ready=lambda: True, ready_detail=lambda: list(missing))
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        assert await http_get(port, "/readyz") == (200, f"ok\n{missing[0]}\n")
        missing.clear()
        assert await http_get(port, "/readyz") == (200, "ok\n")
        tg.cancel_scope.cancel()


async def raw_exchange(port: int, request: bytes) -> bytes:
    async with await anyio.connect_tcp("127.0.0.1", port) as s:
        await s.send(request)
        data = b""
        with anyio.fail_after(5):
            try:
                while True:
                    data += await s.receive()
            except (anyio.EndOfStream, anyio.BrokenResourceError):
                pass
    return data


async def test_http_details_probes_and_scrapers_rely_on() -> None:
    """Content types, HEAD's Content-Length without a body, one request per connection, the query
    ignored, the method checked before the path, oversized requests refused."""
    m = OperatorMetrics()
    server = ProbeServer(m.registry, "127.0.0.1", 0, ready=lambda: True)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        head, _, body = (await raw_exchange(port, b"GET /healthz?verbose=1 HTTP/1.1\r\nHost: x\r\n\r\n")).partition(
            b"\r\n\r\n"
        )
        assert head.startswith(b"HTTP/1.1 200 ") and body == b"ok\n"
        headers = head.decode().lower()
        assert "content-type: text/plain; charset=utf-8" in headers and "connection: close" in headers
        head, _, body = (await raw_exchange(port, b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n")).partition(b"\r\n\r\n")
        length = int(
            next(h.split(":")[1] for h in head.decode().lower().split("\r\n") if h.startswith("content-length"))
        )
        assert length > 0 and body == b""
        assert "content-type: text/plain; version=" in head.decode().lower()
        assert (await http_get(port, "/nope", "DELETE"))[0] == 405
        huge = b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
        assert (await raw_exchange(port, huge)).split(b"\r\n")[0].split()[1] == b"400"
        tg.cancel_scope.cancel()


async def test_unhealthy_and_not_ready_bodies() -> None:
    m = OperatorMetrics()
    server = ProbeServer(m.registry, "127.0.0.1", 0, ready=lambda: False, healthy=lambda: False)
    async with anyio.create_task_group() as tg:
        port = await tg.start(server.serve)
        assert await http_get(port, "/healthz") == (503, "unhealthy\n")
        assert await http_get(port, "/readyz") == (503, "caches not synced\n")
        tg.cancel_scope.cancel()
