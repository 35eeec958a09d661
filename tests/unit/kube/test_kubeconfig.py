"""The kubeconfig / in-cluster loader and the aiohttp transport, against files in a temporary directory
and a loopback HTTP server that records what it received (the apiserver is covered end to end)."""

from __future__ import annotations

import base64
import json
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
import yaml
from aiohttp import web

from aimctl.devcluster.pki import ensure_pki
from aimctl.kube.client import ClientSettings, new_client
from aimctl.kube.kubeconfig import (
    ExecCredentials,
    KubeConfigError,
    TokenFileCredentials,
    load_incluster,
    load_kubeconfig,
)
from aimctl.kube.transport import ApiTransport


def kubeconfig(tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any] | None = None) -> Path:
    path = tmp_path / "config"
    doc = {
        "apiVersion": "v1",
        "kind": "Config",
        "current-context": "c",
        "clusters": [{"name": "k", "cluster": cluster or {"server": "https://127.0.0.1:6443/"}}],
        "users": [{"name": "u", "user": user}],
        "contexts": [{"name": "c", "context": {"cluster": "k", "user": "u"}}],
    }
    path.write_text(yaml.safe_dump(doc))
    return path


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


async def test_static_token_and_basic_auth(tmp_path: Path) -> None:
    cfg = await load_kubeconfig(kubeconfig(tmp_path, {"token": "abc"}))
    assert cfg.host == "https://127.0.0.1:6443"
    assert await cfg.credentials.authorization() == "Bearer abc"
    cfg = await load_kubeconfig(kubeconfig(tmp_path, {"username": "ann", "password": "pw"}))
    assert await cfg.credentials.authorization() == f"Basic {b64(b'ann:pw')}"


async def test_token_file_is_read_again_after_its_ttl(tmp_path: Path) -> None:
    token = tmp_path / "tok"
    token.write_text("one\n")
    now = [0.0]
    creds = TokenFileCredentials(token, ttl=60, clock=lambda: now[0])
    assert await creds.authorization() == "Bearer one"
    token.write_text("two")
    now[0] = 59
    assert await creds.authorization() == "Bearer one"
    now[0] = 60
    assert await creds.authorization() == "Bearer two"
    token.unlink()  # mid-rotation: the last good token stays
    now[0] = 200
    assert await creds.authorization() == "Bearer two"
    # relative tokenFile: against the kubeconfig's directory
    (tmp_path / "rel").write_text("three")
    cfg = await load_kubeconfig(kubeconfig(tmp_path, {"tokenFile": "rel"}))
    assert await cfg.credentials.authorization() == "Bearer three"


async def test_client_certificate_data_and_files_load(tmp_path: Path) -> None:
    pki = tmp_path / "pki"
    ensure_pki(pki)
    cert, key, ca = (pki / "admin.crt").read_bytes(), (pki / "admin.key").read_bytes(), (pki / "ca.crt").read_bytes()
    cluster = {"server": "https://127.0.0.1:6443", "certificate-authority-data": b64(ca)}
    cfg = await load_kubeconfig(
        kubeconfig(tmp_path, {"client-certificate-data": b64(cert), "client-key-data": b64(key)}, cluster)
    )
    assert await cfg.credentials.authorization() is None
    assert cfg.ssl_context.get_ca_certs()
    cluster = {"server": "https://127.0.0.1:6443", "certificate-authority": "pki/ca.crt", "tls-server-name": "kube"}
    cfg = await load_kubeconfig(
        kubeconfig(tmp_path, {"client-certificate": "pki/admin.crt", "client-key": "pki/admin.key"}, cluster)
    )
    assert cfg.tls_server_name == "kube"
    with pytest.raises(KubeConfigError, match="without its key"):
        await load_kubeconfig(kubeconfig(tmp_path, {"client-certificate-data": b64(cert)}, cluster))


@pytest.mark.parametrize(
    ("user", "cluster", "message"),
    [
        ({"auth-provider": {"name": "oidc"}}, None, "auth-provider 'oidc'.*exec credential plugin"),
        ({"token": "t"}, {"server": ""}, "has no server URL"),
        ({"token": "t"}, {"server": "https://x", "certificate-authority": "missing.crt"}, "certificate-authority"),
        ({"tokenFile": "missing"}, None, "token file .*missing cannot be read"),
    ],
)
async def test_unusable_kubeconfigs_name_the_field(
    tmp_path: Path, user: dict[str, Any], cluster: dict[str, Any] | None, message: str
) -> None:
    with pytest.raises(KubeConfigError, match=message):
        await load_kubeconfig(kubeconfig(tmp_path, user, cluster))


async def test_unknown_context_and_unreadable_file(tmp_path: Path) -> None:
    path = kubeconfig(tmp_path, {"token": "t"})
    with pytest.raises(KubeConfigError, match="contexts has no entry named 'other'"):
        await load_kubeconfig(path, "other")
    with pytest.raises(KubeConfigError, match="cannot be read"):
        await load_kubeconfig(tmp_path / "nope")


def plugin(tmp_path: Path, body: str) -> dict[str, Any]:
    script = tmp_path / "plugin.py"
    script.write_text(body)
    return {"apiVersion": "client.authentication.k8s.io/v1", "command": sys.executable, "args": [str(script)]}


