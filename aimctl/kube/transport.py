"""HTTP to the apiserver on aiohttp: a connection pool, TLS and authentication for one :class:`Configuration`.

Why not kubernetes_asyncio's ``ApiClient``: importing it imports every generated API and model (see
:mod:`aimctl.kube.kubeconfig`), and :class:`informers.rest.RestClient` uses none of them — it sends
raw JSON and reads the answer itself. :meth:`ApiTransport.call_api` is the subset of
``ApiClient.call_api`` that ``RestClient`` calls (path, method, query, headers, body, timeout; the
response unread), so ``RestClient`` works over either.

Memory: asyncio gives every TLS connection a 256 KiB read buffer (``SSLProtocol.max_size``), filled
by each read. The operator keeps one connection per watch (tens of them) plus a pool for requests, so
:func:`limit_tls_read_buffer` lowers it, process-wide, to 64 KiB — four TLS records, as much as one
socket read usually returns: 40 connections then cost ~3 MiB instead of ~12 MiB (measured with
tests/bench/bench_footprint.py), for a few more, cheap, reads of a large list.

Behaviour kept from kubernetes_asyncio: a JSON body is encoded (by orjson) and bytes are sent as they
are; ``HTTPS_PROXY``/``NO_PROXY`` are honoured, but resolved once by :func:`aimctl.kube.client.new_client`
into ``Configuration.proxy`` instead of per request (``trust_env`` is off: see that module); a 2 MiB
read buffer, because one watch event may carry an object of up to 1.5 MiB (etcd's default request
limit) on a single line.
"""

from __future__ import annotations

import asyncio.sslproto
from collections.abc import Callable, Sequence
from typing import Any
from urllib.parse import urlencode

import aiohttp
import orjson
from aiohttp.abc import AbstractStreamWriter
from aiohttp.payload import BytesPayload

from aimctl.kube.kubeconfig import Configuration

READ_BUFFER = 2**21
#: asyncio's read buffer per TLS connection, lowered from 256 KiB (see the module docstring).
TLS_READ_BUFFER = 64 * 1024


def limit_tls_read_buffer(size: int = TLS_READ_BUFFER) -> None:
    """Lower asyncio's per-TLS-connection read buffer to ``size`` bytes (never raise it).

    ``SSLProtocol.max_size`` is a class attribute of CPython's asyncio (3.11 to 3.13); where it is
    absent this does nothing.
    """
    protocol: object = getattr(asyncio.sslproto, "SSLProtocol", None)
    current = getattr(protocol, "max_size", None)
    if isinstance(current, int) and current > size:
        protocol.max_size = size  # type: ignore[attr-defined]


class GuardedBytes(BytesPayload):
    """A request body that calls ``guard`` in the very step that hands its bytes to the socket, and
    sends nothing when ``guard`` raises.

    Why: aiohttp sends a body (and, since 3.10, the headers buffered with it) from a task of its own,
    scheduled after the request's coroutine returned from the write fence's check. A process stopped
    in between (SIGSTOP, a frozen VM, a long GC pause) runs that task first when it resumes, before
    any timer fires: a write the fence allowed before the stop reached the apiserver after the lease
    had passed to another replica (chaos scenario 3, ``tests/chaos``). Checking again here, where no
    ``await`` separates the check from the socket write, closes that gap."""

    def __init__(self, value: bytes, guard: Callable[[], object], **kwargs: Any) -> None:
        super().__init__(value, **kwargs)
        self._guard = guard

    async def write(self, writer: AbstractStreamWriter) -> None:
        self._guard()
        await super().write(writer)

    async def write_with_length(self, writer: AbstractStreamWriter, content_length: int | None) -> None:
        self._guard()
        await super().write_with_length(writer, content_length)


class ApiTransport:
    """Requests to ``configuration.host`` over a pool of ``pool_size`` connections (0: unbounded).

    Create it inside the event loop that uses it; :meth:`close` releases the connections.
    """

    #: :class:`informers.rest.RestClient` may pass ``_send_guard`` (see :meth:`call_api`).
    accepts_send_guard = True

    def __init__(self, configuration: Configuration, pool_size: int = 256, user_agent: str | None = None) -> None:
        limit_tls_read_buffer()
        self.configuration = configuration
        self.user_agent = user_agent
        self.session = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=pool_size, ssl=configuration.ssl_context),
            trust_env=False,
            read_bufsize=READ_BUFFER,
        )

    def fork(self, pool_size: int) -> ApiTransport:
        """A transport to the same apiserver with the same credentials over a pool of its own
        (``pool_size`` connections): the leader elector's, so a lease renewal never waits for a
        connection of the reconcile traffic's pool (see :meth:`informers.rest.RestClient.sibling`)."""
        return ApiTransport(self.configuration, pool_size=pool_size, user_agent=self.user_agent)

    async def call_api(
        self,
        resource_path: str,
        method: str,
        *,
        query_params: Sequence[tuple[str, str]] | None = None,
        header_params: dict[str, str] | None = None,
        body: Any = None,
        auth_settings: Sequence[str] | None = None,
        _preload_content: bool = False,
        _request_timeout: aiohttp.ClientTimeout | float | None = None,
        _send_guard: Callable[[], object] | None = None,
    ) -> aiohttp.ClientResponse:
        """Send one request; return the response with its body unread (the caller reads and releases it).

        ``auth_settings`` and ``_preload_content`` exist for ``ApiClient.call_api`` compatibility: the
        configuration's credentials always apply, and the body is never preloaded. ``_send_guard``
        (writes under a leader's write fence) is called again when the bytes are sent
        (:class:`GuardedBytes`); when it raises, nothing is sent and the request fails.
        """
        cfg = self.configuration
        url = cfg.host + resource_path
        if query_params:
            url += "?" + urlencode(list(query_params))
        headers = dict(header_params or {})
        headers.setdefault("Content-Type", "application/json")
        if self.user_agent:
            headers["User-Agent"] = self.user_agent
        authorization = await cfg.credentials.authorization()
        if authorization:
            headers["Authorization"] = authorization
        data: Any = (
            body
            if body is None or isinstance(body, bytes | str)
            else orjson.dumps(body, option=orjson.OPT_NON_STR_KEYS)
        )
        if _send_guard is not None and data is not None:  # (without a body, aiohttp sends at once)
            raw = data.encode() if isinstance(data, str) else data
            data = GuardedBytes(raw, _send_guard, content_type=headers["Content-Type"])
        if isinstance(_request_timeout, int | float):
            timeout = aiohttp.ClientTimeout(total=_request_timeout)
        else:
            timeout = _request_timeout or aiohttp.ClientTimeout()
        return await self.session.request(
            method,
            url,
            headers=headers,
            data=data,
            timeout=timeout,
            proxy=cfg.proxy,
            server_hostname=cfg.tls_server_name,
        )

    async def close(self) -> None:
        await self.session.close()
