"""Derived templates: the namespaced AIMServiceTemplate a service's ``overrides`` call for (pure).

Name (the original operator's, bit-exact; ``docs/original-behaviour.md``): ``<base[:50]>-ovr-<h8>`` where
``h8`` hashes the compact JSON of ``spec.overrides`` in the API's field order (``metric``,
``precision``, ``gpuSelector{count, model}``, unset fields left out). An empty ``overrides: {}``
still derives.

Spec: the base spec (a cluster template contributes its common fields only), then each override that
is set (``metric``, ``precision``, ``gpuSelector``) replaces the base value; ``aimImageName`` is the
base's (the service's if the base has none) and ``runtimeConfigName`` the base's, empty → ``default``.
**Nothing of one service** goes into it — unlike the original, which copied the service's ``env``,
``imagePullSecrets``, ``resources``, ``runtimeConfigName`` and ``cacheModel`` caching into it, so that
the first consumer's values stuck and later edits never took effect. Those are per service and go on
each service's InferenceService, built from the service on every reconcile
(:mod:`aimctl.builders.inference_service`). The spec is a function of the base and the overrides
only, exactly what the name hashes, so every service with the same overrides over the same base
computes the same derived template and they share it without fighting over it.

Metadata: labels ``app.kubernetes.io/managed-by=aim-controller`` and
``aim.silogen.ai/derived-template=true``, and **no ownerReferences**. The cost of one more service must
not grow with the number of services sharing the template, so consumers are not recorded on it;
the derived-template collector (:mod:`aimctl.controllers.derived_templates`) deletes it once no
service points at it any more (through the services' template-name index), after a grace period.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from aimctl import labels
from aimctl.api.enums import GROUP_VERSION
from aimctl.kube.objects import dig_map, labels_of, owner_refs
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
    """The spec of the derived template for ``service_spec``'s overrides over ``base_spec`` (see the
    module docstring): only the base and the overrides count."""
    spec: dict[str, Any] = copy.deepcopy(dict(base_spec))
    if not spec.get("aimImageName"):
        spec["aimImageName"] = service_spec.get("aimImageName")
    spec["runtimeConfigName"] = spec.get("runtimeConfigName") or DEFAULT_RUNTIME_CONFIG
    overrides = dig_map(service_spec, "overrides")
    for key in ("metric", "precision", "gpuSelector"):
        if overrides.get(key) is not None:
            spec[key] = copy.deepcopy(overrides[key])
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


def build_derived_template(name: str, namespace: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The derived AIMServiceTemplate manifest (no ownerReferences: see the module docstring)."""
    return {
        "apiVersion": GROUP_VERSION,
        "kind": KIND,
        "metadata": {
            "name": name,
            "namespace": namespace,
            "labels": {labels.MANAGED_BY: labels.MANAGER_AIM, labels.DERIVED_TEMPLATE: "true"},
        },
        "spec": copy.deepcopy(dict(spec)),
    }


def is_derived(template: Mapping[str, Any]) -> bool:
    return labels_of(template).get(labels.DERIVED_TEMPLATE) == "true"


def service_owner_uids(template: Mapping[str, Any]) -> set[str]:
    """UIDs of AIMService ownerReferences (left by earlier aimctl versions, which recorded every
    consumer on the template; the next apply removes them)."""
    return {str(r.get("uid")) for r in owner_refs(template) if r.get("kind") == "AIMService"}
