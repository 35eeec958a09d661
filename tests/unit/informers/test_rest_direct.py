"""The REST layer sends through the ApiClient's aiohttp session what ``call_api`` would send: host,
path, query, default headers (user agent), the bearer token from the configuration (refreshed per
request), the body as JSON; a loopback HTTP server stands in for the apiserver (no cluster)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from kubernetes_asyncio import client as k8s_client

from informers.rest import ApiError, RestClient


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
    cfg = k8s_client.Configuration()
    cfg.host = host
    cfg.api_key = {"BearerToken": "first"}
    cfg.api_key_prefix = {"BearerToken": "Bearer"}
    tokens = iter(["second", "third", "fourth"])

    def refresh(c: Any) -> None:  # what the in-cluster loader installs: a token re-read per request
        c.api_key["BearerToken"] = next(tokens)

    cfg.refresh_api_key_hook = refresh
    api = k8s_client.ApiClient(cfg)
    api.user_agent = "aimctl/test"
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
