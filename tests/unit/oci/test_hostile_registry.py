"""A hostile or unusual registry (issue 11): chunked bodies, realms and redirects to other hosts, stalls,
oversized and deeply nested answers. Every server is a real aiohttp server on loopback.

``127.0.0.1:<port>`` plays the registry; ``localhost:<port>`` (another host name, another site) plays the
canary that must never receive credentials.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
from aiohttp import web

from aimctl.oci.client import MAX_REDIRECTS, RegistryClient, same_site
from aimctl.oci.credentials import Credentials
from aimctl.oci.errors import InvalidImageError, RegistryAuthError, TransientRegistryError
from aimctl.oci.reference import parse_reference

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
BASIC = "Basic " + base64.b64encode(b"alice:pw").decode()
MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"


def config_blob(size: int) -> bytes:
    """An image config of about ``size`` bytes (a long label pads it)."""
    labels = {"org.amd.silogen.model.canonicalName": "m", "pad": "x" * size}
    return json.dumps({"config": {"Labels": labels}}).encode()


class Server:
    def __init__(self) -> None:
        self.app = web.Application()
        self.requests: list[tuple[str, str | None]] = []  # (path, Authorization)
        self.port = 0
        self.runner: web.AppRunner | None = None

        @web.middleware
        async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
            self.requests.append((request.path, request.headers.get("Authorization")))
            return await handler(request)

        self.app.middlewares.append(record)

    def route(self, path: str, handler: Handler) -> None:
        self.app.router.add_get(path, handler)

    async def start(self) -> None:
        self.runner = web.AppRunner(self.app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def authorizations(self) -> list[str | None]:
        return [a for _, a in self.requests]


@pytest.fixture
async def servers() -> AsyncIterator[tuple[Server, Server]]:
    registry, canary = Server(), Server()
    yield registry, canary
    for s in (registry, canary):
        if s.runner is not None:
            await s.runner.cleanup()


def manifest_handler(config: bytes) -> Handler:
    async def manifest(request: web.Request) -> web.Response:
        body = {"schemaVersion": 2, "mediaType": MANIFEST, "layers": [],
                "config": {"digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)}}  # fmt: skip
        return web.json_response(body, content_type=MANIFEST)

    return manifest


async def test_config_blob_sent_in_several_chunks_is_read_to_the_end(servers: tuple[Server, Server]) -> None:
    """The reproduced permanent failure: a 40 KiB config arriving in chunks was parsed from its first
    chunk only ("is not JSON")."""
    registry, _ = servers
    config = config_blob(40 << 10)

    async def blob(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(config), 4096):
            await resp.write(config[i : i + 4096])
            await asyncio.sleep(0.01)  # the server's pace (chunks arrive apart), not a wait for anything
        await resp.write_eof()
        return resp

    registry.route("/v2/a/b/manifests/{ref}", manifest_handler(config))
    registry.route("/v2/a/b/blobs/{digest}", blob)
    await registry.start()
    labels = await RegistryClient().labels(parse_reference(f"127.0.0.1:{registry.port}/a/b:1"))
    assert labels["org.amd.silogen.model.canonicalName"] == "m"
    assert len(labels["pad"]) == 40 << 10


async def test_credentials_never_go_to_a_realm_on_another_site(servers: tuple[Server, Server]) -> None:
    registry, canary = servers
    config = config_blob(10)

    async def manifest(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != "Bearer canary-token":
            realm = f"http://localhost:{canary.port}/token"
            return web.Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}",service="x"'})
        return await manifest_handler(config)(request)

    async def blob(request: web.Request) -> web.Response:
        return web.Response(body=config)

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"token": "canary-token"})

    registry.route("/v2/a/b/manifests/{ref}", manifest)
    registry.route("/v2/a/b/blobs/{digest}", blob)
    canary.route("/token", token)
    await registry.start()
    await canary.start()
    ref = parse_reference(f"127.0.0.1:{registry.port}/a/b:1")
    creds = Credentials("alice", "pw", registry=f"127.0.0.1:{registry.port}")
    labels = await RegistryClient().labels(ref, creds)  # an anonymous token from the realm is fine
    assert labels["org.amd.silogen.model.canonicalName"] == "m"
    assert canary.requests, "the realm was asked for a token"
    assert canary.authorizations == [None] * len(canary.requests), "no credentials reached the other site"


async def test_credentials_of_another_registry_are_not_sent_to_a_mirror(servers: tuple[Server, Server]) -> None:
    """Docker Hub's credentials belong to Docker Hub: a mirror that asks for credentials gets none."""
    mirror, _ = servers

    async def manifest(request: web.Request) -> web.Response:
        return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="mirror"'})

    mirror.route("/v2/library/busybox/manifests/{ref}", manifest)
    await mirror.start()
    client = RegistryClient(mirrors={"registry-1.docker.io": f"127.0.0.1:{mirror.port}"})
    assert client.registry_for(parse_reference("busybox")) == f"127.0.0.1:{mirror.port}"
    hub = Credentials("alice", "pw", registry="registry-1.docker.io")
    with pytest.raises(RegistryAuthError, match="none are configured"):
        await client.labels(parse_reference("busybox"), hub)
    assert mirror.authorizations == [None]


