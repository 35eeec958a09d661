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
