"""The KServe InferenceService of an AIMService (pure).

``serving.kserve.io/v1beta1`` InferenceService named and namespaced like the service (a name KServe
cannot serve is shortened, :func:`aimctl.naming.inference_service_name`, and the service's name is then
in the label and annotation ``aim.silogen.ai/service``), controlled by it
(``docs/original-behaviour.md``, with fixes 3, 13 and 16):

* **labels**: every service label, then ``app.kubernetes.io/name=aim-service``,
  ``app.kubernetes.io/component=inference-service``, ``app.kubernetes.io/managed-by=aim-controller``,
  ``aim.silogen.ai/template``, ``aim.silogen.ai/model-id``, ``aim.silogen.ai/aim-image`` and, when the
  template's discovered profile has them, ``aim.silogen.ai/template.metric`` and ``.precision``. Every
  value aimctl writes is sanitised (the original left the template name raw);
* **annotations**: the service's, verbatim;
* **predictor**: ``minReplicas = maxReplicas = spec.replicas``; pull secrets of the service, then of the
  template, then of the runtime config (first occurrence wins); the runtime config's service account;
  required node affinity for the template's GPU model (when the template asks for GPUs; built by
  :func:`aimctl.gpu.node_selector_terms` from the same label rule as the availability check); the
  model caches' PVCs as volumes;
* **model**: format ``aim``/``1``, ``runtime`` = the template name (KServe resolves the ServingRuntime
  or ClusterServingRuntime of that name), the runtime env (:mod:`aimctl.builders.runtime_env`: the
  service's env over the template's over ``AIM_METRIC``, ``AIM_PRECISION``, ``AIM_PROFILE_ID``,
  ``AIM_ENGINE_ARGS`` and ``AIM_CACHE_PATH`` over the runtime config's), each model cache mounted at
  ``<AIM_CACHE_PATH>/<model id>`` (the model source's name, e.g. ``meta-llama/Llama-3.1-8B``: where
  the runtime looks it up), and resources by whole-object precedence (service, template, image) with
  ``amd.com/gpu`` = the profile's GPU count added to requests and limits where absent.

Everything here is built from the service on every reconcile: an edit of the service's ``env``,
``imagePullSecrets``, ``resources``, ``replicas`` or ``cacheModel`` reaches the InferenceService even
when the template is a derived one shared with other services (it carries nothing of one service).

Empty lists and maps are left out, so the manifest compares equal to what the apiserver stores and a
steady state makes no writes.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aimctl import labels
from aimctl.builders import model_name
from aimctl.builders import pull_secrets as pull_secrets
from aimctl.builders.ownership import controller_reference
from aimctl.builders.runtime_env import cache_mount_path, cache_root, runtime_env
from aimctl.gpu import node_selector_terms
from aimctl.kube.objects import annotations_of, dig_list, dig_map, dig_str, labels_of, spec_of
from aimctl.naming import label_value

API_VERSION = "serving.kserve.io/v1beta1"
KIND = "InferenceService"
GPU_RESOURCE = "amd.com/gpu"
MODEL_FORMAT = {"name": "aim", "version": "1"}


@dataclass(frozen=True)
class CacheMount:
    """One model cache PVC mounted into the predictor, for the model ``model_id`` (mounted at
    ``<AIM_CACHE_PATH>/<model_id>``)."""

    volume: str
    claim: str
    model_id: str


@dataclass(frozen=True)
class InferenceServiceInputs:
    """What the service's observation resolved, as the builder needs it."""

    template_name: str
    template_spec: Mapping[str, Any]
    template_status: Mapping[str, Any]
    image_resources: Mapping[str, Any] | None = None
    #: Pull secret names of the runtime config (namespaced configs only).
    runtime_config_pull_secrets: Sequence[str] = ()
    service_account: str | None = None
    #: ``nodeSelectorTerms`` for the template's GPU model (empty: no affinity).
    node_selector_terms: Sequence[Mapping[str, Any]] = ()
    caches: Sequence[CacheMount] = field(default_factory=tuple)
    #: Env of the runtime config (lowest precedence; the API has no such field yet).
    runtime_config_env: Sequence[Mapping[str, Any]] = ()
    #: The InferenceService's name (:func:`aimctl.naming.inference_service_name`); "" = the service's.
    name: str = ""


def model_id(template_spec: Mapping[str, Any], template_status: Mapping[str, Any]) -> str:
    """The first model source's name (with a non-empty URI), else the template's ``aimImageName``."""
    return model_name(dig_list(template_status, "modelSources"), dig_str(template_spec, "aimImageName"))


def gpu_count(template_status: Mapping[str, Any]) -> int:
    metadata = dig_map(template_status, "profile", "metadata")
    try:
        return int(metadata.get("gpu_count") or 0)
    except (TypeError, ValueError):
        return 0


