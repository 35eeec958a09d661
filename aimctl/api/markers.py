"""Schema markers: what a pydantic model says about its CRD schema beyond types and constraints.

Pydantic already knows types, defaults, ``min_length``/``ge``/``pattern`` and descriptions; the CRD
generator (:mod:`aimctl.api.crdgen`) reads those directly. Kubernetes-specific facts that pydantic has
no words for travel as markers:

* in ``Annotated[...]`` metadata of a field (they then apply to that field's schema node):
  :class:`CEL`, :class:`ListMap`, :class:`ListType`, :class:`Format`, :class:`PreserveUnknownFields`;
* as class variables of a model (they then apply to every node of that model type):
  ``crd_validations`` (a tuple of :class:`CEL`) and ``crd_map_type``.

Markers are inert frozen dataclasses: pydantic ignores unknown ``Annotated`` metadata, so validation
is unaffected; CEL rules are enforced by the apiserver only.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CEL", "Format", "ListMap", "ListType", "PreserveUnknownFields"]


@dataclass(frozen=True)
class CEL:
    """An ``x-kubernetes-validations`` entry.

    A rule that mentions ``oldSelf`` is a transition rule: the apiserver evaluates it on update only,
    and only when the old object had the field. ``field_path`` (relative, e.g. ``.metric``) makes the
    error name that field instead of the node carrying the rule.
    """

    rule: str
    message: str
    field_path: str | None = None
    reason: str | None = None

    def to_schema(self) -> dict[str, str]:
        out = {"rule": self.rule, "message": self.message}
        if self.field_path is not None:
            out["fieldPath"] = self.field_path
        if self.reason is not None:
            out["reason"] = self.reason
        return out


def immutable(field: str) -> CEL:
    """``self == oldSelf`` on a field: its value may not change once set."""
    return CEL(rule="self == oldSelf", message=f"{field} is immutable")


def presence_immutable(field: str) -> CEL:
    """On the parent of an optional immutable field: it may be neither added nor removed later.

    ``self == oldSelf`` on the field alone runs only when both old and new objects carry it, so on its
    own it lets a client set an unset field or drop a set one.
    """
    return CEL(
        rule=f"has(self.{field}) == has(oldSelf.{field})",
        message=f"{field} is immutable: it cannot be added or removed after creation",
        field_path=f".{field}",
    )


@dataclass(frozen=True)
class ListMap:
    """``x-kubernetes-list-type: map`` keyed by ``keys``: server-side apply merges items per key.

    Every key must be a required (or defaulted) scalar field of the item type.
    """

    keys: tuple[str, ...] = ("name",)


@dataclass(frozen=True)
class ListType:
    """``x-kubernetes-list-type`` other than map: ``atomic`` (replaced whole) or ``set``."""

    type: Literal["atomic", "set"] = "atomic"


@dataclass(frozen=True)
class Format:
    """OpenAPI ``format`` of a scalar (``int32``, ``int64``, ``date-time``)."""

    format: str


@dataclass(frozen=True)
class PreserveUnknownFields:
    """Free-form JSON object: ``type: object`` with ``x-kubernetes-preserve-unknown-fields: true``."""
