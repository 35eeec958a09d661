"""The AIM API (``aim.silogen.ai/v1alpha1``): pydantic models of the nine kinds, and CRD generation.

Modules, one concept each:

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

The status enums (the states of the state machines) are re-exported here.
"""

from aimctl.api.base import API_GROUP, API_VERSION, GROUP_VERSION, APIModel, KubeEnum
from aimctl.api.image import AIMClusterImage, AIMImage, AIMImageStatusEnum
from aimctl.api.kinds import KINDS, KindInfo, by_kind, by_plural
from aimctl.api.meta import Condition, ConditionStatus, ObjectMeta
from aimctl.api.modelcache import AIMModelCache, AIMModelCacheStatusEnum
from aimctl.api.quantity import Quantity, parse_quantity
from aimctl.api.references import AIMResolutionScope
from aimctl.api.runtime import AIMMetric, AIMPrecision
from aimctl.api.runtimeconfig import AIMClusterRuntimeConfig, AIMRuntimeConfig
from aimctl.api.service import AIMService, AIMServiceStatusEnum
from aimctl.api.template import AIMClusterServiceTemplate, AIMServiceTemplate, AIMTemplateStatusEnum
from aimctl.api.templatecache import AIMTemplateCache, AIMTemplateCacheStatusEnum

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
