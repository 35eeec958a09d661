"""KServe itself in the local cluster: its webhooks judge InferenceServices, its controller runs them.

``aimctl dev cluster up`` starts KServe's controller manager (built from KServe's module) in Standard
mode and registers its webhooks by URL; predictor pods are kwok pods whose image decides what they do
(``aimctl/devcluster/kwok-config.yaml``). Nothing here is simulated on KServe's side.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes_asyncio import client
from kubernetes_asyncio.client.rest import ApiException

from tests.support import kube
from tests.support.kserve import predictor_pods
from tests.support.wait import wait_for

ISVCS = "/apis/serving.kserve.io/v1beta1/namespaces/{ns}/inferenceservices"


def runtime(namespace: str, name: str, image: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "supportedModelFormats": [{"name": "aim", "version": "1"}],
            "containers": [{"name": "kserve-container", "image": image}],
        },
    }


def isvc(namespace: str, name: str, runtime_name: str) -> dict[str, Any]:
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "predictor": {
                "minReplicas": 1,
                "maxReplicas": 1,
                "model": {
                    "modelFormat": {"name": "aim", "version": "1"},
                    "runtime": runtime_name,
                    "resources": {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}},
                },
            }
        },
    }


def conditions(obj: dict[str, Any]) -> dict[str, tuple[str, str]]:
    return {c["type"]: (c["status"], c.get("reason") or "") for c in (obj.get("status") or {}).get("conditions") or []}


async def _setup(api: client.ApiClient, namespace: str, name: str, image: str) -> str:
    await kube.apply(
        api,
        f"/apis/serving.kserve.io/v1alpha1/namespaces/{namespace}/servingruntimes/rt-{name}",
        runtime(namespace, f"rt-{name}", image),
    )
    base = ISVCS.format(ns=namespace)
    await kube.create(api, base, isvc(namespace, name, f"rt-{name}"))
    return f"{base}/{name}"


async def test_kserve_runs_a_predictor_and_reports_it_ready(api: client.ApiClient, namespace: str) -> None:
    """KServe's own logic: a Deployment and a Service for the predictor, Ready once its pod runs."""
    path = await _setup(api, namespace, "good", "registry.example/aim/model:1")
    got = await wait_for(
        lambda: kube.get(api, path), lambda o: conditions(o).get("Ready", ("",))[0] == "True", timeout=60, what="Ready"
    )
    assert conditions(got)["PredictorReady"][0] == "True"
    assert got["status"]["modelStatus"]["transitionStatus"] == "UpToDate"
    assert got["status"]["deploymentMode"] == "Standard"
    deployment = await kube.get(api, f"/apis/apps/v1/namespaces/{namespace}/deployments/good-predictor")
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["uid"]) == ("InferenceService", "good", got["metadata"]["uid"])
    await kube.get(api, f"/api/v1/namespaces/{namespace}/services/good-predictor")


async def test_kserve_reports_a_crash_looping_predictor(api: client.ApiClient, namespace: str) -> None:
    """A predictor whose container keeps crashing: KServe's Deployment (owned by the InferenceService)
    never becomes Available, and KServe reports the crash in its conditions and lastFailureInfo."""
    path = await _setup(api, namespace, "crashy", "registry.example/aim/kwok-crashloop:1")
    got = await wait_for(
        lambda: kube.get(api, path),
        lambda o: bool(((o.get("status") or {}).get("modelStatus") or {}).get("lastFailureInfo")),
        timeout=60,
        what="KServe's lastFailureInfo",
    )
    status = got["status"]
    assert conditions(got)["Ready"][0] == "False"
    assert conditions(got)["PredictorReady"][0] == "False"
    model = status["modelStatus"]
    assert model["transitionStatus"] == "BlockedByFailedLoad"
    assert model["states"]["targetModelState"] == "FailedToLoad"
    failure = model["lastFailureInfo"]
    assert (failure["reason"], failure["exitCode"]) == ("ModelLoadFailed", 1)
    assert failure["message"] == "simulated crash: the model server exited with code 1"
    deployment = await kube.get(api, f"/apis/apps/v1/namespaces/{namespace}/deployments/crashy-predictor")
    (owner,) = deployment["metadata"]["ownerReferences"]
    assert (owner["kind"], owner["name"], owner["controller"]) == ("InferenceService", "crashy", True)
    available = {c["type"]: c["status"] for c in (deployment.get("status") or {}).get("conditions") or []}
    assert available.get("Available") == "False"


async def test_kserve_crash_then_run_predictor_becomes_ready_and_keeps_the_failure(
    api: client.ApiClient, namespace: str
) -> None:
    """A predictor that crashes a few times, then runs: Ready, and KServe keeps lastFailureInfo."""
    path = await _setup(api, namespace, "flaky", "registry.example/aim/kwok-crash-then-run:1")
    got = await wait_for(
        lambda: kube.get(api, path), lambda o: conditions(o).get("Ready", ("",))[0] == "True", timeout=60, what="Ready"
    )
    pods = await predictor_pods(api, namespace, "flaky")
    ready = [p for p in pods if all(c["ready"] for c in p["status"].get("containerStatuses") or [{"ready": False}])]
    assert ready, pods
    for cs in ready[0]["status"]["containerStatuses"]:
        assert cs["restartCount"] == 3
        assert cs["lastState"]["terminated"]["exitCode"] == 1
    assert got["status"]["modelStatus"]["transitionStatus"] == "UpToDate"


async def test_kserve_webhook_rejects_an_inference_service_that_breaks_its_rules(
    api: client.ApiClient, namespace: str
) -> None:
    """KServe's validating webhook (not the CRD schema) refuses a name with a dot."""
    with pytest.raises(ApiException) as refused:
        await kube.create(api, ISVCS.format(ns=namespace), isvc(namespace, "bad.name", "rt"))
    assert refused.value.status == 403
    message = json.loads(refused.value.body)["message"]
    assert message.startswith('admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request')
    assert "a InferenceService name must consist of lower case alphanumeric characters" in message
