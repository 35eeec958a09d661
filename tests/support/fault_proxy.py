"""An HTTP-level fault proxy in front of the apiserver: delay, drop, or rewrite answers, per rule.

The proxy terminates TLS with the local cluster's own PKI (the apiserver's serving certificate, which
the cluster CA signs for ``127.0.0.1``), so a client configured with :meth:`FaultProxy.kubeconfig`
verifies it exactly as it verifies the apiserver. Each request is forwarded over TLS to the real
apiserver and the answer streamed back (watches included) unless a :class:`Rule` matches.

**Credentials** (a TLS proxy cannot forward a client certificate): a request carrying a bearer token
is forwarded with that token; every other request is forwarded with the proxy's own client
certificate (``client_cert``/``client_key``, by default the cluster's admin). Give each operator
process a proxy with its own identity (:func:`aimctl.devcluster.pki.ensure_client_certificate`)
and the apiserver — and its audit log — tells the processes apart.

**Rules** are checked in order; the first that matches (method, path regex, query predicate, watch
or not, and whose ``times`` budget is not spent, while ``enabled``) acts:

* ``delay_request`` seconds before forwarding, ``delay_response`` seconds after the apiserver
  answered (the write has happened; the client learns of it late — the status-write race);
* ``drop``: close the connection without an answer (before forwarding, nothing reaches the
  apiserver);
* ``status``: answer with that code and a Kubernetes ``Status`` body without forwarding (410 Gone,
  429 or 5xx, with ``retry_after`` as the ``Retry-After`` header and ``details.retryAfterSeconds``);
  ``cause`` adds a ``details.causes`` reason (e.g. ``ResourceVersionTooLarge`` with a 504, which is
  how the apiserver refuses a too-large resource version);
* ``watch_error``: for a watch, answer 200 with one ``ERROR`` event carrying a ``Status`` of that
  code (how an established watch learns of 410 Gone), then end the stream.

Every request is recorded (:attr:`FaultProxy.records`) with the rule that acted, so tests count
lists, watches and writes as the client made them.
"""

from __future__ import annotations

import asyncio
import json
import re
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from aiohttp import web

from aimctl.devcluster.kubeconfig import render_kubeconfig, write_kubeconfig

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


@dataclass
class Rule:
    """One fault; see the module docstring. ``query`` is a predicate on the parsed query string."""

    name: str
    method: str | frozenset[str] | None = None  # one method or a set (e.g. WRITE_METHODS)
    path: str | None = None  # a regular expression searched in the path
    not_path: str | None = None  # ... and one that must not be found (e.g. leases)
    query: Callable[[dict[str, str]], bool] | None = None
    watch: bool | None = None  # True: only watches; False: never watches
    delay_request: float = 0.0
    delay_response: float = 0.0
    drop: bool = False
    status: int | None = None
    retry_after: int | None = None
    reason: str = ""
    message: str = ""
    cause: str | None = None
    watch_error: int | None = None
    times: int | None = None  # act this many times at most (None: always)
    enabled: bool = True
    hits: int = 0

    def matches(self, method: str, path: str, query: dict[str, str]) -> bool:
        if not self.enabled or (self.times is not None and self.hits >= self.times):
            return False
        if isinstance(self.method, str) and method != self.method:
            return False
        if isinstance(self.method, frozenset) and method not in self.method:
            return False
        if self.path is not None and not re.search(self.path, path):
            return False
        if self.not_path is not None and re.search(self.not_path, path):
            return False
        is_watch = query.get("watch") in ("true", "1")
        if self.watch is not None and is_watch != self.watch:
            return False
        return self.query is None or self.query(query)

    def status_body(self, code: int) -> bytes:
        reasons = {410: "Expired", 429: "TooManyRequests", 500: "InternalError", 503: "ServiceUnavailable",
                   504: "Timeout"}  # fmt: skip
        details: dict[str, object] = {}
        if self.retry_after is not None:
            details["retryAfterSeconds"] = self.retry_after
        if self.cause:
            details["causes"] = [{"reason": self.cause, "message": self.message}]
        return json.dumps(
            {"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
             "message": self.message or f"injected by the fault proxy ({self.name})",
             "reason": self.reason or reasons.get(code, ""), "details": details, "code": code}
        ).encode()  # fmt: skip


@dataclass(frozen=True)
class Record:
    at: float  # time.monotonic() when the request arrived
    method: str
    path: str
    query: dict[str, str]
    status: int  # 0: dropped
    rule: str | None = None

    @property
    def watch(self) -> bool:
        return self.query.get("watch") in ("true", "1")

    @property
    def list(self) -> bool:
        return self.method == "GET" and not self.watch and _is_collection(self.path)


def _is_collection(path: str) -> bool:
    """``/api/v1/secrets``, ``/apis/g/v/namespaces/ns/kind`` — an even number of segments after the
    group-version prefix means a collection."""
    parts = [p for p in path.split("/") if p]
    if not parts:
        return False
    rest = parts[2:] if parts[0] == "api" else parts[3:]
    if rest[:1] == ["namespaces"] and len(rest) >= 3:
        rest = rest[2:]
    return len(rest) == 1


