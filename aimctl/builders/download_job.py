"""The Job that downloads an AIMModelCache's model into its PVC (pure).

Shape (the original operator's, ``docs/original-behaviour.md``, kept so existing clusters behave the same):

* name ``rfc1123(<cache>-cache-download)``, the model cache's labels, the cache as controller owner;
* ``backoffLimit: 2`` (three attempts), ``ttlSecondsAfterFinished: 600``, no deadline;
* pod: ``restartPolicy: Never``; non-root (uid/gid/fsGroup 1000, ``runAsNonRoot``); the cache's
  ``imagePullSecrets``; volumes ``cache`` (the PVC, at ``/cache``) and ``tmp`` (an ``emptyDir`` of at
  most 500Mi, at ``/tmp``);
* container ``model-download``: ``spec.modelDownloadImage`` (default
  ``kserve/storage-initializer:v0.16.0-rc0``), ``IfNotPresent``; env = ``spec.env`` followed by
  ``HF_HUB_DISABLE_XET=1``, ``HF_HOME=/cache/.hf``, ``UMASK=0022``; ``/bin/sh -c`` with a script that
  runs KServe's storage initializer on ``<sourceUri> /cache``, then (only on success) removes the
  Hugging Face xet chunk cache and staging directories, then prints ``du -sh`` of the cache.

Differences from the original, all deliberate:

* the source URI reaches the script as a positional argument (``$1``), never spliced into the script
  text: the URI pattern allows ``;``, ``$`` and quotes, which would otherwise be shell syntax;
* credentials travel only through ``spec.env`` (values or ``valueFrom.secretKeyRef``), untouched; a
  user variable with the same name as one of the three fixed ones is dropped rather than duplicated
  (the fixed value won at runtime anyway; duplicates only draw apiserver warnings);
* the container drops all capabilities, forbids privilege escalation and uses the runtime's default
  seccomp profile, and the pod does not mount a service-account token (the downloader never talks to
  the Kubernetes API): the pod passes the ``restricted`` Pod Security Standard;
* the Job is annotated with the cache generation it was created for
  (:data:`GENERATION_ANNOTATION`), so the controller can tell a failure of the current spec from a
  failure of an older one (which it retries once with the current spec), and with the UID of the PVC
  it fills (:data:`PVC_UID_ANNOTATION`), so a success is never credited to a re-created, empty PVC.

The TTL stays: once a cache is Available the controller never recreates the Job (fix 6),
so the TTL only garbage-collects finished Jobs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimctl.api.enums import DEFAULT_MODEL_DOWNLOAD_IMAGE
from aimctl.builders.model_cache_pvc import model_cache_labels
from aimctl.builders.ownership import controller_reference
from aimctl.kube.objects import annotations_of, dig_list, spec_of
from aimctl.naming import model_cache_job_name, model_cache_pvc_name

CONTAINER_NAME = "model-download"
CACHE_MOUNT = "/cache"
TMP_MOUNT = "/tmp"
TMP_SIZE_LIMIT = "500Mi"
BACKOFF_LIMIT = 2
TTL_SECONDS_AFTER_FINISHED = 600
RUN_AS = 1000
#: Annotation on the Job: the ``metadata.generation`` of the cache the Job was built from.
GENERATION_ANNOTATION = "aim.silogen.ai/cache-generation"
#: Annotation on the Job: the UID of the PVC it fills (a success counts only for that volume).
PVC_UID_ANNOTATION = "aim.silogen.ai/pvc-uid"
INITIALIZER_ENTRYPOINT = "/storage-initializer/scripts/initializer-entrypoint"

#: ``$1`` is the source URI, ``$2`` the cache directory (see :func:`build_download_job`).
DOWNLOAD_SCRIPT = f"""\
{INITIALIZER_ENTRYPOINT} "$1" "$2"
rc=$?
if [ "$rc" -eq 0 ]; then
  for d in "$2"/.hf/xet/*/chunk-cache "$2"/.hf/xet/*/staging; do
    if [ -e "$d" ]; then rm -rf "$d" || true; fi
  done
