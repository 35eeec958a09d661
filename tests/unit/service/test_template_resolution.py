"""Template resolution and derived templates of AIMServices (docs/original-behaviour.md; fix 17)."""

from __future__ import annotations

from typing import Any

from aimctl.builders.derived_template import (
    build_derived_template,
    derived_name,
    derived_spec,
    overrides_for_hash,
    specs_equal,
)
from aimctl.resolve.template import base_template_name, resolve_service_template

NS = "ns1"


def service(name: str = "svc", **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"aimImageName": "img-a", "runtimeConfigName": "default", "replicas": 1}
    body.update(spec)
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMService",
        "metadata": {"name": name, "namespace": NS, "uid": f"uid-{name}", "creationTimestamp": "2025-01-01T00:00:00Z"},
        "spec": body,
    }


def template(name: str, namespace: str | None = None, **spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"aimImageName": "img-a", "runtimeConfigName": "default"}
    body.update(spec)
    meta: dict[str, Any] = {"name": name, "uid": f"uid-{name}"}
    if namespace:
        meta["namespace"] = namespace
    return {"kind": "AIMServiceTemplate" if namespace else "AIMClusterServiceTemplate", "metadata": meta, "spec": body}


def image(name: str, default: str | None = None, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if namespace:
        meta["namespace"] = namespace
    spec: dict[str, Any] = {"image": "aimdummy:dev-latest"}
    if default is not None:
        spec["defaultServiceTemplate"] = default
    return {"metadata": meta, "spec": spec}


TPL_A = template("tpl-a", metric="latency", gpuSelector={"count": 1, "model": "MI300X"})


def keyed(*objs: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for o in objs:
        ns = o["metadata"].get("namespace")
        out[f"{ns}/{o['metadata']['name']}" if ns else o["metadata"]["name"]] = o
    return out


def test_reference_hashes() -> None:
    assert derived_name("tpl-a", {"metric": "throughput", "precision": "fp8"}) == "tpl-a-ovr-5ab7d1be"
    ovr = {"gpuSelector": {"model": "MI300X", "count": 1}, "precision": "fp16", "metric": "throughput"}
    assert overrides_for_hash(ovr) == {
        "metric": "throughput",
        "precision": "fp16",
        "gpuSelector": {"count": 1, "model": "MI300X"},
    }
    assert derived_name("x", ovr).endswith("-ovr-2ece18e2")
    assert derived_name("x", {}).endswith("-ovr-44136fa3")


def test_base_name_templateref_then_namespaced_then_cluster_image() -> None:
    images = keyed(image("img-a", "ns-default", NS))
    cluster = keyed(image("img-a", "cluster-default"))
    assert base_template_name(service(templateRef=" explicit "), images, cluster) == "explicit"
    assert base_template_name(service(), images, cluster) == "ns-default"
    # A namespaced image without a default falls through to the cluster image.
    assert base_template_name(service(), keyed(image("img-a", None, NS)), cluster) == "cluster-default"
    assert base_template_name(service(), {}, {}) == ""


def test_plain_resolution_namespace_first_then_cluster() -> None:
    cluster_images = keyed(image("img-a", "tpl-a"))
    r = resolve_service_template(service(), {}, cluster_images, {}, keyed(TPL_A))
    assert (r.final_name, r.scope, r.kind, r.derived, r.create) == ("tpl-a", "Cluster", "AIMClusterServiceTemplate",
                                                                     False, False)  # fmt: skip
    ns_tpl = template("tpl-a", NS)
    r = resolve_service_template(service(), {}, cluster_images, keyed(ns_tpl), keyed(TPL_A))
    assert (r.scope, r.kind) == ("Namespace", "AIMServiceTemplate")
    missing = resolve_service_template(service(templateRef="nope"), {}, {}, {}, {})
    assert missing.template is None
    assert missing.final_name == "nope"
    assert not missing.create


def test_overrides_create_a_derived_template_from_the_base() -> None:
    svc = service("svc2", overrides={"metric": "throughput", "precision": "fp8"})
    r = resolve_service_template(svc, {}, keyed(image("img-a", "tpl-a")), {}, keyed(TPL_A))
    assert r.create
    assert r.final_name == "tpl-a-ovr-5ab7d1be"
    assert r.expected_spec == {
        "aimImageName": "img-a",
        "runtimeConfigName": "default",
        "metric": "throughput",
        "precision": "fp8",
        "gpuSelector": {"count": 1, "model": "MI300X"},
    }


def test_derived_without_base_is_an_error() -> None:
    assert resolve_service_template(service(overrides={}), {}, {}, {}, {}).base_error == "base template name is empty"
    r = resolve_service_template(service(templateRef="gone", overrides={}), {}, {}, {}, {})
    assert r.base_error == 'base template "gone" not found'


def test_existing_derived_template_is_used_even_without_base() -> None:
    svc = service(templateRef="gone", overrides={"metric": "latency"})
    name = derived_name("gone", {"metric": "latency"})
    r = resolve_service_template(svc, {}, {}, keyed(template(name, NS, metric="latency")), {})
    assert (r.final_name, r.scope, r.create, r.base_error) == (name, "Namespace", False, "")


def test_reuse_of_an_equal_cluster_template_then_stickiness() -> None:
    reuse = template("reuse", metric="throughput", precision="fp16", gpuSelector={"count": 1, "model": "MI300X"})
    svc = service(templateRef="tpl-a", overrides={"metric": "throughput", "precision": "fp16"})
    r = resolve_service_template(svc, {}, {}, {}, keyed(TPL_A, reuse), cluster_candidates=[reuse, TPL_A])
    assert (r.final_name, r.scope, r.create) == ("reuse", "Cluster", False)
    # A service's env is its own (it goes on its InferenceService): it does not rule the cluster
    # template out.
    with_env = service(templateRef="tpl-a", overrides={"metric": "throughput", "precision": "fp16"},
                       env=[{"name": "A", "value": "1"}], cacheModel=True)  # fmt: skip
    r_env = resolve_service_template(with_env, {}, {}, {}, keyed(TPL_A, reuse), cluster_candidates=[reuse])
    assert (r_env.final_name, r_env.create) == ("reuse", False)
    # Once resolved to "reuse", the service stays there even when its own derived template appears.
    svc["status"] = {"resolvedTemplate": {"name": "reuse", "scope": "Cluster"}}
    own = template(r_name := derived_name("tpl-a", svc["spec"]["overrides"]), NS, metric="throughput",
                   precision="fp16", gpuSelector={"count": 1, "model": "MI300X"})  # fmt: skip
    r2 = resolve_service_template(svc, {}, {}, keyed(own), keyed(TPL_A, reuse), cluster_candidates=[reuse])
    assert r2.final_name == "reuse"
    del svc["status"]
    assert resolve_service_template(svc, {}, {}, keyed(own), keyed(TPL_A, reuse)).final_name == r_name


def test_namespaced_reuse_compares_the_full_spec() -> None:
    base = template("base", NS, metric="latency", env=[{"name": "X", "value": "1"}])
    svc = service(templateRef="base", overrides={"precision": "fp8"})
    equal = template("equal", NS, metric="latency", precision="fp8", env=[{"name": "X", "value": "1"}])
    different = template("different", NS, metric="latency", precision="fp8")
    r = resolve_service_template(svc, {}, {}, keyed(base, equal, different), {}, candidates=[different, equal])
    assert r.final_name == "equal"


def test_derived_spec_rules() -> None:
    """The base with the overrides applied, and nothing of the service: its env, pull secrets,
    resources, runtime config and caching stay off the shared template."""
    base = {
        "aimImageName": "img-a",
        "runtimeConfigName": "rc-base",
        "metric": "latency",
        "env": [{"name": "BASE", "value": "1"}],
        "imagePullSecrets": [{"name": "base-secret"}],
        "resources": {"requests": {"cpu": "1"}},
        "caching": {"enabled": False},
    }
    svc_spec = {
        "aimImageName": "img-a",
        "runtimeConfigName": "rc-svc",
        "overrides": {"precision": "fp8", "gpuSelector": {"count": 2, "model": "MI325X"}},
        "env": [{"name": "SVC", "value": "2"}],
        "imagePullSecrets": [{"name": "svc-secret"}],
        "resources": {"requests": {"cpu": "9"}},
        "cacheModel": True,
    }
    spec = derived_spec(base, svc_spec)
    assert spec == {
        "aimImageName": "img-a",
        "runtimeConfigName": "rc-base",
        "metric": "latency",
        "precision": "fp8",
        "gpuSelector": {"count": 2, "model": "MI325X"},
        "env": [{"name": "BASE", "value": "1"}],
        "imagePullSecrets": [{"name": "base-secret"}],
        "resources": {"requests": {"cpu": "1"}},
    }
    # Two services with the same overrides compute the same spec, whatever else they set.
    other = {"aimImageName": "img-a", "overrides": svc_spec["overrides"], "env": [{"name": "X", "value": "y"}]}
    assert derived_spec(base, other) == spec
    assert derived_spec({"aimImageName": "img-a"}, other)["runtimeConfigName"] == "default"
    assert specs_equal({"aimImageName": "a", "env": []}, {"aimImageName": "a", "runtimeConfigName": "default"})


def test_derived_template_manifest_has_no_owners() -> None:
    """Consumers are not recorded on the shared template (a new consumer costs no write of it)."""
    manifest = build_derived_template("tpl-a-ovr-1", NS, {"aimImageName": "img-a"})
    meta = manifest["metadata"]
    assert meta["labels"] == {
        "app.kubernetes.io/managed-by": "aim-controller",
        "aim.silogen.ai/derived-template": "true",
    }
    assert "ownerReferences" not in meta
    assert manifest["spec"] == {"aimImageName": "img-a"}
