"""OCI inspection: references, credentials, label parsing, and the Bearer-token flow (against a
loopback HTTP server that behaves like a token-protected registry)."""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from aimctl.oci.client import RegistryClient, parse_challenge
from aimctl.oci.credentials import Credentials, credentials_for, fingerprint, pull_secret_projection
from aimctl.oci.errors import InvalidImageError, RegistryAuthError, TransientRegistryError
from aimctl.oci.metadata import MetadataError, image_metadata, parse_recommended_deployments
from aimctl.oci.reference import ImageReference, parse_reference


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("busybox", ImageReference("registry-1.docker.io", "library/busybox", "latest")),
        ("busybox:1.36", ImageReference("registry-1.docker.io", "library/busybox", "1.36")),
        ("docker.io/amd/aim-llama:0.8", ImageReference("registry-1.docker.io", "amd/aim-llama", "0.8")),
        ("ghcr.io/org/img", ImageReference("ghcr.io", "org/img", "latest")),
        ("localhost:5000/a/b:c", ImageReference("localhost:5000", "a/b", "c")),
        ("127.0.0.1:5000/a@sha256:" + "a" * 64, ImageReference("127.0.0.1:5000", "a", "latest", "sha256:" + "a" * 64)),
    ],
)  # fmt: skip
def test_references_use_docker_defaults(text: str, expected: ImageReference) -> None:
    assert parse_reference(text) == expected


def test_loopback_registries_use_http() -> None:
    assert parse_reference("127.0.0.1:5000/a").base_url == "http://127.0.0.1:5000"
    assert parse_reference("ghcr.io/a").base_url == "https://ghcr.io"
    with pytest.raises(InvalidImageError):
        parse_reference("UPPER/Case")


def _secret(auths: dict[str, Any], kind: str = "kubernetes.io/dockerconfigjson") -> dict[str, Any]:
    doc = {"auths": auths} if kind.endswith("json") else auths
    key = ".dockerconfigjson" if kind.endswith("json") else ".dockercfg"
    return {"metadata": {"name": "s", "resourceVersion": "7"}, "type": kind,
            "data": {key: base64.b64encode(json.dumps(doc).encode()).decode()}}  # fmt: skip


def test_credentials_from_pull_secrets() -> None:
    auth = base64.b64encode(b"alice:pw:with:colons").decode()
    hub = _secret({"https://index.docker.io/v1/": {"auth": auth}})
    assert credentials_for("registry-1.docker.io", [hub]) == Credentials("alice", "pw:with:colons")
    local = _secret({"http://127.0.0.1:5000": {"username": "bob", "password": "x"}}, "kubernetes.io/dockercfg")
    assert credentials_for("127.0.0.1:5000", [hub, local]) == Credentials("bob", "x")
    assert credentials_for("ghcr.io", [hub, local]) is None
    assert "x" not in repr(Credentials("bob", "x"))


def test_secret_projection_keeps_only_pull_secret_data() -> None:
    opaque = {"metadata": {"name": "o", "managedFields": []}, "type": "Opaque", "data": {"k": "dg=="}}
    assert pull_secret_projection(opaque) == {"type": "Opaque", "metadata": {"name": "o"}}
    assert "data" in pull_secret_projection(_secret({}))
    assert fingerprint([("s", _secret({}))]) != fingerprint([("s", None)])


def test_labels_become_image_metadata() -> None:
    labels = {
        "org.opencontainers.image.title": "Llama",
        "org.opencontainers.image.version": "1.0",
        "org.amd.silogen.model.canonicalName": "HuggingFaceTB/SmolLM2-135M",
        "org.amd.silogen.model.tags": "text-generation, chat,, instruction ",
        "org.amd.silogen.hfToken.required": "T",
        "org.amd.silogen.model.recommendedDeployments": (
            "[{'gpuModel': 'MI300X', 'gpuCount': 1, 'precision': 'fp8', 'metric': 'latency',"
            " 'description': \"It's fast\"}]"
        ),
    }
    meta = image_metadata(labels)
    assert meta["oci"] == {"title": "Llama", "version": "1.0"}
    model = meta["model"]
    assert model["canonicalName"] == "HuggingFaceTB/SmolLM2-135M"
    assert model["tags"] == ["text-generation", "chat", "instruction"]
    assert model["hfTokenRequired"] is True
    assert model["recommendedDeployments"] == [
        {"gpuModel": "MI300X", "gpuCount": 1, "precision": "fp8", "metric": "latency", "description": "It's fast"}
    ]


