"""The reflector: list (paginated), then watch from the listed resourceVersion, and recover.

Why: kubernetes_asyncio's ``Watch`` cannot be trusted to recover on its own — without
``timeout_seconds`` it silently reconnects, with it a 410 is raised once and the caller must relist,
no request timeout applies by default, and a watch behind a frozen connection hangs forever
(kubernetes_asyncio #360). This is client-go's reflector (``tools/cache/reflector.go``) rebuilt on
:class:`informers.rest.RestClient`, reading the watch stream line by line itself (one ``json.loads``
per event, no model decoding, no session per watch).

Expected flow::

    list(limit=500, continue…)  ──►  sink.replace(items)          (diff → events)
        │ resourceVersion
        ▼
    watch(rv, allowWatchBookmarks, timeoutSeconds∈[300,600))  ──►  sink.apply(event)
        │ stream ended normally          → watch again from the last rv (no relist)
        │ 410 Gone / Expired / too-large → back off, then relist
        │ an event over max_event_bytes  → back off, then relist (the event cannot be skipped)
        │ silent for inactivity_timeout → watchdog: reconnect from the last rv
        │ any other error               → back off 0.8 s x2 ≤ 30 s (+100 % jitter), then re-watch
        │ list answered 404              → the API is not installed: ``api_missing`` is set and the
        │                                  list is retried with the backoff until it exists; for an
        │                                  ``optional_api`` the content is empty and counts as synced

Guarantees:
    * no event is lost: a watch always resumes from the resourceVersion of the last event or bookmark
      it applied; when that is no longer available (410) a full list replaces the store and the
      sink fires events for exactly what changed, including deletions that happened meanwhile;
    * every list page has a request timeout; every watch has ``timeoutSeconds``,
      ``allowWatchBookmarks=true``, a socket read timeout and a client-side inactivity watchdog;
    * a watch that ends in under a second without delivering anything counts as a failure (backs
      off), so a misbehaving server cannot cause a tight reconnect loop;
    * every relist goes through the same backoff as every other restart (client-go's
      ``BackoffUntil`` around ``ListAndWatch``), so a server answering 410 in a loop costs at most
      one list per 30-60 s, not a tight list loop;
    * watch events of any size up to ``max_event_bytes`` (64 MiB) are read — aiohttp's default line
      limit, 4 MiB with kubernetes_asyncio's buffer, is reached by an object whose JSON holds
      characters the apiserver escapes (``<`` becomes ``\u003c``, six bytes); a larger event is a
      retryable error followed by a relist, never a crash.

Caveats:
    * relists use ``resourceVersion=""`` (a consistent read), not the "list at last RV" optimisation
      of client-go — simpler, and relists are rare;
    * the default inactivity timeout (90 s) assumes kube-apiserver sends a bookmark to every watcher
      about once a minute (the watch cache does since 1.27); a false positive costs one re-watch.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import aiohttp
import anyio
import anyio.lowlevel
import structlog
from aiohttp.http_exceptions import LineTooLong

from informers.backoff import Backoff
from informers.encoding import loads
from informers.objects import dig, meta_of
from informers.resource import Resource
from informers.rest import ApiError, RestClient
from informers.store import Obj

log = structlog.get_logger("informers.reflector")


class ReflectorSink(Protocol):
    """Where a reflector delivers what it sees (the informer)."""

    def replace(
        self, objs: list[Obj], namespace: str | None, initial: bool, within: Callable[[Obj], bool] | None = None
    ) -> None:
        """The complete content after a list (for ``namespace``, or everything if ``None``; with
        ``within``, of the stored objects it accepts — a :class:`Selection`'s). The objects have
        been through the reflector's ``transform`` already, if it was given one."""
        ...

    def apply(self, event_type: str, obj: Obj) -> None:
        """One ``ADDED``/``MODIFIED``/``DELETED`` watch event."""
        ...


@dataclass(frozen=True)
class Selection:
    """A server-side field selector and the same test client-side, on a stored object.

    Field selectors cannot express OR (``type in (a, b)``), so an informer that needs several values
    runs one reflector per selection; ``matches`` tells each relist which stored objects are its own.
    """

    field_selector: str
    matches: Callable[[Obj], bool]


class WatchdogTimeout(Exception):
    """The watch delivered nothing (no event, no bookmark) for the inactivity timeout."""


class VeryShortWatch(Exception):
    """The watch closed in under a second without delivering anything."""


class WatchEventTooLarge(Exception):
    """A watch event exceeded ``max_event_bytes``; it cannot be skipped, so the reflector relists."""


#: The largest watch event read (one JSON line); far above etcd's 1.5 MiB object limit even with
#: every character escaped to six bytes.
MAX_EVENT_BYTES = 64 * 1024 * 1024


#: Watch events handled between two yields to the event loop (see :meth:`Reflector._watch`).
YIELD_EVERY = 50


RETRYABLE = (
    ApiError,
    aiohttp.ClientError,
    OSError,
    TimeoutError,
    WatchdogTimeout,
    VeryShortWatch,
    WatchEventTooLarge,
    ValueError,
)


class Reflector:
    """Keeps a :class:`ReflectorSink` in sync with one resource type (in one namespace or all)."""

    def __init__(
        self,
        client: RestClient,
        resource: Resource,
        sink: ReflectorSink,
        *,
        namespace: str | None = None,
        label_selector: str | None = None,
        field_selector: str | None = None,
        page_size: int = 500,
        watch_timeout_range: tuple[int, int] = (300, 600),
        inactivity_timeout: float = 90.0,
        list_timeout: float = 60.0,
        backoff: Backoff | None = None,
        rng: random.Random | None = None,
        max_event_bytes: int = MAX_EVENT_BYTES,
        on_api_change: Callable[[Reflector], None] | None = None,
        selection: Selection | None = None,
        optional_api: bool = False,
        transform: Callable[[Obj], Obj] | None = None,
    ) -> None:
        if watch_timeout_range[0] < 1 or watch_timeout_range[1] < watch_timeout_range[0]:
            raise ValueError("watch_timeout_range must be (lo, hi) with 1 <= lo <= hi")
        self.client = client
        self.resource = resource
        self.sink = sink
        self.namespace = namespace if resource.namespaced else None
        self.label_selector = label_selector
        if selection is not None:
            if field_selector:
                raise ValueError("give either field_selector or selection")
            field_selector = selection.field_selector
        self.selection = selection
        self.field_selector = field_selector
        self.page_size = page_size
        self.watch_timeout_range = watch_timeout_range
        self.inactivity_timeout = inactivity_timeout
        self.list_timeout = list_timeout
        self.backoff = backoff or Backoff()
        self.rng = rng or random.Random()
        self.max_event_bytes = max_event_bytes
        self.on_api_change = on_api_change
        self.optional_api = optional_api
        #: Applied to each listed item as its page arrives (the informer's transform), so a raw
        #: page — managedFields and all — is garbage as soon as it is read instead of being held
        #: with every other page until the list completes (the initial list's peak memory).
        self.transform = transform
        #: True while the apiserver answers 404 for the collection (CRD not installed).
        self.api_missing = False
        # Observable state, for tests and metrics.
        self.last_resource_version: str | None = None
        self.lists = 0
        self.relists = 0
        self.watches = 0
        self.watch_restarts = 0
        self.watchdog_timeouts = 0
        self.errors = 0
        self.last_event_at: float | None = None
        self.synced = False

    def _selectors(self) -> list[tuple[str, str]]:
        q: list[tuple[str, str]] = []
        if self.label_selector:
            q.append(("labelSelector", self.label_selector))
        if self.field_selector:
            q.append(("fieldSelector", self.field_selector))
        return q

    async def run(self) -> None:
        """List and watch until cancelled. Never returns otherwise.

        A reflector that ran before resumes watching from its last resourceVersion (a cancelled
        ``run`` is like a dropped connection); a new one lists first.
        """
        need_list = self.last_resource_version is None
        while True:
            try:
                if need_list:
                    await self._list()
                    need_list = False
                await self._watch()
                self.watch_restarts += 1
            except ApiError as exc:
                if exc.gone or exc.too_large_resource_version:
                    log.info(
                        "watch expired; relisting",
                        resource=self.resource.name,
                        ns=self.namespace,
                        rv=self.last_resource_version,
                    )
                    need_list = True
                    self.relists += 1
                    await self._back_off(exc, quiet=True)
                    continue
                if exc.not_found:
                    # A list: the API is not served. A watch: it may just have been removed; relist.
                    if need_list:
                        self._set_api_missing(True)
                    need_list = True
                    await self._back_off(exc, quiet=True)
                    continue
                await self._back_off(exc)
            except WatchEventTooLarge as exc:
                log.warning(
                    "watch event too large to read; relisting",
                    resource=self.resource.name,
                    ns=self.namespace,
                    error=str(exc),
                )
                need_list = True
                self.relists += 1
                await self._back_off(exc, quiet=True)
            except WatchdogTimeout as exc:
                self.watchdog_timeouts += 1
                log.warning(
                    "watch silent; reconnecting",
                    resource=self.resource.name,
                    ns=self.namespace,
                    seconds=self.inactivity_timeout,
                )
                await self._back_off(exc, quiet=True)
            except RETRYABLE as exc:
                await self._back_off(exc)

    async def _back_off(self, exc: BaseException, quiet: bool = False) -> None:
        self.errors += 1
        delay = self.backoff.next_delay()
        if isinstance(exc, ApiError) and exc.retry_after:
            delay = max(delay, float(exc.retry_after))
        if not quiet:
            log.warning(
                "list/watch failed; backing off",
                resource=self.resource.name,
                ns=self.namespace,
                error=f"{type(exc).__name__}: {exc}",
                delay=round(delay, 3),
            )
        await anyio.sleep(delay)

    async def _list(self) -> None:
        path = self.resource.path(self.namespace)
        items: list[Obj] = []
        cont: str | None = None
        while True:
            query = [("limit", str(self.page_size)), *self._selectors()]
            if cont:
                query.append(("continue", cont))
            try:
                page: dict[str, Any] = await self.client.request(
                    "list", path, resource=self.resource.name, query=query, request_timeout=self.list_timeout
                )
            except ApiError as exc:
                if cont and exc.gone:
                    # The continue token expired mid-pagination (compaction): start over.
                    items, cont = [], None
                    continue
                raise
            transform = self.transform
            for item in page.pop("items", None) or []:
                item.setdefault("apiVersion", self.resource.api_version)
                item.setdefault("kind", self.resource.kind)
                items.append(item if transform is None else transform(item))
            meta = meta_of(page)
            cont = meta.get("continue") or None
            if not cont:
                rv = str(meta.get("resourceVersion", ""))
                break
        initial = not self.synced
        self.last_resource_version = rv
        self.lists += 1
        self.synced = True  # before replace(): the sink checks has_synced to wake waiters
        self._replace(items, initial)
        if self.api_missing:
            self._set_api_missing(False)

    def _replace(self, items: list[Obj], initial: bool) -> None:
        if self.selection is None:
            self.sink.replace(items, self.namespace, initial)
        else:
            self.sink.replace(items, self.namespace, initial, within=self.selection.matches)

    def _set_api_missing(self, missing: bool) -> None:
        """Record whether the API is served; while an optional one is not, the content is empty and
        synced (a required one stays unsynced: the caller's sync timeout decides)."""
        if missing == self.api_missing:
            return
        self.api_missing = missing
        if missing:
            log.debug(
                "API not installed; listing again with backoff",
                resource=self.resource.name,
                api_version=self.resource.api_version,
                ns=self.namespace,
            )
            self.last_resource_version = None
            if self.optional_api:
                self.synced = True
                self._replace([], False)
        else:
            log.debug("API installed; now watching", resource=self.resource.name, ns=self.namespace)
        if self.on_api_change is not None:
            self.on_api_change(self)

    async def _watch(self) -> None:
        assert self.last_resource_version is not None
        timeout = self.rng.randint(*self.watch_timeout_range)
        query: list[tuple[str, str]] = [
            ("watch", "1"),
            ("resourceVersion", self.last_resource_version),
            ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", str(timeout)),
            *self._selectors(),
        ]
        started = time.monotonic()
        delivered = 0
        self.watches += 1
        async with self.client.stream(
            self.resource.path(self.namespace),
            query,
            resource=self.resource.name,
            read_timeout=timeout + 30.0,
        ) as resp:
            while True:
                line = b""
                with anyio.move_on_after(self.inactivity_timeout) as scope:
                    try:
                        line = await resp.content.readline(max_line_length=self.max_event_bytes)
                    except LineTooLong as exc:
                        raise WatchEventTooLarge(f"a watch event exceeded {self.max_event_bytes} bytes") from exc
                if scope.cancelled_caught:
                    raise WatchdogTimeout(f"no watch event for {self.inactivity_timeout}s")
                if not line:
                    break
                if not line.strip():
                    continue
                delivered += 1
                self.last_event_at = time.monotonic()
                self._handle(loads(line))
                if delivered % YIELD_EVERY == 0:
                    # readline() returns without suspending while lines are buffered (up to the
                    # 2 MiB read buffer: hundreds of events); let lease renewals and probes run.
                    await anyio.lowlevel.checkpoint()
        if delivered == 0 and time.monotonic() - started < 1.0:
            raise VeryShortWatch("watch closed in under 1 s without events")

    def _handle(self, event: dict[str, Any]) -> None:
        etype = event.get("type")
        obj = event.get("object")
        if not isinstance(obj, dict):
            raise ValueError(f"malformed watch event: {str(event)[:200]}")
        if etype == "ERROR":
            raise ApiError.from_status(obj)
        rv = dig(obj, "metadata", "resourceVersion")
        if etype == "BOOKMARK":
            if rv:
                self.last_resource_version = str(rv)
            return
        if etype not in ("ADDED", "MODIFIED", "DELETED"):
            raise ValueError(f"unknown watch event type {etype!r}")
        self.sink.apply(etype, obj)
        if rv:
            self.last_resource_version = str(rv)
