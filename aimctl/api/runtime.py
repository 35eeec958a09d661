"""Runtime selection knobs shared by templates and service overrides: metric, precision, GPU selector.

``AIMRuntimeParameters`` carries the immutability rules once, for both places that embed it: each
field is ``self == oldSelf``, and the parent forbids adding or removing a field after creation (a
template or a service's derived template is identified by these values; changing them in place would
silently re-target a running deployment).

Precision is the full enum of the API reference (``auto fp4 fp8 fp16 fp32 bf16 int4 int8``). The
original operator accepted only ``bf16 fp16 fp8 int8`` because two enum markers intersected; aimctl
does not copy that (``docs/original-behaviour.md``, fix 9).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from pydantic import Field

from aimctl.api.base import APIModel, Int32
from aimctl.api.enums import AIMMetric, AIMPrecision
from aimctl.api.markers import CEL, immutable, presence_immutable

__all__ = ["AIMMetric", "AIMPrecision", "AIMRuntimeParameters", "AimGpuSelector"]


class AimGpuSelector(APIModel):
    """AimGpuSelector contains the strategy to choose the resources to give each replica"""

    count: Annotated[Int32, Field(ge=1)]
    """Count is the number of the GPU resources requested per replica"""
    model: Annotated[str, Field(min_length=1)]
    """Model is the model name of the GPU that is supported by this template"""


class AIMRuntimeParameters(APIModel):
    """AIMRuntimeParameters contains the runtime configuration parameters shared across templates and
    services. Fields use pointers to allow optional usage in different contexts (required in templates,
    optional in service overrides)."""

    crd_validations: ClassVar[tuple[CEL, ...]] = (
        presence_immutable("metric"),
        presence_immutable("precision"),
        presence_immutable("gpuSelector"),
    )

    metric: Annotated[AIMMetric, immutable("metric")] | None = None
    """Metric selects the optimization goal.

    - latency: prioritize low end-to-end latency
    - throughput: prioritize sustained requests/second"""
    precision: Annotated[AIMPrecision, immutable("precision")] | None = None
    """Precision selects the numeric precision used by the runtime."""
    gpu_selector: Annotated[AimGpuSelector, immutable("gpuSelector")] | None = None
    """AimGpuSelector contains the strategy to choose the resources to give each replica"""
