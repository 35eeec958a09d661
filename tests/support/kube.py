"""Small raw-dict helpers over kubernetes_asyncio for tests: get, list, apply, delete by URL path."""

from __future__ import annotations

import json
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
