"""AIMImage and AIMClusterImage: catalog entries for AIM container images.

Both kinds share the spec and status. ``metadata.name`` is the image identifier that templates and
services reference through ``aimImageName``.

``resources`` is required and must request ``cpu`` and ``memory`` and limit ``memory``: these are the
defaults every service of the image inherits, and a service without them would be scheduled without
a memory limit. The rule is CEL on the ``resources`` node, so the error names ``spec.resources``.

``discovery.autoCreateTemplates`` has no CRD default: unset means "yes" when discovery runs (see
:attr:`AIMImageDiscoverySpec.auto_create_templates_effective`).
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from aimctl.api.base import APIModel, Int64
from aimctl.api.core import ResourceRequirements
from aimctl.api.enums import AIMImageStatusEnum
from aimctl.api.imagemetadata import ImageMetadata
from aimctl.api.markers import CEL
from aimctl.api.meta import Conditions
from aimctl.api.references import AIMResolvedRuntimeConfig
from aimctl.api.resource import AIMResource, AIMResourceList

__all__ = [
    "AIMClusterImage",
    "AIMClusterImageList",
    "AIMImage",
    "AIMImageDiscoverySpec",
    "AIMImageList",
    "AIMImageSpec",
    "AIMImageStatus",
    "AIMImageStatusEnum",
]

_REQUESTS_CPU_MEMORY = CEL(
    rule="has(self.requests) && 'cpu' in self.requests && 'memory' in self.requests",
    message="resources.requests must include cpu and memory",
)
_LIMITS_MEMORY = CEL(
    rule="has(self.limits) && 'memory' in self.limits",
    message="resources.limits must include memory",
)


class AIMImageDiscoverySpec(APIModel):
    """AIMImageDiscoverySpec configures metadata discovery and template generation for an image."""

    enabled: bool | None = None
    """Enabled toggles metadata discovery for this image. Disabled by default."""
    auto_create_templates: bool | None = None
    """AutoCreateTemplates controls whether recommended deployments from discovery automatically create
    ServiceTemplates. Enabled by default when discovery runs."""

    @property
    def enabled_effective(self) -> bool:
        """``enabled`` with its documented default (false)."""
        return bool(self.enabled)

    @property
    def auto_create_templates_effective(self) -> bool:
        """``autoCreateTemplates`` with its documented default (true)."""
        return self.auto_create_templates is not False


class AIMImageSpec(APIModel):
    """AIMImageSpec defines the desired state of AIMImage."""

    image: Annotated[str, Field(min_length=1)]
    """Image is the container image URI for this AIM model. This image is inspected by the operator to
    select runtime profiles used by templates."""
    default_service_template: str | None = None
    """DefaultServiceTemplate is the default template to use for this image, if the user does not
    provide any. Without one, services that name no template get one chosen automatically among the
    image's Available templates (see AIMService spec.templateRef)."""
    discovery: AIMImageDiscoverySpec | None = None
    """Discovery controls metadata extraction and automatic template creation for this image."""
    resources: Annotated[ResourceRequirements, _REQUESTS_CPU_MEMORY, _LIMITS_MEMORY]
    """Resources defines the default resource requirements for services using this image. Template- or
    service-level values override these defaults. Must have both cpu and memory in requests. Must have
    memory in limits."""


class AIMImageStatus(APIModel):
    """AIMImageStatus defines the observed state of AIMImage."""

    observed_generation: Int64 | None = None
    """ObservedGeneration is the most recent generation observed by the controller"""
    status: AIMImageStatusEnum = AIMImageStatusEnum.PENDING
    """Status represents the overall status of the image based on its templates"""
    conditions: Conditions | None = None
    """Conditions represent the latest available observations of the model's state"""
    resolved_runtime_config: AIMResolvedRuntimeConfig | None = None
    """ResolvedRuntimeConfig captures metadata about the runtime config that was resolved."""
    image_metadata: ImageMetadata | None = None
    """ImageMetadata is the metadata extracted from an AIM image"""


class AIMImage(AIMResource):
    """AIMImage is the Schema for namespace-scoped AIM image catalog entries."""

    kind: Literal["AIMImage"] = "AIMImage"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMImageSpec
    """AIMImageSpec defines the desired state of AIMImage."""
    status: AIMImageStatus | None = None
    """AIMImageStatus defines the observed state of AIMImage."""


class AIMClusterImage(AIMResource):
    """AIMClusterImage is the Schema for cluster-scoped AIM image catalog entries."""

    kind: Literal["AIMClusterImage"] = "AIMClusterImage"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMImageSpec
    """AIMImageSpec defines the desired state of AIMImage."""
    status: AIMImageStatus | None = None
    """AIMImageStatus defines the observed state of AIMImage."""


class AIMImageList(AIMResourceList):
    """AIMImageList contains a list of AIMImage."""

    kind: Literal["AIMImageList"] = "AIMImageList"
    items: list[AIMImage]


class AIMClusterImageList(AIMResourceList):
    """AIMClusterImageList contains a list of AIMClusterImage."""

    kind: Literal["AIMClusterImageList"] = "AIMClusterImageList"
    items: list[AIMClusterImage]
