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

from aimctl import labels
from aimctl.api.enums import GROUP_VERSION
from aimctl.naming import label_value


def build_service_template_cache(
    service: Mapping[str, Any], template: Mapping[str, Any], template_kind: str
) -> dict[str, Any]:
    """The AIMTemplateCache ``service`` wants for ``template`` (of kind ``template_kind``)."""
    meta, spec = service["metadata"], service.get("spec") or {}
    tmeta = template["metadata"]
    cache_spec: dict[str, Any] = {
        "templateRef": tmeta["name"],
        "runtimeConfigName": spec.get("runtimeConfigName") or "default",
    }
    if spec.get("env"):
        cache_spec["env"] = [dict(e) for e in spec["env"]]
    if spec.get("imagePullSecrets"):
        cache_spec["imagePullSecrets"] = [{"name": s["name"]} for s in spec["imagePullSecrets"] if s.get("name")]
    return {
        "apiVersion": GROUP_VERSION,
        "kind": "AIMTemplateCache",
        "metadata": {
            "name": tmeta["name"],
            "namespace": meta["namespace"],
            "labels": {labels.MANAGED_BY: labels.MANAGER_AIM, labels.TEMPLATE: label_value(str(tmeta["name"]))},
            "ownerReferences": [
                {"apiVersion": GROUP_VERSION, "kind": template_kind, "name": tmeta["name"], "uid": tmeta["uid"]}
            ],
        },
        "spec": cache_spec,
    }
