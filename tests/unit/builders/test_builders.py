"""Pure builders: discovery Job, serving runtimes, auto-templates, template caches."""

from __future__ import annotations

from typing import Any

from aimctl.builders.auto_template import build_auto_templates
from aimctl.builders.discovery_job import build_discovery_job, discovery_inputs, pull_inputs
from aimctl.builders.serving_runtime import build_serving_runtime
from aimctl.builders.template_cache import build_template_cache
from aimctl.naming import discovery_job_name


def template(kind: str = "AIMServiceTemplate", **spec: Any) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": "tpl-a", "uid": "u-1"}
    if kind == "AIMServiceTemplate":
        meta["namespace"] = "ns1"
    base = {"aimImageName": "img-a", "metric": "latency", "gpuSelector": {"model": "MI300X", "count": 1}}
    return {"kind": kind, "metadata": meta, "spec": {**base, **spec}}


def test_discovery_job_follows_the_reference() -> None:
    tpl = template(env=[{"name": "HF_TOKEN", "value": "x"}], precision="fp8", imagePullSecrets=[{"name": "tpl-secret"}])
    secrets = ["rc-secret", "tpl-secret"]
    job = build_discovery_job(tpl, "AIMServiceTemplate", "aimdummy:dev-latest", "ns1", secrets, "sa1")
    assert job["metadata"]["name"] == discovery_job_name("tpl-a", "img-a", "aimdummy:dev-latest")
    assert job["metadata"]["namespace"] == "ns1"
    assert job["metadata"]["labels"] == {
        "app.kubernetes.io/name": "aim-discovery",
        "app.kubernetes.io/component": "discovery-job",
        "app.kubernetes.io/managed-by": "aim-controller",
        "aim.silogen.ai/template": "tpl-a",
    }
    assert job["metadata"]["ownerReferences"] == [
        {"apiVersion": "aim.silogen.ai/v1alpha1", "kind": "AIMServiceTemplate", "name": "tpl-a", "uid": "u-1",
         "controller": True, "blockOwnerDeletion": True}
    ]  # fmt: skip
    spec = job["spec"]
    assert (spec["backoffLimit"], spec["ttlSecondsAfterFinished"]) == (3, 60)
    assert spec["activeDeadlineSeconds"] == 3600  # issue 12: a discovery that never ends frees its slot
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["imagePullSecrets"] == [{"name": "tpl-secret"}, {"name": "rc-secret"}]
    assert pod["serviceAccountName"] == "sa1"
    assert pod["securityContext"] == {
        "runAsNonRoot": True, "runAsUser": 65532, "seccompProfile": {"type": "RuntimeDefault"}
    }  # fmt: skip
    (c,) = pod["containers"]
    assert (c["name"], c["image"], c["args"]) == ("discovery", "aimdummy:dev-latest", ["dry-run", "--format=json"])
    assert "command" not in c and "resources" not in c
    assert c["securityContext"] == {
        "allowPrivilegeEscalation": False, "runAsNonRoot": True, "capabilities": {"drop": ["ALL"]}
    }  # fmt: skip
    assert c["env"] == [
        {"name": "HF_TOKEN", "value": "x"},
        {"name": "AIM_METRIC", "value": "latency"},
        {"name": "AIM_PRECISION", "value": "fp8"},
        {"name": "AIM_GPU_MODEL", "value": "MI300X"},
        {"name": "AIM_GPU_COUNT", "value": "1"},
    ]


def test_discovery_fingerprints_separate_env_from_pull_inputs() -> None:
    """Issue 12: env shapes the results (rediscovery); pull secrets and the ServiceAccount do not."""

    def job(env: str = "a", secret: str = "s", sa: str | None = None) -> dict[str, Any]:
        tpl = template(env=[{"name": "HF_TOKEN", "value": env}], imagePullSecrets=[{"name": secret}])
        return build_discovery_job(tpl, "AIMServiceTemplate", "img:1", "ns1", [], sa)

    base = job()
    assert discovery_inputs(job(env="b")) != discovery_inputs(base)
    assert pull_inputs(job(env="b")) == pull_inputs(base)
    assert discovery_inputs(job(secret="t")) == discovery_inputs(base)
    assert pull_inputs(job(secret="t")) != pull_inputs(base)
    assert pull_inputs(job(sa="sa1")) != pull_inputs(base)
    assert len(discovery_inputs(base)) == 8 and discovery_inputs(base) == discovery_inputs(job())


def test_discovery_pod_gets_no_service_account_token() -> None:
    """The discovery pod runs the tenant's image and never calls the Kubernetes API: no token is
    mounted, with or without a runtime config ServiceAccount (which still gives its pull secrets)."""
    for sa in ("sa1", None):
        job = build_discovery_job(template(), "AIMServiceTemplate", "img:1", "ns1", [], sa)
        pod = job["spec"]["template"]["spec"]
        assert pod["automountServiceAccountToken"] is False
        assert pod.get("serviceAccountName") == sa
    cluster_job = build_discovery_job(template("AIMClusterServiceTemplate"), "AIMClusterServiceTemplate", "i:1", "x")
    assert cluster_job["spec"]["template"]["spec"]["automountServiceAccountToken"] is False


def test_cluster_template_job_ignores_namespaced_only_fields() -> None:
    tpl = template("AIMClusterServiceTemplate", env=[{"name": "X", "value": "1"}])
    job = build_discovery_job(tpl, "AIMClusterServiceTemplate", "img:1", "aim-system")
    assert job["metadata"]["namespace"] == "aim-system"
    pod = job["spec"]["template"]["spec"]
    assert "imagePullSecrets" not in pod and "serviceAccountName" not in pod
    assert [e["name"] for e in pod["containers"][0]["env"]] == ["AIM_METRIC", "AIM_GPU_MODEL", "AIM_GPU_COUNT"]