def test_recommended_deployments_json_python_and_single_object() -> None:
    assert parse_recommended_deployments('[{"gpuModel": "MI300X"}]') == [{"gpuModel": "MI300X"}]
    assert parse_recommended_deployments("{'gpuModel': 'MI325X', 'x': True}") == [{"gpuModel": "MI325X", "x": True}]
    with pytest.raises(ValueError, match="neither JSON nor a Python literal"):
        parse_recommended_deployments("__import__('os')")
    with pytest.raises(ValueError, match="not a list of objects"):
        parse_recommended_deployments("[1, 2]")


def test_missing_canonical_name_is_a_clear_permanent_error() -> None:
    with pytest.raises(MetadataError) as info:
        image_metadata({"org.opencontainers.image.title": "busybox"})
    assert info.value.reason == "MetadataMissingLabel"
    assert info.value.message == 'missing required image label "org.amd.silogen.model.canonicalName"'


def test_challenge_parsing() -> None:
    scheme, params = parse_challenge('Bearer realm="https://auth/token",service="reg",scope="repository:a:pull"')
    assert scheme == "bearer"
    assert params == {"realm": "https://auth/token", "service": "reg", "scope": "repository:a:pull"}


@pytest.fixture
async def token_registry() -> AsyncIterator[dict[str, Any]]:
    """A registry that wants a Bearer token from its realm, which wants Basic ``alice:pw``."""
    state: dict[str, Any] = {"fail": 0, "token_requests": []}
    config = json.dumps({"config": {"Labels": {"org.amd.silogen.model.canonicalName": "m"}}}).encode()

    async def token(request: web.Request) -> web.Response:
        state["token_requests"].append(dict(request.query))
        if request.headers.get("Authorization") != "Basic " + base64.b64encode(b"alice:pw").decode():
            return web.Response(status=401)
        return web.json_response({"token": "tok"})

    def authorised(request: web.Request) -> bool:
        return request.headers.get("Authorization") == "Bearer tok"

    async def manifest(request: web.Request) -> web.Response:
        if state["fail"]:
            state["fail"] -= 1
            return web.Response(status=503)
        if not authorised(request):
            realm = f"http://{request.host}/token"
            challenge = f'Bearer realm="{realm}",service="test",scope="repository:a/b:pull"'
            return web.Response(status=401, headers={"WWW-Authenticate": challenge})
        body = {"schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                "config": {"digest": "sha256:c", "size": len(config)}, "layers": []}  # fmt: skip
        return web.json_response(body, content_type="application/vnd.docker.distribution.manifest.v2+json")

    async def blob(request: web.Request) -> web.Response:
        if not authorised(request):
            return web.Response(status=401, headers={"WWW-Authenticate": 'Bearer realm="x"'})
        raise web.HTTPTemporaryRedirect("/storage/config")

    async def storage(request: web.Request) -> web.Response:
        assert "Authorization" not in request.headers  # the registry token is not forwarded
        return web.Response(body=config)

    app = web.Application()
    app.router.add_get("/token", token)
    app.router.add_get("/v2/a/b/manifests/{ref}", manifest)
    app.router.add_get("/v2/a/b/blobs/{digest}", blob)
    app.router.add_get("/storage/config", storage)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    state["ref"] = parse_reference(f"127.0.0.1:{port}/a/b:1")
    yield state
    await runner.cleanup()


async def test_bearer_token_flow_with_basic_credentials(token_registry: dict[str, Any]) -> None:
    labels = await RegistryClient().labels(token_registry["ref"], Credentials("alice", "pw"))
    assert labels == {"org.amd.silogen.model.canonicalName": "m"}
    assert token_registry["token_requests"] == [{"service": "test", "scope": "repository:a/b:pull"}]


async def test_bearer_token_refused_is_an_auth_error(token_registry: dict[str, Any]) -> None:
    with pytest.raises(RegistryAuthError, match="refused the configured credentials"):
        await RegistryClient().labels(token_registry["ref"], Credentials("alice", "wrong"))
    with pytest.raises(RegistryAuthError, match="refused anonymous access"):
        await RegistryClient().labels(token_registry["ref"])


async def test_server_errors_and_unreachable_registries_are_transient(token_registry: dict[str, Any]) -> None:
    token_registry["fail"] = 1
    with pytest.raises(TransientRegistryError, match="answered 503"):
        await RegistryClient().labels(token_registry["ref"], Credentials("alice", "pw"))
    with pytest.raises(TransientRegistryError, match="unreachable"):
        await RegistryClient(timeout=2).labels(parse_reference("127.0.0.1:1/a/b:1"))
