"""A minimal list+watch cache for the simulators (independent of the operator's ``informers``).

Simulators stand in for cluster components (KServe, a Gateway controller); they must not share code
with the operator under test, or a bug in the operator's informers could hide itself. This is the
simplest correct loop: list, then watch from the list's ``resourceVersion``; on any error, ``410
Gone`` or a closed stream, list again after a short pause. Every change calls ``on_change(obj)``
(``obj`` is ``None``-free; deletions call ``on_delete(key)``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable
from typing import Any

import anyio
from kubernetes_asyncio import client

from tests.support import kube

Obj = dict[str, Any]


def key_of(obj: Obj) -> str:
    meta = obj.get("metadata") or {}
    ns = meta.get("namespace")
    return f"{ns}/{meta.get('name')}" if ns else str(meta.get("name"))


class Watcher:
    """Objects of one collection URL (e.g. ``/apis/gateway.networking.k8s.io/v1/httproutes``) by key."""

    def __init__(
        self,
        api: client.ApiClient,
        path: str,
        on_change: Callable[[Obj], None] = lambda _o: None,
        on_delete: Callable[[str], None] = lambda _k: None,
    ) -> None:
        self.api = api
        self.path = path
        self.items: dict[str, Obj] = {}
        self.on_change = on_change
        self.on_delete = on_delete
        self.synced = anyio.Event()

    async def run(self) -> None:
        """List and watch until cancelled."""
        while True:
            with contextlib.suppress(Exception):
                rv = await self._list()
                await self._watch(rv)
            await anyio.sleep(0.5)

    async def _list(self) -> str:
        data = await kube.get(self.api, self.path)
        fresh = {key_of(o): o for o in data.get("items") or []}
        for gone in set(self.items) - set(fresh):
            del self.items[gone]
            self.on_delete(gone)
        for key, obj in fresh.items():
            self.items[key] = obj
            self.on_change(obj)
        self.synced.set()
        return str((data.get("metadata") or {}).get("resourceVersion") or "")

    async def _watch(self, rv: str) -> None:
        query = [("watch", "true"), ("allowWatchBookmarks", "true"), ("timeoutSeconds", "60")]
        if rv:
            query.append(("resourceVersion", rv))
        resp = await self.api.call_api(
            self.path,
            "GET",
            query_params=query,
            header_params={"Accept": "application/json"},
            _preload_content=False,
            _request_timeout=90,
        )
        try:
            if resp.status != 200:
                return
            async for line in resp.content:
                if not line.strip():
                    continue
                event = json.loads(line)
                kind, obj = event.get("type"), event.get("object") or {}
                if kind == "ERROR":
                    return
                if kind == "BOOKMARK":
                    continue
                key = key_of(obj)
                if kind == "DELETED":
                    self.items.pop(key, None)
                    self.on_delete(key)
                else:
                    self.items[key] = obj
                    self.on_change(obj)
        finally:
            resp.release()
