"""Templates auto-created from an image's recommended deployments (``docs/original-behaviour.md``).

One template per deployment: AIMServiceTemplate in the image's namespace for an AIMImage,
AIMClusterServiceTemplate for an AIMClusterImage; named ``rfc1123(image-gpuModel-x<count>-metric-
precision)`` (empty parts skipped); labelled ``auto-generated=true`` and ``aim-image=<image name>``
(sanitised, fix 13); owned by the image (garbage-collected with it). The spec has
``aimImageName``, ``metric`` and ``precision`` when set, and ``gpuSelector`` only when the model is set
and the count is positive; ``runtimeConfigName`` is left to the CRD default.

A deployment whose metric or precision the API would refuse is skipped (and reported by the image),
instead of failing every apply of its siblings.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aimctl import labels as L
from aimctl.api.enums import AIMMetric, AIMPrecision
from aimctl.builders import owner_reference
from aimctl.kube.objects import meta_of
from aimctl.naming import auto_template_name, label_value

_METRICS = {m.value for m in AIMMetric}
_PRECISIONS = {p.value for p in AIMPrecision}


@dataclass(frozen=True)
class Rejected:
    """A recommended deployment that cannot become a template, and why."""

    index: int
    reason: str


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def deployment_problem(dep: Mapping[str, Any]) -> str | None:
    metric, precision = dep.get("metric") or "", dep.get("precision") or ""
    if metric and metric not in _METRICS:
        return f'metric "{metric}" is not one of {", ".join(sorted(_METRICS))}'
    if precision and precision not in _PRECISIONS:
        return f'precision "{precision}" is not one of {", ".join(sorted(_PRECISIONS))}'
    return None


def build_auto_templates(
    image: Mapping[str, Any], image_kind: str, deployments: Sequence[Mapping[str, Any]]
) -> tuple[list[dict[str, Any]], list[Rejected]]:
    """The desired templates for ``deployments`` (deduplicated by name), and the rejected ones."""
    meta = meta_of(image)
    image_name = str(meta["name"])
    namespaced = image_kind == "AIMImage"
    out: dict[str, dict[str, Any]] = {}
    rejected: list[Rejected] = []
    for i, dep in enumerate(deployments):
        problem = deployment_problem(dep)
        if problem:
            rejected.append(Rejected(i, problem))
            continue
        model, count = str(dep.get("gpuModel") or ""), _int(dep.get("gpuCount"))
        metric, precision = str(dep.get("metric") or ""), str(dep.get("precision") or "")
        name = auto_template_name(image_name, model, count, metric, precision)
        spec: dict[str, Any] = {"aimImageName": image_name}
        if metric:
            spec["metric"] = metric
        if precision:
            spec["precision"] = precision
        if model and count > 0:
            spec["gpuSelector"] = {"model": model, "count": count}
        metadata: dict[str, Any] = {
            "name": name,
            "labels": {L.AUTO_GENERATED: "true", L.AIM_IMAGE: label_value(image_name)},
            "ownerReferences": [owner_reference(image, image_kind)],
        }
        if namespaced:
            metadata["namespace"] = meta["namespace"]
        out.setdefault(
            name,
            {
                "apiVersion": "aim.silogen.ai/v1alpha1",
                "kind": "AIMServiceTemplate" if namespaced else "AIMClusterServiceTemplate",
                "metadata": metadata,
                "spec": spec,
            },
        )
    return list(out.values()), rejected
