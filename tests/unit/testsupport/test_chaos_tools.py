"""The chaos suite's tools without a cluster: the fault proxy's rules against a loopback HTTPS
upstream signed by a throwaway cluster PKI, and the audit-log reader on apiserver lines."""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from aimctl.devcluster.components import AUDIT_POLICY, AuditLog
from aimctl.devcluster.pki import ClientIdentity, ensure_client_certificate, ensure_pki
from tests.support import audit
from tests.support.fault_proxy import WRITE_METHODS, FaultProxy, Rule


@pytest.fixture
async def upstream(tmp_path: Path):  # type: ignore[no-untyped-def]
    """An HTTPS server with the PKI's apiserver certificate that echoes method, path and the client's CN."""
    pki = tmp_path / "pki"
    ensure_pki(pki)
    seen: list[str] = []

    async def echo(request: web.Request) -> web.StreamResponse:
        peer = request.transport.get_extra_info("peercert") if request.transport else None
        cn = dict(x[0] for x in peer["subject"])["commonName"] if peer else ""
        seen.append(f"{request.method} {request.path_qs} {cn}")
        if request.query.get("watch") == "true":
            resp = web.StreamResponse()
            await resp.prepare(request)
            await resp.write(b'{"type":"ADDED","object":{}}\n')
            if request.query.get("forever"):
                await asyncio.sleep(3600)
            await resp.write_eof()
            return resp
        return web.json_response({"method": request.method, "cn": cn})

    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.crt"))
    ctx.load_cert_chain(str(pki / "apiserver.crt"), str(pki / "apiserver.key"))
    ctx.verify_mode = ssl.CERT_REQUIRED
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    runner = web.AppRunner(app, handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"https://127.0.0.1:{port}", pki, seen
    await runner.cleanup()


async def test_fault_proxy_forwards_with_its_identity_and_applies_rules(upstream) -> None:  # type: ignore[no-untyped-def]
    server, pki, seen = upstream
    cert, key = ensure_client_certificate(pki, ClientIdentity("replica-a", "chaos-replica-a", ("system:masters",)))
    proxy = FaultProxy(server, pki, cert, key)
    await proxy.start()
    client_ctx = ssl.create_default_context(cafile=str(pki / "ca.crt"))
    try:
        async with aiohttp.ClientSession() as session:
            base = proxy.server

            async def call(method: str, path: str) -> tuple[int, str, dict[str, str]]:
                async with session.request(method, base + path, ssl=client_ctx) as r:
                    return r.status, await r.text(), dict(r.headers)

            status, body, _ = await call("GET", "/api/v1/pods")
            assert status == 200 and json.loads(body)["cn"] == "chaos-replica-a"

            proxy.add(Rule("429", method=WRITE_METHODS, not_path="/leases/", status=429, retry_after=3))
            status, body, headers = await call("PATCH", "/api/v1/namespaces/a/pods/x")
            assert (status, headers["Retry-After"], json.loads(body)["details"]["retryAfterSeconds"]) == (429, "3", 3)
            status, _, _ = await call("PATCH", "/apis/coordination.k8s.io/v1/namespaces/a/leases/l")
            assert status == 200, "not_path exempts leases"
            proxy.clear()

            proxy.add(Rule("gone", watch=True, watch_error=410, times=1))
            status, body, _ = await call("GET", "/api/v1/pods?watch=true")
            event = json.loads(body.splitlines()[0])
            assert (status, event["type"], event["object"]["code"]) == (200, "ERROR", 410)
            status, body, _ = await call("GET", "/api/v1/pods?watch=true")
            assert json.loads(body.splitlines()[0])["type"] == "ADDED", "times=1: the second watch passes"

            proxy.add(Rule("slow status", method="PATCH", path=r"/status$", delay_response=0.3))
            t = time.monotonic()
            await call("PATCH", "/api/v1/namespaces/a/pods/x/status")
            assert time.monotonic() - t >= 0.3
            assert seen[-1].startswith("PATCH /api/v1/namespaces/a/pods/x/status"), "the write reached upstream"

            proxy.add(Rule("drop", method="DELETE", drop=True))
            with pytest.raises(aiohttp.ClientError):
                await call("DELETE", "/api/v1/namespaces/a/pods/x")
            assert not any(s.startswith("DELETE") for s in seen), "a dropped request never reaches upstream"

            async with session.get(base + "/api/v1/pods?watch=true&forever=1", ssl=client_ctx) as r:
                assert (await r.content.readline()).startswith(b'{"type":"ADDED"')
                assert proxy.close_watches() == 1
                assert await asyncio.wait_for(r.content.read(), 5) == b"", "the cut watch ends cleanly"
            assert proxy.watch_bytes["/api/v1/pods"] > 0

        lists = proxy.count(lambda r: r.list)
        watches = proxy.count(lambda r: r.watch)
        assert (lists, watches) == (1, 3)
    finally:
        await proxy.stop()


def test_audit_reader_keeps_completed_writes_with_their_user(tmp_path: Path) -> None:
    line = {
        "kind": "Event", "level": "Metadata", "stage": "ResponseComplete", "verb": "patch",
        "user": {"username": "chaos-operator-a"}, "objectRef": {"resource": "aimservices", "namespace": "n",
        "name": "s", "subresource": "status"}, "responseStatus": {"code": 200},
        "requestReceivedTimestamp": "2026-12-01T21:00:00.000001Z", "stageTimestamp": "2026-12-01T21:00:00.100000Z",
    }  # fmt: skip
    log = tmp_path / "audit.log"
    log.write_text(json.dumps(line) + "\n" + json.dumps(dict(line, stage="RequestReceived")) + "\nnot json\n")
    (w,) = audit.writes(log)
    assert (w.user, w.verb, w.resource, w.subresource, w.ok) == (
        "chaos-operator-a",
        "patch",
        "aimservices",
        "status",
        True,
    )
    assert audit.writes(log, since=w.completed.replace(second=1)) == []


def test_audit_flags_only_when_asked() -> None:
    flags = AuditLog(Path("/p.yaml"), Path("/a.log")).flags()
    assert "--audit-policy-file=/p.yaml" in flags and "--audit-log-path=/a.log" in flags
    assert "level: None" in AUDIT_POLICY and '"create", "update", "patch", "delete"' in AUDIT_POLICY
