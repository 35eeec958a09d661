"""Bad input against the real apiserver: each validation class of the CRDs rejects with the field named.

One test per class (missing required field, wrong enum, bad pattern, minLength, minimum, immutable
field, image resources), each paired with a control that the same object without the defect is
accepted, so that a rule rejecting everything could not pass.
"""

from __future__ import annotations

import copy
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from kubernetes_asyncio import client

from aimctl.api.kinds import by_kind
from tests.support import aim

pytestmark = [pytest.mark.cluster, pytest.mark.usefixtures("aim_crds")]

API_VERSION = "aim.silogen.ai/v1alpha1"
IMAGE_RESOURCES = {"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"memory": "8Gi"}}


def manifest(kind: str, name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    metadata: dict[str, Any] = {"name": name}
    if by_kind(kind).namespaced:
        metadata["namespace"] = namespace
    return {"apiVersion": API_VERSION, "kind": kind, "metadata": metadata, "spec": spec}


def service(namespace: str, **spec: Any) -> dict[str, Any]:
    return manifest("AIMService", "svc", namespace, {"aimImageName": "llama-3-1-8b", **spec})


def template(namespace: str, **spec: Any) -> dict[str, Any]:
    base = {
        "aimImageName": "llama-3-1-8b",
        "metric": "latency",
        "precision": "fp8",
        "gpuSelector": {"count": 1, "model": "MI300X"},
    }
    return manifest("AIMServiceTemplate", "tpl", namespace, {**base, **spec})


def model_cache(namespace: str, **spec: Any) -> dict[str, Any]:
    base = {"sourceUri": "hf://meta-llama/Llama-3.1-8B-Instruct", "size": "20Gi"}
    return manifest("AIMModelCache", "cache", namespace, {**base, **spec})


def image(namespace: str, **spec: Any) -> dict[str, Any]:
    base = {"image": "amdenterpriseai/aim-meta-llama-llama-3-1-8b-instruct:0.8.4", "resources": IMAGE_RESOURCES}
    return manifest("AIMImage", "img", namespace, {**base, **spec})


def without(obj: dict[str, Any], *path: str) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node = out
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return out


@pytest.fixture
async def cluster_names(api: client.ApiClient) -> AsyncIterator[Callable[[dict[str, Any]], dict[str, Any]]]:
    """Gives cluster-scoped manifests a unique name, and deletes them after the test."""
    created: list[dict[str, Any]] = []

    def unique(obj: dict[str, Any]) -> dict[str, Any]:
        obj = copy.deepcopy(obj)
        obj["metadata"]["name"] = f"{obj['metadata']['name']}-{uuid.uuid4().hex[:8]}"
        created.append(obj)
        return obj

    yield unique
    for obj in created:
        await aim.delete(api, obj)


# -- missing required field -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "path", "field"),
    [
        (service, ("spec", "aimImageName"), "spec.aimImageName"),
        (model_cache, ("spec", "size"), "spec.size"),
        (model_cache, ("spec", "sourceUri"), "spec.sourceUri"),
        (image, ("spec", "resources"), "spec.resources"),
        (template, ("spec", "gpuSelector", "model"), "spec.gpuSelector.model"),
        (service, ("spec",), "spec"),
    ],
)
async def test_missing_required_field(
    api: client.ApiClient, namespace: str, build: Callable[..., dict[str, Any]], path: tuple[str, ...], field: str
) -> None:
    valid = build(namespace)
    rejected = await aim.rejection(api, without(valid, *path))
    assert rejected.code == 422
    assert rejected.names(field), rejected
    assert "Required value" in rejected.message
    await aim.apply(api, valid)


async def test_missing_template_ref_of_template_cache(api: client.ApiClient, namespace: str) -> None:
    rejected = await aim.rejection(api, manifest("AIMTemplateCache", "tc", namespace, {}))
    assert rejected.names("spec.templateRef"), rejected
    await aim.apply(api, manifest("AIMTemplateCache", "tc", namespace, {"templateRef": "tpl"}))


# -- wrong enum -----------------------------------------------------------------------
async def test_wrong_enum(api: client.ApiClient, namespace: str) -> None:
    rejected = await aim.rejection(api, template(namespace, precision="fp64"))
    assert rejected.code == 422
    assert rejected.names("spec.precision"), rejected
    assert "Unsupported value" in rejected.message
    assert '"fp4"' in rejected.message  # the message lists what is supported

    rejected = await aim.rejection(api, service(namespace, overrides={"metric": "speed"}))
    assert rejected.names("spec.overrides.metric"), rejected

    await aim.apply(api, template(namespace, precision="fp8"))


async def test_wrong_status_enum_through_the_status_subresource(api: client.ApiClient, namespace: str) -> None:
    obj = service(namespace)
    await aim.apply(api, obj)
    rejected = await aim.rejection(api, {**obj, "status": {"status": "Done"}}, status=True)
    assert rejected.names("status.status"), rejected
    written = await aim.apply_status(api, {**obj, "status": {"status": "Running"}})
    assert written["status"]["status"] == "Running"


@pytest.mark.parametrize("precision", ["auto", "fp4", "fp8", "fp16", "fp32", "bf16", "int4", "int8"])
async def test_every_precision_of_the_api_reference_is_accepted(
    api: client.ApiClient, namespace: str, precision: str
) -> None:
    # The original CRD intersected two enums and refused auto/fp4/fp32/int4 (DESIGN.md §5 #9).
    stored = await aim.apply(api, template(namespace, precision=precision))
    assert stored["spec"]["precision"] == precision
    profile = {"profile": {"metadata": {"precision": precision, "metric": "throughput", "gpu_count": 1}}}
    written = await aim.apply_status(api, {**template(namespace), "status": profile})
    assert written["status"]["profile"]["metadata"]["precision"] == precision


# -- bad pattern -----------------------------------------------------------------------
@pytest.mark.parametrize(
    "uri",
    ["https://huggingface.co/meta-llama/Llama-3.1-8B-Instruct", "hf://meta-llama/Llama 3", "gs://bucket/m", "hf://"],
)
async def test_bad_pattern(api: client.ApiClient, namespace: str, uri: str) -> None:
    rejected = await aim.rejection(api, model_cache(namespace, sourceUri=uri))
    assert rejected.code == 422
    assert rejected.names("spec.sourceUri"), rejected
    assert "should match" in rejected.message


async def test_model_cache_accepts_hf_and_s3_sources(api: client.ApiClient, namespace: str) -> None:
    await aim.apply(api, model_cache(namespace))
    s3 = model_cache(namespace, sourceUri="s3://models/llama-3.1-8b-instruct")
    s3["metadata"]["name"] = "cache-s3"
    await aim.apply(api, s3)


async def test_bad_quantity(api: client.ApiClient, namespace: str) -> None:
    rejected = await aim.rejection(api, model_cache(namespace, size="twenty gigs"))
    assert rejected.names("spec.size"), rejected


# -- minLength -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("build", "override", "field"),
    [
        (image, {"image": ""}, "spec.image"),
        (service, {"aimImageName": ""}, "spec.aimImageName"),
        (template, {"aimImageName": ""}, "spec.aimImageName"),
        (template, {"gpuSelector": {"count": 1, "model": ""}}, "spec.gpuSelector.model"),
    ],
)
async def test_min_length(
    api: client.ApiClient, namespace: str, build: Callable[..., dict[str, Any]], override: dict[str, Any], field: str
) -> None:
    rejected = await aim.rejection(api, build(namespace, **override))
    assert rejected.code == 422
    assert rejected.names(field), rejected
    assert "at least 1 chars long" in rejected.message