async def test_exec_plugin_token_is_renewed_when_it_expires(tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    spec = plugin(
        tmp_path,
        "import json, os, pathlib\n"
        f"p = pathlib.Path({str(counter)!r}); n = int(p.read_text()) + 1 if p.exists() else 1; p.write_text(str(n))\n"
        "info = json.loads(os.environ['KUBERNETES_EXEC_INFO'])\n"
        "print(json.dumps({'apiVersion': info['apiVersion'], 'kind': 'ExecCredential', 'status': {\n"
        "    'token': f'tok{n}-' + os.environ['EXTRA'], 'expirationTimestamp': '2030-01-01T00:00:00Z'}}))\n",
    )
    spec["env"] = [{"name": "EXTRA", "value": "x"}]
    cfg = await load_kubeconfig(kubeconfig(tmp_path, {"exec": spec}))
    assert await cfg.credentials.authorization() == "Bearer tok1-x"
    assert isinstance(cfg.credentials, ExecCredentials)
    cfg.credentials.clock = lambda: 1893456000.0 - 5  # 5 s before expiry: within the renewal margin
    assert await cfg.credentials.authorization() == "Bearer tok2-x"


async def test_exec_plugin_failure_is_one_line(tmp_path: Path) -> None:
    spec = plugin(tmp_path, "import sys\nprint('token expired, run login', file=sys.stderr)\nsys.exit(3)\n")
    with pytest.raises(KubeConfigError, match="exited with 3: token expired, run login"):
        await load_kubeconfig(kubeconfig(tmp_path, {"exec": spec}))
    spec = {"command": "./no-such-plugin", "installHint": "install no-such-plugin"}
    with pytest.raises(KubeConfigError, match=r"cannot run .*install no-such-plugin"):
        await load_kubeconfig(kubeconfig(tmp_path, {"exec": spec}))


def test_in_cluster(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    with pytest.raises(KubeConfigError, match="not in a cluster"):
        load_incluster(tmp_path)
    ensure_pki(tmp_path)
    (tmp_path / "token").write_text("sa-token")
    monkeypatch.setenv("KUBERNETES_SERVICE_HOST", "fd00::1")
    monkeypatch.setenv("KUBERNETES_SERVICE_PORT", "443")
    cfg = load_incluster(tmp_path)
    assert cfg.host == "https://[fd00::1]:443"
    assert isinstance(cfg.credentials, TokenFileCredentials)


async def test_transport_sends_what_the_rest_layer_asks(tmp_path: Path) -> None:
    """Path, query, headers, JSON bodies encoded, bytes bodies untouched, the response left unread."""
    seen: list[tuple[str, str, dict[str, str], bytes]] = []

    async def handler(request: web.BaseRequest) -> web.Response:
        seen.append((request.method, request.path_qs, dict(request.headers), await request.read()))
        return web.json_response({"kind": "Status"}, status=201)

    runner = web.ServerRunner(web.Server(handler), handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        path = kubeconfig(tmp_path, {"token": "abc"}, {"server": f"http://127.0.0.1:{port}"})
        client = await new_client(ClientSettings(kubeconfig=path))
        try:
            assert await client.request("create", "/api/v1/x", body={"a": "é"}, query=[("fieldManager", "a b")]) == {
                "kind": "Status"
            }
            await client.request("apply", "/apis/g/v1/y", body={"s": "😀"})
        finally:
            await client.close()
    finally:
        await runner.cleanup()
    (m1, p1, h1, b1), (m2, _, h2, b2) = seen
    assert (m1, p1, json.loads(b1)) == ("POST", "/api/v1/x?fieldManager=a+b", {"a": "é"})
    assert h1["Authorization"] == "Bearer abc" and h1["User-Agent"].startswith("aimctl/")
    assert h1["Content-Type"] == "application/json"
    assert m2 == "PATCH" and h2["Content-Type"].startswith("application/apply-patch+yaml")
    assert "😀".encode() in b2  # raw UTF-8, as the apiserver's YAML reader needs


async def test_transport_host_can_be_repointed(tmp_path: Path) -> None:
    """Tests and benchmarks point a loaded configuration at a proxy by changing ``host``."""
    cfg = await load_kubeconfig(kubeconfig(tmp_path, {"token": "t"}, {"server": "http://127.0.0.1:9"}))
    transport = ApiTransport(cfg)
    cfg.host = "http://127.0.0.1:1"
    try:
        with anyio.fail_after(10), pytest.raises(OSError, match=r"127\.0\.0\.1:1"):
            await transport.call_api("/version", "GET")
    finally:
        await transport.close()


async def test_tls_read_buffer_is_lowered(tmp_path: Path) -> None:
    """asyncio's 256 KiB buffer per TLS connection, times one connection per watch, was most of what
    the operator's memory grew by between start-up and synced caches."""
    import asyncio.sslproto

    cfg = await load_kubeconfig(kubeconfig(tmp_path, {"token": "t"}))
    transport = ApiTransport(cfg)
    await transport.close()
    assert asyncio.sslproto.SSLProtocol.max_size <= 64 * 1024
