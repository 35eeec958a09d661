"""The ``core/v1`` types AIM specs embed: environment variables, resource requirements, references.

They mirror the Kubernetes schemas, with two deliberate tightenings that the pod validation of the
apiserver would impose later anyway (so a bad value is refused when the AIM object is written, not
when the operator creates a pod from it):

* ``LocalObjectReference.name`` and the ``name`` of config-map / secret key selectors are required
  (Kubernetes marks them optional with default ``""``, then rejects the empty name on pods). Being
  required also lets ``imagePullSecrets`` be a list-map keyed by ``name``.
* ``EnvVar`` lists are list-maps keyed by ``name`` (see :data:`EnvList`).

Resource quantities use :class:`aimctl.api.quantity.Quantity` and dump canonically.
"""

from __future__ import annotations

from typing import Annotated, ClassVar

from aimctl.api.base import APIModel
from aimctl.api.markers import ListMap
from aimctl.api.quantity import Quantity

__all__ = [
    "ConfigMapKeySelector",
    "EnvList",
    "EnvVar",
    "EnvVarSource",
    "LocalObjectReference",
    "ObjectFieldSelector",
    "PullSecretList",
    "ResourceClaim",
    "ResourceFieldSelector",
    "ResourceList",
    "ResourceRequirements",
    "SecretKeySelector",
]


class LocalObjectReference(APIModel):
    """LocalObjectReference contains enough information to let you locate the referenced object
    inside the same namespace."""

    crd_map_type: ClassVar[str | None] = "atomic"

    name: str
    """Name of the referent."""


class ConfigMapKeySelector(APIModel):
    """Selects a key from a ConfigMap."""

    crd_map_type: ClassVar[str | None] = "atomic"

    name: str
    """Name of the referent."""
    key: str
    """The key to select."""
    optional: bool | None = None
    """Specify whether the ConfigMap or its key must be defined."""


class SecretKeySelector(APIModel):
    """SecretKeySelector selects a key of a Secret."""

    crd_map_type: ClassVar[str | None] = "atomic"

    name: str
    """Name of the referent."""
    key: str
    """The key of the secret to select from. Must be a valid secret key."""
    optional: bool | None = None
    """Specify whether the Secret or its key must be defined."""


class ObjectFieldSelector(APIModel):
    """ObjectFieldSelector selects an APIVersioned field of an object."""

    crd_map_type: ClassVar[str | None] = "atomic"

    api_version: str | None = None
    """Version of the schema the FieldPath is written in terms of, defaults to "v1"."""
    field_path: str
    """Path of the field to select in the specified API version."""


class ResourceFieldSelector(APIModel):
    """ResourceFieldSelector represents container resources (cpu, memory) and their output format."""

    crd_map_type: ClassVar[str | None] = "atomic"

    container_name: str | None = None
    """Container name: required for volumes, optional for env vars."""
    divisor: Quantity | None = None
    """Specifies the output format of the exposed resources, defaults to "1"."""
    resource: str
    """Required: resource to select."""


class EnvVarSource(APIModel):
    """EnvVarSource represents a source for the value of an EnvVar."""

    config_map_key_ref: ConfigMapKeySelector | None = None
    """Selects a key of a ConfigMap."""
    field_ref: ObjectFieldSelector | None = None
    """Selects a field of the pod: supports metadata.name, metadata.namespace, `metadata.labels['<KEY>']`,
    `metadata.annotations['<KEY>']`, spec.nodeName, spec.serviceAccountName, status.hostIP, status.podIP,
    status.podIPs."""
    resource_field_ref: ResourceFieldSelector | None = None
    """Selects a resource of the container: only resources limits and requests (limits.cpu,
    limits.memory, limits.ephemeral-storage, requests.cpu, requests.memory and
    requests.ephemeral-storage) are currently supported."""
    secret_key_ref: SecretKeySelector | None = None
    """Selects a key of a secret in the pod's namespace."""


class EnvVar(APIModel):
    """EnvVar represents an environment variable present in a Container."""

    name: str
    """Name of the environment variable."""
    value: str | None = None
    """Variable references $(VAR_NAME) are expanded using the previously defined environment variables
    in the container and any service environment variables. Defaults to ""."""
    value_from: EnvVarSource | None = None
    """Source for the environment variable's value. Cannot be used if value is not empty."""


class ResourceClaim(APIModel):
    """ResourceClaim references one entry in PodSpec.ResourceClaims."""

    name: str
    """Name must match the name of one entry in pod.spec.resourceClaims of the Pod where this field
    is used. It makes that resource available inside a container."""
    request: str | None = None
    """Request is the name chosen for a request in the referenced claim. If empty, everything from the
    claim is made available, otherwise only the result of this request."""


#: Resource name (``cpu``, ``memory``, ``amd.com/gpu``) to quantity.
ResourceList = dict[str, Quantity]


class ResourceRequirements(APIModel):
    """ResourceRequirements describes the compute resource requirements."""

    claims: Annotated[list[ResourceClaim], ListMap(("name",))] | None = None
    """Claims lists the names of resources, defined in spec.resourceClaims, that are used by this
    container."""
    limits: ResourceList | None = None
    """Limits describes the maximum amount of compute resources allowed."""
    requests: ResourceList | None = None
    """Requests describes the minimum amount of compute resources required. If Requests is omitted for
    a container, it defaults to Limits if that is explicitly specified, otherwise to an
    implementation-defined value. Requests cannot exceed Limits."""


#: An environment-variable list: a list-map keyed by ``name``.
EnvList = Annotated[list[EnvVar], ListMap(("name",))]
#: An image-pull-secret list: a list-map keyed by ``name``.
PullSecretList = Annotated[list[LocalObjectReference], ListMap(("name",))]
