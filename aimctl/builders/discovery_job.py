"""The discovery Job of a template (``docs/original-behaviour.md``).

Kept from the original: the name ``discover-<template[:45]>-<sha256(aimImageName+image)[:8]>``, the
labels, the controller owner reference, ``backoffLimit: 3``, ``ttlSecondsAfterFinished: 60``,
``restartPolicy: Never``, the non-root pod and container security contexts,
the single ``discovery`` container running the AIM image's entrypoint with ``dry-run --format=json``
and the env order (``spec.env`` then ``AIM_METRIC``, ``AIM_PRECISION``, ``AIM_GPU_MODEL``,
``AIM_GPU_COUNT``). Cluster templates' Jobs run in the operator namespace.

Changed:

* ``activeDeadlineSeconds: 3600`` (the original had none): a discovery pod that never finishes (a
  dry run that hangs, an image that never arrives) fails the Job after an hour and frees its
  discovery slot; the controller then retries with its backoff. A pod stuck in image pull is given up
  on much sooner by the controller itself (``AIMCTL_DISCOVERY_PULL_DEADLINE``, see
  :mod:`aimctl.controllers.template`);

* ``imagePullSecrets`` are the template's (namespaced kind) followed by the runtime config's
  (fix 16; the original ignored the template's);
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

import hashlib
import json
from collections.abc import Mapping, Sequence
from typing import Any

from aimctl import labels as L
from aimctl.builders import owner_reference, pull_secrets, secret_names
from aimctl.kube.objects import dig, dig_list, dig_map, dig_str, meta_of, spec_of
from aimctl.naming import discovery_job_name, label_value

CONTAINER = "discovery"
ARGS = ["dry-run", "--format=json"]
BACKOFF_LIMIT = 3
TTL_SECONDS = 60
ACTIVE_DEADLINE_SECONDS = 3600
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
    meta, spec = meta_of(template), spec_of(template)
    name = str(meta["name"])
    namespaced = template_kind == "AIMServiceTemplate"
    env: list[dict[str, Any]] = [dict(e) for e in dig_list(spec, "env")] if namespaced else []
    if spec.get("metric"):
        env.append({"name": "AIM_METRIC", "value": str(spec["metric"])})
    if spec.get("precision"):
        env.append({"name": "AIM_PRECISION", "value": str(spec["precision"])})
    gpu = dig_map(spec, "gpuSelector")
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
            "activeDeadlineSeconds": ACTIVE_DEADLINE_SECONDS,
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


def _digest(value: Any) -> str:
    return hashlib.sha256(json.dumps(value, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:8]


def _pod_spec(job: Mapping[str, Any]) -> Mapping[str, Any]:
    return dig_map(job, "spec", "template", "spec")


def discovery_inputs(job: Mapping[str, Any]) -> str:
    """Fingerprint of what shapes the dry run's output: the ``discovery`` container's env (the
    template's ``env`` and its metric, precision and GPU). A change means the results may differ."""
    container = next((c for c in dig_list(_pod_spec(job), "containers") if c.get("name") == CONTAINER), None)
    return _digest([_undefaulted(e) for e in dig_list(container, "env")])


def _undefaulted(env: Mapping[str, Any]) -> Any:
    """An env entry without the fields the API server defaults (``fieldRef.apiVersion: v1``,
    ``resourceFieldRef.divisor: "0"``), so a stored Job compares equal to the one it was built from."""
    source = env.get("valueFrom")
    if not isinstance(source, Mapping):
        return env
    out = {k: (dict(v) if isinstance(v, Mapping) else v) for k, v in source.items()}
    if dig(out, "fieldRef", "apiVersion") == "v1":
        del out["fieldRef"]["apiVersion"]
    if str(dig(out, "resourceFieldRef", "divisor")) in ("0", "1"):
        del out["resourceFieldRef"]["divisor"]
    return {**env, "valueFrom": out}


def pull_inputs(job: Mapping[str, Any]) -> str:
    """Fingerprint of what only decides whether the image can be pulled: ``imagePullSecrets`` and the
    ServiceAccount. A change never changes the results, but a pending Job must be replaced for it."""
    spec = _pod_spec(job)
    return _digest([list(dig_list(spec, "imagePullSecrets")), dig_str(spec, "serviceAccountName")])
