"""Derived templates: the namespaced AIMServiceTemplate a service's ``overrides`` call for (pure).

Name (the original operator's, bit-exact; ``docs/original-behaviour.md``): ``<base[:50]>-ovr-<h8>`` where
``h8`` hashes the compact JSON of ``spec.overrides`` in the API's field order (``metric``,
``precision``, ``gpuSelector{count, model}``, unset fields left out). An empty ``overrides: {}``
still derives.

Spec: the base spec (a cluster template contributes its common fields only), then

* ``aimImageName``: the base's (the service's if the base has none);
* ``runtimeConfigName``: the service's, else the base's, empty → ``default``;
* ``metric``, ``precision``, ``gpuSelector``: each override that is set replaces the base value;
* ``env``, ``imagePullSecrets``, ``resources``: the service's when set, else the base's;
* ``caching``: ``{enabled: true, env: <service env>}`` when the service has ``cacheModel``, else the
  base's.

Metadata: labels ``app.kubernetes.io/managed-by=aim-controller`` and
``aim.silogen.ai/derived-template=true``, and — unlike the original, which never removed a derived
template (``docs/original-behaviour.md``, fix 17) — one **non-controller ownerReference per consuming
AIMService**. A derived template is shared by every service of the namespace that resolves to it;
Kubernetes' garbage collector deletes it when its last owner is deleted, and removes the reference of a
deleted owner while others remain. Nothing has to run for that to happen (not even the operator), no
finalizer is involved, and the template's events map back to its consumers through those references
(which also fixes the original's "derived template stops waking the service"). All consumers apply the
same manifest (the owner list is computed from the cache, sorted by name, and the spec comes from the
oldest consumer), so consumers never fight over the object.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from aimctl import labels
from aimctl.api.base import GROUP_VERSION
from aimctl.naming import derived_template_name

DEFAULT_RUNTIME_CONFIG = "default"
#: Fields of the cluster template spec (the common part every template kind has).
COMMON_FIELDS = ("aimImageName", "runtimeConfigName", "resources", "metric", "precision", "gpuSelector")
KIND = "AIMServiceTemplate"


def overrides_for_hash(overrides: Mapping[str, Any]) -> dict[str, Any]:
    """``spec.overrides`` in the API's field order with unset fields left out (what the name hashes)."""
    out: dict[str, Any] = {}
    for key in ("metric", "precision"):
        if overrides.get(key) is not None:
            out[key] = overrides[key]
    selector = overrides.get("gpuSelector")
    if selector is not None:
        sel: dict[str, Any] = {}
        for key in ("count", "model"):
            if selector.get(key) is not None:
                sel[key] = selector[key]
        out["gpuSelector"] = sel
    return out


def derived_name(base: str, overrides: Mapping[str, Any]) -> str:
    """The derived template name for ``base`` and a service's ``overrides``."""
    return derived_template_name(base, overrides_for_hash(overrides))


def common_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """Only the fields a cluster template has (a cluster template used as a base)."""
    return {k: copy.deepcopy(v) for k, v in spec.items() if k in COMMON_FIELDS}


def derived_spec(base_spec: Mapping[str, Any], service_spec: Mapping[str, Any]) -> dict[str, Any]:
    """The spec of the derived template of ``service_spec`` over ``base_spec`` (see the module docstring)."""
    spec: dict[str, Any] = copy.deepcopy(dict(base_spec))
    if not spec.get("aimImageName"):
        spec["aimImageName"] = service_spec.get("aimImageName")
    spec["runtimeConfigName"] = (
        service_spec.get("runtimeConfigName") or spec.get("runtimeConfigName") or DEFAULT_RUNTIME_CONFIG
    )
    overrides = service_spec.get("overrides") or {}
    for key in ("metric", "precision", "gpuSelector"):
        if overrides.get(key) is not None:
            spec[key] = copy.deepcopy(overrides[key])
    for key in ("env", "imagePullSecrets"):
        if service_spec.get(key):
            spec[key] = copy.deepcopy(service_spec[key])
    if service_spec.get("resources"):
        spec["resources"] = copy.deepcopy(service_spec["resources"])
    if service_spec.get("cacheModel"):
        caching: dict[str, Any] = {"enabled": True}
        if service_spec.get("env"):
            caching["env"] = copy.deepcopy(service_spec["env"])
        spec["caching"] = caching
    return normalised(spec)


def normalised(spec: Mapping[str, Any]) -> dict[str, Any]:
    """``spec`` without ``None`` and empty values, ``runtimeConfigName`` defaulted, and a disabled
    ``caching`` without env dropped: the form in which two template specs are compared."""
    out = _prune(dict(spec))
    assert isinstance(out, dict)
    out.setdefault("runtimeConfigName", DEFAULT_RUNTIME_CONFIG)
    caching = out.get("caching")
    if isinstance(caching, dict) and not caching.get("enabled") and not caching.get("env"):
        del out["caching"]
    return out


def _prune(value: Any) -> Any:
    if isinstance(value, dict):
        pruned = {k: _prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [_prune(v) for v in value]
    return value


def specs_equal(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    """Semantic equality of two template specs (see :func:`normalised`)."""
    return normalised(a) == normalised(b)


def reusable_in_cluster(spec: Mapping[str, Any]) -> bool:
    """A cluster template can stand in for a derived spec only if the spec uses no namespaced-only
    field (``env``, ``imagePullSecrets``, ``caching``), as in the original."""
    return not (spec.get("env") or spec.get("imagePullSecrets") or spec.get("caching"))


def owner_reference(service: Mapping[str, Any]) -> dict[str, Any]:
    """A non-controller ownerReference to a consuming AIMService."""
    meta = service.get("metadata") or {}
    return {
        "apiVersion": str(service.get("apiVersion") or GROUP_VERSION),
        "kind": "AIMService",
        "name": str(meta["name"]),
        "uid": str(meta["uid"]),
    }


def oldest(services: Iterable[Mapping[str, Any]]) -> Mapping[str, Any]:
    """The consumer whose spec shapes a shared derived template: oldest ``creationTimestamp``, then
    name (deterministic for every consumer and every replica)."""

    def key(s: Mapping[str, Any]) -> tuple[str, str]:
        meta = s.get("metadata") or {}
        return (str(meta.get("creationTimestamp") or ""), str(meta.get("name") or ""))

    return min(services, key=key)


def build_derived_template(
    name: str, namespace: str, spec: Mapping[str, Any], consumers: Sequence[Mapping[str, Any]]
) -> dict[str, Any]:
    """The derived AIMServiceTemplate manifest, owned by every consumer (sorted by name, de-duplicated
    by UID)."""
    refs = {str(r["uid"]): r for r in (owner_reference(s) for s in consumers)}
    return {
        "apiVersion": GROUP_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {labels.MANAGED_BY: labels.MANAGER_AIM, labels.DERIVED_TEMPLATE: "true"},
            "ownerReferences": sorted(refs.values(), key=lambda r: (r["name"], r["uid"])),
        },
        "spec": copy.deepcopy(dict(spec)),
    }


def is_derived(template: Mapping[str, Any]) -> bool:
    return ((template.get("metadata") or {}).get("labels") or {}).get(labels.DERIVED_TEMPLATE) == "true"


def owner_uids(template: Mapping[str, Any]) -> set[str]:
    return {str(r.get("uid")) for r in (template.get("metadata") or {}).get("ownerReferences") or []}
