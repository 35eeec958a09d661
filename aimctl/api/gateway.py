"""Gateway API ``ParentReference`` (``gateway.networking.k8s.io/v1``), as routing settings embed it.

Same schema as upstream (defaults ``group=gateway.networking.k8s.io`` and ``kind=Gateway``, the
upstream length limits and patterns), so a reference accepted here is accepted in the HTTPRoute the
operator writes from it.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from aimctl.api.base import APIModel, Int32
from aimctl.api.enums import GATEWAY_GROUP

__all__ = ["GATEWAY_GROUP", "ParentReference"]

_DNS1123_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"


class ParentReference(APIModel):
    """ParentReference identifies an API object (usually a Gateway) that can be considered a parent of
    this resource (usually a route)."""

    group: Annotated[str, Field(max_length=253, pattern=r"^$|" + _DNS1123_SUBDOMAIN)] = GATEWAY_GROUP
    """Group is the group of the referent. When unspecified, "gateway.networking.k8s.io" is inferred.
    To set the core API group (such as for a "Service" kind referent), Group must be explicitly set to
    "" (empty string)."""
    kind: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-zA-Z]([-a-zA-Z0-9]*[a-zA-Z0-9])?$")] = (
        "Gateway"
    )
    """Kind is kind of the referent. There are two kinds of parent resources with "Core" support:
    Gateway (Gateway conformance profile) and Service (Mesh conformance profile, ClusterIP Services
    only)."""
    namespace: Annotated[str, Field(min_length=1, max_length=63, pattern=r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")] | None = (
        None
    )
    """Namespace is the namespace of the referent. When unspecified, this refers to the local namespace
    of the Route."""
    name: Annotated[str, Field(min_length=1, max_length=253)]
    """Name is the name of the referent."""
    section_name: Annotated[str, Field(min_length=1, max_length=253, pattern=_DNS1123_SUBDOMAIN)] | None = None
    """SectionName is the name of a section within the target resource (for a Gateway, a listener
    name). When unspecified (empty string), this will reference the entire resource."""
    port: Annotated[Int32, Field(ge=1, le=65535)] | None = None
    """Port is the network port this Route targets. It can be interpreted differently based on the type
    of parent resource."""
