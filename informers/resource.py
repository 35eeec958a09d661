"""Group/version/resource descriptors and the REST paths built from them.

Why: the informers and the client layer talk to built-in and custom resources the same way — through
plain REST paths with raw JSON — so one small descriptor replaces the dozens of generated
``list_namespaced_*`` methods and their typed models.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote


@dataclass(frozen=True)
class Resource:
    """A Kubernetes resource type: ``group`` is ``""`` for the core API."""

    group: str
    version: str
    plural: str
    kind: str
    namespaced: bool = True

    @property
    def api_version(self) -> str:
        return f"{self.group}/{self.version}" if self.group else self.version

    @property
    def name(self) -> str:
        """``plural.group`` (``pods``, ``aimservices.aim.silogen.ai``): a stable label value."""
        return f"{self.plural}.{self.group}" if self.group else self.plural

    def path(self, namespace: str | None = None, name: str | None = None, subresource: str | None = None) -> str:
        """The REST path: a collection (all namespaces when ``namespace`` is ``None``), an object, or
        an object's subresource (``status``)."""
        base = f"/apis/{self.group}/{self.version}" if self.group else f"/api/{self.version}"
        if self.namespaced and namespace:
            base += f"/namespaces/{quote(namespace, safe='')}"
        elif self.namespaced and name is not None:
            raise ValueError(f"{self.name} is namespaced: a namespace is needed to address {name!r}")
        base += f"/{self.plural}"
        if name is not None:
            base += f"/{quote(name, safe='')}"
            if subresource:
                base += f"/{subresource}"
        return base

    def __str__(self) -> str:
        return self.name
