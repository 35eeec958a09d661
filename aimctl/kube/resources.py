"""The resource types the operator reads or writes: group, version, plural, kind and scope.

Why a table: informers, the client layer and RBAC address resources by plural and group; keeping the
table in one place means a typo cannot make one controller watch ``inferenceservice`` while another
applies ``inferenceservices``. The AIM kinds are listed in :data:`AIM_RESOURCES`.
"""

from __future__ import annotations

from aimctl.api.enums import API_GROUP, API_VERSION
from informers.resource import Resource

AIM_GROUP = API_GROUP
AIM_VERSION = API_VERSION


def _aim(kind: str, plural: str, namespaced: bool = True) -> Resource:
    return Resource(AIM_GROUP, AIM_VERSION, plural, kind, namespaced)


# AIM kinds (aim.silogen.ai/v1alpha1). Written out rather than read from the API's kind table
# (aimctl.api.kinds), which imports the pydantic models that `aimctl run` does without; a unit test
# (tests/unit/kube/test_events_resources.py) checks that both agree.
AIM_IMAGES = _aim("AIMImage", "aimimages")
AIM_CLUSTER_IMAGES = _aim("AIMClusterImage", "aimclusterimages", namespaced=False)
AIM_SERVICE_TEMPLATES = _aim("AIMServiceTemplate", "aimservicetemplates")
AIM_CLUSTER_SERVICE_TEMPLATES = _aim("AIMClusterServiceTemplate", "aimclusterservicetemplates", namespaced=False)
AIM_RUNTIME_CONFIGS = _aim("AIMRuntimeConfig", "aimruntimeconfigs")
AIM_CLUSTER_RUNTIME_CONFIGS = _aim("AIMClusterRuntimeConfig", "aimclusterruntimeconfigs", namespaced=False)
AIM_MODEL_CACHES = _aim("AIMModelCache", "aimmodelcaches")
AIM_TEMPLATE_CACHES = _aim("AIMTemplateCache", "aimtemplatecaches")
AIM_SERVICES = _aim("AIMService", "aimservices")

AIM_RESOURCES: tuple[Resource, ...] = (
    AIM_IMAGES,
    AIM_CLUSTER_IMAGES,
    AIM_SERVICE_TEMPLATES,
    AIM_CLUSTER_SERVICE_TEMPLATES,
    AIM_RUNTIME_CONFIGS,
    AIM_CLUSTER_RUNTIME_CONFIGS,
    AIM_MODEL_CACHES,
    AIM_TEMPLATE_CACHES,
    AIM_SERVICES,
)

# Built-in kinds.
NAMESPACES = Resource("", "v1", "namespaces", "Namespace", namespaced=False)
NODES = Resource("", "v1", "nodes", "Node", namespaced=False)
PODS = Resource("", "v1", "pods", "Pod")
SECRETS = Resource("", "v1", "secrets", "Secret")
CONFIG_MAPS = Resource("", "v1", "configmaps", "ConfigMap")
SERVICE_ACCOUNTS = Resource("", "v1", "serviceaccounts", "ServiceAccount")
PERSISTENT_VOLUME_CLAIMS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
POD_TEMPLATES = Resource("", "v1", "podtemplates", "PodTemplate")
JOBS = Resource("batch", "v1", "jobs", "Job")
STORAGE_CLASSES = Resource("storage.k8s.io", "v1", "storageclasses", "StorageClass", namespaced=False)
EVENTS = Resource("events.k8s.io", "v1", "events", "Event")
LEASES = Resource("coordination.k8s.io", "v1", "leases", "Lease")
CUSTOM_RESOURCE_DEFINITIONS = Resource(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", "CustomResourceDefinition", namespaced=False
)

# KServe and Gateway API.
SERVING_RUNTIMES = Resource("serving.kserve.io", "v1alpha1", "servingruntimes", "ServingRuntime")
CLUSTER_SERVING_RUNTIMES = Resource(
    "serving.kserve.io", "v1alpha1", "clusterservingruntimes", "ClusterServingRuntime", namespaced=False
)
INFERENCE_SERVICES = Resource("serving.kserve.io", "v1beta1", "inferenceservices", "InferenceService")
HTTP_ROUTES = Resource("gateway.networking.k8s.io", "v1", "httproutes", "HTTPRoute")

#: API groups the operator runs without (their informers stay empty until the CRDs are installed),
#: with the name users know them by (followed by "API" in messages).
OPTIONAL_APIS: dict[str, str] = {
    "serving.kserve.io": "KServe",
    "gateway.networking.k8s.io": "Gateway",
}

ALL_RESOURCES: tuple[Resource, ...] = (
    *AIM_RESOURCES,
    NAMESPACES,
    NODES,
    PODS,
    SECRETS,
    CONFIG_MAPS,
    SERVICE_ACCOUNTS,
    PERSISTENT_VOLUME_CLAIMS,
    POD_TEMPLATES,
    JOBS,
    STORAGE_CLASSES,
    EVENTS,
    LEASES,
    CUSTOM_RESOURCE_DEFINITIONS,
    SERVING_RUNTIMES,
    CLUSTER_SERVING_RUNTIMES,
    INFERENCE_SERVICES,
    HTTP_ROUTES,
)


def by_kind(kind: str, group: str | None = None) -> Resource:
    """Look a resource up by kind (and group, when a kind name exists in several groups)."""
    for r in ALL_RESOURCES:
        if r.kind == kind and (group is None or r.group == group):
            return r
    raise KeyError(kind)


def by_api_version_kind(api_version: str, kind: str) -> Resource:
    group, _, version = api_version.rpartition("/")
    for r in ALL_RESOURCES:
        if r.kind == kind and r.group == group and r.version == version:
            return r
    raise KeyError(f"{api_version} {kind}")
