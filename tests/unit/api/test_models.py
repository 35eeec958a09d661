"""API models: defaults, enums, JSON names, validation, and manifest round trips (pure, no cluster)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from aimctl.api import (
    AIMImageStatusEnum,
    AIMModelCacheStatusEnum,
    AIMPrecision,
    AIMServiceStatusEnum,
    AIMTemplateCacheStatusEnum,
    AIMTemplateStatusEnum,
)
from aimctl.api.discovery import AIMProfile
from aimctl.api.image import AIMClusterImage, AIMImage, AIMImageDiscoverySpec
from aimctl.api.kinds import KINDS, KindInfo, by_kind
from aimctl.api.modelcache import AIMModelCache, AIMModelCacheStatus
from aimctl.api.references import AIMResolutionScope
from aimctl.api.runtime import AIMMetric
from aimctl.api.runtimeconfig import AIMClusterRuntimeConfig, AIMRuntimeConfig
from aimctl.api.service import AIMService, AIMServiceStatus
from aimctl.api.template import AIMClusterServiceTemplate, AIMServiceTemplate, AIMServiceTemplateStatus
from aimctl.api.templatecache import AIMTemplateCache, AIMTemplateCacheStatus
from tests.support.api_strategies import raw_object

SAMPLES = Path(__file__).resolve().parents[3] / "deploy" / "samples"
IMAGE_RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}


def key_paths(value: Any, prefix: str = "") -> set[str]:
    """Every key path of a JSON value (list items by index): the shape, without the leaf values."""
    paths: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            path = f"{prefix}.{key}"
            paths.add(path)
            paths |= key_paths(item, path)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths |= key_paths(item, f"{prefix}[{index}]")
    return paths


# -- enums: exactly the API reference's values ------------------------------------------------------
@pytest.mark.parametrize(
    ("enum", "values"),
    [
        (AIMImageStatusEnum, ["Pending", "Progressing", "Ready", "Degraded", "Failed"]),
        (AIMTemplateStatusEnum, ["Pending", "Progressing", "Available", "Degraded", "Failed"]),
        (AIMServiceStatusEnum, ["Pending", "Starting", "Running", "Failed", "Degraded"]),
        (AIMModelCacheStatusEnum, ["Pending", "Progressing", "Available", "Failed"]),
        (AIMTemplateCacheStatusEnum, ["Pending", "Progressing", "Available", "Failed"]),
        (AIMPrecision, ["auto", "fp4", "fp8", "fp16", "fp32", "bf16", "int4", "int8"]),
        (AIMMetric, ["latency", "throughput"]),
        (AIMResolutionScope, ["Namespace", "Cluster", "Unknown"]),
    ],
)
def test_enum_values_match_the_api_reference(enum: type, values: list[str]) -> None:
    assert [member.value for member in enum] == values  # type: ignore[attr-defined]


# -- defaults ------------------------------------------------------------------------------------------
def test_service_defaults() -> None:
    service = AIMService.model_validate({"metadata": {"name": "s"}, "spec": {"aimImageName": "img"}})
    assert service.spec.replicas == 1
    assert service.spec.cache_model is False
    assert service.spec.runtime_config_name == "default"
    assert service.to_dict()["spec"] == {
        "aimImageName": "img",
        "cacheModel": False,
        "replicas": 1,
        "runtimeConfigName": "default",
    }
    routed = AIMService.model_validate({"spec": {"aimImageName": "img", "routing": {"gatewayRef": {"name": "gw"}}}})
    assert routed.spec.routing is not None
    assert routed.spec.routing.enabled is False
    assert routed.spec.routing.gateway_ref is not None
    assert (routed.spec.routing.gateway_ref.group, routed.spec.routing.gateway_ref.kind) == (
        "gateway.networking.k8s.io",
        "Gateway",
    )


def test_other_spec_defaults() -> None:
    cache = AIMModelCache.model_validate({"spec": {"sourceUri": "hf://org/model", "size": "1Gi"}})
    assert cache.spec.model_download_image == "kserve/storage-initializer:v0.16.0-rc0"
    template = AIMServiceTemplate.model_validate({"spec": {"aimImageName": "img", "caching": {}}})
    assert template.spec.runtime_config_name == "default"
    assert template.spec.caching is not None
    assert template.spec.caching.enabled is False
    assert AIMTemplateCache.model_validate({"spec": {"templateRef": "t"}}).spec.runtime_config_name == "default"
    # A runtime config needs no spec at all; the CRD defaults it to {} and so does the model.
    assert AIMRuntimeConfig.model_validate({"metadata": {"name": "default"}}).to_dict()["spec"] == {}
    assert AIMClusterRuntimeConfig.model_validate({}).to_dict()["spec"] == {}


@pytest.mark.parametrize(
    ("status_model", "pending"),
    [
        (AIMServiceStatus, AIMServiceStatusEnum.PENDING),
        (AIMServiceTemplateStatus, AIMTemplateStatusEnum.PENDING),
        (AIMModelCacheStatus, AIMModelCacheStatusEnum.PENDING),
        (AIMTemplateCacheStatus, AIMTemplateCacheStatusEnum.PENDING),
    ],
)
def test_status_defaults_to_pending(status_model: Any, pending: Any) -> None:
    assert status_model.model_validate({}).status is pending


def test_discovery_switches_have_their_documented_meaning_when_unset() -> None:
    unset = AIMImageDiscoverySpec()
    assert unset.enabled_effective is False
    assert unset.auto_create_templates_effective is True
    assert AIMImageDiscoverySpec(auto_create_templates=False).auto_create_templates_effective is False


# -- JSON names and dumping ------------------------------------------------------------------------------
def test_snake_case_json_names_of_discovery_output() -> None:
    profile = AIMProfile.model_validate(
        {
            "engine_args": {"tensor-parallel-size": 1},
            "env_vars": {"VLLM_USE_V1": "0"},
            "metadata": {"engine": "vllm", "gpu": "MI300X", "gpu_count": 1, "metric": "latency", "precision": "fp8"},
        }
    )
    assert profile.metadata is not None
    assert profile.metadata.gpu_count == 1
    assert set(profile.to_dict()) == {"engine_args", "env_vars", "metadata"}
    assert "gpu_count" in profile.to_dict()["metadata"]


def test_models_accept_python_names_and_dump_json_names() -> None:
    service = AIMService(spec={"aim_image_name": "img", "cache_model": True})  # type: ignore[arg-type]
    assert service.to_dict()["spec"]["cacheModel"] is True
    assert "aim_image_name" not in service.model_dump()["spec"]


def test_unknown_metadata_fields_survive_a_round_trip() -> None:
    raw = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMImage",
        "metadata": {"name": "i", "namespace": "n", "futureField": {"x": 1}, "labels": {"a": "b"}},
        "spec": {"image": "repo/img:1", "resources": IMAGE_RESOURCES},
    }
    assert AIMImage.model_validate(raw).to_dict()["metadata"] == raw["metadata"]


def test_python_mode_dump_is_yaml_safe() -> None:
    service = AIMService.model_validate(
        {
            "metadata": {"name": "s", "creationTimestamp": "2025-01-02T03:04:05Z"},
            "spec": {"aimImageName": "img", "overrides": {"precision": "fp8"}},
            "status": {
                "status": "Running",
                "conditions": [
                    {
                        "type": "Ready",
                        "status": "True",
                        "reason": "Available",
                        "message": "",
                        "lastTransitionTime": "2025-01-02T03:04:05Z",
                    }
                ],
            },
        }
    )
    dumped = yaml.safe_load(yaml.safe_dump(service.model_dump(exclude_none=True)))
    assert dumped == service.to_dict()
    assert dumped["status"]["conditions"][0]["lastTransitionTime"] == "2025-01-02T03:04:05Z"
    assert dumped["metadata"]["creationTimestamp"] == "2025-01-02T03:04:05Z"


# -- validation mirrors the CRD's -----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "raw", "field"),
    [
        (AIMService, {"spec": {}}, "aimImageName"),
        (AIMService, {"spec": {"aimImageName": ""}}, "aimImageName"),
        (AIMClusterServiceTemplate, {"spec": {"aimImageName": "i", "precision": "fp64"}}, "precision"),
        (AIMClusterServiceTemplate, {"spec": {"aimImageName": "i", "metric": "speed"}}, "metric"),
        (
            AIMServiceTemplate,
            {"spec": {"aimImageName": "i", "gpuSelector": {"count": 0, "model": "MI300X"}}},
            "count",
        ),
        (AIMServiceTemplate, {"spec": {"aimImageName": "i", "gpuSelector": {"count": 1, "model": ""}}}, "model"),
        (AIMModelCache, {"spec": {"sourceUri": "https://huggingface.co/x", "size": "1Gi"}}, "sourceUri"),
        (AIMModelCache, {"spec": {"sourceUri": "hf://org/model", "size": "big"}}, "size"),
        (AIMClusterImage, {"spec": {"image": "", "resources": IMAGE_RESOURCES}}, "image"),
        (AIMClusterImage, {"spec": {"image": "repo/img:1"}}, "resources"),
        (AIMTemplateCache, {"spec": {"templateRef": ""}}, "templateRef"),
    ],
)
def test_invalid_specs_are_rejected_naming_the_field(model: Any, raw: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as info:
        model.model_validate(raw)
    assert field in str(info.value)


@pytest.mark.parametrize("precision", [p.value for p in AIMPrecision])
def test_every_precision_of_the_api_reference_is_accepted(precision: str) -> None:
    template = AIMClusterServiceTemplate.model_validate({"spec": {"aimImageName": "i", "precision": precision}})
    assert template.spec.precision == precision


# -- round trips --------------------------------------------------------------------------------------------
def _samples() -> list[Path]:
    return sorted(p for p in SAMPLES.glob("*.yaml") if p.name != "kustomization.yaml")


def test_there_is_one_sample_per_kind() -> None:
    kinds = sorted(yaml.safe_load(p.read_text())["kind"] for p in _samples())
    assert kinds == sorted(info.kind for info in KINDS)
    listed = yaml.safe_load((SAMPLES / "kustomization.yaml").read_text())["resources"]
    assert sorted(listed) == [p.name for p in _samples()]


@pytest.mark.parametrize("path", _samples(), ids=lambda p: p.name)
def test_samples_parse_and_dump_back(path: Path) -> None:
    raw = yaml.safe_load(path.read_text())
    model = by_kind(raw["kind"]).model.model_validate(raw)
    dumped = model.to_dict()
    # The dump is the sample plus the defaults: every key of the sample is kept with its value.
    assert key_paths(raw) <= key_paths(dumped)
    assert type(model).model_validate(dumped) == model
    assert dumped["spec"] == {**dumped["spec"], **raw["spec"]}


@pytest.mark.parametrize("info", KINDS, ids=lambda i: i.kind)
@settings(max_examples=40, suppress_health_check=[HealthCheck.too_slow], deadline=None)
@given(data=st.data())
def test_generated_objects_round_trip(info: KindInfo, data: st.DataObject) -> None:
    raw = data.draw(raw_object(info, "obj", "ns" if info.namespaced else None))
    model = info.model.model_validate(raw)
    dumped = model.to_dict()
    assert info.model.model_validate(dumped) == model
    assert info.model.model_validate(dumped).to_dict() == dumped
    assert key_paths(raw) <= key_paths(dumped)


def test_cluster_and_namespaced_kinds_share_their_spec_models() -> None:
    assert AIMImage.model_fields["spec"].annotation is AIMClusterImage.model_fields["spec"].annotation
    assert set(AIMServiceTemplate.model_fields["spec"].annotation.model_fields) > set(  # type: ignore[union-attr]
        AIMClusterServiceTemplate.model_fields["spec"].annotation.model_fields  # type: ignore[union-attr]
    )
