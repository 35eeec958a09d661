"""AIMTemplateCache: pre-warms the model caches of one template.

``templateRef`` resolves namespace first (AIMServiceTemplate), then cluster (AIMClusterServiceTemplate);
``status.resolvedTemplateKind`` records which one won.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from aimctl.api.base import APIModel, Int64
from aimctl.api.core import EnvList, PullSecretList
from aimctl.api.enums import AIMTemplateCacheStatusEnum
from aimctl.api.meta import Conditions
from aimctl.api.references import AIMResolvedRuntimeConfig
from aimctl.api.resource import AIMResource, AIMResourceList

__all__ = [
    "AIMTemplateCache",
    "AIMTemplateCacheList",
    "AIMTemplateCacheSpec",
    "AIMTemplateCacheStatus",
    "AIMTemplateCacheStatusEnum",
]


class AIMTemplateCacheSpec(APIModel):
    """AIMTemplateCacheSpec defines the desired state of AIMTemplateCache"""

    template_ref: Annotated[str, Field(min_length=1)]
    """TemplateRef is the name of the AIMServiceTemplate or AIMClusterServiceTemplate to cache. The
    controller will first look for a namespace-scoped AIMServiceTemplate in the same namespace. If not
    found, it will look for a cluster-scoped AIMClusterServiceTemplate with the same name.
    Namespace-scoped templates take priority over cluster-scoped templates."""
    env: EnvList | None = None
    """Env specifies environment variables to use for authentication when downloading models. These
    variables are used for authentication with model registries (e.g., HuggingFace tokens)."""
    image_pull_secrets: PullSecretList | None = None
    """ImagePullSecrets references secrets for pulling AIM container images."""
    storage_class_name: str | None = None
    """StorageClassName is the name for the storage class to use for this cache"""
    runtime_config_name: str = "default"
    """RuntimeConfigName references the AIM runtime configuration (by name) to use for this template
    cache."""


class AIMTemplateCacheStatus(APIModel):
    """AIMTemplateCacheStatus defines the observed state of AIMTemplateCache"""

    observed_generation: Int64 | None = None
    """ObservedGeneration is the most recent generation observed by the controller."""
    conditions: Conditions | None = None
    """Conditions represent the latest observations of the template cache state."""
    resolved_runtime_config: AIMResolvedRuntimeConfig | None = None
    """ResolvedRuntimeConfig captures metadata about the runtime config that was resolved."""
    status: AIMTemplateCacheStatusEnum = AIMTemplateCacheStatusEnum.PENDING
    """Status represents the current high-level status of the template cache."""
    resolved_template_kind: str | None = None
    """ResolvedTemplateKind indicates whether the template resolved to a namespace-scoped
    AIMServiceTemplate or cluster-scoped AIMClusterServiceTemplate. Values: "AIMServiceTemplate",
    "AIMClusterServiceTemplate"."""


class AIMTemplateCache(AIMResource):
    """AIMTemplateCache pre-warms model caches for a specified template."""

    kind: Literal["AIMTemplateCache"] = "AIMTemplateCache"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMTemplateCacheSpec
    """AIMTemplateCacheSpec defines the desired state of AIMTemplateCache"""
    status: AIMTemplateCacheStatus | None = None
    """AIMTemplateCacheStatus defines the observed state of AIMTemplateCache"""


class AIMTemplateCacheList(AIMResourceList):
    """AIMTemplateCacheList contains a list of AIMTemplateCache."""

    kind: Literal["AIMTemplateCacheList"] = "AIMTemplateCacheList"
    items: list[AIMTemplateCache]
