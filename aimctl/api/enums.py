"""The API's names and string enums, importable without pydantic.

Why a module of its own: the operator process (``aimctl run``) works on plain dicts and needs of the API
only its group and version, the status enums (the states of the state machines) and a few enums and
names the builders write; the pydantic models (the rest of :mod:`aimctl.api`) validate only discovery
output and image metadata, so they are imported on that path alone and ``aimctl run`` starts without
pydantic (tests/unit/cli/test_lean_imports.py checks it; docs/architecture.md gives the figures). The
model modules re-export what is defined here, so ``aimctl.api.image.AIMImageStatusEnum`` still works.
"""

from __future__ import annotations

from enum import StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler
    from pydantic_core import core_schema

__all__ = [
    "API_GROUP",
    "API_VERSION",
    "DEFAULT_MODEL_DOWNLOAD_IMAGE",
    "GATEWAY_GROUP",
    "GROUP_VERSION",
    "AIMImageStatusEnum",
    "AIMMetric",
    "AIMModelCacheStatusEnum",
    "AIMPrecision",
    "AIMServiceStatusEnum",
    "AIMTemplateCacheStatusEnum",
    "AIMTemplateStatusEnum",
    "KubeEnum",
]

API_GROUP = "aim.silogen.ai"
API_VERSION = "v1alpha1"
GROUP_VERSION = f"{API_GROUP}/{API_VERSION}"
#: The Gateway API's group (HTTPRoute parents).
GATEWAY_GROUP = "gateway.networking.k8s.io"
#: The image of a model cache's download Job unless its ``spec.modelDownloadImage`` names another.
DEFAULT_MODEL_DOWNLOAD_IMAGE = "kserve/storage-initializer:v0.16.0-rc0"


class KubeEnum(StrEnum):
    """A string enum of the API: validates from its string value and dumps as a plain ``str``.

    Dumping plain strings (not enum members) keeps ``model_dump()`` output safe for ``yaml.safe_dump``.
    pydantic is imported only when a model that uses the enum builds its schema.
    """

    @classmethod
    def __get_pydantic_core_schema__(cls, source: Any, handler: GetCoreSchemaHandler) -> core_schema.CoreSchema:
        from pydantic_core import core_schema

        return core_schema.no_info_after_validator_function(
            cls,
            core_schema.str_schema(),
            serialization=core_schema.plain_serializer_function_ser_schema(
                _enum_value, return_schema=core_schema.str_schema()
            ),
        )


def _enum_value(member: StrEnum) -> str:
    return member.value


class AIMImageStatusEnum(KubeEnum):
    """AIMImageStatusEnum represents the overall status of an AIMImage."""

    PENDING = "Pending"
    """AIMImageStatusPending indicates the image has been created but template generation has not
    started."""
    PROGRESSING = "Progressing"
    """AIMImageStatusProgressing indicates one or more templates are still being discovered."""
    READY = "Ready"
    """AIMImageStatusReady indicates all templates are available and ready."""
    DEGRADED = "Degraded"
    """AIMImageStatusDegraded indicates one or more templates are degraded or failed."""
    FAILED = "Failed"
    """AIMImageStatusFailed indicates all templates are degraded or failed."""


class AIMTemplateStatusEnum(KubeEnum):
    """AIMTemplateStatusEnum defines coarse-grained states for a template."""

    PENDING = "Pending"
    """AIMTemplateStatusPending denotes that the template has been created and discovery has not yet
    started."""
    PROGRESSING = "Progressing"
    """AIMTemplateStatusProgressing denotes that discovery and/or cache warm is in progress."""
    AVAILABLE = "Available"
    """AIMTemplateStatusAvailable denotes that discovery succeeded and, if requested, caches are
    warmed."""
    DEGRADED = "Degraded"
    """AIMTemplateStatusDegraded denotes that the template is non-functional for some reason, for
    example that the cluster doesn't have the resources specified."""
    FAILED = "Failed"
    """AIMTemplateStatusFailed denotes a terminal failure for discovery or warm operations."""


class AIMServiceStatusEnum(KubeEnum):
    """AIMServiceStatusEnum defines coarse-grained states for a service."""

    PENDING = "Pending"
    """AIMServiceStatusPending denotes that the template has been created and discovery has not yet
    started."""
    STARTING = "Starting"
    """AIMServiceStatusStarting denotes that discovery and/or cache warm is in progress."""
    RUNNING = "Running"
    """AIMServiceStatusRunning denotes that discovery succeeded and, if requested, caches are warmed."""
    FAILED = "Failed"
    """AIMServiceStatusFailed denotes a terminal failure for discovery or warm operations."""
    DEGRADED = "Degraded"
    """AIMServiceStatusDegraded denotes a recoverable failure state."""


class AIMModelCacheStatusEnum(KubeEnum):
    """AIMModelCacheStatusEnum is the overall status of a model cache."""

    PENDING = "Pending"
    """AIMModelCacheStatusPending denotes that the model cache has not been created yet"""
    PROGRESSING = "Progressing"
    """AIMModelCacheStatusProgressing denotes that the model cache is currently being filled"""
    AVAILABLE = "Available"
    """AIMModelCacheStatusAvailable denotes that a model cache is filled and ready to be used"""
    FAILED = "Failed"
    """AIMModelCacheStatusFailed denotes that the model cache has failed. A more detailed reason will
    be available in the conditions."""


class AIMTemplateCacheStatusEnum(KubeEnum):
    """AIMTemplateCacheStatusEnum defines the status of the template cache."""

    PENDING = "Pending"
    """AIMTemplateCacheStatusPending denotes that the template cache has been created but not yet
    processed."""
    PROGRESSING = "Progressing"
    """AIMTemplateCacheStatusProgressing denotes that the template cache is being warmed."""
    AVAILABLE = "Available"
    """AIMTemplateCacheStatusAvailable denotes that the template cache is ready and models are cached."""
    FAILED = "Failed"
    """AIMTemplateCacheStatusFailed denotes that the template cache operation has failed."""


class AIMMetric(KubeEnum):
    """AIMMetric enumerates the targeted service characteristic"""

    LATENCY = "latency"
    THROUGHPUT = "throughput"


class AIMPrecision(KubeEnum):
    """AIMPrecision enumerates supported numeric precisions"""

    AUTO = "auto"
    FP4 = "fp4"
    FP8 = "fp8"
    FP16 = "fp16"
    FP32 = "fp32"
    BF16 = "bf16"
    INT4 = "int4"
    INT8 = "int8"
