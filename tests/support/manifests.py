"""Applying rendered manifests (``kustomize build`` output) to the cluster, as ``kubectl apply
--server-side`` does: each document's REST path from API discovery, then a server-side apply — for
real or with ``dryRun=All``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from kubernetes_asyncio import client

from aimctl.devcluster.tools import kustomize_build
from tests.support import kube

REPO = Path(__file__).resolve().parents[2]
DEPLOY = REPO / "deploy"


def render(directory: str | Path) -> list[dict[str, Any]]:
    """``kustomize build deploy/<directory>`` as documents."""
    path = Path(directory) if Path(directory).is_absolute() else DEPLOY / directory
    return [d for d in yaml.safe_load_all(kustomize_build(path, log=lambda m: None)) if d]


class Discovery:
    """apiVersion + kind → (plural, namespaced), read once per group version from the apiserver."""

    def __init__(self, api: client.ApiClient) -> None:
        self.api = api
        self._cache: dict[str, dict[str, tuple[str, bool]]] = {}

    async def lookup(self, api_version: str, kind: str) -> tuple[str, bool]:
        if api_version not in self._cache:
            base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
            doc = await kube.get(self.api, base)
            self._cache[api_version] = {
                r["kind"]: (r["name"], bool(r["namespaced"])) for r in doc["resources"] if "/" not in r["name"]
            }
        return self._cache[api_version][kind]

    async def path(self, doc: dict[str, Any], namespace: str | None = None) -> str:
        api_version, kind = doc["apiVersion"], doc["kind"]
        plural, namespaced = await self.lookup(api_version, kind)
        base = f"/apis/{api_version}" if "/" in api_version else f"/api/{api_version}"
        name = doc["metadata"]["name"]
        if namespaced:
            ns = doc["metadata"].get("namespace") or namespace
            assert ns, f"{kind}/{name} is namespaced and has no namespace"
            return f"{base}/namespaces/{ns}/{plural}/{name}"
        return f"{base}/{plural}/{name}"


async def apply_docs(
    api: client.ApiClient,
    docs: list[dict[str, Any]],
    *,
    namespace: str | None = None,
    dry_run: bool = False,
    manager: str = "aimctl-tests-deploy",
) -> list[dict[str, Any]]:
    """Server-side apply every document (namespaced ones without a namespace go to ``namespace``);
    returns the apiserver's answers."""
    disco = Discovery(api)
    out = []
    for doc in docs:
        body = dict(doc)
        path = await disco.path(body, namespace)
        query = [("fieldManager", manager), ("force", "true")]
        if dry_run:
            query.append(("dryRun", "All"))
        if namespace and "/namespaces/" in path and not body["metadata"].get("namespace"):
            body = {**body, "metadata": {**body["metadata"], "namespace": namespace}}
        out.append(
            await kube.request(api, "PATCH", path, body, content_type="application/apply-patch+yaml", query=query)
        )
    return out
