"""The discovery Job of a template (``reference/original-operator-behaviour.md`` §4.4).

Kept from the original: the name ``discover-<template[:45]>-<sha256(aimImageName+image)[:8]>``, the
labels, the controller owner reference, ``backoffLimit: 3``, ``ttlSecondsAfterFinished: 60``, no
``activeDeadlineSeconds``, ``restartPolicy: Never``, the non-root pod and container security contexts,
the single ``discovery`` container running the AIM image's entrypoint with ``dry-run --format=json``
and the env order (``spec.env`` then ``AIM_METRIC``, ``AIM_PRECISION``, ``AIM_GPU_MODEL``,
``AIM_GPU_COUNT``). Cluster templates' Jobs run in the operator namespace.

Changed:

* ``imagePullSecrets`` are the template's (namespaced kind) followed by the runtime config's
  (DESIGN.md §5 #16; the original ignored the template's);
* a ``podFailurePolicy`` fails the Job at the first non-zero exit of ``discovery``: a dry run that
  exits non-zero fails the same way again, and the Job controller's pod backoff (10 s, 20 s, 40 s)
  would hold one of the 10 discovery slots for over a minute for nothing. The controller retries
  failed discovery with its own backoff (1 min → 1 h). ``backoffLimit: 3`` still covers pods lost to
  the infrastructure (disruptions are ignored, not counted);
* the pod template carries the Job's ``app.kubernetes.io/*`` labels, so discovery pods are
  recognisable (and their events mappable) without looking the Job up;
* ``automountServiceAccountToken: false``: the pod runs the tenant's image, and the dry run only
  prints what it would serve (it never talks to the Kubernetes API), so it gets no API token. The
  runtime config's ``serviceAccountName`` is still set: the ServiceAccount's ``imagePullSecrets``
  are how some clusters pull the image.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimctl import labels as L
from aimctl.builders import owner_reference, pull_secrets, secret_names
from aimctl.naming import discovery_job_name, label_value

CONTAINER = "discovery"
ARGS = ["dry-run", "--format=json"]
BACKOFF_LIMIT = 3
TTL_SECONDS = 60
RUN_AS_USER = 65532


def job_labels(template_name: str) -> dict[str, str]:
    return {
        L.NAME: L.NAME_DISCOVERY,
        L.COMPONENT: L.COMPONENT_DISCOVERY,
        L.MANAGED_BY: L.MANAGER_AIM,
        L.TEMPLATE: label_value(template_name),
    }


def build_discovery_job(
    template: Mapping[str, Any],
    template_kind: str,
    image_uri: str,
    namespace: str,
    runtime_pull_secrets: Sequence[str] = (),
    service_account: str | None = None,
) -> dict[str, Any]:
    """The desired Job for ``template`` (an AIMServiceTemplate or AIMClusterServiceTemplate dict)."""
    meta = template.get("metadata") or {}
    spec = template.get("spec") or {}
    name = str(meta["name"])
    namespaced = template_kind == "AIMServiceTemplate"
    env: list[dict[str, Any]] = [dict(e) for e in (spec.get("env") or [])] if namespaced else []
    if spec.get("metric"):
        env.append({"name": "AIM_METRIC", "value": str(spec["metric"])})
    if spec.get("precision"):
        env.append({"name": "AIM_PRECISION", "value": str(spec["precision"])})
    gpu = spec.get("gpuSelector") or {}
    if gpu.get("model"):
        env.append({"name": "AIM_GPU_MODEL", "value": str(gpu["model"])})
    if int(gpu.get("count") or 0) > 0:
        env.append({"name": "AIM_GPU_COUNT", "value": str(int(gpu["count"]))})
    secrets = pull_secrets(secret_names(spec.get("imagePullSecrets")) if namespaced else [], runtime_pull_secrets)
    lab = job_labels(name)
    pod_labels = {k: v for k, v in lab.items() if k != L.TEMPLATE}
    container: dict[str, Any] = {
        "name": CONTAINER,
        "image": image_uri,
        "args": list(ARGS),
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]},
        },
    }
    if env:
        container["env"] = env
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsNonRoot": True,
            "runAsUser": RUN_AS_USER,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "containers": [container],
    }
    if secrets:
        pod_spec["imagePullSecrets"] = secrets
    if service_account:
        pod_spec["serviceAccountName"] = service_account
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": discovery_job_name(name, str(spec.get("aimImageName") or ""), image_uri),
            "namespace": namespace,
            "labels": lab,
            "ownerReferences": [owner_reference(template, template_kind)],
        },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": TTL_SECONDS,
            "podFailurePolicy": {
                "rules": [
                    {"action": "Ignore", "onPodConditions": [{"type": "DisruptionTarget", "status": "True"}]},
                    {
                        "action": "FailJob",
                        "onExitCodes": {"containerName": CONTAINER, "operator": "NotIn", "values": [0]},
                    },
                ]
            },
            "template": {"metadata": {"labels": pod_labels}, "spec": pod_spec},
        },
    }
