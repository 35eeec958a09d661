"""AIM object helpers for cluster tests: URL paths from the kind registry, apply, and rejections."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from aimctl.api.kinds import KindInfo, by_kind
from informers.encoding import APPLY_PATCH_UTF8, encode_apply_patch
from tests.support import kube

FIELD_MANAGER = "aimctl-tests"


def collection_path(info: KindInfo, namespace: str | None) -> str:
    base = f"/apis/{info.api_version}"
    if info.namespaced:
        assert namespace, f"{info.kind} is namespaced"
        return f"{base}/namespaces/{namespace}/{info.plural}"
    return f"{base}/{info.plural}"


def object_path(obj: dict[str, Any]) -> str:
    """The URL of the object a manifest describes (its kind, name and namespace)."""
    info = by_kind(obj["kind"])
    meta = obj["metadata"]
    return f"{collection_path(info, meta.get('namespace'))}/{meta['name']}"


# Characters YAML refuses to read raw (DEL, C1 controls, U+FFFE/U+FFFF): sent as \uXXXX escapes.
async def server_side_apply(api: client.ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply, with the body encoded by :func:`encode_apply_patch`.

    Why not ``tests.support.kube.apply``: kubernetes_asyncio serialises apply patches with
    ``json.dumps`` (ASCII escapes), so any character outside the BMP makes the apiserver answer 400
    "found invalid Unicode character escape code". Passing bytes under a content type with a charset
    parameter makes the client send them untouched; the apiserver ignores the parameter.
    """
    resp = await api.call_api(
        path,
        "PATCH",
        query_params=[("fieldManager", FIELD_MANAGER), ("force", "true")],
        header_params={"Content-Type": APPLY_PATCH_UTF8, "Accept": "application/json"},
        body=encode_apply_patch(body),
        _preload_content=False,
        _request_timeout=30,
    )
    raw = await resp.read()
    if not 200 <= resp.status <= 299:
        err = ApiException(status=resp.status, reason=resp.reason)
        err.body = raw.decode(errors="replace")
        raise err
    result: dict[str, Any] = json.loads(raw)
    return result


async def apply(api: client.ApiClient, obj: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply of an AIM manifest (spec and metadata; status is ignored by the apiserver)."""
    return await server_side_apply(api, object_path(obj), obj)


async def apply_status(api: client.ApiClient, obj: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply of ``obj['status']`` through the status subresource."""
    body = {"apiVersion": obj["apiVersion"], "kind": obj["kind"], "metadata": obj["metadata"], "status": obj["status"]}
    return await server_side_apply(api, object_path(obj) + "/status", body)


async def get(api: client.ApiClient, obj: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = await kube.get(api, object_path(obj))
    return result


async def delete(api: client.ApiClient, obj: dict[str, Any]) -> None:
    try:
        await kube.delete(api, object_path(obj))
    except ApiException as err:
        if err.status != 404:
            raise


@dataclass
class Rejection:
    """The apiserver's answer to an invalid write: HTTP status, Status message and field causes."""

    code: int
    reason: str
    message: str
    fields: list[str]

    def names(self, field: str) -> bool:
        return field in self.fields and field in self.message


async def rejection(api: client.ApiClient, obj: dict[str, Any], *, status: bool = False) -> Rejection:
    """Apply ``obj`` expecting the apiserver to refuse it; returns what the apiserver said."""
    try:
        await (apply_status(api, obj) if status else apply(api, obj))
    except ApiException as err:
        body = json.loads(err.body)
        causes = body.get("details", {}).get("causes", [])
        return Rejection(
            code=int(err.status),
            reason=body.get("reason", ""),
            message=body.get("message", ""),
            fields=[c.get("field", "") for c in causes],
        )
    raise AssertionError(f"the apiserver accepted an invalid {obj['kind']}: {json.dumps(obj)}")
