"""The effective routing settings of an AIMService (pure).

Precedence (the original operator's, kept; ``docs/original-behaviour.md``):

* ``enabled``: the service's ``spec.routing.enabled`` when ``spec.routing`` is present (its default is
  false), otherwise the runtime config's ``routing.enabled``, otherwise false;
* ``gatewayRef``: the service's, otherwise the runtime config's; Gateway API defaults filled in
  (group ``gateway.networking.k8s.io``, kind ``Gateway``, namespace = the service's namespace);
* ``routeTemplate``: the service's, otherwise the runtime config's, otherwise ``None`` (the renderer
  then uses ``/<namespace>/<uid>``);
* ``annotations`` (put on the HTTPRoute): the service's only.

Everything downstream — path rendering, the HTTPRoute, ``RoutingReady`` and the service status —
uses these effective settings, so routing enabled only through the runtime config behaves exactly as
routing enabled on the service (a fix: the original looked at ``spec.routing.enabled`` for status,
``docs/original-behaviour.md`` fix 8).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from aimctl.api.enums import GATEWAY_GROUP
from aimctl.kube.objects import dig_map


@dataclass(frozen=True)
class RoutingSettings:
    enabled: bool = False
    #: The parentRef to use, defaults filled in; ``None`` when neither place names a gateway.
    gateway_ref: Mapping[str, Any] | None = None
    route_template: str | None = None
    annotations: Mapping[str, str] = field(default_factory=dict)


def effective_routing(
    service_namespace: str, service_routing: Mapping[str, Any] | None, config_routing: Mapping[str, Any] | None
) -> RoutingSettings:
    """Combine ``spec.routing`` of the service and ``spec.routing`` of its resolved runtime config."""
    svc = service_routing or {}
    rc = config_routing or {}
    # A routing block on the service decides, even when it only sets other fields.
    enabled = bool(svc.get("enabled", False)) if service_routing is not None else bool(rc.get("enabled"))
    ref = svc.get("gatewayRef") or rc.get("gatewayRef")
    template = svc.get("routeTemplate") or rc.get("routeTemplate") or None
    return RoutingSettings(
        enabled=enabled,
        gateway_ref=parent_ref(ref, service_namespace) if ref else None,
        route_template=template,
        annotations=dict(dig_map(svc, "annotations")),
    )


def parent_ref(ref: Mapping[str, Any], default_namespace: str) -> dict[str, Any]:
    """A Gateway API parentRef with ``group``, ``kind`` and ``namespace`` defaulted."""
    group = ref.get("group")
    out: dict[str, Any] = {
        "group": GATEWAY_GROUP if group is None else group,
        "kind": ref.get("kind") or "Gateway",
        "name": ref["name"],
        "namespace": ref.get("namespace") or default_namespace,
    }
    for key in ("sectionName", "port"):
        if ref.get(key) is not None:
            out[key] = ref[key]
    return out
