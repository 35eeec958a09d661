"""The AIMTemplateCache of a namespaced template with ``caching.enabled``.

``docs/original-behaviour.md``, fixes 1 and 3.

Named after the template, in its namespace, owned by it (controller reference: deleting the template
or disabling caching removes the cache). The spec references the template, carries ``caching.env``,
the template's pull secrets and runtime config name, and the runtime config's
``defaultStorageClassName``. The AIMTemplateCache controller (another module) does the caching.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimctl import labels as L
from aimctl.builders import owner_reference
from aimctl.kube.objects import dig_map, meta_of, spec_of
from aimctl.naming import label_value


def build_template_cache(template: Mapping[str, Any], storage_class: str | None) -> dict[str, Any]:
    meta, spec = meta_of(template), spec_of(template)
    caching = dig_map(spec, "caching")
    cache_spec: dict[str, Any] = {
        "templateRef": meta["name"],
        "runtimeConfigName": spec.get("runtimeConfigName") or "default",
    }
    if caching.get("env"):
        cache_spec["env"] = [dict(e) for e in caching["env"]]
    if spec.get("imagePullSecrets"):
        cache_spec["imagePullSecrets"] = [dict(s) for s in spec["imagePullSecrets"]]
    if storage_class:
        cache_spec["storageClassName"] = storage_class
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMTemplateCache",
        "metadata": {
            "name": meta["name"],
            "namespace": meta["namespace"],
            "labels": {L.MANAGED_BY: L.MANAGER_AIM, L.TEMPLATE: label_value(str(meta["name"]))},
            "ownerReferences": [owner_reference(template, "AIMServiceTemplate")],
        },
        "spec": cache_spec,
    }
