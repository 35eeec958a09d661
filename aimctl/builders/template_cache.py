"""The AIMTemplateCache of a namespaced template with ``caching.enabled``.

``docs/original-behaviour.md``, fixes 1 and 3.

Named after the template, in its namespace, owned by it (controller reference: deleting the template
or disabling caching removes the cache). The spec references the template, carries ``caching.env``,
the template's pull secrets and runtime config name, and the runtime config's
``defaultStorageClassName``. The AIMTemplateCache controller (another module) does the caching.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aimctl import labels as L
from aimctl.api.enums import GROUP_VERSION
from aimctl.builders import owner_reference
from aimctl.kube.objects import dig_list, meta_of, spec_of
from aimctl.naming import label_value


def build_template_cache(template: Mapping[str, Any], storage_class: str | None) -> dict[str, Any]:
    meta, spec = meta_of(template), spec_of(template)
    return template_cache_manifest(
        str(meta["name"]),
        str(meta["namespace"]),
        owner_reference(template, "AIMServiceTemplate"),
        runtime_config_name=spec.get("runtimeConfigName"),
        env=dig_list(spec, "caching", "env"),
        pull_secrets=[dict(s) for s in spec["imagePullSecrets"]] if spec.get("imagePullSecrets") else None,
        storage_class=storage_class,
    )


def template_cache_manifest(
    template_name: str,
    namespace: str,
    owner: Mapping[str, Any],
    *,
    runtime_config_name: str | None,
    env: Sequence[Mapping[str, Any]],
    pull_secrets: Sequence[Mapping[str, Any]] | None,
    storage_class: str | None = None,
) -> dict[str, Any]:
    """An AIMTemplateCache named after its template, in ``namespace``, with ``owner`` as its one
    ownerReference (the template's own cache and a service's share this shape): the spec references
    the template and carries the runtime config name (``default`` when empty), ``env`` and
    ``pull_secrets`` when there are any, and ``storage_class`` when given."""
    cache_spec: dict[str, Any] = {"templateRef": template_name, "runtimeConfigName": runtime_config_name or "default"}
    if env:
        cache_spec["env"] = [dict(e) for e in env]
    if pull_secrets is not None:
        cache_spec["imagePullSecrets"] = [dict(s) for s in pull_secrets]
    if storage_class:
        cache_spec["storageClassName"] = storage_class
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "AIMTemplateCache",
        "metadata": {
            "name": template_name,
            "namespace": namespace,
            "labels": {L.MANAGED_BY: L.MANAGER_AIM, L.TEMPLATE: label_value(template_name)},
            "ownerReferences": [dict(owner)],
        },
        "spec": cache_spec,
    }
