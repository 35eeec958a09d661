"""The PersistentVolumeClaim an AIMModelCache downloads its model into (pure).

Shape (the original operator's, ``docs/original-behaviour.md``, plus fix 2):

* name ``rfc1123(<cache>-cache)`` in the cache's namespace; labels
  ``app.kubernetes.io/managed-by=modelcache-controller`` and ``aim.silogen.ai/modelcache=<cache>``;
  the cache is its controller owner, so deleting the cache deletes the volume;
* ``accessModes: [ReadWriteMany]`` — every replica of every service using the model mounts it;
* ``requests.storage`` is ``spec.size`` exactly, in canonical quantity form (so the cached PVC, which
  the apiserver stores canonically, compares equal and is not re-applied);
* ``storageClassName`` is :func:`effective_storage_class`: the cache's own class, else the runtime
  config's ``defaultStorageClassName``, else unset — the cluster's default class then applies
  (the apiserver's DefaultStorageClass admission fills it in).

A PVC's spec is immutable once created (except a size increase the class may allow), so the
controller creates this object only when the PVC does not exist; later changes of ``spec.size`` or of
the storage class do not touch an existing volume.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimctl import labels
from aimctl.api.quantity import Quantity
from aimctl.builders.ownership import controller_reference
from aimctl.kube.objects import spec_of
from aimctl.naming import label_value, model_cache_pvc_name

ACCESS_MODES = ("ReadWriteMany",)


def effective_storage_class(spec_class: str | None, runtime_default: str | None) -> str | None:
    """The storage class a cache volume asks for: its own, else the runtime config default, else
    ``None`` (the cluster default)."""
    return spec_class or runtime_default or None


def model_cache_labels(cache_name: str) -> dict[str, str]:
    """Labels of every child of a model cache (PVC, Job and the Job's pods)."""
    return {labels.MANAGED_BY: labels.MANAGER_MODEL_CACHE, labels.MODEL_CACHE: label_value(cache_name)}


def canonical_size(size: Any) -> str:
    """``spec.size`` as the apiserver stores a quantity (``0.5Gi`` → ``512Mi``)."""
    return str(Quantity.coerce(size))


def build_model_cache_pvc(cache: Mapping[str, Any], storage_class: str | None) -> dict[str, Any]:
    """The desired PVC of ``cache`` (a raw AIMModelCache with metadata.uid) using ``storage_class``."""
    meta = cache["metadata"]
    spec = spec_of(cache)
    pvc_spec: dict[str, Any] = {
        "accessModes": list(ACCESS_MODES),
        "resources": {"requests": {"storage": canonical_size(spec["size"])}},
    }
    if storage_class:
        pvc_spec["storageClassName"] = storage_class
    return {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {
            "name": model_cache_pvc_name(meta["name"]),
            "namespace": meta["namespace"],
            "labels": model_cache_labels(meta["name"]),
            "ownerReferences": [controller_reference(cache)],
        },
        "spec": pvc_spec,
    }