fi
du -sh "$2" 2>/dev/null || true
du -sh "$2/.hf" 2>/dev/null || true
exit "$rc"
"""

FIXED_ENV: tuple[tuple[str, str], ...] = (
    ("HF_HUB_DISABLE_XET", "1"),
    ("HF_HOME", f"{CACHE_MOUNT}/.hf"),
    ("UMASK", "0022"),
)


def download_env(user_env: Sequence[Mapping[str, Any]] | None) -> list[dict[str, Any]]:
    """The container env: the user's variables (as written, ``valueFrom`` included) then the fixed
    ones; a user variable named like a fixed one is dropped."""
    fixed = {name for name, _ in FIXED_ENV}
    env = [dict(e) for e in user_env or [] if e.get("name") not in fixed]
    env.extend({"name": name, "value": value} for name, value in FIXED_ENV)
    return env


def job_pvc_uid(job: Mapping[str, Any]) -> str | None:
    """The UID of the PVC a download Job was created to fill (``None`` without the annotation)."""
    value = annotations_of(job).get(PVC_UID_ANNOTATION)
    return str(value) if value else None


def job_generation(job: Mapping[str, Any]) -> int | None:
    """The cache generation a download Job was built from (``None`` for a Job without the annotation)."""
    value = annotations_of(job).get(GENERATION_ANNOTATION)
    try:
        return int(value) if value is not None else None
    except (TypeError, ValueError):
        return None


def _annotations(generation: int, pvc_uid: str) -> dict[str, str]:
    out = {GENERATION_ANNOTATION: str(generation)}
    if pvc_uid:
        out[PVC_UID_ANNOTATION] = pvc_uid
    return out


def build_download_job(cache: Mapping[str, Any], pvc_uid: str = "") -> dict[str, Any]:
    """The desired download Job of ``cache`` (a raw AIMModelCache with metadata.uid and generation)
    filling the PVC whose UID is ``pvc_uid`` (recorded when known)."""
    meta = cache["metadata"]
    spec = spec_of(cache)
    name = meta["name"]
    cache_labels = model_cache_labels(name)
    pull_secrets = [{"name": s["name"]} for s in dig_list(spec, "imagePullSecrets") if s.get("name")]
    pod_spec: dict[str, Any] = {
        "restartPolicy": "Never",
        "automountServiceAccountToken": False,
        "securityContext": {
            "runAsUser": RUN_AS,
            "runAsGroup": RUN_AS,
            "fsGroup": RUN_AS,
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
        "volumes": [
            {"name": "cache", "persistentVolumeClaim": {"claimName": model_cache_pvc_name(name)}},
            {"name": "tmp", "emptyDir": {"sizeLimit": TMP_SIZE_LIMIT}},
        ],
        "containers": [
            {
                "name": CONTAINER_NAME,
                "image": spec.get("modelDownloadImage") or DEFAULT_MODEL_DOWNLOAD_IMAGE,
                "imagePullPolicy": "IfNotPresent",
                "command": ["/bin/sh", "-c", DOWNLOAD_SCRIPT],
                "args": [CONTAINER_NAME, str(spec["sourceUri"]), CACHE_MOUNT],
                "env": download_env(spec.get("env")),
                "securityContext": {
                    "runAsUser": RUN_AS,
                    "runAsGroup": RUN_AS,
                    "runAsNonRoot": True,
                    "allowPrivilegeEscalation": False,
                    "capabilities": {"drop": ["ALL"]},
                },
                "volumeMounts": [
                    {"name": "cache", "mountPath": CACHE_MOUNT},
                    {"name": "tmp", "mountPath": TMP_MOUNT},
                ],
            }
        ],
    }
    if pull_secrets:
        pod_spec["imagePullSecrets"] = pull_secrets
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {
            "name": model_cache_job_name(name),
            "namespace": meta["namespace"],
            "labels": dict(cache_labels),
            "annotations": _annotations(int(meta.get("generation") or 0), pvc_uid),
            "ownerReferences": [controller_reference(cache)],
        },
        "spec": {
            "backoffLimit": BACKOFF_LIMIT,
            "ttlSecondsAfterFinished": TTL_SECONDS_AFTER_FINISHED,
            "template": {"metadata": {"labels": dict(cache_labels)}, "spec": pod_spec},
        },
    }
