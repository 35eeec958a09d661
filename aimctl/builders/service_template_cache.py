"""The AIMTemplateCache a service with ``cacheModel: true`` creates for its template (pure).

Why not :mod:`aimctl.builders.template_cache` (the template's own cache, for ``caching.enabled``):
the template controller *controls* that one and deletes a template cache it controls when the
template does not cache itself; the service's cache must survive that, may be for a cluster template
(so it lives in the service's namespace) and carries the service's download credentials. Same name
(the template's), so a service and a caching template share one cache and one set of model caches.

* name = the template name, namespace = the service's;
* a **non-controller** ownerReference to the template (AIMServiceTemplate or
  AIMClusterServiceTemplate): the cache is collected with the template and outlives the services
  that warmed it (a pre-warmed cache is the point of caching);
* labels ``app.kubernetes.io/managed-by=aim-controller`` and ``aim.silogen.ai/template``;
* spec: ``templateRef``, the service's ``runtimeConfigName`` (its ``defaultStorageClassName`` gives
  the volumes' class), ``env`` and ``imagePullSecrets``.

The service controller creates it once, when absent, and never re-applies it: services of the same
template with other env do not fight over it (the first one's credentials download the model).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimctl.api.enums import GROUP_VERSION
from aimctl.builders.template_cache import template_cache_manifest
from aimctl.kube.objects import dig_list, spec_of


def build_service_template_cache(
    service: Mapping[str, Any], template: Mapping[str, Any], template_kind: str
) -> dict[str, Any]:
    """The AIMTemplateCache ``service`` wants for ``template`` (of kind ``template_kind``)."""
    spec, tmeta = spec_of(service), template["metadata"]
    secrets = spec.get("imagePullSecrets")
    return template_cache_manifest(
        str(tmeta["name"]),
        str(service["metadata"]["namespace"]),
        {"apiVersion": GROUP_VERSION, "kind": template_kind, "name": tmeta["name"], "uid": tmeta["uid"]},
        runtime_config_name=spec.get("runtimeConfigName"),
        env=dig_list(spec, "env"),
        pull_secrets=[{"name": s["name"]} for s in secrets if s.get("name")] if secrets else None,
    )
