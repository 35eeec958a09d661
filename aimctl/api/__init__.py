"""The AIM API (``aim.silogen.ai/v1alpha1``): pydantic models of the nine kinds, and CRD generation.

Modules, one concept each:

* :mod:`~aimctl.api.enums` — the API's group, version and string enums, without pydantic;
* :mod:`~aimctl.api.quantity` — Kubernetes quantities (parse, canonical print);
* :mod:`~aimctl.api.markers` — CRD-only schema facts (CEL rules, list types) carried by the models;
* :mod:`~aimctl.api.base`, :mod:`~aimctl.api.meta`, :mod:`~aimctl.api.core`, :mod:`~aimctl.api.gateway`
  — the shared Kubernetes types;
* :mod:`~aimctl.api.runtime`, :mod:`~aimctl.api.references`, :mod:`~aimctl.api.discovery`,
  :mod:`~aimctl.api.imagemetadata`, :mod:`~aimctl.api.routing` — the shared AIM types;
* one module per kind family: :mod:`~aimctl.api.image`, :mod:`~aimctl.api.template`,
  :mod:`~aimctl.api.runtimeconfig`, :mod:`~aimctl.api.modelcache`, :mod:`~aimctl.api.templatecache`,
  :mod:`~aimctl.api.service`;
* :mod:`~aimctl.api.kinds` — the registry of kinds; :mod:`~aimctl.api.crdgen` — models -> CRDs.

The status enums (the states of the state machines) are re-exported here. The package imports its
modules lazily: the operator process imports only :mod:`~aimctl.api.enums` and
:mod:`~aimctl.api.quantity`, which need no pydantic (tests/unit/cli/test_lean_imports.py).
"""

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from aimctl.api.base import APIModel
    from aimctl.api.enums import (
        API_GROUP,
        API_VERSION,
        GROUP_VERSION,
        AIMImageStatusEnum,
        AIMMetric,
        AIMModelCacheStatusEnum,
        AIMPrecision,
        AIMServiceStatusEnum,
        AIMTemplateCacheStatusEnum,
        AIMTemplateStatusEnum,
        KubeEnum,
    )
    from aimctl.api.image import AIMClusterImage, AIMImage
    from aimctl.api.kinds import KINDS, KindInfo, by_kind, by_plural
    from aimctl.api.meta import Condition, ConditionStatus, ObjectMeta
    from aimctl.api.modelcache import AIMModelCache
    from aimctl.api.quantity import Quantity, parse_quantity
    from aimctl.api.references import AIMResolutionScope
    from aimctl.api.runtimeconfig import AIMClusterRuntimeConfig, AIMRuntimeConfig
    from aimctl.api.service import AIMService
    from aimctl.api.template import AIMClusterServiceTemplate, AIMServiceTemplate
    from aimctl.api.templatecache import AIMTemplateCache

#: Where each name re-exported here is defined; imported on first access (PEP 562), so importing one
#: pydantic-free submodule (:mod:`~aimctl.api.enums`, :mod:`~aimctl.api.quantity`) does not import
#: every model.
_EXPORTS: dict[str, str] = {
    "APIModel": "aimctl.api.base",
    "AIMImageStatusEnum": "aimctl.api.enums",
    "AIMMetric": "aimctl.api.enums",
    "AIMModelCacheStatusEnum": "aimctl.api.enums",
    "AIMPrecision": "aimctl.api.enums",
    "AIMServiceStatusEnum": "aimctl.api.enums",
    "AIMTemplateCacheStatusEnum": "aimctl.api.enums",
    "AIMTemplateStatusEnum": "aimctl.api.enums",
    "API_GROUP": "aimctl.api.enums",
    "API_VERSION": "aimctl.api.enums",
    "GROUP_VERSION": "aimctl.api.enums",
    "KubeEnum": "aimctl.api.enums",
    "AIMClusterImage": "aimctl.api.image",
    "AIMImage": "aimctl.api.image",
    "KINDS": "aimctl.api.kinds",
    "KindInfo": "aimctl.api.kinds",
    "by_kind": "aimctl.api.kinds",
    "by_plural": "aimctl.api.kinds",
    "Condition": "aimctl.api.meta",
    "ConditionStatus": "aimctl.api.meta",
    "ObjectMeta": "aimctl.api.meta",
    "AIMModelCache": "aimctl.api.modelcache",
    "Quantity": "aimctl.api.quantity",
    "parse_quantity": "aimctl.api.quantity",
    "AIMResolutionScope": "aimctl.api.references",
    "AIMClusterRuntimeConfig": "aimctl.api.runtimeconfig",
    "AIMRuntimeConfig": "aimctl.api.runtimeconfig",
    "AIMService": "aimctl.api.service",
    "AIMClusterServiceTemplate": "aimctl.api.template",
    "AIMServiceTemplate": "aimctl.api.template",
    "AIMTemplateCache": "aimctl.api.templatecache",
}


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


__all__ = [
    "API_GROUP",
    "API_VERSION",
    "GROUP_VERSION",
    "KINDS",
    "AIMClusterImage",
    "AIMClusterRuntimeConfig",
    "AIMClusterServiceTemplate",
    "AIMImage",
    "AIMImageStatusEnum",
    "AIMMetric",
    "AIMModelCache",
    "AIMModelCacheStatusEnum",
    "AIMPrecision",
    "AIMResolutionScope",
    "AIMRuntimeConfig",
    "AIMService",
    "AIMServiceStatusEnum",
    "AIMServiceTemplate",
    "AIMTemplateCache",
    "AIMTemplateCacheStatusEnum",
    "AIMTemplateStatusEnum",
    "APIModel",
    "Condition",
    "ConditionStatus",
    "KindInfo",
    "KubeEnum",
    "ObjectMeta",
    "Quantity",
    "by_kind",
    "by_plural",
    "parse_quantity",
]