@dataclass
class FaultProxy:
    """See the module docstring. ``start()`` then use :meth:`kubeconfig`; ``stop()`` at the end."""

    upstream: str
    pki: Path  # the cluster's pki directory: ca.crt, apiserver.crt/.key, admin.crt/.key
    client_cert: Path | None = None
    client_key: Path | None = None
    rules: list[Rule] = field(default_factory=list)
    records: list[Record] = field(default_factory=list)
    port: int = 0

    def __post_init__(self) -> None:
        #: Bytes relayed on watch streams, by path (e.g. to prove a large event reached the client).
        self.watch_bytes: dict[str, int] = {}
        self._open_watches: set[aiohttp.ClientResponse] = set()
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None
        self._upstream_ssl = ssl.create_default_context(cafile=str(self.pki / "ca.crt"))
        self._upstream_ssl.load_cert_chain(
            str(self.client_cert or self.pki / "admin.crt"), str(self.client_key or self.pki / "admin.key")
        )

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> int:
        serving = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        serving.load_cert_chain(str(self.pki / "apiserver.crt"), str(self.pki / "apiserver.key"))
        connector = aiohttp.TCPConnector(limit=0, ssl=self._upstream_ssl)
        self._session = aiohttp.ClientSession(
            connector=connector, timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False
        )
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, handler_cancellation=True, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", self.port, ssl_context=serving)
        await site.start()
        server = site._server
        assert server is not None and server.sockets
        self.port = int(server.sockets[0].getsockname()[1])
        return self.port

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
        if self._session is not None:
            await self._session.close()

    @property
    def server(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    def kubeconfig(self, path: Path) -> Path:
        """Write a kubeconfig that points at the proxy (CA of the cluster; the admin certificate, which
        the proxy does not check — it forwards with its own identity)."""
        write_kubeconfig(
            path,
            render_kubeconfig(
                "aimctl-fault-proxy", self.server, self.pki / "ca.crt",
                self.pki / "admin.crt", self.pki / "admin.key", "proxy-client",
            ),
        )  # fmt: skip
        return path

    # ------------------------------------------------------------------ rules
    def add(self, rule: Rule) -> Rule:
        self.rules.append(rule)
        return rule

    def remove(self, rule: Rule) -> None:
        if rule in self.rules:
            self.rules.remove(rule)

    def clear(self) -> None:
        self.rules.clear()

    def close_watches(self) -> int:
        """End every watch stream in flight (cleanly, as an apiserver's watch timeout does), so the clients
        watch again — and meet the rules now in force. Returns how many were ended."""
        open_now = list(self._open_watches)
        for up in open_now:
            up.close()
        return len(open_now)

    def count(self, predicate: Callable[[Record], bool], since: float = 0.0) -> int:
        return sum(1 for r in self.records if r.at >= since and predicate(r))

    # ------------------------------------------------------------------ serving
    def _match(self, method: str, path: str, query: dict[str, str]) -> Rule | None:
        for rule in self.rules:
            if rule.matches(method, path, query):
                rule.hits += 1
                return rule
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        arrived = time.monotonic()
        query = dict(request.query)
        rule = self._match(request.method, request.path, query)
        name = rule.name if rule else None

        def record(status: int) -> None:
            self.records.append(Record(arrived, request.method, request.path, query, status, name))

        body = await request.read()
        if rule and rule.delay_request:
            await asyncio.sleep(rule.delay_request)
        if rule and rule.drop:
            record(0)
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("dropped by the fault proxy")
        if rule and rule.status is not None:
            record(rule.status)
            headers = {"Content-Type": "application/json"}
            if rule.retry_after is not None:
                headers["Retry-After"] = str(rule.retry_after)
            return web.Response(status=rule.status, body=rule.status_body(rule.status), headers=headers)
        if rule and rule.watch_error is not None and query.get("watch") in ("true", "1"):
            record(200)
            event = {"type": "ERROR", "object": json.loads(rule.status_body(rule.watch_error))}
            return web.Response(
                status=200, body=json.dumps(event).encode() + b"\n", headers={"Content-Type": "application/json"}
            )

        headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
        if not headers.get("Authorization", "").lower().startswith("bearer "):
            headers.pop("Authorization", None)
        try:
            up_cm = self._session.request(
                request.method, self.upstream.rstrip("/") + request.path_qs, headers=headers, data=body or None
            )
            up = await up_cm.__aenter__()
        except aiohttp.ClientError:
            record(0)
            if request.transport is not None:
                request.transport.abort()
            raise ConnectionResetError("upstream unreachable") from None
        try:
            record(up.status)
            out_headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP}
            is_watch = query.get("watch") in ("true", "1")
            if not is_watch:
                raw = await up.read()
                if rule and rule.delay_response:
                    await asyncio.sleep(rule.delay_response)
                return web.Response(status=up.status, body=raw, headers=out_headers)
            if rule and rule.delay_response:
                await asyncio.sleep(rule.delay_response)
            resp = web.StreamResponse(status=up.status, headers=out_headers)
            self._open_watches.add(up)
            try:
                await resp.prepare(request)
                try:
                    async for chunk in up.content.iter_any():
                        self.watch_bytes[request.path] = self.watch_bytes.get(request.path, 0) + len(chunk)
                        await resp.write(chunk)
                except aiohttp.ClientError:
                    pass  # the upstream stream ended early (or close_watches() cut it): end ours cleanly
                await resp.write_eof()
            except ConnectionResetError:
                pass
            finally:
                self._open_watches.discard(up)
            return resp
        finally:
            await up_cm.__aexit__(None, None, None)
