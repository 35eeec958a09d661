"""CRD generation invariants: structural schemas, enums, patterns, CEL rules, names, columns."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from aimctl.api.crdgen import generate_crd, generate_crds, normalise_description
from aimctl.api.kinds import KINDS, KindInfo, by_kind
from aimctl.api.modelcache import MODEL_SOURCE_URI_PATTERN
from aimctl.api.service import AIMServiceSpec

FULL_PRECISION = ["auto", "fp4", "fp8", "fp16", "fp32", "bf16", "int4", "int8"]
SHORT_NAMES = {
    "AIMImage": "aimimg",
    "AIMClusterImage": "aimclimg",
    "AIMServiceTemplate": "aimst",
    "AIMClusterServiceTemplate": "aimclst",
    "AIMService": "aimsvc",
    "AIMModelCache": "aimmc",
    "AIMTemplateCache": "aimtc",
    "AIMRuntimeConfig": "aimrcfg",
    "AIMClusterRuntimeConfig": "aimcrcfg",
}
# Keys a structural schema may use (plus the x-kubernetes-* extensions).
ALLOWED_KEYS = {
    "type",
    "description",
    "properties",
    "required",
    "items",
    "additionalProperties",
    "enum",
    "default",
    "format",
    "pattern",
    "minLength",
    "maxLength",
    "minimum",
    "maximum",
    "minItems",
    "maxItems",
    "anyOf",
}


def root(kind: str) -> dict[str, Any]:
    schema: dict[str, Any] = generate_crd(by_kind(kind))["spec"]["versions"][0]["schema"]["openAPIV3Schema"]
    return schema


def at(schema: dict[str, Any], path: str) -> dict[str, Any]:
    """The node at a dotted path of property names (``[]`` steps into array items)."""
    node = schema
    for part in path.split("."):
        node = node["items"] if part == "[]" else node["properties"][part]
    return node


def walk(node: dict[str, Any], path: str = "") -> Iterator[tuple[str, dict[str, Any]]]:
    yield path, node
    for name, child in node.get("properties", {}).items():
        yield from walk(child, f"{path}.{name}")
    if "items" in node:
        yield from walk(node["items"], f"{path}[]")
    if isinstance(node.get("additionalProperties"), dict):
        yield from walk(node["additionalProperties"], f"{path}{{}}")


def all_nodes() -> Iterator[tuple[str, str, dict[str, Any]]]:
    for info in KINDS:
        for path, node in walk(root(info.kind)):
            yield info.kind, path, node


def test_every_node_is_structural() -> None:
    for kind, path, node in all_nodes():
        where = f"{kind}{path}"
        unknown = {k for k in node if not k.startswith("x-kubernetes-")} - ALLOWED_KEYS
        assert not unknown, f"{where}: non-structural keys {unknown}"
        assert "nullable" not in node and "$ref" not in node, where
        if node.get("x-kubernetes-int-or-string"):
            assert node["anyOf"] == [{"type": "integer"}, {"type": "string"}], where
            continue
        assert "anyOf" not in node, where
        assert node.get("type") in {"object", "array", "string", "integer", "boolean", "number"}, where
        if node.get("x-kubernetes-preserve-unknown-fields"):
            assert node["type"] == "object", where
        if node["type"] == "object" and "properties" in node:
            assert set(node.get("required", [])) <= set(node["properties"]), where
            assert node.get("required", []) == sorted(node.get("required", [])), where


def test_every_field_has_a_description_for_kubectl_explain() -> None:
    for kind, path, node in all_nodes():
        if path in ("", ".metadata") or path.endswith("{}"):
            continue
        if path.endswith("[]") and node.get("type") != "object":
            continue  # items of a list of scalars: the list itself is described
        assert node.get("description"), f"{kind}{path} has no description"


def test_descriptions_come_from_the_model_docstrings() -> None:
    expected = normalise_description(AIMServiceSpec.model_fields["aim_image_name"].description)
    assert expected is not None and expected.startswith("AIMImageName is the canonical model name")
    assert at(root("AIMService"), "spec.aimImageName")["description"] == expected
    assert at(root("AIMService"), "spec")["description"] == "AIMServiceSpec defines the desired state of AIMService."
    assert root("AIMModelCache")["description"] == "AIMModelCache is the Schema for the modelcaches API"


def test_list_maps_have_required_scalar_keys() -> None:
    seen = 0
    for kind, path, node in all_nodes():
        if node.get("x-kubernetes-list-type") != "map":
            continue
        seen += 1
        items = node["items"]
        for key in node["x-kubernetes-list-map-keys"]:
            assert key in items.get("required", []), f"{kind}{path}: map key {key} must be required"
            assert items["properties"][key]["type"] in {"string", "integer"}, f"{kind}{path}"
    assert seen > 20


def test_every_list_declares_a_list_type() -> None:
    for kind, path, node in all_nodes():
        if node.get("type") == "array":
            assert node.get("x-kubernetes-list-type") in {"atomic", "map", "set"}, f"{kind}{path}"


def test_env_lists_are_list_maps_keyed_by_name() -> None:
    for kind, path in [
        ("AIMService", "spec.env"),
        ("AIMServiceTemplate", "spec.env"),
        ("AIMServiceTemplate", "spec.caching.env"),
        ("AIMModelCache", "spec.env"),
        ("AIMTemplateCache", "spec.env"),
    ]:
        node = at(root(kind), path)
        assert node["x-kubernetes-list-type"] == "map"
        assert node["x-kubernetes-list-map-keys"] == ["name"]
        value_from = at(root(kind), f"{path}.[].valueFrom")
        assert set(value_from["properties"]) == {"configMapKeyRef", "fieldRef", "resourceFieldRef", "secretKeyRef"}


def test_conditions_are_list_maps_keyed_by_type() -> None:
    for info in KINDS:
        node = at(root(info.kind), "status.conditions")
        assert node["x-kubernetes-list-map-keys"] == ["type"]
        assert node["items"]["required"] == ["lastTransitionTime", "message", "reason", "status", "type"]


@pytest.mark.parametrize(
    ("kind", "path"),
    [
        ("AIMServiceTemplate", "spec.precision"),
        ("AIMClusterServiceTemplate", "spec.precision"),
        ("AIMService", "spec.overrides.precision"),
        ("AIMServiceTemplate", "status.profile.metadata.precision"),
    ],
)
def test_precision_enum_is_the_full_list(kind: str, path: str) -> None:
    assert at(root(kind), path)["enum"] == FULL_PRECISION


def test_status_enums_and_defaults() -> None:
    expectations = {
        "AIMImage": ["Pending", "Progressing", "Ready", "Degraded", "Failed"],
        "AIMClusterImage": ["Pending", "Progressing", "Ready", "Degraded", "Failed"],
        "AIMServiceTemplate": ["Pending", "Progressing", "Available", "Degraded", "Failed"],
        "AIMClusterServiceTemplate": ["Pending", "Progressing", "Available", "Degraded", "Failed"],
        "AIMService": ["Pending", "Starting", "Running", "Failed", "Degraded"],
        "AIMModelCache": ["Pending", "Progressing", "Available", "Failed"],
        "AIMTemplateCache": ["Pending", "Progressing", "Available", "Failed"],
    }
    for kind, values in expectations.items():
        node = at(root(kind), "status.status")
        assert node["enum"] == values
        assert node["default"] == "Pending"


def test_spec_defaults() -> None:
    assert at(root("AIMService"), "spec.replicas")["default"] == 1
    assert at(root("AIMService"), "spec.cacheModel")["default"] is False
    assert at(root("AIMService"), "spec.runtimeConfigName")["default"] == "default"
    assert at(root("AIMService"), "spec.routing.enabled")["default"] is False
    assert at(root("AIMService"), "spec.routing.gatewayRef.group")["default"] == "gateway.networking.k8s.io"
    assert at(root("AIMService"), "spec.routing.gatewayRef.kind")["default"] == "Gateway"
    assert at(root("AIMServiceTemplate"), "spec.runtimeConfigName")["default"] == "default"
    assert at(root("AIMServiceTemplate"), "spec.caching.enabled")["default"] is False
    assert at(root("AIMTemplateCache"), "spec.runtimeConfigName")["default"] == "default"
    assert at(root("AIMModelCache"), "spec.modelDownloadImage")["default"] == "kserve/storage-initializer:v0.16.0-rc0"
    assert at(root("AIMRuntimeConfig"), "spec")["default"] == {}
    assert at(root("AIMClusterRuntimeConfig"), "spec")["default"] == {}
    # No default where the API reference has none: unset has a meaning of its own.
    assert "default" not in at(root("AIMImage"), "spec.discovery.autoCreateTemplates")
    assert "default" not in at(root("AIMRuntimeConfig"), "spec.routing.enabled")


def test_required_fields() -> None:
    assert root("AIMService")["required"] == ["spec"]
    assert at(root("AIMService"), "spec")["required"] == ["aimImageName"]
    assert at(root("AIMImage"), "spec")["required"] == ["image", "resources"]
    assert at(root("AIMModelCache"), "spec")["required"] == ["size", "sourceUri"]
    assert at(root("AIMTemplateCache"), "spec")["required"] == ["templateRef"]
    assert at(root("AIMServiceTemplate"), "spec.gpuSelector")["required"] == ["count", "model"]
    assert "required" not in root("AIMRuntimeConfig")


def test_validation_constraints() -> None:
    source = at(root("AIMModelCache"), "spec.sourceUri")
    assert source["pattern"] == MODEL_SOURCE_URI_PATTERN == r"^(hf|s3)://[^ \t\r\n]+$"
    assert source["minLength"] == 1
    assert at(root("AIMImage"), "spec.image")["minLength"] == 1
    assert at(root("AIMService"), "spec.aimImageName")["minLength"] == 1
    assert at(root("AIMClusterServiceTemplate"), "spec.aimImageName")["minLength"] == 1
    assert at(root("AIMTemplateCache"), "spec.templateRef")["minLength"] == 1
    assert at(root("AIMServiceTemplate"), "spec.gpuSelector.count")["minimum"] == 1
    assert at(root("AIMServiceTemplate"), "spec.gpuSelector.model")["minLength"] == 1
    assert at(root("AIMModelCache"), "spec.size")["x-kubernetes-int-or-string"] is True
    assert re.fullmatch(at(root("AIMModelCache"), "spec.size")["pattern"], "512Mi")


def rules(node: dict[str, Any]) -> list[str]:
    return [v["rule"] for v in node.get("x-kubernetes-validations", [])]


@pytest.mark.parametrize("kind", ["AIMServiceTemplate", "AIMClusterServiceTemplate"])
def test_template_immutability_rules(kind: str) -> None:
    spec = at(root(kind), "spec")
    for field in ("aimImageName", "metric", "precision", "gpuSelector"):
        assert rules(spec["properties"][field]) == ["self == oldSelf"], field
    for field in ("metric", "precision", "gpuSelector"):
        assert f"has(self.{field}) == has(oldSelf.{field})" in rules(spec)


def test_service_override_and_model_cache_immutability_rules() -> None:
    overrides = at(root("AIMService"), "spec.overrides")
    for field in ("metric", "precision", "gpuSelector"):
        assert rules(overrides["properties"][field]) == ["self == oldSelf"], field
        assert f"has(self.{field}) == has(oldSelf.{field})" in rules(overrides)
    assert rules(at(root("AIMService"), "spec")) == ["has(self.overrides) == has(oldSelf.overrides)"]
    assert rules(at(root("AIMModelCache"), "spec.sourceUri")) == ["self == oldSelf"]
    # Mutable fields carry no transition rule.
    assert not rules(at(root("AIMService"), "spec.replicas"))
    assert not rules(at(root("AIMService"), "spec.aimImageName"))


@pytest.mark.parametrize("kind", ["AIMImage", "AIMClusterImage"])
def test_image_resources_rules(kind: str) -> None:
    assert rules(at(root(kind), "spec.resources")) == [
        "has(self.requests) && 'cpu' in self.requests && 'memory' in self.requests",
        "has(self.limits) && 'memory' in self.limits",
    ]
    # The rule lives on the image only: templates and services use the same type without it.
    assert not rules(at(root("AIMService"), "spec.resources"))


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_names_scope_and_subresources(info: KindInfo) -> None:
    crd = generate_crd(info)
    names = crd["spec"]["names"]
    assert crd["metadata"]["name"] == f"{info.plural}.aim.silogen.ai"
    assert names["kind"] == info.kind
    assert names["listKind"] == f"{info.kind}List"
    assert names["plural"] == info.kind.lower() + "s"
    assert names["singular"] == info.kind.lower()
    assert names["shortNames"] == [SHORT_NAMES[info.kind]]
    assert "aim" in names["categories"]
    assert crd["spec"]["scope"] == ("Cluster" if "Cluster" in info.kind else "Namespaced")
    (version,) = crd["spec"]["versions"]
    assert (version["name"], version["served"], version["storage"]) == ("v1alpha1", True, True)
    assert version["subresources"] == {"status": {}}
    assert root(info.kind)["properties"]["metadata"] == {"type": "object"}


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
def test_printer_columns(info: KindInfo) -> None:
    columns = generate_crd(info)["spec"]["versions"][0]["additionalPrinterColumns"]
    assert columns[-1] == {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"}
    names = [c["name"] for c in columns]
    assert names[0] in {"Status", "Ready"}
    if "RuntimeConfig" not in info.kind:
        assert columns[0]["jsonPath"] == ".status.status"
    # Every column path points at a field the schema has.
    schema = root(info.kind)
    for column in columns:
        path = column["jsonPath"]
        if path.startswith(".metadata") or "[?(" in path:
            continue
        node = at(schema, path.lstrip("."))
        assert node, path
    expected = {
        "AIMService": ["Status", "Image", "Template", "Replicas", "Path", "Age"],
        "AIMServiceTemplate": ["Status", "Image", "Metric", "Precision", "GPUs", "GPU", "Age"],
        "AIMImage": ["Status", "Image", "Model", "Age"],
        "AIMModelCache": ["Status", "Source", "Size", "PVC", "Age"],
        "AIMTemplateCache": ["Status", "Template", "Kind", "Age"],
    }
    if info.kind in expected:
        assert names == expected[info.kind]


def test_one_file_per_kind() -> None:
    assert sorted(generate_crds()) == sorted(f"aim.silogen.ai_{info.plural}.yaml" for info in KINDS)
    assert len(KINDS) == 9
