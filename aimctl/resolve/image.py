"""Image resolution: which AIMImage / AIMClusterImage an ``aimImageName`` refers to.

A namespaced consumer (an AIMServiceTemplate, an AIMService) looks for ``AIMImage <ns>/<name>`` first,
then ``AIMClusterImage <name>``; a cluster-scoped consumer looks only at the cluster kind (it cannot
see into namespaces). Not finding an image is not an error here: the consumer reports it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aimctl.kube.objects import spec_of
from aimctl.resolve import Lookup, key_of, reference

NAMESPACED_KIND = "AIMImage"
CLUSTER_KIND = "AIMClusterImage"


@dataclass(frozen=True)
class ResolvedImage:
    """The image object an ``aimImageName`` resolved to."""

    name: str
    uri: str
    scope: str
    reference: Mapping[str, Any]
    spec: Mapping[str, Any]

    @property
    def resources(self) -> Mapping[str, Any] | None:
        return self.spec.get("resources")


def resolve_image(namespace: str | None, name: str, namespaced: Lookup, cluster: Lookup) -> ResolvedImage | None:
    """Resolve ``name``: ``AIMImage <namespace>/<name>`` (when ``namespace`` is given), then
    ``AIMClusterImage <name>``; ``None`` when neither exists."""
    if namespace:
        obj = namespaced.get(key_of(namespace, name))
        if obj is not None:
            return _resolved(name, obj, NAMESPACED_KIND, "Namespace")
    cobj = cluster.get(name)
    if cobj is not None:
        return _resolved(name, cobj, CLUSTER_KIND, "Cluster")
    return None


def missing_image_message(name: str, cluster_only: bool) -> str:
    """The original operator's message for an unresolved image (``docs/original-behaviour.md``)."""
    if cluster_only:
        return f'No AIMClusterImage found for image name "{name}"'
    return f'No AIMImage or AIMClusterImage found for image name "{name}"'


def _resolved(name: str, obj: Mapping[str, Any], kind: str, scope: str) -> ResolvedImage:
    spec = dict(spec_of(obj))
    return ResolvedImage(name, str(spec.get("image") or ""), scope, reference(obj, kind, scope), spec)