def test_serving_runtime_follows_the_reference() -> None:
    sources = [{"name": "no-uri"}, {"name": "smol2-135m", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M"}]
    rt = build_serving_runtime(template(), "AIMServiceTemplate", "aimdummy:dev-latest", 0, sources, ["s1"])
    assert rt["kind"] == "ServingRuntime"
    assert rt["metadata"]["name"] == "tpl-a" and rt["metadata"]["namespace"] == "ns1"
    assert rt["metadata"]["labels"]["aim.silogen.ai/model-id"] == "img-a"
    spec = rt["spec"]
    assert spec["storageHelper"] == {"disabled": True}
    assert spec["supportedModelFormats"] == [{"name": "aim", "version": "1"}]
    assert spec["imagePullSecrets"] == [{"name": "s1"}]
    (c,) = spec["containers"]
    assert c["env"] == [
        {"name": "AIM_MODEL_ID", "value": "smol2-135m"},
        {"name": "VLLM_ENABLE_METRICS", "value": "true"},
        {"name": "AIM_METRIC", "value": "latency"},
        {"name": "AIM_CACHE_PATH", "value": "/workspace/cache"},
    ]
    assert c["resources"] == {"requests": {"amd.com/gpu": "0"}, "limits": {"amd.com/gpu": "0"}}
    assert c["ports"] == [{"name": "http", "containerPort": 8000, "protocol": "TCP"}]
    assert spec["volumes"] == [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": "8Gi"}}]
    cluster = build_serving_runtime(template("AIMClusterServiceTemplate"), "AIMClusterServiceTemplate", "i", 2, [])
    assert cluster["kind"] == "ClusterServingRuntime" and "namespace" not in cluster["metadata"]
    assert cluster["spec"]["containers"][0]["env"][0] == {"name": "AIM_MODEL_ID", "value": "img-a"}


def test_serving_runtime_tells_the_runtime_the_discovered_profile() -> None:
    """The profile given (the one just discovered) wins over the template's stored one."""
    tpl = template(precision="fp8")
    tpl["status"] = {"profile": {"engine_args": {"old": 1}}}
    profile = {"metadata": {"metric": "throughput", "precision": "fp16"}, "engine_args": {"tp": 2, "a": {"b": 1}}}
    env = build_serving_runtime(tpl, "AIMServiceTemplate", "i", 0, [], profile=profile)["spec"]["containers"][0]["env"]
    assert env[2:] == [
        {"name": "AIM_METRIC", "value": "latency"},
        {"name": "AIM_PRECISION", "value": "fp8"},
        {"name": "AIM_ENGINE_ARGS", "value": '{"a":{"b":1},"tp":2}'},
        {"name": "AIM_CACHE_PATH", "value": "/workspace/cache"},
    ]
    stored = build_serving_runtime(tpl, "AIMServiceTemplate", "i", 0, [])["spec"]["containers"][0]["env"]
    assert {"name": "AIM_ENGINE_ARGS", "value": '{"old":1}'} in stored


def test_auto_templates_are_named_labelled_and_owned_like_the_reference() -> None:
    image = {"metadata": {"name": "llama-3-8b-cluster-with-image", "uid": "img-uid"}}
    deployments = [
        {"gpuModel": "MI300X", "gpuCount": 1, "metric": "latency", "precision": "fp8"},
        {"gpuModel": "MI300X", "gpuCount": 1, "metric": "latency", "precision": "fp8"},  # duplicate
        {"gpuModel": "", "gpuCount": 0, "metric": "throughput"},
        {"gpuModel": "MI325X", "gpuCount": 1, "metric": "fastest"},
    ]
    templates, rejected = build_auto_templates(image, "AIMClusterImage", deployments)
    assert [t["metadata"]["name"] for t in templates] == [
        "llama-3-8b-cluster-with-image-mi300x-x1-latency-fp8",
        "llama-3-8b-cluster-with-image-throughput",
    ]
    first = templates[0]
    assert first["kind"] == "AIMClusterServiceTemplate"
    assert first["metadata"]["labels"] == {
        "aim.silogen.ai/auto-generated": "true",
        "aim.silogen.ai/aim-image": "llama-3-8b-cluster-with-image",
    }
    assert first["metadata"]["ownerReferences"][0]["kind"] == "AIMClusterImage"
    assert first["spec"] == {
        "aimImageName": "llama-3-8b-cluster-with-image",
        "metric": "latency",
        "precision": "fp8",
        "gpuSelector": {"model": "MI300X", "count": 1},
    }
    assert templates[1]["spec"] == {"aimImageName": "llama-3-8b-cluster-with-image", "metric": "throughput"}
    assert [(r.index, "fastest" in r.reason) for r in rejected] == [(3, True)]


def test_template_cache_of_a_caching_template() -> None:
    tpl = template(caching={"enabled": True, "env": [{"name": "HF_TOKEN", "value": "t"}]}, runtimeConfigName="rc")
    cache = build_template_cache(tpl, "rwx-nfs")
    assert cache["metadata"]["name"] == "tpl-a" and cache["metadata"]["namespace"] == "ns1"
    assert cache["metadata"]["ownerReferences"][0]["kind"] == "AIMServiceTemplate"
    assert cache["spec"] == {
        "templateRef": "tpl-a",
        "runtimeConfigName": "rc",
        "env": [{"name": "HF_TOKEN", "value": "t"}],
        "storageClassName": "rwx-nfs",
    }