async def test_blob_redirects_carry_no_credentials_and_are_bounded(servers: tuple[Server, Server]) -> None:
    registry, canary = servers
    config = config_blob(10)
    state = {"loop": False}

    async def manifest(request: web.Request) -> web.StreamResponse:
        if request.headers.get("Authorization") != BASIC:
            return web.Response(status=401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        return await manifest_handler(config)(request)

    async def blob(request: web.Request) -> web.Response:
        raise web.HTTPTemporaryRedirect(f"http://localhost:{canary.port}/storage/0")

    async def storage(request: web.Request) -> web.Response:
        hop = int(request.match_info["hop"])
        if state["loop"] or hop < 2:
            raise web.HTTPFound(f"/storage/{hop + 1}")
        return web.Response(body=config)

    registry.route("/v2/a/b/manifests/{ref}", manifest)
    registry.route("/v2/a/b/blobs/{digest}", blob)
    canary.route("/storage/{hop}", storage)
    await registry.start()
    await canary.start()
    ref = parse_reference(f"127.0.0.1:{registry.port}/a/b:1")
    creds = Credentials("alice", "pw", registry=f"127.0.0.1:{registry.port}")
    labels = await RegistryClient().labels(ref, creds)
    assert labels["org.amd.silogen.model.canonicalName"] == "m"
    assert [p for p, _ in canary.requests] == ["/storage/0", "/storage/1", "/storage/2"]
    assert canary.authorizations == [None, None, None]
    state["loop"] = True
    canary.requests.clear()
    with pytest.raises(InvalidImageError, match=f"more than {MAX_REDIRECTS} times"):
        await RegistryClient().labels(ref, creds)
    assert len(canary.requests) == MAX_REDIRECTS


async def test_a_stalling_registry_is_cut_off_by_the_inspection_timeout(servers: tuple[Server, Server]) -> None:
    registry, _ = servers
    config = config_blob(10)

    async def blob(request: web.Request) -> web.StreamResponse:
        resp = web.StreamResponse()
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for byte in config:  # one byte every 0.2 s: each read is quick, the whole never ends in time
            await resp.write(bytes([byte]))
            await asyncio.sleep(0.2)
        return resp

    registry.route("/v2/a/b/manifests/{ref}", manifest_handler(config))
    registry.route("/v2/a/b/blobs/{digest}", blob)
    await registry.start()
    with pytest.raises(TransientRegistryError, match="did not answer in time"):
        await RegistryClient(inspection_timeout=1.5).labels(parse_reference(f"127.0.0.1:{registry.port}/a/b:1"))


async def test_oversized_token_and_deeply_nested_manifest_are_refused(servers: tuple[Server, Server]) -> None:
    registry, _ = servers

    async def manifest(request: web.Request) -> web.Response:
        if request.query.get("nested") or request.match_info["ref"] == "nested":
            return web.Response(body=b"[" * 200_000 + b"]" * 200_000, content_type=MANIFEST)
        if request.headers.get("Authorization") is None:
            realm = f"http://127.0.0.1:{registry.port}/token"
            return web.Response(status=401, headers={"WWW-Authenticate": f'Bearer realm="{realm}"'})
        return web.Response(status=500)

    async def token(request: web.Request) -> web.Response:
        return web.json_response({"token": "t" * (300 << 10)})

    registry.route("/v2/a/b/manifests/{ref}", manifest)
    registry.route("/token", token)
    await registry.start()
    with pytest.raises(InvalidImageError, match="not JSON"):
        await RegistryClient().labels(parse_reference(f"127.0.0.1:{registry.port}/a/b:nested"))
    with pytest.raises(RegistryAuthError, match="sent more than"):
        await RegistryClient().labels(parse_reference(f"127.0.0.1:{registry.port}/a/b:1"))


@pytest.mark.parametrize(
    ("url", "registry", "expected"),
    [
        ("https://auth.docker.io/token", "registry-1.docker.io", True),
        ("https://gitlab.com/jwt/auth", "registry.gitlab.com", True),
        ("https://ghcr.io/token", "ghcr.io", True),
        ("https://evil.example/token", "ghcr.io", False),
        ("https://evil.co.uk/token", "registry.co.uk", False),
        ("http://127.0.0.2/token", "127.0.0.1:5000", False),
        ("http://127.0.0.1:9/token", "127.0.0.1:5000", True),
    ],
)
def test_same_site(url: str, registry: str, expected: bool) -> None:
    from yarl import URL

    assert same_site(URL(url), registry) is expected


def test_pull_secret_credentials_are_scrubbed_from_logs() -> None:
    from aimctl.logging import SCRUBBER

    Credentials("carol", "correct-horse-battery", registry="r.example")
    assert "correct-horse-battery" not in SCRUBBER.scrub_text("auth failed for correct-horse-battery")


def test_recommended_deployments_label_nested_or_huge_is_a_metadata_error() -> None:
    from aimctl.oci.metadata import MetadataError, image_metadata

    for text in ("[" * 100_000 + "]" * 100_000, "[" + "{}," * 100_000 + "{}]"):
        labels = {"org.amd.silogen.model.canonicalName": "m", "org.amd.silogen.model.recommendedDeployments": text}
        with pytest.raises(MetadataError, match="is not a list of objects"):
            image_metadata(labels)
