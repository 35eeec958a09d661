"""How the operator writes children, end to end (issue 11, controller/apply layer):

* a field a builder stops setting leaves the child (server-side apply's field ownership removes it,
  triggered by the desired-hash annotation): a pull secret removed from a template leaves its
  ServingRuntime, env vars and pull secrets removed from a template cache leave its model caches;
* an InferenceService of a service's name that someone else controls is never taken over: the
  service reports who owns it, and creates its own once that object is gone;
* discovery pods run without a ServiceAccount token.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.e2e.conftest import Operator
from tests.support import aim, kube
from tests.support.caches import GV, template_cache
from tests.support.discovery import condition
from tests.support.operator_metrics import wait_idle
from tests.support.services import (
    apply_all,
    discovery_logs,
    image,
    isolate,
    isvc_path,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve", "storage")

OPERATOR_MANAGER_PREFIX = "aimctl.aim.silogen.ai/"


@pytest.fixture(autouse=True)
async def _isolated(api: client.ApiClient, namespace: str) -> None:
    await isolate(api, namespace)


def runtime_path(namespace: str, name: str) -> str:
    return f"/apis/serving.kserve.io/v1alpha1/namespaces/{namespace}/servingruntimes/{name}"


async def test_a_pull_secret_removed_from_a_template_leaves_its_serving_runtime(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Reproduced by a user: the secret stayed on the ServingRuntime forever."""
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace, imagePullSecrets=[{"name": "keep"}, {"name": "drop"}])
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        rt = await wait_for(
            lambda: kube.get(api, runtime_path(namespace, "tpl")),
            lambda r: bool(r) and bool(r["spec"].get("imagePullSecrets")),
            what="ServingRuntime with pull secrets",
        )
        assert rt["spec"]["imagePullSecrets"] == [{"name": "keep"}, {"name": "drop"}]

        tpl["spec"]["imagePullSecrets"] = [{"name": "keep"}]
        await aim.apply(api, tpl)
        rt = await wait_for(
            lambda: kube.get(api, runtime_path(namespace, "tpl")),
            lambda r: r["spec"].get("imagePullSecrets") == [{"name": "keep"}],
            timeout=30,
            what="the removed pull secret to leave the ServingRuntime",
        )
        del tpl["spec"]["imagePullSecrets"]
        await aim.apply(api, tpl)
        await wait_for(
            lambda: kube.get(api, runtime_path(namespace, "tpl")),
            lambda r: "imagePullSecrets" not in r["spec"],
            timeout=30,
            what="every pull secret to leave the ServingRuntime",
        )


async def test_env_and_pull_secrets_removed_from_a_template_cache_leave_its_model_caches(
    api: client.ApiClient, namespace: str
) -> None:
    tpl: dict[str, Any] = {
        "apiVersion": GV,
        "kind": "AIMServiceTemplate",
        "metadata": {"name": "tpl", "namespace": namespace},
        "spec": {"aimImageName": "no-such-image-for-cache-tests", "metric": "latency"},
    }
    await aim.apply(api, tpl)
    source = {"name": "smol2-135m", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"}
    await aim.apply_status(api, {**tpl, "status": {"modelSources": [source]}})
    env = [{"name": "KEEP", "value": "1"}, {"name": "DROP", "value": "2"}]
    tc = template_cache(namespace, "tc", "tpl", env=env, imagePullSecrets=[{"name": "regcred"}])
    await aim.apply(api, tc)
    path = f"/apis/{GV}/namespaces/{namespace}/aimmodelcaches/tc-smol2-135m"
    mc = await wait_for(lambda: kube.get(api, path), bool, timeout=60, what="the model cache")
    assert mc["spec"]["env"] == env
    assert mc["spec"]["imagePullSecrets"] == [{"name": "regcred"}]

    tc["spec"]["env"] = env[:1]  # one element fewer
    await aim.apply(api, tc)
    await wait_for(
        lambda: kube.get(api, path),
        lambda o: o["spec"].get("env") == env[:1],
        timeout=30,
        what="the removed env var to leave the model cache",
    )
    del tc["spec"]["env"], tc["spec"]["imagePullSecrets"]  # whole fields the builder stops setting
    await aim.apply(api, tc)
    await wait_for(
        lambda: kube.get(api, path),
        lambda o: "env" not in o["spec"] and "imagePullSecrets" not in o["spec"],
        timeout=30,
        what="env and pull secrets to leave the model cache",
    )
    mc = await kube.get(api, path)
    assert mc["metadata"]["labels"]["aim.silogen.ai/templatecache"] == "tc"  # what the operator still sets stays
    assert mc["spec"]["sourceUri"] == source["sourceUri"]


def foreign_isvc(namespace: str, name: str, owner: dict[str, Any] | None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "labels": {"owner": "someone-else"}}
    if owner is not None:
        meta["ownerReferences"] = [
            {"apiVersion": "v1", "kind": "ConfigMap", "name": owner["metadata"]["name"],
             "uid": owner["metadata"]["uid"], "controller": True}
        ]  # fmt: skip
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": {"model": {"modelFormat": {"name": "other"}, "runtime": "theirs"}}},
    }


