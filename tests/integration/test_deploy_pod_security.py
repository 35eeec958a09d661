"""The manager Deployment of deploy/ is admitted by Pod Security "restricted".

Its pods are created the way they are in a real cluster — Deployment → ReplicaSet → Pod by
kube-controller-manager, scheduled by kube-scheduler onto a kwok node — in a namespace labelled
``pod-security.kubernetes.io/enforce: restricted``, exactly like ``aim-system`` in deploy/manager.
A copy without its security context is rejected the same way, so the test can fail. (The discovery
and download Job pods the operator creates: tests/e2e/test_deploy_pod_security.py.)
"""

from __future__ import annotations

import copy
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.support import kube
from tests.support.manifests import apply_docs, render
from tests.support.wait import wait_for

pytestmark = pytest.mark.cluster

RESTRICTED = {
    "pod-security.kubernetes.io/enforce": "restricted",
    "pod-security.kubernetes.io/enforce-version": "latest",
}


async def restrict(api: client.ApiClient, namespace: str) -> None:
    await kube.apply(
        api,
        f"/api/v1/namespaces/{namespace}",
        {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace, "labels": RESTRICTED}},
    )


def manager_objects() -> tuple[dict[str, Any], dict[str, Any]]:
    docs = render("default")
    deployment = next(d for d in docs if d["kind"] == "Deployment")
    sa = next(d for d in docs if d["kind"] == "ServiceAccount")
    for d in (deployment, sa):
        d["metadata"].pop("namespace", None)
    return deployment, sa


async def replica_sets(api: client.ApiClient, namespace: str, name: str) -> list[dict[str, Any]]:
    items = (await kube.get(api, f"/apis/apps/v1/namespaces/{namespace}/replicasets"))["items"]
    return [rs for rs in items if any(o["name"] == name for o in rs["metadata"].get("ownerReferences", []))]


async def pods(api: client.ApiClient, namespace: str) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = (await kube.get(api, f"/api/v1/namespaces/{namespace}/pods"))["items"]
    return items


def replica_failure(rs_list: list[dict[str, Any]]) -> str:
    for rs in rs_list:
        for c in rs.get("status", {}).get("conditions") or []:
            if c["type"] == "ReplicaFailure" and c["status"] == "True":
                return str(c.get("message", ""))
    return ""


async def test_manager_pods_admitted_in_restricted_namespace(api: client.ApiClient, namespace: str) -> None:
    await restrict(api, namespace)
    deployment, sa = manager_objects()
    deployment["spec"]["replicas"] = 2
    await apply_docs(api, [sa, deployment], namespace=namespace)
    name = deployment["metadata"]["name"]
    running = await wait_for(
        lambda: pods(api, namespace),
        lambda ps: len([p for p in ps if p.get("status", {}).get("phase") == "Running"]) == 2,
        timeout=60,
        what="two manager pods Running on kwok nodes",
    )
    assert replica_failure(await replica_sets(api, namespace, name)) == ""
    for pod in running:
        assert pod["spec"]["nodeName"].startswith("kwok-")
        sc = pod["spec"]["containers"][0]["securityContext"]
        assert sc["readOnlyRootFilesystem"] is True and sc["capabilities"]["drop"] == ["ALL"]


async def test_non_compliant_copy_is_rejected(api: client.ApiClient, namespace: str) -> None:
    await restrict(api, namespace)
    deployment, sa = manager_objects()
    broken = copy.deepcopy(deployment)
    broken["metadata"]["name"] = "aimctl-manager-insecure"
    spec = broken["spec"]["template"]["spec"]
    del spec["securityContext"]
    del spec["containers"][0]["securityContext"]
    await apply_docs(api, [sa, broken], namespace=namespace)
    rs_list = await wait_for(
        lambda: replica_sets(api, namespace, "aimctl-manager-insecure"),
        lambda rs: bool(replica_failure(rs)),
        timeout=60,
        what="ReplicaFailure on the insecure copy's ReplicaSet",
    )
    message = replica_failure(rs_list)
    assert "violates PodSecurity" in message and "restricted" in message, message
    assert await pods(api, namespace) == []
