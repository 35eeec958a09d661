"""Runtime configs end to end: their own conditions, and consumers that follow them
(docs/original-behaviour.md, fix 2)."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from aimctl.naming import discovery_job_name
from tests.e2e.test_templates import image, template, wait_state
from tests.sim.pod_logs import serve_logs
from tests.support import aim, kube
from tests.support.discovery import condition, one_model, unique
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator")


def runtime_config(namespace: str | None, name: str, **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMRuntimeConfig" if namespace else "AIMClusterRuntimeConfig",
        "metadata": meta,
        "spec": spec,
    }


def pull_secret(namespace: str, name: str, registry: str = "registry.example") -> dict[str, Any]:
    config = {"auths": {registry: {"auth": base64.b64encode(b"u:p").decode()}}}
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": name, "namespace": namespace},
        "type": "kubernetes.io/dockerconfigjson",
        "data": {".dockerconfigjson": base64.b64encode(json.dumps(config).encode()).decode()},
    }


async def wait_ready(api: client.ApiClient, obj: dict[str, Any], status: str, reason: str) -> dict[str, Any]:
    def ok(o: dict[str, Any]) -> bool:
        ready = condition(o, "Ready")
        return (ready.get("status"), ready.get("reason")) == (status, reason)

    return await wait_for(lambda: aim.get(api, obj), ok, what=f"Ready={status}/{reason}")


async def test_routing_without_gateway_is_reported_and_clears_when_fixed(api: client.ApiClient, namespace: str) -> None:
    rc = runtime_config(namespace, "routing", routing={"enabled": True})
    await aim.apply(api, rc)
    bad = await wait_ready(api, rc, "False", "GatewayRefMissing")
    assert (condition(bad, "RoutingValid")["status"], condition(bad, "RoutingValid")["reason"]) == (
        "False", "GatewayRefMissing"
    )  # fmt: skip
    assert "gatewayRef" in condition(bad, "Ready")["message"]
    assert "status" not in bad["status"]  # the API has no state field for runtime configs
    rc["spec"]["routing"]["gatewayRef"] = {"name": "gw", "namespace": "gws"}
    await aim.apply(api, rc)
    good = await wait_ready(api, rc, "True", "Valid")
    assert good["status"]["observedGeneration"] == good["metadata"]["generation"]
    assert condition(good, "RoutingValid")["reason"] == "GatewayConfigured"


async def test_missing_pull_secret_and_storage_class_are_reported_until_created(
    api: client.ApiClient, namespace: str
) -> None:
    rc = runtime_config(namespace, "creds", imagePullSecrets=[{"name": "regcred"}])
    await aim.apply(api, rc)
    bad = await wait_ready(api, rc, "False", "PullSecretMissing")
    assert '"regcred"' in condition(bad, "PullSecretsFound")["message"]
    await kube.create(api, f"/api/v1/namespaces/{namespace}/secrets", pull_secret(namespace, "regcred"))
    await wait_ready(api, rc, "True", "Valid")

    sc = unique("no-such-class")
    crc = runtime_config(None, unique("crc"), defaultStorageClassName=sc)
    await aim.apply(api, crc)
    try:
        bad = await wait_ready(api, crc, "False", "StorageClassNotFound")
        assert sc in condition(bad, "StorageClassFound")["message"]
    finally:
        await aim.delete(api, crc)


async def test_runtime_config_created_after_its_consumer(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """A template naming a missing config is Degraded; creating the config lets it proceed, using the
    config's service account and pull secrets for discovery."""
    await serve_logs(api, namespace, one_model(), tmp_path)
    await aim.apply(api, image(namespace, "img", "registry.example/late:1"))
    tpl = template(namespace, "tpl-late", "img", runtimeConfigName="late", imagePullSecrets=[{"name": "tpl-cred"}])
    await aim.apply(api, tpl)
    degraded = await wait_state(api, tpl, "Degraded", Failure=("True", "RuntimeConfigMissing"))
    assert condition(degraded, "Failure")["message"] == f'AIMRuntimeConfig "late" not found in namespace "{namespace}"'
    await kube.create(
        api, f"/api/v1/namespaces/{namespace}/serviceaccounts",
        {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "discovery-sa"}},
    )  # fmt: skip
    rc = runtime_config(namespace, "late", serviceAccountName="discovery-sa", imagePullSecrets=[{"name": "rc-cred"}])
    await aim.apply(api, rc)
    done = await wait_state(api, tpl, "Available")
    ref = done["status"]["resolvedRuntimeConfig"]
    assert {k: ref[k] for k in ("name", "namespace", "scope", "kind")} == {
        "name": "late", "namespace": namespace, "scope": "Namespace", "kind": "AIMRuntimeConfig"
    }  # fmt: skip
    job_name = discovery_job_name("tpl-late", "img", "registry.example/late:1")
    job = await kube.get(api, f"/apis/batch/v1/namespaces/{namespace}/jobs/{job_name}")
    pod = job["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "discovery-sa"
    assert pod["imagePullSecrets"] == [{"name": "tpl-cred"}, {"name": "rc-cred"}]


async def test_consumers_follow_configs_appearing_at_either_scope(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    await serve_logs(api, namespace, one_model(), tmp_path)
    name = unique("shared-rc")
    crc = runtime_config(None, name)
    await aim.apply(api, crc)
    try:
        await aim.apply(api, image(namespace, "img", "registry.example/scoped:1"))
        tpl = template(namespace, "tpl-scoped", "img", runtimeConfigName=name)
        await aim.apply(api, tpl)
        done = await wait_state(api, tpl, "Available")
        assert done["status"]["resolvedRuntimeConfig"]["scope"] == "Cluster"
        await aim.apply(api, runtime_config(namespace, name))

        def namespaced(o: dict[str, Any]) -> bool:
            return (o["status"].get("resolvedRuntimeConfig") or {}).get("scope") == "Namespace"

        await wait_for(lambda: aim.get(api, tpl), namespaced, what="re-resolved to the namespaced config")
    finally:
        await aim.delete(api, crc)