def operator_managers(obj: dict[str, Any]) -> list[str]:
    return [
        str(m.get("manager"))
        for m in obj["metadata"].get("managedFields") or []
        if str(m.get("manager", "")).startswith(OPERATOR_MANAGER_PREFIX)
    ]


@pytest.mark.parametrize("owned_by", ["configmap", "nobody"])
async def test_a_foreign_inference_service_is_never_taken_over(
    api: client.ApiClient, namespace: str, tmp_path: Path, owned_by: str, operator: Operator
) -> None:
    owner = None
    if owned_by == "configmap":
        owner = await kube.create(
            api,
            f"/api/v1/namespaces/{namespace}/configmaps",
            {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "their-app"}},
        )
    theirs = await kube.apply(api, isvc_path(namespace, "svc"), foreign_isvc(namespace, "svc", owner), "someone-else")
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "svc", "img", templateRef="tpl")
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", RuntimeReady=("False", "OwnershipConflict"))
        message = condition(got, "RuntimeReady")["message"]
        assert 'InferenceService "svc"' in message
        if owned_by == "configmap":
            assert 'controlled by ConfigMap "their-app"' in message
        else:
            assert "no controller owner" in message
        assert "delete that InferenceService" in message
        assert condition(got, "Failure")["reason"] == "OwnershipConflict"

        # Nothing of ours was written to it, now or after more reconciles (each poke, a spec-neutral
        # change, is one more reconcile: checked once the service controller has made it and is idle).
        for poke in range(3):
            isvc = await kube.get(api, isvc_path(namespace, "svc"))
            assert operator_managers(isvc) == []
            assert isvc["metadata"].get("ownerReferences") == theirs["metadata"].get("ownerReferences")
            assert isvc["spec"]["predictor"]["model"]["runtime"] == "theirs"
            if poke < 2:
                before = await wait_idle(operator.metrics, "aim-service")
                svc["metadata"]["labels"] = {"poke": str(poke + 1)}
                await aim.apply(api, svc)
                await wait_idle(operator.metrics, "aim-service", after=before)

        # Once the foreign object is gone, the service creates its own.
        await kube.delete(api, isvc_path(namespace, "svc"))
        mine = await wait_for(
            lambda: kube.get(api, isvc_path(namespace, "svc")),
            lambda o: any(r.get("kind") == "AIMService" for r in o["metadata"].get("ownerReferences") or []),
            timeout=45,
            what="the service's own InferenceService",
        )
        assert operator_managers(mine)
        await wait_for(
            lambda: aim.get(api, svc),
            lambda o: condition(o, "RuntimeReady").get("reason") != "OwnershipConflict",
            timeout=30,
            what="the conflict to clear",
        )


async def test_discovery_pods_get_no_service_account_token(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        selector = [("labelSelector", "app.kubernetes.io/name=aim-discovery")]
        pods = await wait_for(
            lambda: kube.request(api, "GET", f"/api/v1/namespaces/{namespace}/pods", query=selector),
            lambda r: bool(r["items"]),
            timeout=45,
            what="a discovery pod",
        )
        for pod in pods["items"]:
            spec = pod["spec"]
            projected = [v["name"] for v in spec.get("volumes") or [] if "projected" in v]
            assert projected == [], f"a token volume was mounted: {projected}"
            for c in spec["containers"]:
                mounts = [m["mountPath"] for m in c.get("volumeMounts") or []]
                assert not any("serviceaccount" in m for m in mounts), mounts
            assert spec.get("automountServiceAccountToken") is False
        await wait_template(api, tpl, "Available")