async def test_min_length_on_a_cluster_scoped_kind(
    api: client.ApiClient, namespace: str, cluster_names: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    obj = cluster_names(manifest("AIMClusterImage", "climg", namespace, {"image": "", "resources": IMAGE_RESOURCES}))
    rejected = await aim.rejection(api, obj)
    assert rejected.names("spec.image"), rejected
    obj["spec"]["image"] = "amdenterpriseai/aim-meta-llama-llama-3-1-8b-instruct:0.8.4"
    await aim.apply(api, obj)


# -- gpuSelector.count < 1 -----------------------------------------------------------------------
@pytest.mark.parametrize("count", [0, -1])
async def test_gpu_selector_count_below_one(api: client.ApiClient, namespace: str, count: int) -> None:
    rejected = await aim.rejection(api, template(namespace, gpuSelector={"count": count, "model": "MI300X"}))
    assert rejected.code == 422
    assert rejected.names("spec.gpuSelector.count"), rejected
    assert "greater than or equal to 1" in rejected.message

    rejected = await aim.rejection(
        api, service(namespace, overrides={"gpuSelector": {"count": count, "model": "MI300X"}})
    )
    assert rejected.names("spec.overrides.gpuSelector.count"), rejected
    await aim.apply(api, template(namespace, gpuSelector={"count": 1, "model": "MI300X"}))


# -- immutable fields -----------------------------------------------------------------------
def _set(obj: dict[str, Any], path: tuple[str, ...], value: Any) -> dict[str, Any]:
    out = copy.deepcopy(obj)
    node = out
    for key in path[:-1]:
        node = node.setdefault(key, {})
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    return out


IMMUTABLE_CASES = [
    # (builder, initial spec overrides, path changed, new value (None: removed), field named, message part)
    (template, {}, ("spec", "aimImageName"), "other-image", "spec.aimImageName", "aimImageName is immutable"),
    (template, {}, ("spec", "metric"), "throughput", "spec.metric", "metric is immutable"),
    (template, {}, ("spec", "precision"), "bf16", "spec.precision", "precision is immutable"),
    (template, {}, ("spec", "gpuSelector", "count"), 2, "spec.gpuSelector", "gpuSelector is immutable"),
    (template, {}, ("spec", "metric"), None, "spec.metric", "cannot be added or removed"),
    (
        lambda ns, **kw: without(template(ns, **kw), "spec", "precision"),
        {},
        ("spec", "precision"),
        "fp16",
        "spec.precision",
        "cannot be added or removed",
    ),
    (
        service,
        {"overrides": {"precision": "fp8"}},
        ("spec", "overrides", "precision"),
        "bf16",
        "spec.overrides.precision",
        "precision is immutable",
    ),
    (
        service,
        {"overrides": {"metric": "latency", "gpuSelector": {"count": 1, "model": "MI300X"}}},
        ("spec", "overrides", "gpuSelector", "model"),
        "MI325X",
        "spec.overrides.gpuSelector",
        "gpuSelector is immutable",
    ),
    (
        service,
        {"overrides": {"metric": "latency"}},
        ("spec", "overrides", "precision"),
        "fp8",
        "spec.overrides.precision",
        "cannot be added or removed",
    ),
    (service, {}, ("spec", "overrides"), {"precision": "fp8"}, "spec.overrides", "cannot be added or removed"),
    (
        model_cache,
        {},
        ("spec", "sourceUri"),
        "hf://meta-llama/Llama-3.1-70B-Instruct",
        "spec.sourceUri",
        "sourceUri is immutable",
    ),
]


@pytest.mark.parametrize(
    ("build", "initial", "path", "value", "field", "message"),
    IMMUTABLE_CASES,
    ids=[f"{'.'.join(c[2])}={c[3]}" for c in IMMUTABLE_CASES],
)
async def test_immutable_field_changed(
    api: client.ApiClient,
    namespace: str,
    build: Callable[..., dict[str, Any]],
    initial: dict[str, Any],
    path: tuple[str, ...],
    value: Any,
    field: str,
    message: str,
) -> None:
    original = build(namespace, **initial)
    await aim.apply(api, original)
    rejected = await aim.rejection(api, _set(original, path, value))
    assert rejected.code == 422
    assert rejected.names(field), rejected
    assert message in rejected.message
    stored = await aim.get(api, original)
    assert stored["spec"] == (await aim.apply(api, original))["spec"]  # unchanged, and re-applying is fine


async def test_immutable_field_on_a_cluster_template(
    api: client.ApiClient, namespace: str, cluster_names: Callable[[dict[str, Any]], dict[str, Any]]
) -> None:
    obj = template(namespace)
    obj["kind"] = "AIMClusterServiceTemplate"
    del obj["metadata"]["namespace"]
    obj = cluster_names(obj)
    await aim.apply(api, obj)
    rejected = await aim.rejection(api, _set(obj, ("spec", "aimImageName"), "another"))
    assert rejected.names("spec.aimImageName"), rejected


async def test_mutable_fields_can_change(api: client.ApiClient, namespace: str) -> None:
    # Control for the immutability rules: everything else of a template or service may change.
    svc = service(namespace, overrides={"precision": "fp8"}, replicas=1)
    await aim.apply(api, svc)
    changed = _set(svc, ("spec", "replicas"), 3)
    changed = _set(changed, ("spec", "templateRef"), "tpl")
    changed = _set(changed, ("spec", "env"), [{"name": "LOG_LEVEL", "value": "debug"}])
    assert (await aim.apply(api, changed))["spec"]["replicas"] == 3

    tpl = template(namespace)
    await aim.apply(api, tpl)
    changed = _set(tpl, ("spec", "resources"), {"requests": {"cpu": "4"}})
    changed = _set(changed, ("spec", "runtimeConfigName"), "team-a")
    assert (await aim.apply(api, changed))["spec"]["runtimeConfigName"] == "team-a"

    cache = model_cache(namespace)
    await aim.apply(api, cache)
    assert (await aim.apply(api, _set(cache, ("spec", "size"), "40Gi")))["spec"]["size"] == "40Gi"


# -- image resources -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("resources", "message"),
    [
        (
            {"requests": {"memory": "8Gi"}, "limits": {"memory": "8Gi"}},
            "resources.requests must include cpu and memory",
        ),
        ({"requests": {"cpu": "2"}, "limits": {"memory": "8Gi"}}, "resources.requests must include cpu and memory"),
        ({"limits": {"memory": "8Gi"}}, "resources.requests must include cpu and memory"),
        ({"requests": {"cpu": "2", "memory": "8Gi"}}, "resources.limits must include memory"),
        ({"requests": {"cpu": "2", "memory": "8Gi"}, "limits": {"cpu": "2"}}, "resources.limits must include memory"),
    ],
)
async def test_image_resources_without_cpu_or_memory(
    api: client.ApiClient, namespace: str, resources: dict[str, Any], message: str
) -> None:
    rejected = await aim.rejection(api, image(namespace, resources=resources))
    assert rejected.code == 422
    assert rejected.names("spec.resources"), rejected
    assert message in rejected.message


