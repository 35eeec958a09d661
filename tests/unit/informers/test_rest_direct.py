"""The REST layer over the operator's transport (:class:`aimctl.kube.transport.ApiTransport`) sends what
``call_api`` would: host, path, query, the user agent, the credentials' bearer token (asked for on
every request, so a refreshed token is used at once), the body as JSON; a loopback HTTP server stands
in for the apiserver (no cluster)."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from aimctl.kube.kubeconfig import Configuration, Credentials
from aimctl.kube.transport import ApiTransport
from informers.rest import ApiError, RestClient, WriteFenced


@pytest.fixture
async def server() -> AsyncIterator[tuple[str, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []

    async def handle(request: web.Request) -> web.Response:
        body = await request.read()
        seen.append(
            {
                "method": request.method,
                "path": request.path,
                "query": list(request.query.items()),
                "headers": dict(request.headers),
                "body": json.loads(body) if body else None,
            }
        )
        if request.path.endswith("/missing"):
            return web.json_response(
                {"kind": "Status", "code": 404, "reason": "NotFound", "message": "gone"}, status=404
            )
        return web.json_response({"kind": "ConfigMap", "data": {"k": "é😀"}})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}", seen
    finally:
        await runner.cleanup()


async def test_requests_carry_what_call_api_would_send(server: tuple[str, list[dict[str, Any]]]) -> None:
    host, seen = server
    tokens = iter(["second", "third", "fourth"])

    class Rotating(Credentials):  # what a token file or exec plugin does: a fresh token per request
        async def authorization(self) -> str | None:
            return f"Bearer {next(tokens)}"

    cfg = Configuration(host=host, ssl_context=ssl.create_default_context(), credentials=Rotating())
    api = ApiTransport(cfg, pool_size=4, user_agent="aimctl/test")
    rest = RestClient(api, own_client=True)
    try:
        got = await rest.request(
            "create", "/api/v1/namespaces/n/configmaps", query=[("fieldManager", "aimctl")], body={"data": {"k": "é"}}
        )
        assert got == {"kind": "ConfigMap", "data": {"k": "é😀"}}
        await rest.request("patch", "/api/v1/namespaces/n/configmaps/c", body={"data": None})
        with pytest.raises(ApiError) as err:
            await rest.request("get", "/api/v1/namespaces/n/configmaps/missing")
        assert err.value.not_found and err.value.message == "gone"
    finally:
        await rest.close()
    create, patch, get = seen
    assert (create["method"], create["path"], create["query"]) == (
        "POST",
        "/api/v1/namespaces/n/configmaps",
        [("fieldManager", "aimctl")],
    )
    assert create["body"] == {"data": {"k": "é"}}
    assert create["headers"]["Content-Type"] == "application/json"
    assert create["headers"]["Accept"] == "application/json"
    assert create["headers"]["User-Agent"] == "aimctl/test"
    assert create["headers"]["Authorization"] == "Bearer second"
    assert patch["method"] == "PATCH" and patch["headers"]["Content-Type"] == "application/merge-patch+json"
    assert patch["headers"]["Authorization"] == "Bearer third"
    assert patch["body"] == {"data": None}
    assert get["method"] == "GET" and get["body"] is None and get["headers"]["Authorization"] == "Bearer fourth"


async def test_a_fenced_write_is_not_sent_when_the_fence_closes_before_its_bytes_go_out(
    server: tuple[str, list[dict[str, Any]]],
) -> None:
    """The fence is checked again in the step that sends the body: a process stopped after the first
    check (the fence open) and resumed after the lease passed (the fence closed) sends nothing."""
    host, seen = server
    left = [5.0]

    class Closing(Credentials):  # the last await before the send: the fence closes "while stopped"
        async def authorization(self) -> str | None:
            left[0] = 0.0
            return None

    cfg = Configuration(host=host, ssl_context=ssl.create_default_context(), credentials=Closing())
    rest = RestClient(ApiTransport(cfg, pool_size=4), own_client=True, write_fence=lambda: left[0])
    try:
        with pytest.raises(WriteFenced):
            await rest.request("create", "/api/v1/namespaces/n/configmaps", body={"data": {"k": "v"}})
        left[0] = 5.0
        await rest.request("get", "/api/v1/namespaces/n/configmaps/c")  # reads are never fenced
    finally:
        await rest.close()
    assert [r["method"] for r in seen] == ["GET"], seen
