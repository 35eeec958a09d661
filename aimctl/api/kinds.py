"""Registry of the nine AIM kinds: names, scope, models and printer columns.

Everything that needs to know "which kinds exist" — CRD generation, informers, RBAC, tests — reads
:data:`KINDS` instead of listing kinds again. Printer columns always end with ``Age`` (defining any
column removes kubectl's default one). Every kind is in the categories ``aim`` (``kubectl get aim``)
and ``all``, as in the original operator.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from aimctl.api.base import API_GROUP, API_VERSION, GROUP_VERSION
from aimctl.api.image import AIMClusterImage, AIMClusterImageList, AIMImage, AIMImageList
from aimctl.api.modelcache import AIMModelCache, AIMModelCacheList
from aimctl.api.resource import AIMResource, AIMResourceList
from aimctl.api.runtimeconfig import (
    AIMClusterRuntimeConfig,
    AIMClusterRuntimeConfigList,
    AIMRuntimeConfig,
    AIMRuntimeConfigList,
)
from aimctl.api.service import AIMService, AIMServiceList
from aimctl.api.template import (
    AIMClusterServiceTemplate,
    AIMClusterServiceTemplateList,
    AIMServiceTemplate,
    AIMServiceTemplateList,
)
from aimctl.api.templatecache import AIMTemplateCache, AIMTemplateCacheList

__all__ = ["KINDS", "KindInfo", "PrinterColumn", "by_kind", "by_plural"]

Scope = Literal["Namespaced", "Cluster"]
ColumnType = Literal["string", "integer", "number", "boolean", "date"]


@dataclass(frozen=True)
class PrinterColumn:
    """An ``additionalPrinterColumns`` entry; ``priority > 0`` shows only with ``-o wide``."""

    name: str
    type: ColumnType
    json_path: str
    description: str = ""
    priority: int = 0

    def to_schema(self) -> dict[str, object]:
        out: dict[str, object] = {"name": self.name, "type": self.type, "jsonPath": self.json_path}
        if self.description:
            out["description"] = self.description
        if self.priority:
            out["priority"] = self.priority
        return out


STATUS = PrinterColumn("Status", "string", ".status.status", "Overall status")
READY = PrinterColumn("Ready", "string", '.status.conditions[?(@.type=="Ready")].status', "Ready condition")
AGE = PrinterColumn("Age", "date", ".metadata.creationTimestamp")


@dataclass(frozen=True)
class KindInfo:
    """One AIM kind: its names, scope, pydantic models and printer columns."""

    kind: str
    plural: str
    short_names: tuple[str, ...]
    scope: Scope
    model: type[AIMResource]
    list_model: type[AIMResourceList]
    printer_columns: tuple[PrinterColumn, ...]
    categories: tuple[str, ...] = field(default=("aim", "all"))

    @property
    def singular(self) -> str:
        return self.kind.lower()

    @property
    def list_kind(self) -> str:
        return f"{self.kind}List"

    @property
    def group(self) -> str:
        return API_GROUP

    @property
    def version(self) -> str:
        return API_VERSION

    @property
    def api_version(self) -> str:
        return GROUP_VERSION

    @property
    def crd_name(self) -> str:
        """``<plural>.<group>``: the CRD's ``metadata.name``."""
        return f"{self.plural}.{API_GROUP}"

    @property
    def namespaced(self) -> bool:
        return self.scope == "Namespaced"


def _image_columns() -> tuple[PrinterColumn, ...]:
    return (
        STATUS,
        PrinterColumn("Image", "string", ".spec.image", "Container image"),
        PrinterColumn(
            "Model", "string", ".status.imageMetadata.model.canonicalName", "Canonical model name", priority=1
        ),
        AGE,
    )


def _template_columns() -> tuple[PrinterColumn, ...]:
    return (
        STATUS,
        PrinterColumn("Image", "string", ".spec.aimImageName", "AIM image name"),
        PrinterColumn("Metric", "string", ".spec.metric", "Optimization goal"),
        PrinterColumn("Precision", "string", ".spec.precision", "Numeric precision"),
        PrinterColumn("GPUs", "integer", ".spec.gpuSelector.count", "GPUs per replica"),
        PrinterColumn("GPU", "string", ".spec.gpuSelector.model", "GPU model"),
        AGE,
    )


