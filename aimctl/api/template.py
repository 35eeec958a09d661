"""AIMServiceTemplate and AIMClusterServiceTemplate: runtime profiles for an AIM image.

The cluster kind has the common fields only; the namespaced kind adds caching, env and pull secrets.
``aimImageName``, ``metric``, ``precision`` and ``gpuSelector`` are immutable (CEL): a template's
identity is its image plus these knobs, and discovery results in status belong to those values.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from aimctl.api.base import APIModel, Int64
from aimctl.api.core import EnvList, PullSecretList, ResourceRequirements
from aimctl.api.discovery import AIMModelSource, AIMProfile
from aimctl.api.enums import AIMTemplateStatusEnum
from aimctl.api.markers import ListType, immutable
from aimctl.api.meta import Conditions
from aimctl.api.references import AIMResolvedReference, AIMResolvedRuntimeConfig
from aimctl.api.resource import AIMResource, AIMResourceList
from aimctl.api.runtime import AIMRuntimeParameters

__all__ = [
    "AIMClusterServiceTemplate",
    "AIMClusterServiceTemplateList",
    "AIMClusterServiceTemplateSpec",
    "AIMServiceTemplate",
    "AIMServiceTemplateList",
    "AIMServiceTemplateSpec",
    "AIMServiceTemplateSpecCommon",
    "AIMServiceTemplateStatus",
    "AIMTemplateCachingConfig",
    "AIMTemplateStatusEnum",
]

DEFAULT_RUNTIME_CONFIG_NAME = "default"


class AIMServiceTemplateSpecCommon(AIMRuntimeParameters):
    """AIMServiceTemplateSpecCommon contains the shared fields for both cluster-scoped and
    namespace-scoped service templates."""

    aim_image_name: Annotated[str, Field(min_length=1), immutable("aimImageName")]
    """AIMImageName is the AIM image name. Matches metadata.name of an AIMImage. Immutable.
    Example: meta/llama-3-8b:1.1+20240915"""
    runtime_config_name: str = DEFAULT_RUNTIME_CONFIG_NAME
    """RuntimeConfigName references the AIM runtime configuration (by name) to use for this template.
    Its image pull secrets and service account only decide whether the image can be pulled: changing
    them (or this name) never re-runs a successful discovery, but replaces a discovery Job that is still
    pending or waiting to retry and resets the retry backoff."""
    resources: ResourceRequirements | None = None
    """Resources defines the default container resource requirements applied to services derived from
    this template. Service-specific values override the template defaults."""


class AIMClusterServiceTemplateSpec(AIMServiceTemplateSpecCommon):
    """AIMClusterServiceTemplateSpec defines the desired state of AIMClusterServiceTemplate
    (cluster-scoped). A cluster-scoped template that selects a runtime profile for a given AIM model."""


class AIMTemplateCachingConfig(APIModel):
    """AIMTemplateCachingConfig configures model caching behavior for namespace-scoped templates."""

    enabled: bool = False
    """Enabled controls whether caching is enabled for this template. Defaults to false."""
    env: EnvList | None = None
    """Env specifies environment variables to use when downloading the model. These variables are
    available to the model download process and can be used to configure download behavior,
    authentication, proxies, etc."""


class AIMServiceTemplateSpec(AIMServiceTemplateSpecCommon):
    """AIMServiceTemplateSpec defines the desired state of AIMServiceTemplate (namespace-scoped). A
    namespaced and versioned template that selects a runtime profile for a given AIM model (by
    canonical name). Templates are intentionally narrow: they describe runtime selection knobs for the
    AIM container and do not redefine the full Kubernetes deployment shape."""

    caching: AIMTemplateCachingConfig | None = None
    """Caching configures model caching behavior for this namespace-scoped template. When enabled,
    models will be cached using the specified environment variables during download."""
    env: EnvList | None = None
    """Env specifies environment variables to use for authentication when downloading models. These
    variables are used for authentication with model registries (e.g., HuggingFace tokens). The
    discovery dry run sees them, so its result may depend on them: changing Env after the template is
    Available re-runs discovery (the template is Pending until it succeeds again)."""
    image_pull_secrets: PullSecretList | None = None
    """ImagePullSecrets references secrets for pulling AIM container images. Changing them never
    re-runs a successful discovery (credentials do not change what the image serves), but replaces a
    discovery Job that is still pending (e.g. stuck in image pull) or waiting to retry, at once."""


class AIMServiceTemplateStatus(APIModel):
    """AIMServiceTemplateStatus defines the observed state of AIMServiceTemplate."""

    observed_generation: Int64 | None = None
    """ObservedGeneration is the most recent generation observed by the controller."""
    conditions: Conditions | None = None
    """Conditions represent the latest observations of template state."""
    resolved_runtime_config: AIMResolvedRuntimeConfig | None = None
    """ResolvedRuntimeConfig captures metadata about the runtime config that was resolved."""
    resolved_image: AIMResolvedReference | None = None
    """ResolvedImage captures metadata about the image that was resolved."""
    status: AIMTemplateStatusEnum = AIMTemplateStatusEnum.PENDING
    """Status represents the current high-level status of the template lifecycle. Values: Pending,
    Progressing, Available, Degraded, Failed."""
    model_sources: Annotated[list[AIMModelSource], ListType("atomic")] | None = None
    """ModelSources list the models that this template requires to run. These are the models that will
    be cached, if this template is cached."""
    profile: AIMProfile | None = None
    """Profile contains the full discovery result profile as a free-form JSON object. This includes
    metadata, engine args, environment variables, and model details."""


class AIMServiceTemplate(AIMResource):
    """AIMServiceTemplate is the Schema for namespace-scoped AIM service templates."""

    kind: Literal["AIMServiceTemplate"] = "AIMServiceTemplate"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMServiceTemplateSpec
    """AIMServiceTemplateSpec defines the desired state of AIMServiceTemplate (namespace-scoped)."""
    status: AIMServiceTemplateStatus | None = None
    """AIMServiceTemplateStatus defines the observed state of AIMServiceTemplate."""


class AIMClusterServiceTemplate(AIMResource):
    """AIMClusterServiceTemplate is the Schema for cluster-scoped AIM service templates."""

    kind: Literal["AIMClusterServiceTemplate"] = "AIMClusterServiceTemplate"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMClusterServiceTemplateSpec
    """AIMClusterServiceTemplateSpec defines the desired state of AIMClusterServiceTemplate
    (cluster-scoped)."""
    status: AIMServiceTemplateStatus | None = None
    """AIMServiceTemplateStatus defines the observed state of AIMServiceTemplate."""


class AIMServiceTemplateList(AIMResourceList):
    """AIMServiceTemplateList contains a list of AIMServiceTemplate."""

    kind: Literal["AIMServiceTemplateList"] = "AIMServiceTemplateList"
    items: list[AIMServiceTemplate]


class AIMClusterServiceTemplateList(AIMResourceList):
    """AIMClusterServiceTemplateList contains a list of AIMClusterServiceTemplate."""

    kind: Literal["AIMClusterServiceTemplateList"] = "AIMClusterServiceTemplateList"
    items: list[AIMClusterServiceTemplate]
