"""AIM object helpers for cluster tests: URL paths from the kind registry, apply, and rejections."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from aimctl.api.kinds import KindInfo, by_kind
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


async def server_side_apply(api: client.ApiClient, path: str, body: dict[str, Any]) -> dict[str, Any]:
    """Server-side apply as the API tests' field manager (:func:`tests.support.kube.apply` encodes the
    body with :func:`informers.encoding.encode_apply_patch`, so any Unicode string survives)."""
    result: dict[str, Any] = await kube.apply(api, path, body, manager=FIELD_MANAGER)
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
