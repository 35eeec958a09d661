"""A thin raw-JSON REST layer over a transport with ``ApiClient.call_api``'s shape.

Why: generated API methods decode into typed models (~30x the cost of ``json.loads``), need a
different method per resource, default custom-object PATCHes to JSON-Patch, and apply *no* timeout
unless told (kubernetes_asyncio #337/#360). This layer only needs a transport that sends one request
with configuration, TLS and authentication applied and returns the response unread
(``call_api(path, method, ..., _preload_content=False)``): the operator's is
``aimctl.kube.transport.ApiTransport`` (aiohttp, no generated client); a kubernetes_asyncio
``ApiClient`` fits as well (tests use one). Every response is read and decoded here, once (orjson).

Guarantees:
    * every request carries a timeout (``default_timeout`` = 30 s unless given), enforced by aiohttp
      *and* by an anyio deadline;
    * non-2xx answers raise :class:`ApiError` carrying the apiserver's ``Status`` (code, reason,
      message, ``Retry-After``);
    * every request passes the optional client-side token bucket, and writes (create, update, patch,
      apply, delete) additionally hold one slot of a bounded pool
      (:class:`informers.writeslots.WriteSlots`), so a burst of work never floods the apiserver nor
      exhausts the connection pool that watches share; a write sent with ``background=True`` (events)
      yields its slot to the others while they are busy;
    * every request is reported to the optional :class:`RequestObserver` with its verb, resource and
      code (``"<error>"`` when no HTTP answer arrived);
    * a unary request answered 429, or 5xx with a ``Retry-After`` header, is retried after that
      many seconds (bounded by ``max_retry_after``, 10 s, and ``max_retries``, 5, client-go's
      ``checkWait``/``maxRetries`` behaviour): the apiserver says so when it did not process the
      request (API Priority and Fairness, a starting apiserver). Each attempt takes its own token
      and write slot; no slot is held while waiting;
    * with a ``write_fence``, no write is *sent* once the fence reports no time left (the lease
      may have been taken by another replica: :class:`WriteFenced` is raised instead), and a write
      in flight is given no more time than the fence has left;
    * watches can use their own ``ApiClient`` (``watch_api_client``): one long-lived connection per
      watch, in a pool of their own, so many watches (``--namespaces`` with 50 namespaces) never
      wait for, nor starve, the connections of unary requests.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any, Literal, Protocol

import aiohttp
import anyio

from informers.encoding import APPLY_PATCH_UTF8, encode_apply_patch, loads
from informers.objects import dig
from informers.ratelimit import AsyncTokenBucket
from informers.writeslots import WriteSlots

#: Connections of a sibling with ``own_connections`` (the elector: one request at a time plus the
#: watch of its Lease while campaigning).
OWN_POOL_SIZE = 4

READ_VERBS = frozenset({"get", "list", "watch"})
WRITE_VERBS = frozenset({"create", "update", "patch", "apply", "delete"})
_METHODS = {
    "get": "GET",
    "list": "GET",
    "watch": "GET",
    "create": "POST",
    "update": "PUT",
    "patch": "PATCH",
    "apply": "PATCH",
    "delete": "DELETE",
}
APPLY_PATCH = "application/apply-patch+yaml"
MERGE_PATCH = "application/merge-patch+json"


class ApiError(Exception):
    """A non-2xx answer from the apiserver (or an ``ERROR`` watch event)."""

    def __init__(
        self,
        status: int,
        reason: str = "",
        message: str = "",
        body: dict[str, Any] | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(f"{status} {reason}: {message}".strip())
        self.status = status
        self.reason = reason
        self.message = message
        self.body = body
        self.retry_after = retry_after
        #: The ``Retry-After`` header of the answer (what decides a client-side retry).
        self.http_retry_after: float | None = None

    @classmethod
    def from_status(cls, status: dict[str, Any], http_status: int | None = None) -> ApiError:
        """Build from a ``Status`` object (the body of an error answer or of an ``ERROR`` event)."""
        code = status.get("code") or http_status or 500
        retry = dig(status, "details", "retryAfterSeconds")
        return cls(int(code), str(status.get("reason", "")), str(status.get("message", "")), status, retry)

    @property
    def not_found(self) -> bool:
        return self.status == 404

    @property
    def conflict(self) -> bool:
        return self.status == 409

    @property
    def gone(self) -> bool:
        """410 Gone / Expired: the resourceVersion (or continue token) is too old; relist."""
        return self.status == 410 or self.reason == "Expired"

    @property
    def too_large_resource_version(self) -> bool:
        return self.status == 504 and "Too large resource version" in self.message


class WriteFenced(Exception):
    """A write was refused client-side: leadership may have passed to another replica."""


WriteFence = Callable[[], float]
"""Seconds during which writes may still be sent (``<= 0``: refuse every write)."""


class RequestObserver(Protocol):
    """Receives one call per finished request (for the ``API requests by verb and code`` metric)."""

    def observe(self, verb: str, resource: str, code: str, seconds: float) -> None: ...


class RestClient:
    """Raw-dict requests against the apiserver; see the module docstring for the guarantees.

    The ``ApiClient`` is borrowed, not owned: :meth:`close` closes it only if ``own_client`` is set.
    """

    def __init__(
        self,
        api_client: Any,
        *,
        limiter: AsyncTokenBucket | None = None,
        max_inflight_writes: int | None = None,
        observer: RequestObserver | None = None,
        default_timeout: float = 30.0,
        own_client: bool = False,
        watch_api_client: Any = None,
        write_fence: WriteFence | None = None,
        max_retries: int = 5,
        max_retry_after: float = 10.0,
    ) -> None:
        self.api_client = api_client
        self.watch_api_client = watch_api_client
        self.limiter = limiter
        self.write_slots = WriteSlots(max_inflight_writes) if max_inflight_writes else None
        self.observer = observer
        self.default_timeout = default_timeout
        self.write_fence = write_fence
        self.max_retries = max_retries
        self.max_retry_after = max_retry_after
        self._own_client = own_client

    def sibling(
        self,
        *,
        limiter: AsyncTokenBucket | Literal["shared"] | None = "shared",
        max_inflight_writes: int | Literal["shared"] | None = "shared",
        write_fence: WriteFence | Literal["shared"] | None = "shared",
        own_connections: bool = False,
    ) -> RestClient:
        """A client with some budgets of its own (``"shared"`` keeps this client's): the leader
        elector's (own token bucket, no write slots, no fence, as client-go gives leader election a
        client of its own), or the controllers' (the leader's write fence).

        By default the sibling uses the same connections and closing it closes nothing. With
        ``own_connections`` (the elector's) it gets a small pool of its own — when the transport
        can make one (``fork(pool_size)``, as :class:`aimctl.kube.transport.ApiTransport` can) —
        used for its requests *and* watches, so its few requests never wait for a connection of a
        pool busy with reconcile traffic; closing the sibling closes that pool."""
        fork = getattr(self.api_client, "fork", None) if own_connections else None
        own = fork(OWN_POOL_SIZE) if fork is not None else None
        other = RestClient(
            own if own is not None else self.api_client,
            limiter=self.limiter if limiter == "shared" else limiter,
            observer=self.observer,
            default_timeout=self.default_timeout,
            watch_api_client=own if own is not None else self.watch_api_client,
            write_fence=self.write_fence if write_fence == "shared" else write_fence,
            max_retries=self.max_retries,
            max_retry_after=self.max_retry_after,
            own_client=own is not None,
        )
        if max_inflight_writes == "shared":
            other.write_slots = self.write_slots
        else:
            other.write_slots = WriteSlots(max_inflight_writes) if max_inflight_writes else None
        return other

    async def close(self) -> None:
        if self._own_client:
            await self.api_client.close()
            if self.watch_api_client is not None and self.watch_api_client is not self.api_client:
                await self.watch_api_client.close()

    async def request(
        self,
        verb: str,
        path: str,
        *,
        resource: str = "",
        query: Sequence[tuple[str, str]] = (),
        body: Any = None,
        content_type: str | None = None,
        request_timeout: float | None = None,
        background: bool = False,
    ) -> Any:
        """Send one request and return the decoded JSON body (``None`` for an empty body).

        ``verb`` is a Kubernetes verb (get, list, create, update, patch, apply, delete); ``apply``
        defaults the content type to server-side apply, ``patch`` to merge-patch. A ``background``
        write takes its write slot after the others (see :mod:`informers.writeslots`).
        """
        if verb not in _METHODS or verb == "watch":
            raise ValueError(f"unsupported verb {verb!r} (use stream() to watch)")
        if content_type is None:
            content_type = {"apply": APPLY_PATCH, "patch": MERGE_PATCH}.get(verb, "application/json")
        if content_type == APPLY_PATCH and body is not None and not isinstance(body, bytes):
            # json.dumps in the client would escape non-BMP characters, which the YAML reader refuses.
            body, content_type = encode_apply_patch(body), APPLY_PATCH_UTF8
        seconds = request_timeout if request_timeout is not None else self.default_timeout
        for attempt in range(self.max_retries + 1):
            try:
                return await self._attempt(verb, path, resource, query, body, content_type, seconds, background)
            except ApiError as exc:
                wait = self._retry_wait(exc)
                if wait is None or attempt == self.max_retries:
                    raise
            await anyio.sleep(wait)
        raise AssertionError("unreachable")  # pragma: no cover

    def _retry_wait(self, exc: ApiError) -> float | None:
        """Seconds to wait before retrying after ``exc``, or ``None`` not to retry (client-go's
        ``checkWait``: 429, or a 5xx carrying ``Retry-After``; the wait is bounded)."""
        if exc.http_retry_after is None:
            return None
        if exc.status != 429 and exc.status // 100 != 5:
            return None
        return min(max(exc.http_retry_after, 0.0), self.max_retry_after)

    async def _attempt(
        self,
        verb: str,
        path: str,
        resource: str,
        query: Sequence[tuple[str, str]],
        body: Any,
        content_type: str,
        seconds: float,
        background: bool = False,
    ) -> Any:
        if self.limiter is not None:
            await self.limiter.acquire()
        if self.write_slots is not None and verb in WRITE_VERBS:
            async with self.write_slots.slot(background):
                return await self._send(verb, path, resource, query, body, content_type, self._fenced(verb, seconds))
        return await self._send(verb, path, resource, query, body, content_type, self._fenced(verb, seconds))

    def _send_guard(self, verb: str) -> Callable[[], object] | None:
        """For a fenced write, a check the transport repeats when it hands the bytes to the socket
        (a transport that declares ``accepts_send_guard``; see ``aimctl.kube.transport.GuardedBytes``):
        a process stopped between the fence check and the send must not send once it resumes."""
        if self.write_fence is None or verb not in WRITE_VERBS:
            return None
        return lambda: self._fenced(verb, 0.0)

    def _fenced(self, verb: str, seconds: float) -> float:
        """The timeout a request may use; raises :class:`WriteFenced` for a write past the fence."""
        if self.write_fence is None or verb not in WRITE_VERBS:
            return seconds
        left = self.write_fence()
        if left <= 0:
            raise WriteFenced(f"{verb} refused: the leader lease may have been taken by another replica")
        return min(seconds, left)

    async def _send(
        self,
        verb: str,
        path: str,
        resource: str,
        query: Sequence[tuple[str, str]],
        body: Any,
        content_type: str,
        seconds: float,
    ) -> Any:
        code = "<error>"
        start = time.perf_counter()
        try:
            # A fenced write must not outlive the fence: no grace second for it.
            grace = 1.0 if self.write_fence is None or verb not in WRITE_VERBS else 0.0
            with anyio.fail_after(seconds + grace):
                try:
                    resp = await self._call(
                        self.api_client,
                        _METHODS[verb],
                        path,
                        query,
                        body,
                        content_type,
                        aiohttp.ClientTimeout(total=seconds, sock_connect=10),
                        guard=self._send_guard(verb),
                    )
                except aiohttp.ClientError as e:  # the send guard refused: say so, not "connection error"
                    fenced = e.__cause__ if isinstance(e.__cause__, WriteFenced) else e.__context__
                    if isinstance(fenced, WriteFenced):
                        raise fenced from None
                    raise
                try:
                    code = str(resp.status)
                    raw = await resp.read()
                finally:
                    resp.release()
            if resp.status >= 400:
                raise _error_from(resp, _loads_or_none(raw))
            return loads(raw) if raw else None
        finally:
            if self.observer is not None:
                self.observer.observe(verb, resource, code, time.perf_counter() - start)

    @asynccontextmanager
    async def stream(
        self,
        path: str,
        query: Sequence[tuple[str, str]],
        *,
        resource: str = "",
        read_timeout: float,
        connect_timeout: float = 10.0,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """Open a streaming GET (a watch) and yield the response with a 2xx status.

        Raises :class:`ApiError` for an error status. The response is released on exit. The caller
        reads lines itself, under its own inactivity deadline.
        """
        if self.limiter is not None:
            await self.limiter.acquire()
        code = "<error>"
        start = time.perf_counter()
        resp: aiohttp.ClientResponse | None = None
        api_client = self.watch_api_client if self.watch_api_client is not None else self.api_client
        try:
            with anyio.fail_after(connect_timeout + 20.0):
                resp = await self._call(
                    api_client,
                    "GET",
                    path,
                    query,
                    None,
                    "application/json",
                    aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout),
                )
                code = str(resp.status)
                if resp.status >= 400:
                    raise _error_from(resp, _loads_or_none(await resp.read()))
        except BaseException:
            if resp is not None:
                resp.release()
            raise
        finally:
            if self.observer is not None:
                self.observer.observe("watch", resource, code, time.perf_counter() - start)
        try:
            yield resp
        finally:
            resp.close()

    @staticmethod
    async def _call(
        api_client: Any,
        method: str,
        path: str,
        query: Sequence[tuple[str, str]],
        body: Any,
        content_type: str,
        client_timeout: aiohttp.ClientTimeout,
        guard: Callable[[], object] | None = None,
    ) -> aiohttp.ClientResponse:
        extra: dict[str, Any] = {}
        if guard is not None and getattr(api_client, "accepts_send_guard", False):
            extra["_send_guard"] = guard
        resp: aiohttp.ClientResponse = await api_client.call_api(
            path,
            method,
            query_params=list(query),
            header_params={"Accept": "application/json", "Content-Type": content_type},
            body=body,
            auth_settings=["BearerToken"],
            _preload_content=False,
            _request_timeout=client_timeout,
            **extra,
        )
        return resp


def _loads_or_none(raw: bytes) -> Any:
    try:
        return loads(raw) if raw else None
    except ValueError:
        return None


def _error_from(resp: aiohttp.ClientResponse, data: Any) -> ApiError:
    retry_after: float | None = None
    header = resp.headers.get("Retry-After")
    if header:
        try:
            retry_after = float(header)
        except ValueError:
            retry_after = None
    if isinstance(data, dict) and data.get("kind") == "Status":
        err = ApiError.from_status(data, resp.status)
        if retry_after is not None:
            err.retry_after = retry_after
        err.http_retry_after = retry_after
        return err
    err = ApiError(resp.status, resp.reason or "", "", None, retry_after)
    err.http_retry_after = retry_after
    return err