async def test_image_resources_with_cpu_and_memory_are_accepted(api: client.ApiClient, namespace: str) -> None:
    stored = await aim.apply(api, image(namespace))
    assert stored["spec"]["resources"] == IMAGE_RESOURCES
    # Services and templates carry the same type without the image's rule.
    await aim.apply(api, service(namespace, resources={"limits": {"amd.com/gpu": 1}}))


# -- route templates: bounded length, no regular-expression filters or functions (issue 11) -------------


@pytest.mark.parametrize(
    ("kind", "routing", "message"),
    [
        ("AIMRuntimeConfig", {"routeTemplate": "/{.metadata.name}" + "/a" * 600}, "1024"),
        ("AIMService", {"routeTemplate": "/x" * 600}, "1024"),
        ("AIMRuntimeConfig", {"routeTemplate": '/{.metadata.labels[?(@ =~ "^(a+)+$")]}'},
         "regular-expression filters (=~) are not supported"),
        ("AIMService", {"routeTemplate": "/{.metadata.name.`len`}"}, "JSONPath functions"),
    ],
)  # fmt: skip
async def test_route_template_bounds(api: client.ApiClient, namespace: str, kind: str, routing: dict[str, Any],
                                     message: str) -> None:  # fmt: skip
    spec: dict[str, Any] = {"routing": routing}
    if kind == "AIMService":
        spec["aimImageName"] = "llama-3-1-8b"
    obj = manifest(kind, "rt", namespace, spec)
    rejected = await aim.rejection(api, obj)
    assert rejected.code == 422
    assert rejected.names("spec.routing.routeTemplate"), rejected
    assert message in rejected.message
    obj["spec"]["routing"]["routeTemplate"] = (
        "/{.metadata.namespace}/{.metadata.labels['team']}/{.spec.env[?(@.name==\"A\")].value}"
    )
    await aim.apply(api, obj)
