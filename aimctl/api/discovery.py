"""Discovery results as stored in template status: the chosen profile and the model sources.

The discovery job prints snake_case JSON (``engine_args``, ``env_vars``, ``gpu_count``); the status keeps
those names, so these fields carry explicit aliases. ``engine_args`` is free-form JSON whose shape
depends on the inference engine.

``AIMModelSource.size`` is a :class:`~aimctl.api.quantity.Quantity`; the discovery parser converts
``size_gb`` to bytes (``int(size_gb * 1024**3)``) and stores ``Quantity.from_bytes(...)``, which prints
like the original operator (0.5 GB -> ``512Mi``).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import Field

from aimctl.api.base import APIModel, Int32
from aimctl.api.markers import PreserveUnknownFields
from aimctl.api.quantity import Quantity
from aimctl.api.runtime import AIMMetric, AIMPrecision

__all__ = [
    "AIMDiscoveryProfile",
    "AIMDiscoveryProfileMetadata",
    "AIMModelSource",
    "AIMProfile",
    "AIMProfileMetadata",
]


class AIMProfileMetadata(APIModel):
    """AIMProfileMetadata describes the characteristics of a discovered deployment profile."""

    engine: str | None = None
    """Engine identifies the inference engine used for this profile (e.g., "vllm")."""
    gpu: str | None = None
    """GPU specifies the GPU model this profile is optimized for (e.g., "MI300X", "MI325X")."""
    gpu_count: Int32 | None = Field(default=None, alias="gpu_count")
    """GPUCount indicates how many GPUs are required per replica for this profile."""
    metric: AIMMetric | None = None
    """Metric indicates the optimization goal for this profile ("latency" or "throughput")."""
    precision: AIMPrecision | None = None
    """Precision specifies the numeric precision used in this profile (e.g., "fp16", "fp8")."""


#: The metadata of a raw discovery profile has the same shape as the stored one.
AIMDiscoveryProfileMetadata = AIMProfileMetadata


class AIMProfile(APIModel):
    """AIMProfile is the discovery result profile cached in template status: metadata, engine
    arguments and environment variables."""

    engine_args: Annotated[dict[str, Any], PreserveUnknownFields()] | None = Field(default=None, alias="engine_args")
    """EngineArgs contains runtime-specific engine configuration as a free-form JSON object."""
    env_vars: dict[str, str] | None = Field(default=None, alias="env_vars")
    """EnvVars contains environment variables required by the runtime for this profile."""
    metadata: AIMProfileMetadata | None = None
    """Metadata provides structured information about this deployment profile's characteristics."""


#: A raw discovery profile (the job's output) has the same shape as the stored one.
AIMDiscoveryProfile = AIMProfile


class AIMModelSource(APIModel):
    """AIMModelSource describes a model artifact that must be downloaded for inference."""

    name: str | None = None
    """Name is the name of the model"""
    source_uri: str
    """SourceURI is the source where the model should be downloaded from"""
    size: Quantity | None = None
    """Size is the amount of storage that the source expects"""
