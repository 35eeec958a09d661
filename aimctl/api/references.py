"""Resolved references: what a name in a spec (template, image, runtime config) resolved to.

Controllers record them in status so that users and other controllers can see which object — the
namespaced one or the cluster one — satisfied a reference, and so that a watch on that object can
find its consumers.
"""

from __future__ import annotations

from aimctl.api.base import APIModel, KubeEnum

__all__ = [
    "AIMResolutionScope",
    "AIMResolvedReference",
    "AIMResolvedRuntimeConfig",
    "AIMServiceResolvedTemplate",
]


class AIMResolutionScope(KubeEnum):
    """AIMResolutionScope describes the scope of a resolved reference."""

    NAMESPACE = "Namespace"
    """AIMResolutionScopeNamespace denotes a namespace-scoped resource."""
    CLUSTER = "Cluster"
    """AIMResolutionScopeCluster denotes a cluster-scoped resource."""
    UNKNOWN = "Unknown"
    """AIMResolutionScopeUnknown denotes that the scope could not be determined."""


class AIMResolvedReference(APIModel):
    """AIMResolvedReference captures metadata about a resolved reference."""

    name: str | None = None
    """Name is the resource name that satisfied the reference."""
    namespace: str | None = None
    """Namespace identifies where the resource was found when namespace-scoped. Empty indicates a
    cluster-scoped resource."""
    scope: AIMResolutionScope | None = None
    """Scope indicates whether the resolved resource was namespace or cluster scoped."""
    kind: str | None = None
    """Kind is the fully-qualified kind of the resolved reference, when known."""
    uid: str | None = None
    """UID captures the unique identifier of the resolved reference, when known."""


class AIMResolvedRuntimeConfig(AIMResolvedReference):
    """AIMResolvedRuntimeConfig captures metadata about the runtime config that was resolved. This
    follows the same pattern as AIMServiceResolvedTemplate for consistency."""


class AIMServiceResolvedTemplate(AIMResolvedReference):
    """AIMServiceResolvedTemplate retains the historical name while reusing the shared structure."""
