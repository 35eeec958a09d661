"""Object metadata and status conditions (``meta/v1``): the parts every kind shares.

``ObjectMeta`` keeps unknown fields (``extra="allow"``) so that reading an object and writing it back
never drops metadata a newer apiserver added. In the CRD, ``metadata`` is just ``type: object``: the
apiserver validates it itself.

``Condition`` follows ``metav1.Condition``; condition lists are list-maps keyed by ``type`` so that
server-side apply merges per condition (see :data:`Conditions`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import ConfigDict, Field

from aimctl.api.base import APIModel, Int64, KubeEnum, Time
from aimctl.api.markers import ListMap

__all__ = [
    "Condition",
    "ConditionStatus",
    "Conditions",
    "ListMeta",
    "ObjectMeta",
    "OwnerReference",
]


class OwnerReference(APIModel):
    """OwnerReference contains enough information to let you identify an owning object."""

    api_version: str
    """API version of the referent."""
    kind: str
    """Kind of the referent."""
    name: str
    """Name of the referent."""
    uid: str
    """UID of the referent."""
    controller: bool | None = None
    """If true, this reference points to the managing controller."""
    block_owner_deletion: bool | None = None
    """If true, the owner cannot be deleted from the key-value store until this reference is removed."""


class ObjectMeta(APIModel):
    """Standard object metadata. Fields this model does not name are kept as they are."""

    model_config = ConfigDict(extra="allow")

    name: str | None = None
    """Name must be unique within a namespace."""
    generate_name: str | None = None
    """Optional prefix the server uses to generate a unique name when name is not provided."""
    namespace: str | None = None
    """Namespace defines the space within which each name must be unique."""
    uid: str | None = None
    """UID is the unique in time and space value for this object, set by the server."""
    resource_version: str | None = None
    """An opaque value that represents the internal version of this object."""
    generation: Int64 | None = None
    """A sequence number representing a specific generation of the desired state."""
    creation_timestamp: Time | None = None
    """The time this object was created, set by the server."""
    deletion_timestamp: Time | None = None
    """The time after which this resource will be deleted, set by the server."""
    deletion_grace_period_seconds: Int64 | None = None
    """Number of seconds allowed for this object to gracefully terminate."""
    labels: dict[str, str] | None = None
    """Map of string keys and values used to organize and categorize objects."""
    annotations: dict[str, str] | None = None
    """Unstructured key value map for arbitrary metadata."""
    owner_references: list[OwnerReference] | None = None
    """Objects depended on by this object."""
    finalizers: list[str] | None = None
    """Identifiers that must be removed before the object is deleted from the registry."""
    managed_fields: list[dict[str, Any]] | None = None
    """Server-side apply bookkeeping: which manager owns which fields."""


class ListMeta(APIModel):
    """Metadata of a list response."""

    model_config = ConfigDict(extra="allow")

    resource_version: str | None = None
    """The resource version the list was served at."""
    continue_: str | None = Field(default=None, alias="continue")
    """Token to request the next page of a chunked list."""
    remaining_item_count: Int64 | None = None
    """Number of items after this page, when the server can compute it."""


class ConditionStatus(KubeEnum):
    """Status of a condition."""

    TRUE = "True"
    FALSE = "False"
    UNKNOWN = "Unknown"


class Condition(APIModel):
    """Condition contains details for one aspect of the current state of this API Resource."""

    type: Annotated[
        str,
        Field(
            max_length=316,
            pattern=r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$",
        ),
    ]
    """type of condition in CamelCase or in foo.example.com/CamelCase."""
    status: ConditionStatus
    """status of the condition, one of True, False, Unknown."""
    observed_generation: Annotated[Int64, Field(ge=0)] | None = None
    """observedGeneration represents the .metadata.generation that the condition was set based upon.
    For instance, if .metadata.generation is currently 12, but the .status.conditions[x].observedGeneration
    is 9, the condition is out of date with respect to the current state of the instance."""
    last_transition_time: Time
    """lastTransitionTime is the last time the condition transitioned from one status to another.
    This should be when the underlying condition changed. If that is not known, then using the time
    when the API field changed is acceptable."""
    reason: Annotated[
        str,
        Field(min_length=1, max_length=1024, pattern=r"^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"),
    ]
    """reason contains a programmatic identifier indicating the reason for the condition's last
    transition. Producers of specific condition types may define expected values and meanings for this
    field, and whether the values are considered a guaranteed API. The value should be a CamelCase
    string. This field may not be empty."""
    message: Annotated[str, Field(max_length=32768)]
    """message is a human readable message indicating details about the transition. This may be an
    empty string."""


#: A condition list: a list-map keyed by ``type``.
Conditions = Annotated[list[Condition], ListMap(("type",))]
