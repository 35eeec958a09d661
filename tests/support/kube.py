"""Small raw-dict helpers over kubernetes_asyncio for tests: get, list, apply, delete by URL path."""

from __future__ import annotations

import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from informers.encoding import APPLY_PATCH_UTF8, encode_apply_patch


async def request(
    api: client.ApiClient,
    method: str,
    path: str,
    body: Any = None,
    content_type: str = "application/json",
    query: list[tuple[str, str]] | None = None,
) -> Any:
    """One request; returns decoded JSON (or text for non-JSON bodies such as pod logs).

    Raises ``ApiException`` (with ``status`` and ``body``) on a non-2xx answer: kubernetes_asyncio does
    not check the status itself when ``_preload_content=False``.
    """
    resp = await api.call_api(
        path,
        method,
        query_params=query or [],
        header_params={"Content-Type": content_type, "Accept": "application/json, */*"},
        body=body,
        _preload_content=False,
        _request_timeout=30,
    )
    raw = await resp.read()
    if not 200 <= resp.status <= 299:
        err = ApiException(status=resp.status, reason=resp.reason)
        err.body = raw.decode(errors="replace")
        raise err
    try:
        return json.loads(raw) if raw else None
    except ValueError:
        return raw.decode(errors="replace")


async def get(api: client.ApiClient, path: str) -> Any:
    return await request(api, "GET", path)


async def apply(api: client.ApiClient, path: str, body: dict[str, Any], manager: str = "aimctl-tests") -> Any:
    """Server-side apply ``body`` at the object URL ``path``."""
    return await request(
        api,
        "PATCH",
        path,
        encode_apply_patch(body),
        content_type=APPLY_PATCH_UTF8,
        query=[("fieldManager", manager), ("force", "true")],
    )


async def create(api: client.ApiClient, path: str, body: dict[str, Any]) -> Any:
    """POST ``body`` to the collection URL ``path``."""
    return await request(api, "POST", path, body)


async def delete(api: client.ApiClient, path: str, propagation: str = "Background") -> Any:
    return await request(api, "DELETE", path, {"propagationPolicy": propagation})


#: How long an event list must stay unchanged to count as settled, and the longest wait for it.
EVENTS_QUIET_SECONDS = 1.5
EVENTS_SETTLE_LIMIT = 20.0


async def settled_events(
    fetch: Callable[[], Awaitable[list[dict[str, Any]]]],
    quiet: float = EVENTS_QUIET_SECONDS,
    limit: float = EVENTS_SETTLE_LIMIT,
) -> list[dict[str, Any]]:
    """``fetch()``'s events once the list has not changed for ``quiet`` seconds (at most ``limit``).

    The operator posts Events off the reconcile's critical path (``aimctl/kube/events.py``), so an
    event may land just after the status a test waited for; reading the list once would race it.
    Waiting for a quiet list makes assertions of presence *and* of absence (no second event) hold."""
    import anyio

    def names(events: list[dict[str, Any]]) -> set[str]:
        return {str(e["metadata"]["name"]) for e in events}

    events = await fetch()
    still_since = deadline = time.monotonic()
    deadline += limit
    while time.monotonic() - still_since < quiet and time.monotonic() < deadline:
        await anyio.sleep(0.25)
        fresh = await fetch()
        if names(fresh) != names(events):
            still_since = time.monotonic()
        events = fresh
    return events
