"""AIMRuntimeConfig and AIMClusterRuntimeConfig: defaults for the AIM objects that name them.

Consumers name a config through ``runtimeConfigName`` (default ``default``). The cluster kind carries
storage and routing defaults; the namespaced kind adds credentials (service account, pull secrets).

``spec`` is optional on both kinds and defaults to ``{}``: an empty config is meaningful (it exists,
so consumers resolve it, and it overrides nothing).
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from aimctl.api.base import APIModel, Int64
from aimctl.api.core import PullSecretList
from aimctl.api.meta import Conditions
from aimctl.api.resource import AIMResource, AIMResourceList
from aimctl.api.routing import AIMRuntimeRoutingConfig

__all__ = [
    "AIMClusterRuntimeConfig",
    "AIMClusterRuntimeConfigList",
    "AIMClusterRuntimeConfigSpec",
    "AIMRuntimeConfig",
    "AIMRuntimeConfigCommon",
    "AIMRuntimeConfigCredentials",
    "AIMRuntimeConfigList",
    "AIMRuntimeConfigSpec",
    "AIMRuntimeConfigStatus",
]


class AIMRuntimeConfigCommon(APIModel):
    """AIMRuntimeConfigCommon captures configuration fields shared across cluster and namespace scopes."""

    default_storage_class_name: str | None = None
    """DefaultStorageClassName is the storage class used for model caches when one is not specified
    directly on the consumer resource."""
    routing: AIMRuntimeRoutingConfig | None = None
    """Routing controls HTTP routing defaults applied to AIM resources."""


class AIMClusterRuntimeConfigSpec(AIMRuntimeConfigCommon):
    """AIMClusterRuntimeConfigSpec defines cluster-wide defaults for AIM resources."""


class AIMRuntimeConfigCredentials(APIModel):
    """AIMRuntimeConfigCredentials captures namespace-scoped authentication knobs."""

    service_account_name: str | None = None
    """ServiceAccountName is the service account used for discovery jobs, cache warmers, and any other
    workloads spawned by the operator on behalf of this runtime config."""
    image_pull_secrets: PullSecretList | None = None
    """ImagePullSecrets are merged with controller defaults when creating pods that need to pull model
    or runtime images."""


class AIMRuntimeConfigSpec(AIMRuntimeConfigCommon, AIMRuntimeConfigCredentials):
    """AIMRuntimeConfigSpec defines namespace-scoped overrides for AIM resources."""


class AIMRuntimeConfigStatus(APIModel):
    """AIMRuntimeConfigStatus records the resolved config reference surfaced to consumers."""

    observed_generation: Int64 | None = None
    """ObservedGeneration is the last reconciled generation."""
    conditions: Conditions | None = None
    """Conditions communicate reconciliation progress."""


class AIMRuntimeConfig(AIMResource):
    """AIMRuntimeConfig defines namespace-scoped runtime overrides for AIM resources."""

    kind: Literal["AIMRuntimeConfig"] = "AIMRuntimeConfig"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMRuntimeConfigSpec = Field(default_factory=AIMRuntimeConfigSpec)
    """AIMRuntimeConfigSpec defines namespace-scoped overrides for AIM resources."""
    status: AIMRuntimeConfigStatus | None = None
    """AIMRuntimeConfigStatus records the resolved config reference surfaced to consumers."""


class AIMClusterRuntimeConfig(AIMResource):
    """AIMClusterRuntimeConfig defines cluster-scoped runtime defaults for AIM resources."""

    kind: Literal["AIMClusterRuntimeConfig"] = "AIMClusterRuntimeConfig"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMClusterRuntimeConfigSpec = Field(default_factory=AIMClusterRuntimeConfigSpec)
    """AIMClusterRuntimeConfigSpec defines cluster-wide defaults for AIM resources."""
    status: AIMRuntimeConfigStatus | None = None
    """AIMRuntimeConfigStatus records the resolved config reference surfaced to consumers."""


class AIMRuntimeConfigList(AIMResourceList):
    """AIMRuntimeConfigList contains a list of AIMRuntimeConfig."""

    kind: Literal["AIMRuntimeConfigList"] = "AIMRuntimeConfigList"
    items: list[AIMRuntimeConfig]


class AIMClusterRuntimeConfigList(AIMResourceList):
    """AIMClusterRuntimeConfigList contains a list of AIMClusterRuntimeConfig."""

    kind: Literal["AIMClusterRuntimeConfigList"] = "AIMClusterRuntimeConfigList"
    items: list[AIMClusterRuntimeConfig]
