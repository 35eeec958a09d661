"""InferenceService and HTTPRoute builders (docs/original-behaviour.md; fixes 3, 13, 16)."""

from __future__ import annotations

from typing import Any

from aimctl.builders.http_route import build_http_route
from aimctl.builders.inference_service import (
    InferenceServiceInputs,
    build_inference_service,
    cache_mounts,
    gpu_node_selector_terms,
    model_id,
    pull_secrets,
)
from aimctl.builders.service_template_cache import build_service_template_cache

IMAGE_RESOURCES = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}}
TEMPLATE_STATUS = {
    "status": "Available",
    "profile": {"metadata": {"engine": "vllm", "gpu": "AMD", "precision": "fp8", "metric": "latency", "gpu_count": 0}},
    "modelSources": [{"name": "smol2-135m", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"}],
}


def service(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"aimImageName": "img-a", "replicas": 1}
    body.update(spec)
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMService",
        "metadata": {
            "name": "svc",
            "namespace": "ns1",
            "uid": "u-1",
            "labels": {"team": "a", "odd": "x"},
            "annotations": {"note": "hello world", "route.suffix": "Team-A/B"},
        },
        "spec": body,
    }


def inputs(**kw: Any) -> InferenceServiceInputs:
    base: dict[str, Any] = {
        "template_name": "tpl-a",
        "template_spec": {"aimImageName": "img-a"},
        "template_status": TEMPLATE_STATUS,
        "image_resources": IMAGE_RESOURCES,
    }
    base.update(kw)
    return InferenceServiceInputs(**base)


def test_basic_inference_service_matches_scenario_5() -> None:
    isvc = build_inference_service(service(), inputs())
    meta = isvc["metadata"]
    assert (isvc["apiVersion"], isvc["kind"]) == ("serving.kserve.io/v1beta1", "InferenceService")
    assert (meta["name"], meta["namespace"]) == ("svc", "ns1")
    assert meta["ownerReferences"] == [
        {"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMService", "name": "svc", "uid": "u-1",
         "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    assert meta["labels"] == {
        "team": "a",
        "odd": "x",
        "app.kubernetes.io/name": "aim-service",
        "app.kubernetes.io/component": "inference-service",
        "app.kubernetes.io/managed-by": "aim-controller",
        "aim.silogen.ai/template": "tpl-a",
        "aim.silogen.ai/model-id": "smol2-135m",
        "aim.silogen.ai/aim-image": "img-a",
        "aim.silogen.ai/template.metric": "latency",
        "aim.silogen.ai/template.precision": "fp8",
    }
    assert meta["annotations"] == {"note": "hello world", "route.suffix": "Team-A/B"}
    predictor = isvc["spec"]["predictor"]
    assert predictor["minReplicas"] == predictor["maxReplicas"] == 1
    assert predictor["model"] == {
        "modelFormat": {"name": "aim", "version": "1"},
        "runtime": "tpl-a",
        "env": [
            {"name": "AIM_METRIC", "value": "latency"},
            {"name": "AIM_PRECISION", "value": "fp8"},
            {"name": "AIM_CACHE_PATH", "value": "/workspace/cache"},
        ],
        "resources": IMAGE_RESOURCES,
    }
    assert "affinity" not in predictor
    assert "volumes" not in predictor
    assert "imagePullSecrets" not in predictor


def test_label_values_are_sanitised() -> None:
    long = "x" * 70 + ".tpl"
    isvc = build_inference_service(
        service(), inputs(template_name=long, template_spec={"aimImageName": "meta/llama:1+2"})
    )
    lab = isvc["metadata"]["labels"]
    assert lab["aim.silogen.ai/template"] == "x" * 63
    assert lab["aim.silogen.ai/aim-image"] == "meta_llama_1_2"
    assert isvc["spec"]["predictor"]["model"]["runtime"] == long


def test_resource_precedence_and_gpu_count() -> None:
    svc_res = {"requests": {"cpu": "4"}, "limits": {"memory": "1Gi"}}
    tpl_res = {"requests": {"cpu": "3"}}
    assert (
        build_inference_service(service(resources=svc_res), inputs(template_spec={"resources": tpl_res}))["spec"][
            "predictor"
        ]["model"]["resources"]
        == svc_res
    )
    assert (
        build_inference_service(service(), inputs(template_spec={"resources": tpl_res}))["spec"]["predictor"]["model"][
            "resources"
        ]
        == tpl_res
    )
    gpu_status = {**TEMPLATE_STATUS, "profile": {"metadata": {"gpu_count": 2}}}
    res = build_inference_service(service(resources=svc_res), inputs(template_status=gpu_status))["spec"]["predictor"][
        "model"
    ]["resources"]
    assert res == {"requests": {"cpu": "4", "amd.com/gpu": "2"}, "limits": {"memory": "1Gi", "amd.com/gpu": "2"}}
    explicit = {"requests": {"amd.com/gpu": "1"}}
    res = build_inference_service(service(resources=explicit), inputs(template_status=gpu_status))["spec"]["predictor"][
        "model"
    ]["resources"]
    assert res == {"requests": {"amd.com/gpu": "1"}, "limits": {"amd.com/gpu": "2"}}


def test_credentials_env_affinity_and_caches() -> None:
    terms = [{"matchExpressions": [{"key": "amd.com/gpu.product-name", "operator": "In", "values": ["X"]}]}]
    isvc = build_inference_service(
        service(
            replicas=3,
            env=[{"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "t"}}}],
            imagePullSecrets=[{"name": "s0"}, {"name": "s1"}],
        ),
        inputs(
            template_spec={"aimImageName": "img-a", "imagePullSecrets": [{"name": "t1"}, {"name": "s0"}]},
            runtime_config_pull_secrets=["s1", "rc1"],
            service_account="sa1",
            node_selector_terms=terms,
            caches=cache_mounts([("smol2-135m", "cache-a-cache"), ("meta-llama/Llama-3.1-8B", "cache-b-cache")]),
        ),
    )
    p = isvc["spec"]["predictor"]
    assert p["minReplicas"] == p["maxReplicas"] == 3
    assert p["imagePullSecrets"] == [{"name": "s0"}, {"name": "s1"}, {"name": "t1"}, {"name": "rc1"}]
    assert p["serviceAccountName"] == "sa1"
    assert p["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"] == terms
    assert p["volumes"] == [
        {"name": "model-cache-0", "persistentVolumeClaim": {"claimName": "cache-a-cache"}},
        {"name": "model-cache-1", "persistentVolumeClaim": {"claimName": "cache-b-cache"}},
    ]
    # Each model under its model id, at the root AIM_CACHE_PATH names.
    assert p["model"]["volumeMounts"] == [
        {"name": "model-cache-0", "mountPath": "/workspace/cache/smol2-135m"},
        {"name": "model-cache-1", "mountPath": "/workspace/cache/meta-llama/Llama-3.1-8B"},
    ]
    assert p["model"]["env"] == [
        {"name": "AIM_METRIC", "value": "latency"},
        {"name": "AIM_PRECISION", "value": "fp8"},
        {"name": "AIM_CACHE_PATH", "value": "/workspace/cache"},
        {"name": "HF_TOKEN", "valueFrom": {"secretKeyRef": {"name": "hf", "key": "t"}}},
    ]


def test_cache_mounts_follow_the_effective_cache_path() -> None:
    """A service that sets AIM_CACHE_PATH moves the mounts with it: the runtime finds them."""
    isvc = build_inference_service(
        service(env=[{"name": "AIM_CACHE_PATH", "value": "/models"}]),
        inputs(caches=cache_mounts([("org/m", "pvc")])),
    )
    model = isvc["spec"]["predictor"]["model"]
    assert model["volumeMounts"] == [{"name": "model-cache-0", "mountPath": "/models/org/m"}]
    assert {"name": "AIM_CACHE_PATH", "value": "/models"} in model["env"]


def test_runtime_env_on_the_inference_service_has_the_stated_precedence() -> None:
    tpl_spec = {"aimImageName": "img-a", "metric": "throughput", "env": [{"name": "T", "value": "tpl"},
                {"name": "S", "value": "tpl"}]}  # fmt: skip
    status = {**TEMPLATE_STATUS, "profile": {"metadata": {"precision": "fp8"}, "engine_args": {"a": 1, "b": 2}}}
    svc_env = [{"name": "S", "value": "svc"}, {"name": "AIM_ENGINE_ARGS", "value": '{"b": 3}'}]
    isvc = build_inference_service(
        service(env=svc_env),
        inputs(template_spec=tpl_spec, template_status=status, runtime_config_env=[{"name": "T", "value": "rc"}]),
    )
    env = {e["name"]: e["value"] for e in isvc["spec"]["predictor"]["model"]["env"]}
    assert env == {
        "T": "tpl",
        "AIM_METRIC": "throughput",
        "AIM_PRECISION": "fp8",
        "AIM_ENGINE_ARGS": '{"a":1,"b":3}',
        "AIM_CACHE_PATH": "/workspace/cache",
        "S": "svc",
    }


def test_model_id_and_pull_secret_helpers() -> None:
    assert model_id({"aimImageName": "img"}, {"modelSources": [{"name": "m", "sourceUri": ""}]}) == "img"
    assert pull_secrets(["a"], [{"name": "a"}, {"name": "b"}], []) == [{"name": "a"}, {"name": "b"}]


def test_http_route_matches_scenario_10() -> None:
    svc = service(routing={"enabled": True})
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "namespace": "gws"}
    route = build_http_route(svc, "/ns/ns1/svc3", parent, "tpl-a", "smol2-135m", {"a": "b"})
    assert (route["apiVersion"], route["kind"]) == ("gateway.networking.k8s.io/v1", "HTTPRoute")
    meta = route["metadata"]
    assert (meta["name"], meta["namespace"], meta["annotations"]) == ("svc", "ns1", {"a": "b"})
    assert meta["labels"]["aim.silogen.ai/model-id"] == "smol2-135m"
    assert meta["ownerReferences"][0]["controller"] is True
    assert route["spec"]["parentRefs"] == [parent]
    (rule,) = route["spec"]["rules"]
    assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": "/ns/ns1/svc3"}}]
    assert rule["filters"][0]["urlRewrite"]["path"] == {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}
    assert rule["backendRefs"] == [{"group": "", "kind": "Service", "name": "svc-predictor", "namespace": "ns1",
                                    "port": 80}]  # fmt: skip


def test_gpu_node_selector_terms() -> None:
    terms = gpu_node_selector_terms("mi300x")
    keys = {e["key"]: e["values"] for t in terms for e in t["matchExpressions"]}
    assert keys["amd.com/gpu.model"] == ["MI300X"]
    assert keys["amd.com/gpu.device-id"] == keys["beta.amd.com/gpu.device-id"]
    assert "74a1" in keys["amd.com/gpu.device-id"]
    assert "74a5" not in keys["amd.com/gpu.device-id"]  # MI325X
    assert gpu_node_selector_terms("") == []
    novel = {e["key"] for t in gpu_node_selector_terms("NOVEL-GPU") for e in t["matchExpressions"]}
    assert novel == {"amd.com/gpu.model", "amd.com/gpu.family", "beta.amd.com/gpu.family"}


def test_service_template_cache() -> None:
    svc = service(env=[{"name": "HF_TOKEN", "value": "x"}], imagePullSecrets=[{"name": "s0"}], runtimeConfigName="rc")
    tpl = {"metadata": {"name": "tpl-a", "uid": "t-1"}, "spec": {"aimImageName": "img-a"}}
    tc = build_service_template_cache(svc, tpl, "AIMClusterServiceTemplate")
    assert (tc["metadata"]["name"], tc["metadata"]["namespace"]) == ("tpl-a", "ns1")
    assert tc["metadata"]["ownerReferences"] == [
        {"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMClusterServiceTemplate", "name": "tpl-a", "uid": "t-1"}
    ]
    assert tc["spec"] == {
        "templateRef": "tpl-a",
        "runtimeConfigName": "rc",
        "env": [{"name": "HF_TOKEN", "value": "x"}],
        "imagePullSecrets": [{"name": "s0"}],
    }


def test_a_shortened_inference_service_name_carries_the_service_name() -> None:
    long_name = "s" * 63
    svc = service()
    svc["metadata"]["name"] = long_name
    isvc = build_inference_service(svc, inputs(name="s" * 40 + "-1a2b3c4d"))
    meta = isvc["metadata"]
    assert meta["name"] == "s" * 40 + "-1a2b3c4d"
    assert meta["labels"]["aim.silogen.ai/service"] == long_name
    assert meta["annotations"]["aim.silogen.ai/service"] == long_name
    assert meta["ownerReferences"][0]["name"] == long_name
    # Unshortened: no new label or annotation (the InferenceService stays exactly as before).
    plain = build_inference_service(service(), inputs(name="svc"))["metadata"]
    assert "aim.silogen.ai/service" not in plain["labels"]
    assert "aim.silogen.ai/service" not in plain["annotations"]


def test_route_backend_is_the_predictor_of_the_shortened_inference_service() -> None:
    parent = {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "namespace": "gw"}
    route = build_http_route(service(), "/p", parent, "tpl-a", "m", None, isvc_name="short-1a2b3c4d")
    assert route["metadata"]["name"] == "svc"
    assert route["spec"]["rules"][0]["backendRefs"][0]["name"] == "short-1a2b3c4d-predictor"
