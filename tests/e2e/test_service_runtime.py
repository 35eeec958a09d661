"""The runtime uses what the operator prepared, and the service says why its predictor does not run —
against the real KServe controller of the local cluster (its Deployments, kwok pods, the scheduler).

* Metric, precision, profile id, engine arguments and the cache path reach the runtime
  (``AIM_METRIC``, ``AIM_PRECISION``, ``AIM_PROFILE_ID``, ``AIM_ENGINE_ARGS``, ``AIM_CACHE_PATH``) with
  the stated precedence (service env over template env over these), and the model caches are mounted
  where ``AIM_CACHE_PATH`` says, each under its model id: checked field by field on the ServingRuntime
  and InferenceService the operator writes, and on the predictor Deployment KServe makes of them.
* A predictor no node can place (it requests an extended resource no node has) shows in the service's
  conditions with the scheduler's words, and the service runs once the request is dropped.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.support import aim, kube
from tests.support.discovery import condition
from tests.support.services import (
    apply_all,
    conditions,
    discovery_logs,
    get_isvc,
    image,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve")

API = "aim.silogen.ai/v1alpha1"


def env_of(container: dict[str, Any]) -> dict[str, Any]:
    return {e["name"]: e.get("value", e.get("valueFrom")) for e in container.get("env") or []}


@pytest.mark.usefixtures("storage")
async def test_runtime_env_and_cache_mounts_reach_the_runtime(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    async with discovery_logs(api, namespace, tmp_path):  # discovers fp8/latency, engine_args max-model-len 2048
        tpl = template(
            "tpl", "img", namespace,
            env=[{"name": "SHARED", "value": "template"}, {"name": "TPL_ONLY", "value": "t"},
                 {"name": "AIM_PRECISION", "value": "bf16"}],
        )  # fmt: skip
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(
            namespace, "svc", "img", templateRef="tpl", cacheModel=True,
            env=[{"name": "SHARED", "value": "service"},
                 {"name": "AIM_ENGINE_ARGS", "value": '{"gpu-memory-utilization": 0.9}'}],
        )  # fmt: skip
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running", CacheReady=("True", "CacheWarm"), within=90)

        # The ServingRuntime: what the template prepared (discovered profile, template metric).
        runtime = await kube.get(api, f"/apis/serving.kserve.io/v1alpha1/namespaces/{namespace}/servingruntimes/tpl")
        (rc,) = runtime["spec"]["containers"]
        assert rc["env"] == [
            {"name": "AIM_MODEL_ID", "value": "smol2-135m"},
            {"name": "VLLM_ENABLE_METRICS", "value": "true"},
            {"name": "AIM_METRIC", "value": "latency"},
            {"name": "AIM_PRECISION", "value": "fp8"},
            {"name": "AIM_PROFILE_ID", "value": "aimdummy"},  # the discovery result's filename, "aimdummy.yaml"
            {"name": "AIM_ENGINE_ARGS", "value": '{"max-model-len":2048}'},
            {"name": "AIM_CACHE_PATH", "value": "/workspace/cache"},
        ]

        # The InferenceService: service env > template env > prepared values; engine args deep-merged.
        caches = (await kube.get(api, f"/apis/{API}/namespaces/{namespace}/aimmodelcaches"))["items"]
        (claim,) = [c["status"]["persistentVolumeClaim"] for c in caches]
        predictor = (await get_isvc(api, namespace, "svc"))["spec"]["predictor"]
        model = predictor["model"]
        expected = {
            "SHARED": "service",
            "TPL_ONLY": "t",
            "AIM_METRIC": "latency",
            "AIM_PRECISION": "bf16",
            "AIM_PROFILE_ID": "aimdummy",
            "AIM_ENGINE_ARGS": '{"gpu-memory-utilization":0.9,"max-model-len":2048}',
            "AIM_CACHE_PATH": "/workspace/cache",
        }
        assert env_of(model) == expected
        assert len(model["env"]) == len(expected)
        assert json.loads(env_of(model)["AIM_ENGINE_ARGS"]) == {"gpu-memory-utilization": 0.9, "max-model-len": 2048}
        assert model["volumeMounts"] == [{"name": "model-cache-0", "mountPath": "/workspace/cache/smol2-135m"}]
        assert predictor["volumes"] == [{"name": "model-cache-0", "persistentVolumeClaim": {"claimName": claim}}]

        # What the runtime container gets: KServe merges the two (the InferenceService's env wins by name).
        deployment = await wait_for(
            lambda: kube.get(api, f"/apis/apps/v1/namespaces/{namespace}/deployments/svc-predictor"),
            bool,
            what="KServe's predictor Deployment",
        )
        (container,) = [
            c for c in deployment["spec"]["template"]["spec"]["containers"] if c["name"] == "kserve-container"
        ]
        got = env_of(container)
        assert {k: got.get(k) for k in expected} == expected
        assert got["AIM_MODEL_ID"] == "smol2-135m"
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        assert mounts["model-cache-0"] == got["AIM_CACHE_PATH"] + "/smol2-135m"


async def test_unschedulable_predictor_shows_in_the_service_conditions(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """KServe itself reports only "Deployment does not have minimum availability"; the service names
    the cause: the scheduler's message about the resource no node offers."""
    missing = {"example.com/no-such-gpu": "1"}
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "svc", "img", templateRef="tpl",
                      resources={"requests": {"cpu": "1", **missing}, "limits": missing})  # fmt: skip
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", Failure=("True", "PredictorUnschedulable"), within=60)
        message = condition(got, "Failure")["message"]
        assert message.startswith('Predictor pod "svc-predictor-')
        assert "cannot be scheduled" in message and "Insufficient example.com/no-such-gpu" in message
        assert conditions(got)["Ready"] == ("False", "PredictorUnschedulable")
        assert condition(got, "Ready")["message"] == message
        isvc = await get_isvc(api, namespace, "svc")
        predictor_ready = next(c for c in isvc["status"]["conditions"] if c["type"] == "PredictorReady")
        assert predictor_ready["status"] == "False"
        assert "no-such-gpu" not in json.dumps(isvc["status"])  # KServe does not say why

        svc["spec"]["resources"] = {"requests": {"cpu": "1"}}
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running", Ready=("True", "RuntimeReady"), within=90)
