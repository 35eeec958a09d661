"""What the AIM controllers share: the operator namespace, index functions with fixed names, and
event-to-key mappers.

Index functions are module-level objects registered under fixed names, so two controllers adding the
same index to a shared store do not conflict (a store accepts the same function twice under one name,
and refuses a different one).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from aimctl import labels
from aimctl.api.enums import GROUP_VERSION
from aimctl.kube.apply import Applier
from aimctl.kube.events import EventRecorder

# Re-exported: the controllers' object accessors (one module, see :mod:`aimctl.kube.objects`).
from aimctl.kube.objects import conditions_of, controller_ref, get_path, json_annotation, labels_of
from aimctl.kube.objects import name_of as name_of
from aimctl.kube.objects import namespace_of as namespace_of
from aimctl.kube.status import StatusWriter
from informers.handlers import InformerEvent, KeyMapper
from informers.indexers import by_field, by_label
from informers.store import Obj
from informers.transform import slim
from statemachines.template import profile_id_from_memory

# -- the operator namespace -------------------------------------------------------------------------


def operator_namespace() -> str:
    """``$AIM_OPERATOR_NAMESPACE``, else ``aim-system``: where cluster-scoped work runs."""
    return os.environ.get(labels.OPERATOR_NAMESPACE_ENV) or labels.DEFAULT_OPERATOR_NAMESPACE


# -- index names and functions ----------------------------------------------------------------------

#: Templates by ``namespace/runtimeConfigName`` (namespaced templates) or ``runtimeConfigName``.
BY_RUNTIME_CONFIG = "aim:runtime-config"
#: Templates by ``runtimeConfigName`` regardless of namespace (a cluster config serves every namespace).
BY_RUNTIME_CONFIG_ANY_NS = "aim:runtime-config-any-ns"
#: Templates by ``namespace/aimImageName`` (namespaced templates) or ``aimImageName``.
BY_IMAGE_NAME = "aim:image-name"
#: Templates by ``aimImageName`` regardless of namespace (a cluster image serves every namespace).
BY_IMAGE_NAME_ANY_NS = "aim:image-name-any-ns"
#: Templates by the upper-cased ``gpuSelector.model`` (for node events).
BY_GPU_MODEL = "aim:gpu-model"
#: Pods by ``namespace/job-name`` label.
BY_JOB_NAME = "aim:job-name"
#: Discovery Jobs that are not finished, under the single value ``active``.
ACTIVE_DISCOVERY = "aim:active-discovery"
#: Runtime configs by ``namespace/secret`` for each image pull secret they name.
BY_PULL_SECRET = "aim:pull-secret"
#: Runtime configs by ``defaultStorageClassName``.
BY_STORAGE_CLASS = "aim:storage-class"

index_runtime_config = by_field("spec.runtimeConfigName")
index_runtime_config_any_ns = by_field("spec.runtimeConfigName", namespaced=False)
index_image_name = by_field("spec.aimImageName")
index_image_name_any_ns = by_field("spec.aimImageName", namespaced=False)
index_gpu_model = by_field("spec.gpuSelector.model", namespaced=False, transform=lambda v: str(v).upper())
index_job_name = by_label(labels.JOB_NAME)
index_pull_secret = by_field("spec.imagePullSecrets.*.name")
index_storage_class = by_field("spec.defaultStorageClassName", namespaced=False)


def is_discovery_job(obj: Obj) -> bool:
    lab = labels_of(obj)
    return lab.get(labels.COMPONENT) == labels.COMPONENT_DISCOVERY and lab.get(labels.MANAGED_BY) == labels.MANAGER_AIM


def job_finished(obj: Obj) -> str | None:
    """``"Complete"`` or ``"Failed"`` once a Job has that condition set to True, else ``None``."""
    for c in conditions_of(obj):
        if c.get("type") in ("Complete", "Failed") and c.get("status") == "True":
            return str(c["type"])
    return None


def index_active_discovery(obj: Obj) -> list[str]:
    return ["active"] if is_discovery_job(obj) and job_finished(obj) is None else []


# -- mappers -----------------------------------------------------------------------------------------


def owner_key(kind: str, cluster_scoped: bool) -> KeyMapper:
    """Map a child's event to its controller owner of ``kind`` (group ``aim.silogen.ai``).

    Unlike :func:`informers.handlers.controller_owner_key`, this handles a namespaced child of a
    cluster-scoped owner (a cluster template's discovery Job in the operator namespace).
    """

    def mapper(event: InformerEvent) -> list[str]:
        return [k for k in [owner_key_of(event.obj, kind, cluster_scoped)] if k]

    return mapper


def owner_key_of(obj: Obj, kind: str, cluster_scoped: bool) -> str | None:
    ref = controller_ref(obj)
    if ref is None or ref.get("kind") != kind or ref.get("apiVersion") != GROUP_VERSION:
        return None
    ns = namespace_of(obj)
    return str(ref["name"]) if cluster_scoped or not ns else f"{ns}/{ref['name']}"


def changed(event: InformerEvent, *paths: str) -> bool:
    """True unless the event is a MODIFIED whose old and new objects agree on every dotted path."""
    if event.old is None:
        return True
    return any(get_path(event.old, p) != get_path(event.obj, p) for p in paths)


def spec_changed(event: InformerEvent) -> bool:
    """The spec or the uid (a deleted and recreated object) changed, or the event is not a MODIFIED."""
    return changed(event, "spec", "metadata.uid")


def event_key(event: InformerEvent) -> list[str]:
    """The event's own key (for :func:`informers.handlers.indexed_keys`: objects indexed by it)."""
    return [event.key]


def event_name(event: InformerEvent) -> list[str]:
    """The event object's name (for cluster-scoped objects and indexes of plain names)."""
    return [name_of(event.obj)]


def event_ns_name(event: InformerEvent) -> list[str]:
    """``namespace/name`` of the event object."""
    return [f"{namespace_of(event.obj)}/{name_of(event.obj)}"]


def chain(*mappers: KeyMapper) -> KeyMapper:
    def mapper(event: InformerEvent) -> list[str]:
        keys: list[str] = []
        for m in mappers:
            keys.extend(m(event))
        return list(dict.fromkeys(keys))

    return mapper


def when(predicate: Callable[[InformerEvent], bool], mapper: KeyMapper) -> KeyMapper:
    def filtered(event: InformerEvent) -> Iterable[str]:
        return mapper(event) if predicate(event) else []

    return filtered


# -- construction -------------------------------------------------------------------------------------


def io_parts(client: Any, name: str) -> tuple[Applier, StatusWriter, EventRecorder]:
    """The applier, status writer and event recorder of a controller (one field manager each)."""
    return Applier(client, name), StatusWriter(client, name), EventRecorder(client, name)


#: The Pod informer's transform: what discovery needs (phase, container states) and what a service
#: reports of its predictor pods (their conditions: ``PodScheduled`` says why one is not placed).
POD_PROJECTION = slim(["status.phase", "status.conditions", "status.containerStatuses", "status.initContainerStatuses"])


def discovered_profile_id(template: Mapping[str, Any]) -> str:
    """The id of the profile a template's discovery found, from its memory annotation
    (:data:`aimctl.labels.DISCOVERY_STATE`, written by the template controller); ``""`` when there is
    none or it is unreadable (then the runtime picks its own profile, as before discovery wrote it)."""
    return profile_id_from_memory(json_annotation(template, labels.DISCOVERY_STATE))