def _runtime_config_columns() -> tuple[PrinterColumn, ...]:
    return (
        READY,
        PrinterColumn("Storage Class", "string", ".spec.defaultStorageClassName", "Default storage class"),
        PrinterColumn("Routing", "boolean", ".spec.routing.enabled", "Routing enabled by default"),
        AGE,
    )


KINDS: tuple[KindInfo, ...] = (
    KindInfo(
        kind="AIMClusterImage",
        plural="aimclusterimages",
        short_names=("aimclimg",),
        scope="Cluster",
        model=AIMClusterImage,
        list_model=AIMClusterImageList,
        printer_columns=_image_columns(),
    ),
    KindInfo(
        kind="AIMImage",
        plural="aimimages",
        short_names=("aimimg",),
        scope="Namespaced",
        model=AIMImage,
        list_model=AIMImageList,
        printer_columns=_image_columns(),
    ),
    KindInfo(
        kind="AIMClusterRuntimeConfig",
        plural="aimclusterruntimeconfigs",
        short_names=("aimcrcfg",),
        scope="Cluster",
        model=AIMClusterRuntimeConfig,
        list_model=AIMClusterRuntimeConfigList,
        printer_columns=_runtime_config_columns(),
    ),
    KindInfo(
        kind="AIMRuntimeConfig",
        plural="aimruntimeconfigs",
        short_names=("aimrcfg",),
        scope="Namespaced",
        model=AIMRuntimeConfig,
        list_model=AIMRuntimeConfigList,
        printer_columns=_runtime_config_columns(),
    ),
    KindInfo(
        kind="AIMClusterServiceTemplate",
        plural="aimclusterservicetemplates",
        short_names=("aimclst",),
        scope="Cluster",
        model=AIMClusterServiceTemplate,
        list_model=AIMClusterServiceTemplateList,
        printer_columns=_template_columns(),
    ),
    KindInfo(
        kind="AIMServiceTemplate",
        plural="aimservicetemplates",
        short_names=("aimst",),
        scope="Namespaced",
        model=AIMServiceTemplate,
        list_model=AIMServiceTemplateList,
        printer_columns=_template_columns(),
    ),
    KindInfo(
        kind="AIMModelCache",
        plural="aimmodelcaches",
        short_names=("aimmc",),
        scope="Namespaced",
        model=AIMModelCache,
        list_model=AIMModelCacheList,
        printer_columns=(
            STATUS,
            PrinterColumn("Source", "string", ".spec.sourceUri", "Model source URI"),
            PrinterColumn("Size", "string", ".spec.size", "Cache volume size"),
            PrinterColumn("PVC", "string", ".status.persistentVolumeClaim", "Cache PVC", priority=1),
            AGE,
        ),
    ),
    KindInfo(
        kind="AIMTemplateCache",
        plural="aimtemplatecaches",
        short_names=("aimtc",),
        scope="Namespaced",
        model=AIMTemplateCache,
        list_model=AIMTemplateCacheList,
        printer_columns=(
            STATUS,
            PrinterColumn("Template", "string", ".spec.templateRef", "Template to cache"),
            PrinterColumn("Kind", "string", ".status.resolvedTemplateKind", "Kind the template resolved to"),
            AGE,
        ),
    ),
    KindInfo(
        kind="AIMService",
        plural="aimservices",
        short_names=("aimsvc",),
        scope="Namespaced",
        model=AIMService,
        list_model=AIMServiceList,
        printer_columns=(
            STATUS,
            PrinterColumn("Image", "string", ".spec.aimImageName", "AIM image name"),
            PrinterColumn("Template", "string", ".status.resolvedTemplate.name", "Resolved template"),
            PrinterColumn("Replicas", "integer", ".spec.replicas", "Requested replicas"),
            PrinterColumn("Path", "string", ".status.routing.path", "HTTP route path", priority=1),
            AGE,
        ),
    ),
)

_BY_KIND = {info.kind: info for info in KINDS}
_BY_PLURAL = {info.plural: info for info in KINDS}


def by_kind(kind: str) -> KindInfo:
    """The registry entry of ``kind``; ``KeyError`` for a kind that is not AIM's."""
    return _BY_KIND[kind]


def by_plural(plural: str) -> KindInfo:
    """The registry entry of a resource plural (``aimservices``)."""
    return _BY_PLURAL[plural]
