"""The KServe ServingRuntime (namespaced template) or ClusterServingRuntime (cluster template) of an
Available template (``docs/original-behaviour.md``), named after the template.

Kept: labels, controller owner reference, ``storageHelper.disabled``, model format ``aim``/``1``, one
``kserve-container`` with the image, ``AIM_MODEL_ID`` (the first model source with a URI, else the
``aimImageName``) and ``VLLM_ENABLE_METRICS=true``, ``amd.com/gpu`` requests and limits equal to the
profile's ``gpu_count`` (also when it is 0), port 8000 ``http``, and an 8Gi in-memory ``/dev/shm``.

Changed: ``imagePullSecrets`` are the template's followed by the runtime config's (fix 16). Added: what
the template prepared for the runtime, :func:`aimctl.builders.runtime_env.prepared_env` (``AIM_METRIC``,
``AIM_PRECISION``, ``AIM_PROFILE_ID``, ``AIM_ENGINE_ARGS``, ``AIM_CACHE_PATH``) after the two above. A
service's InferenceService repeats them merged with the service's and template's env (KServe lets the
InferenceService's container env win by name), so a runtime used without an InferenceService of
aimctl's still gets the template's settings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimctl import labels as L
from aimctl.builders import model_name, owner_reference, pull_secrets, secret_names
from aimctl.builders.runtime_env import prepared_env
from aimctl.kube.objects import dig_map, dig_str, meta_of, spec_of
from aimctl.naming import label_value

CONTAINER = "kserve-container"
GPU_RESOURCE = "amd.com/gpu"
SHM_SIZE = "8Gi"
PORT = 8000


def model_id(template: Mapping[str, Any], model_sources: Sequence[Mapping[str, Any]]) -> str:
    return model_name(model_sources, dig_str(template, "spec", "aimImageName"))


def build_serving_runtime(
    template: Mapping[str, Any],
    template_kind: str,
    image_uri: str,
    gpu_count: int,
    model_sources: Sequence[Mapping[str, Any]],
    runtime_pull_secrets: Sequence[str] = (),
    profile: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The runtime of ``template``; ``profile`` is the discovered profile (default: the template's
    ``status.profile``)."""
    meta, spec = meta_of(template), spec_of(template)
    if profile is None:
        profile = dig_map(template, "status", "profile")
    namespaced = template_kind == "AIMServiceTemplate"
    metadata: dict[str, Any] = {
        "name": meta["name"],
        "labels": {
            L.NAME: L.NAME_RUNTIME,
            L.COMPONENT: L.COMPONENT_RUNTIME,
            L.MANAGED_BY: L.MANAGER_AIM,
            L.MODEL_ID: label_value(str(spec.get("aimImageName") or "")),
        },
        "ownerReferences": [owner_reference(template, template_kind)],
    }
    if namespaced:
        metadata["namespace"] = meta["namespace"]
    gpus = str(max(gpu_count, 0))
    body: dict[str, Any] = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime" if namespaced else "ClusterServingRuntime",
        "metadata": metadata,
        "spec": {
            "storageHelper": {"disabled": True},
            "supportedModelFormats": [{"name": "aim", "version": "1"}],
            "containers": [
                {
                    "name": CONTAINER,
                    "image": image_uri,
                    "env": [
                        {"name": "AIM_MODEL_ID", "value": model_id(template, model_sources)},
                        {"name": "VLLM_ENABLE_METRICS", "value": "true"},
                        *prepared_env(spec, profile),
                    ],
                    "resources": {"requests": {GPU_RESOURCE: gpus}, "limits": {GPU_RESOURCE: gpus}},
                    "ports": [{"name": "http", "containerPort": PORT, "protocol": "TCP"}],
                    "volumeMounts": [{"name": "dshm", "mountPath": "/dev/shm"}],
                }
            ],
            "volumes": [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": SHM_SIZE}}],
        },
    }
    secrets = pull_secrets(secret_names(spec.get("imagePullSecrets")) if namespaced else [], runtime_pull_secrets)
    if secrets:
        body["spec"]["imagePullSecrets"] = secrets
    return body
