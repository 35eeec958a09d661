"""A recording reverse proxy in front of the apiserver: what exactly did a client ask, and what did
RBAC answer?

The operator under test connects to ``http://127.0.0.1:<port>`` with its ServiceAccount token; the
proxy forwards every request unchanged (token included) to the real apiserver over TLS, streams the
answer back (watches included), and records method, path, query and status. With
:func:`aimctl.rbac.request_verbs` each record becomes the (group, resource, verb) triples the
authorizer checked — including subresources (``/status``, ``/log``), which the operator's own
``aim_api_requests_total`` does not distinguish.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import aiohttp
from aiohttp import web

from aimctl.rbac import parse_path, request_verbs

HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "host", "content-length"}


@dataclass(frozen=True)
class Record:
    method: str
    path: str
    query: str
    status: int
    message: str = ""

    @property
    def rbac_denied(self) -> bool:
        """A 403 from the authorizer (not, e.g., a write into a terminating namespace)."""
        return self.status == 403 and " cannot " in self.message

    def grants(self) -> set[tuple[str, str, str]]:
        attrs = parse_path(self.path)
        if attrs is None:
            return set()
        return {
            (attrs.group, attrs.resource, v) for v in request_verbs(self.method, self.path, self.query, self.status)
        }


class RecordingProxy:
    def __init__(self, upstream: str, ca_file: Path) -> None:
        self.upstream = upstream.rstrip("/")
        self.ssl = ssl.create_default_context(cafile=str(ca_file))
        self.records: list[Record] = []
        #: Requests received and not yet answered by the apiserver (a watch counts until its headers).
        self.unanswered = 0
        self.port = 0
        self._runner: web.AppRunner | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> int:
        self._session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=None), auto_decompress=False)
        app = web.Application(client_max_size=64 * 1024 * 1024)
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
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

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        assert self._session is not None
        self.unanswered += 1
        pending = [True]  # until this request's record is written (or it failed)

        def record(rec: Record) -> None:
            self.records.append(rec)
            if pending:
                pending.clear()
                self.unanswered -= 1

        try:
            body = await request.read()
            headers = {k: v for k, v in request.headers.items() if k.lower() not in HOP_BY_HOP}
            async with self._session.request(
                request.method, self.upstream + request.path_qs, headers=headers, data=body or None, ssl=self.ssl
            ) as up:
                return await self._relay(request, up, record)
        finally:
            if pending:
                self.unanswered -= 1

    async def _relay(
        self, request: web.Request, up: aiohttp.ClientResponse, record: Callable[[Record], None]
    ) -> web.StreamResponse:
        headers = {k: v for k, v in up.headers.items() if k.lower() not in HOP_BY_HOP}
        if up.status >= 400:
            raw = await up.read()
            try:
                message = str(json.loads(raw).get("message", ""))
            except ValueError:
                message = raw.decode(errors="replace")[:500]
            record(Record(request.method, request.path, request.query_string, up.status, message))
            return web.Response(status=up.status, body=raw, headers=headers)
        record(Record(request.method, request.path, request.query_string, up.status))
        resp = web.StreamResponse(status=up.status, headers=headers)
        try:
            await resp.prepare(request)
            async for chunk in up.content.iter_any():
                await resp.write(chunk)
            await resp.write_eof()
        except (ConnectionResetError, aiohttp.ClientError):
            pass
        return resp

    def grants(self, *, allowed_only: bool = True) -> set[tuple[str, str, str]]:
        out: set[tuple[str, str, str]] = set()
        for r in self.records:
            if allowed_only and (r.status == 401 or r.rbac_denied):
                continue
            out |= r.grants()
        return out

    def denied(self) -> list[Record]:
        return [r for r in self.records if r.rbac_denied]
