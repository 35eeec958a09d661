"""The operator's identity from deploy/rbac, for tests that run it as it runs in-cluster: apply the
ServiceAccount, roles and bindings for real, and mint a token with the TokenRequest API."""

from __future__ import annotations

import contextlib
from pathlib import Path

import yaml
from kubernetes_asyncio import client

from aimctl import rbac
from tests.support import kube
from tests.support.manifests import apply_docs, render

OPERATOR_NAMESPACE = "aim-system"


async def ensure_namespace(api: client.ApiClient, name: str = OPERATOR_NAMESPACE) -> None:
    with contextlib.suppress(Exception):
        await kube.create(
            api, "/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )


async def install_rbac(api: client.ApiClient) -> None:
    """deploy/rbac (ServiceAccount aim-system/aimctl, ClusterRole, bindings, leader-election Role)."""
    await ensure_namespace(api)
    await apply_docs(api, render("rbac"), manager="aimctl-tests-rbac")


async def service_account_token(
    api: client.ApiClient, name: str = rbac.SERVICE_ACCOUNT, namespace: str = OPERATOR_NAMESPACE, seconds: int = 3600
) -> str:
    """A bound token for the ServiceAccount (what the kubelet projects into the pod)."""
    answer = await kube.create(
        api,
        f"/api/v1/namespaces/{namespace}/serviceaccounts/{name}/token",
        {"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}},
    )
    return str(answer["status"]["token"])


def token_kubeconfig(path: Path, server: str, token: str, ca_file: Path | None) -> Path:
    """A kubeconfig that authenticates with ``token`` only (no client certificate)."""
    cluster: dict[str, object] = {"server": server}
    if ca_file is not None:
        cluster["certificate-authority"] = str(ca_file)
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "c", "cluster": cluster}],
                "users": [{"name": "aimctl", "user": {"token": token}}],
                "contexts": [{"name": "c", "context": {"cluster": "c", "user": "aimctl"}}],
                "current-context": "c",
            }
        )
    )
    return path
