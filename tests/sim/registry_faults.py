"""Registries that misbehave, on loopback (aiohttp), for the chaos suite's registry scenario.

Each serves the distribution API v2 just far enough for the operator's label reader (``GET /v2/``,
manifests, the config blob) and is no kinder than a real registry on a slow or hostile network:

* :class:`ChunkedConfigRegistry` — a valid image whose config blob (≈40 KiB of labels) is sent in
  small chunks with pauses between them, as a CDN or a proxy delivers it. A client that parses the
  first chunk only sees invalid JSON.
* :class:`StallingRegistry` — accepts connections and never answers (a registry behind a dead proxy).
* :class:`HostileRegistry` — ``realm/model`` answers 401 with a Bearer ``realm`` on another host (the
  canary), ``redirect/model`` redirects its config blob to the canary. It accepts Basic credentials
  of its own (``user``/``password``) like a real registry.
* :class:`Canary` — a host that must never see a credential: it records every request it receives
  (method, path, headers) and answers like a token server / blob store would.

Images are addressed ``127.0.0.1:<port>/<repo>:<tag>``; the canary listens on ``localhost:<port>``
(another host name than the registry's).
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
CONFIG_MEDIA_TYPE = "application/vnd.docker.container.image.v1+json"


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def image_config(labels: dict[str, str], padding: int = 0) -> bytes:
    """An image config carrying ``labels`` (plus a padding label of ``padding`` characters)."""
    all_labels = dict(labels)
    if padding:
        all_labels["org.example.padding"] = "x" * padding
    return json.dumps(
        {"architecture": "amd64", "os": "linux", "config": {"Labels": all_labels},
         "rootfs": {"type": "layers", "diff_ids": []}}
    ).encode()  # fmt: skip


def manifest_for(config: bytes) -> bytes:
    return json.dumps(
        {"schemaVersion": 2, "mediaType": DOCKER_MANIFEST,
         "config": {"mediaType": CONFIG_MEDIA_TYPE, "size": len(config), "digest": _digest(config)},
         "layers": []}
    ).encode()  # fmt: skip


async def _api_version(request: web.Request) -> web.Response:
    """``GET /v2/``: the API version check every client makes first."""
    return web.json_response({})


class _Server:
    """One aiohttp app on 127.0.0.1 (a free port); ``host`` is what image references use."""

    hostname = "127.0.0.1"

    def __init__(self) -> None:
        self.port = 0
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        self._runner: web.AppRunner | None = None

    def routes(self, app: web.Application) -> None:
        raise NotImplementedError

    @property
    def host(self) -> str:
        return f"{self.hostname}:{self.port}"

    def image(self, repository: str, tag: str = "1") -> str:
        return f"{self.host}/{repository}:{tag}"

    async def start(self) -> None:
        app = web.Application()

        @web.middleware
        async def record(request: web.Request, handler: Any) -> web.StreamResponse:
            self.requests.append((request.method, request.path_qs, dict(request.headers)))
            result: web.StreamResponse = await handler(request)
            return result

        app.middlewares.append(record)
        self.routes(app)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def __aenter__(self) -> _Server:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()


class ChunkedConfigRegistry(_Server):
    """``<repository>:1`` whose config blob of ≈``size`` bytes arrives in ``chunk``-byte pieces."""

    def __init__(
        self, repository: str, labels: dict[str, str], size: int = 40 * 1024, chunk: int = 4096, pause: float = 0.05
    ) -> None:
        super().__init__()
        self.repository = repository
        self.config = image_config(labels, padding=max(0, size - len(image_config(labels))))
        self.manifest = manifest_for(self.config)
        self.chunk, self.pause = chunk, pause

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v2/", _api_version)
        app.router.add_get(f"/v2/{self.repository}/manifests/{{ref}}", self._manifest)
        app.router.add_get(f"/v2/{self.repository}/blobs/{{digest}}", self._blob)

    async def _manifest(self, request: web.Request) -> web.Response:
        return web.Response(body=self.manifest, headers={"Content-Type": DOCKER_MANIFEST,
                                                         "Docker-Content-Digest": _digest(self.manifest)})  # fmt: skip

    async def _blob(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["digest"] != _digest(self.config):
            return web.json_response({"errors": [{"code": "BLOB_UNKNOWN"}]}, status=404)
        resp = web.StreamResponse(headers={"Content-Type": "application/octet-stream"})
        resp.enable_chunked_encoding()
        await resp.prepare(request)
        for i in range(0, len(self.config), self.chunk):
            await resp.write(self.config[i : i + self.chunk])
            await asyncio.sleep(self.pause)
        await resp.write_eof()
        return resp


class StallingRegistry(_Server):
    """Every request is accepted and never answered (until the server stops)."""

    def routes(self, app: web.Application) -> None:
        async def stall(request: web.Request) -> web.Response:
            await asyncio.sleep(3600)
            return web.Response(status=504)

        app.router.add_route("*", "/{tail:.*}", stall)


@dataclass
class Canary(_Server):
    """A host that must receive no credential; see the module docstring."""

    hostname: str = "localhost"
    token: str = "canary-token-must-not-travel"
    answer_blob: bytes = b"{}"
    received: list[dict[str, Any]] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__()

    def routes(self, app: web.Application) -> None:
        async def anything(request: web.Request) -> web.Response:
            self.received.append({"method": request.method, "path": request.path_qs, "headers": dict(request.headers)})
            if request.path.startswith("/token"):
                return web.json_response({"token": self.token, "access_token": self.token})
            return web.Response(body=self.answer_blob, headers={"Content-Type": "application/octet-stream"})

        app.router.add_route("*", "/{tail:.*}", anything)

    def saw(self, secret: str) -> bool:
        """True if ``secret`` (plain or base64 in Basic form) appeared in any request it received."""
        needles = {secret}
        for r in self.received:
            text = json.dumps(r)
            auth = r["headers"].get("Authorization", "")
            if auth.lower().startswith("basic "):
                with contextlib.suppress(ValueError):
                    text += base64.b64decode(auth.split(" ", 1)[1]).decode(errors="replace")
            if any(n in text for n in needles):
                return True
        return False


class HostileRegistry(_Server):
    """``realm/model`` → Bearer realm on the canary; ``redirect/model`` → config blob redirected there."""

    def __init__(self, canary: Canary, labels: dict[str, str], user: str, password: str) -> None:
        super().__init__()
        self.canary = canary
        self.config = image_config(labels)
        self.manifest = manifest_for(self.config)
        self.basic = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def routes(self, app: web.Application) -> None:
        app.router.add_get("/v2/", _api_version)
        app.router.add_get("/v2/{org}/model/manifests/{ref}", self._manifest)
        app.router.add_get("/v2/{org}/model/blobs/{digest}", self._blob)

    async def _manifest(self, request: web.Request) -> web.Response:
        if request.match_info["org"] == "realm" and request.headers.get("Authorization") != self.basic:
            realm = f"http://{self.canary.host}/token"
            challenge = f'Bearer realm="{realm}",service="hostile",scope="repository:realm/model:pull"'
            return web.json_response(
                {"errors": [{"code": "UNAUTHORIZED"}]}, status=401, headers={"WWW-Authenticate": challenge}
            )
        return web.Response(body=self.manifest, headers={"Content-Type": DOCKER_MANIFEST})

    async def _blob(self, request: web.Request) -> web.Response:
        if request.match_info["org"] == "redirect":
            raise web.HTTPTemporaryRedirect(f"http://{self.canary.host}/blobs/{request.match_info['digest']}")
        return web.Response(body=self.config, headers={"Content-Type": "application/octet-stream"})