def service_labels(
    service: Mapping[str, Any], template_name: str, template_spec: Mapping[str, Any], template_status: Mapping[str, Any]
) -> dict[str, str]:
    """The labels of the InferenceService (see the module docstring)."""
    out = {str(k): label_value(str(v)) for k, v in labels_of(service).items()}
    out.update(
        {
            labels.NAME: labels.NAME_SERVICE,
            labels.COMPONENT: labels.COMPONENT_SERVICE,
            labels.MANAGED_BY: labels.MANAGER_AIM,
            labels.TEMPLATE: label_value(template_name),
            labels.MODEL_ID: label_value(model_id(template_spec, template_status)),
            labels.AIM_IMAGE: label_value(str(template_spec.get("aimImageName") or "")),
        }
    )
    metadata = dig_map(template_status, "profile", "metadata")
    if metadata.get("metric"):
        out[labels.TEMPLATE_METRIC] = label_value(str(metadata["metric"]))
    if metadata.get("precision"):
        out[labels.TEMPLATE_PRECISION] = label_value(str(metadata["precision"]))
    return out


def resources(
    service_spec: Mapping[str, Any],
    template_spec: Mapping[str, Any],
    image_resources: Mapping[str, Any] | None,
    gpus: int,
) -> dict[str, Any]:
    """Whole-object precedence (service, template, image), then ``amd.com/gpu`` where absent."""
    chosen = service_spec.get("resources") or template_spec.get("resources") or image_resources or {}
    out: dict[str, Any] = copy.deepcopy(dict(chosen))
    if gpus > 0:
        for part in ("requests", "limits"):
            section = dict(dig_map(out, part))
            section.setdefault(GPU_RESOURCE, str(gpus))
            out[part] = section
    return {k: v for k, v in out.items() if v}


def build_inference_service(service: Mapping[str, Any], inputs: InferenceServiceInputs) -> dict[str, Any]:
    """The desired InferenceService of ``service`` (raw AIMService, with ``metadata.uid``)."""
    meta = service["metadata"]
    spec = spec_of(service)
    replicas = int(spec.get("replicas", 1))
    model: dict[str, Any] = {
        "modelFormat": dict(MODEL_FORMAT),
        "runtime": inputs.template_name,
    }
    env = runtime_env(
        dig_list(spec, "env"),
        dig_list(inputs.template_spec, "env"),
        inputs.template_spec,
        dig_map(inputs.template_status, "profile"),
        inputs.runtime_config_env,
    )
    if env:
        model["env"] = env
    res = resources(spec, inputs.template_spec, inputs.image_resources, gpu_count(inputs.template_status))
    if res:
        model["resources"] = res
    if inputs.caches:
        root = cache_root(env)
        model["volumeMounts"] = [
            {"name": c.volume, "mountPath": cache_mount_path(root, c.model_id)} for c in inputs.caches
        ]

    predictor: dict[str, Any] = {"minReplicas": replicas, "maxReplicas": replicas}
    secrets = pull_secrets(
        dig_list(spec, "imagePullSecrets"),
        dig_list(inputs.template_spec, "imagePullSecrets"),
        inputs.runtime_config_pull_secrets,
    )
    if secrets:
        predictor["imagePullSecrets"] = secrets
    if inputs.service_account:
        predictor["serviceAccountName"] = inputs.service_account
    if inputs.node_selector_terms:
        predictor["affinity"] = {
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [copy.deepcopy(dict(t)) for t in inputs.node_selector_terms]
                }
            }
        }
    if inputs.caches:
        predictor["volumes"] = [
            {"name": c.volume, "persistentVolumeClaim": {"claimName": c.claim}} for c in inputs.caches
        ]
    predictor["model"] = model

    name = inputs.name or str(meta["name"])
    metadata: dict[str, Any] = {
        "name": name,
        "namespace": meta["namespace"],
        "labels": service_labels(service, inputs.template_name, inputs.template_spec, inputs.template_status),
        "ownerReferences": [controller_reference(service)],
    }
    annotations = dict(annotations_of(service))
    if name != meta["name"]:
        # A shortened name: the service's full name in a label (sanitised, at most 63 characters) to
        # select by, and verbatim in an annotation.
        metadata["labels"][labels.SERVICE] = label_value(str(meta["name"]))
        annotations[labels.SERVICE] = str(meta["name"])
    if annotations:
        metadata["annotations"] = annotations
    return {"apiVersion": API_VERSION, "kind": KIND, "metadata": metadata, "spec": {"predictor": predictor}}


def gpu_node_selector_terms(model: str, nodes: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """Required node affinity for GPU ``model``: :func:`aimctl.gpu.node_selector_terms`, which selects
    exactly the ``nodes`` whose labels the availability check counts (one label rule for both).
    ``[]`` for an empty model."""
    return node_selector_terms(model, nodes)


def cache_mounts(caches: Sequence[tuple[str, str]]) -> list[CacheMount]:
    """Mounts for ``(model id, PVC name)`` pairs: volumes ``model-cache-<i>``, each mounted at
    ``<AIM_CACHE_PATH>/<model id>`` by :func:`build_inference_service`."""
    return [CacheMount(f"model-cache-{i}", claim, model) for i, (model, claim) in enumerate(caches)]
