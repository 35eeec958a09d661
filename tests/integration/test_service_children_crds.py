"""The InferenceService and HTTPRoute builders against the real KServe v0.16 and Gateway API v1 CRDs.

Each manifest is server-side applied as the AIMService controller does; the apiserver must accept it,
and the stored object must already contain every field of the desired one (``needs_apply`` is false),
so a steady-state reconcile makes no write.
"""

from __future__ import annotations

from typing import Any

from kubernetes_asyncio import client

from aimctl.builders.http_route import build_http_route
from aimctl.builders.inference_service import InferenceServiceInputs, build_inference_service, cache_mounts
from aimctl.kube.apply import needs_apply, with_desired_hash
from tests.support import kube


def owner(namespace: str, uid: str) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMService",
        "metadata": {
            "name": "svc",
            "namespace": namespace,
            "uid": uid,
            "labels": {"team": "Data-Team"},
            "annotations": {"note": "hello"},
        },
        "spec": {
            "aimImageName": "img-a",
            "replicas": 2,
            "env": [
                {"name": "PLAIN", "value": "1"},
                {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "token"}}},
            ],
            "imagePullSecrets": [{"name": "s0"}],
            "resources": {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}},
        },
    }


async def _owner_uid(api: client.ApiClient, namespace: str) -> str:
    # A real object to own the children, so garbage collection does not remove them mid-test.
    cm = await kube.create(
        api,
        f"/api/v1/namespaces/{namespace}/configmaps",
        {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}},
    )
    return str(cm["metadata"]["uid"])


async def test_inference_service_is_accepted_by_kserve_crd(api: client.ApiClient, namespace: str) -> None:
    svc = owner(namespace, await _owner_uid(api, namespace))
    svc["apiVersion"], svc["kind"] = "v1", "ConfigMap"
    svc["metadata"]["name"] = "owner"
    terms = [
        {
            "matchExpressions": [
                {"key": "amd.com/gpu.product-name", "operator": "In", "values": ["AMD_Instinct_MI300X_OAM"]}
            ]
        }
    ]
    isvc = build_inference_service(
        svc,
        InferenceServiceInputs(
            template_name="tpl-a",
            template_spec={"aimImageName": "img-a", "imagePullSecrets": [{"name": "t1"}]},
            template_status={
                "profile": {"metadata": {"metric": "latency", "precision": "fp8", "gpu_count": 1}},
                "modelSources": [{"name": "smol2-135m", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M"}],
            },
            runtime_config_pull_secrets=["rc1"],
            service_account="sa1",
            node_selector_terms=terms,
            caches=cache_mounts([("smol2-135m", "cache-smol-cache")]),
        ),
    )
    path = f"/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices/owner"
    stored = await kube.apply(
        api, path, with_desired_hash(isvc), manager="aimctl-tests-service"
    )  # as the applier sends it
    assert stored["spec"]["predictor"]["model"]["runtime"] == "tpl-a"
    assert stored["spec"]["predictor"]["minReplicas"] == 2
    assert stored["spec"]["predictor"]["volumes"][0]["persistentVolumeClaim"]["claimName"] == "cache-smol-cache"
    assert not needs_apply(isvc, stored), "the stored InferenceService differs from the desired one"


async def test_http_route_is_accepted_by_gateway_api_crd(api: client.ApiClient, namespace: str) -> None:
    svc = owner(namespace, await _owner_uid(api, namespace))
    svc["apiVersion"], svc["kind"] = "v1", "ConfigMap"
    svc["metadata"]["name"] = "owner"
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "namespace": namespace}
    route = build_http_route(svc, "/ns/svc", parent, "tpl-a", "smol2-135m", {"a": "b"})
    path = f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes/owner"
    stored = await kube.apply(api, path, with_desired_hash(route), manager="aimctl-tests-service")
    assert stored["spec"]["rules"][0]["matches"][0]["path"] == {"type": "PathPrefix", "value": "/ns/svc"}
    assert not needs_apply(route, stored), "the stored HTTPRoute differs from the desired one"
