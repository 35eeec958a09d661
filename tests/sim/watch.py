"""A minimal list+watch cache for the simulators (independent of the operator's ``informers``).

Simulators stand in for cluster components (KServe, a Gateway controller); they must not share code
with the operator under test, or a bug in the operator's informers could hide itself. This is the
simplest loop that stays cheap for the apiserver at 10 000 objects:

* list in pages of ``page_size`` (500), each page with its own request timeout, then watch from the
  list's ``resourceVersion``;
* a watch that ends (``timeoutSeconds`` elapsed, a dropped connection, any error) is **resumed from
  the resourceVersion of the last event or bookmark it delivered** — no relist;
* only when that resourceVersion is gone (``410 Gone`` / ``Expired``, as an answer or an ``ERROR``
  event) is the collection listed again; a failed list or watch waits with a doubling backoff
  (0.5 s up to 30 s) before the next try, so an overloaded apiserver is never listed in a loop.

Every change calls ``on_change(obj)`` (``obj`` is ``None``-free; deletions call ``on_delete(key)``).
``lists`` and ``watches`` count the requests made, for tests and benchmarks.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel
from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from tests.support import kube

Obj = dict[str, Any]


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Gone(Exception):
    """The resourceVersion to resume from is no longer available: list again."""


def _is_gone(status: Any) -> bool:
    if isinstance(status, ApiException):
        return status.status == 410
    return isinstance(status, dict) and (status.get("code") == 410 or status.get("reason") in ("Expired", "Gone"))


class Watcher:
    """Objects of one collection URL (e.g. ``/apis/gateway.networking.k8s.io/v1/httproutes``) by key."""

    def __init__(
        self,
        api: client.ApiClient,
        path: str,
        on_change: Callable[[Obj], None] = lambda _o: None,
        on_delete: Callable[[str], None] = lambda _k: None,
        page_size: int = 500,
        watch_seconds: int = 60,
    ) -> None:
        self.api = api
        self.path = path
        self.items: dict[str, Obj] = {}
        self.on_change = on_change
        self.on_delete = on_delete
        self.page_size = page_size
        self.watch_seconds = watch_seconds
        self.synced = anyio.Event()
        self.rv = ""
        self.lists = 0
        self.watches = 0

    async def run(self) -> None:
        """List and watch until cancelled (see the module docstring)."""
        delay = 0.5
        need_list = True
        while True:
            try:
                if need_list:
                    self.rv = await self._list()
                    need_list = False
                started = time.monotonic()
                delivered = await self._watch()
                if delivered or time.monotonic() - started >= 1.0:
                    delay = 0.5
                    continue
                # A watch that ended at once without any event counts as a failure (backs off).
            except Gone:
                need_list = True
            except Exception as exc:  # a timeout, a dropped connection, an error answer
                need_list = need_list or _is_gone(exc)
            await anyio.sleep(delay)
            delay = min(delay * 2, 30.0)

    async def _list(self) -> str:
        fresh: dict[str, Obj] = {}
        cont = ""
        while True:
            query = [("limit", str(self.page_size))] + ([("continue", cont)] if cont else [])
            try:
                page = await kube.request(self.api, "GET", self.path, query=query)
            except ApiException as exc:
                if cont and exc.status == 410:  # the continue token expired: start over
                    fresh, cont = {}, ""
                    continue
                raise
            for o in page.get("items") or []:
                fresh[key_of(o)] = o
            meta = page.get("metadata") or {}
            cont = meta.get("continue") or ""
            if not cont:
                break
            await anyio.lowlevel.checkpoint()  # let other tasks run between pages
        self.lists += 1
        for gone in set(self.items) - set(fresh):
            del self.items[gone]
            self.on_delete(gone)
        for key, obj in fresh.items():
            self.items[key] = obj
            self.on_change(obj)
        self.synced.set()
        return str(meta.get("resourceVersion") or "")

    async def _watch(self) -> int:
        """Watch from :attr:`rv` until the stream ends; return how many events it delivered.
        :attr:`rv` follows every event and bookmark, so the next watch resumes where this one stopped."""
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", str(self.watch_seconds))]
        if self.rv:
            query.append(("resourceVersion", self.rv))
        self.watches += 1
        resp = await self.api.call_api(
            self.path,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            _preload_content=False,
            _request_timeout=self.watch_seconds + 30,
        )
        delivered = 0
        try:
            if resp.status == 410:
                raise Gone()
            if resp.status != 200:
                raise ApiException(status=resp.status, reason=resp.reason)
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    if _is_gone(obj):
                        raise Gone()
                    raise ApiException(status=obj.get("code") or 500, reason=obj.get("reason"))
                delivered += 1
                rv = (obj.get("metadata") or {}).get("resourceVersion")
                if kind != "BOOKMARK":
                    key = key_of(obj)
                    if kind == "DELETED":
                        self.items.pop(key, None)
                        self.on_delete(key)
                    else:
                        self.items[key] = obj
                        self.on_change(obj)
                if rv:
                    self.rv = str(rv)
                if delivered % 100 == 0:
                    await anyio.lowlevel.checkpoint()  # a burst of buffered events must not starve the other tasks
        finally:
            resp.release()
        return delivered
