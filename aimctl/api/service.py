"""AIMService: a KServe inference service for one AIM image and template.

``overrides`` replace the template's metric, precision and GPU selector; the service then runs on a
derived template built from those values. They are immutable: each field is ``self == oldSelf``, a field
cannot be added or removed, and ``overrides`` as a whole cannot be added or removed after creation
(changing them would swap the runtime under a running service; create a new service instead).

The derived template depends on the base template and the overrides only (its name hashes the
overrides): services with the same overrides share it, and it is deleted about a minute after no service
uses it any more. Everything else of the service — ``env``, ``imagePullSecrets``, ``resources``,
``replicas``, ``cacheModel``, ``runtimeConfigName`` — goes on the service's own InferenceService, rebuilt
on every change, so editing it always takes effect (also on a shared derived template).

The runtime container's env: the service's ``env`` over the template's over what the operator prepared —
``AIM_METRIC``, ``AIM_PRECISION`` (the template's, else the discovered profile's), ``AIM_ENGINE_ARGS``
(the discovered engine arguments as JSON; an ``AIM_ENGINE_ARGS`` JSON object in the service's or
template's env is deep-merged into them) and ``AIM_CACHE_PATH`` (``/workspace/cache``); each cached
model is mounted at ``<AIM_CACHE_PATH>/<model id>``.

A predictor that cannot run shows in the conditions (``Failure``, ``Ready``, ``RuntimeReady``): KServe's
failed model load (``RuntimeFailed``), a predictor pod no node can place (``PredictorUnschedulable``),
one that cannot pull its image (``PredictorImagePullFailed``); a Ready InferenceService runs, whatever
failure KServe reported before.
"""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

from pydantic import Field

from aimctl.api.base import APIModel, Int32, Int64
from aimctl.api.core import EnvList, PullSecretList, ResourceRequirements
from aimctl.api.enums import AIMServiceStatusEnum
from aimctl.api.markers import CEL, presence_immutable
from aimctl.api.meta import Conditions
from aimctl.api.references import AIMResolvedReference, AIMResolvedRuntimeConfig, AIMServiceResolvedTemplate
from aimctl.api.resource import AIMResource, AIMResourceList
from aimctl.api.routing import AIMServiceRouting, AIMServiceRoutingStatus
from aimctl.api.runtime import AIMRuntimeParameters

__all__ = [
    "AIMService",
    "AIMServiceList",
    "AIMServiceOverrides",
    "AIMServiceSpec",
    "AIMServiceStatus",
    "AIMServiceStatusEnum",
]


class AIMServiceOverrides(AIMRuntimeParameters):
    """AIMServiceOverrides allows overriding template parameters at the service level. All fields are
    optional. When specified, they override the corresponding values from the referenced
    AIMServiceTemplate."""


class AIMServiceSpec(APIModel):
    """AIMServiceSpec defines the desired state of AIMService. Binds a canonical model to an
    AIMServiceTemplate and configures replicas, caching behavior, and optional overrides. The template
    governs the base runtime selection knobs, while the overrides field allows service-specific
    customization."""

    crd_validations: ClassVar[tuple[CEL, ...]] = (presence_immutable("overrides"),)

    aim_image_name: Annotated[str, Field(min_length=1)]
    """AIMImageName is the canonical model name (including version/revision) to deploy. Expected to
    match the spec.metadata.name of an AIMImage. Example: meta-llama-3-8b-1-1-20240915."""
    template_ref: str | None = None
    """TemplateRef is the name of the AIMServiceTemplate or AIMClusterServiceTemplate to use. The
    template selects the runtime profile and GPU parameters.

    When empty, the image's defaultServiceTemplate is used. When the image has none either, a template
    is chosen automatically among the Available templates of the image (namespace, then cluster):
    only those whose GPU model a schedulable node offers with enough allocatable GPUs for one replica
    (node capacity, running pods are not subtracted), and that the overrides can apply to (a template
    setting another metric, precision or GPU model than an override is skipped; the derived template is
    built on the chosen one). The first in this order wins: most overrides matched exactly, namespaced
    before cluster, newest GPU (MI355X, MI350X, MI325X, MI308X, MI300X, MI300A, MI250X, MI210, MI100,
    others, none), latency before throughput, precision fp4, int4, fp8, int8, fp16, bf16, fp32, fewer
    GPUs, name. The choice is recorded in status.resolvedTemplate, explained in the Resolved condition
    (reason TemplateChosen) and announced by a TemplateChosen event. It is kept while the template
    stays usable (exists, not Failed or Degraded), even when a better one becomes Available. With no
    candidate the service reports NoTemplateCandidate with each template considered and why it was
    rejected."""
    cache_model: bool = False
    """CacheModel requests that model sources be cached when starting the service if the template
    itself does not warm the cache. When warmCache: false on the template, this setting ensures caching
    is performed before the service becomes ready."""
    replicas: Int32 = 1
    """Replicas overrides the number of replicas for this service. Other runtime settings remain
    governed by the template unless overridden."""
    runtime_config_name: str = "default"
    """RuntimeConfigName references the AIM runtime configuration (by name) to use for this service."""
    resources: ResourceRequirements | None = None
    """Resources overrides the container resource requirements for this service. When specified, these
    values take precedence over the template and image defaults."""
    overrides: AIMServiceOverrides | None = None
    """Overrides allows overriding specific template parameters for this service. When specified, these
    values take precedence over the template values."""
    env: EnvList | None = None
    """Env specifies environment variables to use for authentication when downloading models. These
    variables are used for authentication with model registries (e.g., HuggingFace tokens)."""
    image_pull_secrets: PullSecretList | None = None
    """ImagePullSecrets references secrets for pulling AIM container images."""
    routing: AIMServiceRouting | None = None
    """Routing enables HTTP routing through Gateway API for this service."""


class AIMServiceStatus(APIModel):
    """AIMServiceStatus defines the observed state of AIMService."""

    observed_generation: Int64 | None = None
    """ObservedGeneration is the most recent generation observed by the controller."""
    conditions: Conditions | None = None
    """Conditions represent the latest observations of template state."""
    resolved_runtime_config: AIMResolvedRuntimeConfig | None = None
    """ResolvedRuntimeConfig captures metadata about the runtime config that was resolved."""
    resolved_image: AIMResolvedReference | None = None
    """ResolvedImage captures metadata about the image that was resolved."""
    status: AIMServiceStatusEnum = AIMServiceStatusEnum.PENDING
    """Status represents the current high-level status of the service lifecycle. Values: Pending,
    Starting, Running, Failed, Degraded."""
    routing: AIMServiceRoutingStatus | None = None
    """Routing surfaces information about the configured HTTP routing, when enabled."""
    resolved_template: AIMServiceResolvedTemplate | None = None
    """ResolvedTemplate captures metadata about the template that satisfied the reference (named by
    templateRef, by the image's defaultServiceTemplate, or chosen automatically: see templateRef)."""


class AIMService(AIMResource):
    """AIMService manages a KServe-based AIM inference service for the selected model and template."""

    kind: Literal["AIMService"] = "AIMService"
    """Kind is a string value representing the REST resource this object represents."""
    spec: AIMServiceSpec
    """AIMServiceSpec defines the desired state of AIMService."""
    status: AIMServiceStatus | None = None
    """AIMServiceStatus defines the observed state of AIMService."""


class AIMServiceList(AIMResourceList):
    """AIMServiceList contains a list of AIMService."""

    kind: Literal["AIMServiceList"] = "AIMServiceList"
    items: list[AIMService]
