"""HTTP routing settings (Gateway API) at the runtime-config and service level, and routing status.

Precedence, applied by the routing resolver (not here): a service's own ``routing`` settings win over
its runtime config's. That is why ``AIMRuntimeRoutingConfig.enabled`` has no default (unset means
"not configured here"), while ``AIMServiceRouting.enabled`` defaults to false as the API reference says.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from aimctl.api.base import APIModel
from aimctl.api.gateway import ParentReference
from aimctl.api.markers import CEL

__all__ = ["MAX_ROUTE_TEMPLATE_LENGTH", "AIMRuntimeRoutingConfig", "AIMServiceRouting", "AIMServiceRoutingStatus"]

#: Longest route template (characters). A template is tenant input that the operator evaluates: its
#: length bounds the parse; the evaluation has its own budget (``aimctl.routing``).
MAX_ROUTE_TEMPLATE_LENGTH = 1024

RouteTemplate = Annotated[
    str,
    Field(max_length=MAX_ROUTE_TEMPLATE_LENGTH),
    CEL(
        rule="!self.contains('=~')",
        message="regular-expression filters (=~) are not supported; use an == filter "
        "(e.g. [?(@.name==\"x\")]) or a direct key such as .metadata.labels['team']",
    ),
    CEL(
        rule="!self.contains('`')",
        message="JSONPath functions (`len`, `sub`, ...) are not supported; use fields, "
        "['keys'], [index] and == filters",
    ),
]
"""A route template as the CRDs validate it (the operator checks the full syntax itself)."""


class AIMRuntimeRoutingConfig(APIModel):
    """AIMRuntimeRoutingConfig configures routing defaults applied during inference service creation."""

    enabled: bool | None = None
    """Enabled toggles HTTP routing management for consumers of this runtime config."""
    gateway_ref: ParentReference | None = None
    """GatewayRef identifies the Gateway parent that should receive HTTPRoutes for consumers."""
    route_template: RouteTemplate | None = None
    """RouteTemplate renders a HTTP path prefix using the AIMService as context.
    Example: /{.metadata.namespace}/{.metadata.labels['team']}/{.spec.model}/"""


class AIMServiceRouting(APIModel):
    """AIMServiceRouting configures optional HTTP routing for the service."""

    enabled: bool = False
    """Enabled toggles HTTP routing management."""
    gateway_ref: ParentReference | None = None
    """GatewayRef identifies the Gateway parent that should receive the HTTPRoute. When omitted while
    routing is enabled, reconciliation will report a failure."""
    annotations: dict[str, str] | None = None
    """Annotations to add to the HTTPRoute resource."""
    route_template: RouteTemplate | None = None
    """RouteTemplate overrides the HTTP path template used for routing. The value is rendered against
    the AIMService object using JSONPath expressions."""


class AIMServiceRoutingStatus(APIModel):
    """AIMServiceRoutingStatus captures observed routing details."""

    path: str | None = None
    """Path is the HTTP path prefix used when routing is enabled. Example: /tenant/svc-uuid."""
