"""GPU availability and GPU node affinity from node labels (pure): one rule for both.

The AMD GPU operator's node labeller describes each node's GPUs with labels (both under
``amd.com/`` and the older ``beta.amd.com/`` prefix). **The label rule**: a node's labels name GPU
model ``M`` (for example ``MI300X``) when, case-insensitively, any of these holds:

* ``amd.com/gpu.model`` equals ``M``;
* ``(beta.)amd.com/gpu.product-name`` contains ``M`` as words (``AMD_Instinct_MI300X_OAM`` ⊇
  ``MI300X``): the model must equal one word or consecutive words of the name, split at anything but
  letters and digits — ``MI300X`` matches ``AMD_Instinct_MI300X_OAM`` and the virtual function
  ``MI300X-VF``, ``MI300`` matches neither;
* ``(beta.)amd.com/gpu.device-id`` is a PCI device id of ``M`` (see :data:`DEVICE_IDS`);
* ``(beta.)amd.com/gpu.family`` equals ``M`` (selectors may name a family, e.g. ``AI``).

Two questions are answered from that one rule, so they cannot disagree:

* **Does a node offer new capacity for ``count`` GPUs of ``M``?** (:func:`node_offers`, the
  template's availability check and the automatic template choice): its labels name ``M``, its
  allocatable ``amd.com/gpu`` is at least ``count`` (node capacity: pods already placed are not
  subtracted), and it is not cordoned (``spec.unschedulable``).
* **Which nodes may the predictor run on?** (:func:`node_selector_terms`, the InferenceService's
  required node affinity): Kubernetes affinity compares whole label values, it cannot test "contains
  as words", so the terms list, per label key of the rule, the label values that name ``M`` — the
  canonical ones (``amd.com/gpu.model=M``, ``M``'s device ids, ``gpu.family=M``) plus every other
  value that names ``M`` on a node the cluster has now (e.g. ``gpu.product-name=AMD_Instinct_MI300X_OAM``).
  Guarantee: for every node given, :func:`labels_name_model` holds exactly when the node's labels
  satisfy the terms. Caveat: a node that arrives later with a spelling no node had before is selected
  only once the affinity is rebuilt (the service controller does so on node label changes, which
  updates the InferenceService). Cordoned nodes are not left out of the terms: cordoning does not
  change the affinity of running predictors.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from enum import Enum
from typing import Any

from aimctl.api.quantity import Quantity, QuantityParseError
from aimctl.kube.objects import dig, dig_list, labels_of

GPU_RESOURCE = "amd.com/gpu"
PREFIXES = ("amd.com/", "beta.amd.com/")
MODEL_LABEL = "amd.com/gpu.model"
PRODUCT_NAME_LABELS = tuple(p + "gpu.product-name" for p in PREFIXES)
DEVICE_ID_LABELS = tuple(p + "gpu.device-id" for p in PREFIXES)
FAMILY_LABELS = tuple(p + "gpu.family" for p in PREFIXES)
#: Every label key the rule reads, in the order the affinity terms list them.
RULE_LABELS = (MODEL_LABEL, *PRODUCT_NAME_LABELS, *DEVICE_ID_LABELS, *FAMILY_LABELS)

#: PCI device ids of AMD Instinct GPUs (lower-case hex) → model.
DEVICE_IDS: Mapping[str, str] = {
    "738c": "MI100",
    "738e": "MI100",
    "7408": "MI250X",
    "740c": "MI250X",
    "740f": "MI210",
    "7410": "MI210",
    "74a0": "MI300A",
    "74a1": "MI300X",
    "74a9": "MI300X-HF",
    "74b5": "MI300X-VF",
    "74a2": "MI308X",
    "74a5": "MI325X",
    "74b9": "MI325X-VF",
    "75a0": "MI350X",
    "75a3": "MI355X",
}

_NON_ALNUM = re.compile(r"[^A-Z0-9]+")


def _norm(value: str) -> str:
    return _NON_ALNUM.sub("", value.upper())


def _contains_model(name: str, model: str) -> bool:
    """``model`` equals one word, or several consecutive words, of ``name`` (words split at anything
    but letters and digits; case-insensitive)."""
    words = [w for w in _NON_ALNUM.split(name.upper()) if w]
    want = _norm(model)
    for i in range(len(words)):
        joined = ""
        for word in words[i:]:
            joined += word
            if joined == want:
                return True
            if len(joined) >= len(want):
                break
    return False


def label_names_model(key: str, value: str, model: str) -> bool:
    """Whether one label ``key=value`` names GPU ``model`` under the rule of the module docstring."""
    want = model.strip().upper()
    value = str(value)
    if not want or not value:
        return False
    if key == MODEL_LABEL or key in FAMILY_LABELS:
        return value.strip().upper() == want
    if key in PRODUCT_NAME_LABELS:
        return _contains_model(value, want)
    if key in DEVICE_ID_LABELS:
        dev = value.strip().lower()
        return dev in DEVICE_IDS and _contains_model(DEVICE_IDS[dev], want)
    return False


def labels_name_model(node: Mapping[str, Any], model: str) -> bool:
    """Whether the node's labels name GPU ``model`` (whatever its capacity or schedulability)."""
    labels = labels_of(node)
    return any(label_names_model(key, str(labels[key]), model) for key in RULE_LABELS if key in labels)


#: The older name of :func:`labels_name_model`.
node_has_model = labels_name_model


def node_gpu_models(node: Mapping[str, Any]) -> set[str]:
    """Every model name the node's labels claim (upper-case), for diagnostics."""
    labels = labels_of(node)
    out: set[str] = set()
    for prefix in PREFIXES:
        if labels.get(prefix + "gpu.product-name"):
            out.add(str(labels[prefix + "gpu.product-name"]).upper())
        dev = str(labels.get(prefix + "gpu.device-id") or "").lower()
        if dev in DEVICE_IDS:
            out.add(DEVICE_IDS[dev])
    if labels.get(MODEL_LABEL):
        out.add(str(labels[MODEL_LABEL]).upper())
    return out


def allocatable_gpus(node: Mapping[str, Any]) -> int:
    value = dig(node, "status", "allocatable", GPU_RESOURCE)
    if value is None:
        return 0
    try:
        return Quantity.coerce(value).ceil_int()
    except QuantityParseError:
        return 0


def cordoned(node: Mapping[str, Any]) -> bool:
    return bool(dig(node, "spec", "unschedulable"))


def node_offers(node: Mapping[str, Any], model: str, count: int) -> bool:
    """Whether one node offers new capacity for ``count`` GPUs of ``model``: labels (the rule),
    allocatable (at least ``max(count, 1)``), and not cordoned."""
    if cordoned(node):
        return False
    return labels_name_model(node, model) and allocatable_gpus(node) >= max(count, 1)


def gpu_available(nodes: Iterable[Mapping[str, Any]], model: str, count: int) -> bool:
    """Whether any node offers ``count`` GPUs of ``model``."""
    return any(node_offers(n, model, count) for n in nodes)


class GpuOffer(Enum):
    """How the cluster offers ``count`` GPUs of a model (see :func:`gpu_offer`)."""

    #: A schedulable node offers them.
    OFFERED = "Offered"
    #: Only cordoned nodes would: no new capacity, but predictors already placed keep running.
    CORDONED = "Cordoned"
    #: No node offers them.
    NONE = "None"


def gpu_offer(nodes: Iterable[Mapping[str, Any]], model: str, count: int) -> GpuOffer:
    """:attr:`GpuOffer.OFFERED` when a schedulable node offers ``count`` GPUs of ``model``,
    :attr:`GpuOffer.CORDONED` when only cordoned nodes would, else :attr:`GpuOffer.NONE`."""
    result = GpuOffer.NONE
    for n in nodes:
        if labels_name_model(n, model) and allocatable_gpus(n) >= max(count, 1):
            if not cordoned(n):
                return GpuOffer.OFFERED
            result = GpuOffer.CORDONED
    return result


def node_selector_terms(model: str, nodes: Iterable[Mapping[str, Any]] = ()) -> list[dict[str, Any]]:
    """The required node affinity (ORed terms) selecting exactly the nodes whose labels name
    ``model`` (see the module docstring): one ``In`` term per label key of the rule, with the
    canonical values for ``model`` and every value on ``nodes`` that names it, sorted. ``[]`` for an
    empty model."""
    want = model.strip().upper()
    if not want:
        return []
    ids = sorted(i for i in DEVICE_IDS if _contains_model(DEVICE_IDS[i], want))
    values: dict[str, set[str]] = {key: set() for key in RULE_LABELS}
    values[MODEL_LABEL].add(want)
    for key in DEVICE_ID_LABELS:
        values[key].update(ids)
    for key in FAMILY_LABELS:
        values[key].add(want)
    for node in nodes:
        labels = labels_of(node)
        for key in RULE_LABELS:
            if key in labels and label_names_model(key, str(labels[key]), want):
                values[key].add(str(labels[key]))
    return [
        {"matchExpressions": [{"key": key, "operator": "In", "values": sorted(values[key])}]}
        for key in RULE_LABELS
        if values[key]
    ]


def selector_terms_select(terms: Iterable[Mapping[str, Any]], node: Mapping[str, Any]) -> bool:
    """Whether a node's labels satisfy ORed node selector terms (``In``, ``NotIn``, ``Exists``,
    ``DoesNotExist`` expressions; Kubernetes' semantics). Used to prove the agreement in tests and by
    diagnostics."""
    labels = labels_of(node)
    for term in terms:
        exprs = dig_list(term, "matchExpressions")
        if exprs and all(_expr_holds(e, labels) for e in exprs):
            return True
    return False


def _expr_holds(expr: Mapping[str, Any], labels: Mapping[str, Any]) -> bool:
    key, op, vals = str(expr.get("key")), expr.get("operator"), [str(v) for v in dig_list(expr, "values")]
    present = key in labels
    if op == "In":
        return present and str(labels[key]) in vals
    if op == "NotIn":
        return not present or str(labels[key]) not in vals
    if op == "Exists":
        return present
    if op == "DoesNotExist":
        return not present
    return False


def unavailable_message(model: str, count: int, offer: GpuOffer = GpuOffer.NONE) -> str:
    if offer is GpuOffer.CORDONED:
        return (
            f'Every node that offers {count} GPU(s) of model "{model}" is cordoned: no new predictor can be '
            "placed; services already running on this template are kept"
        )
    return (
        f'No schedulable node offers {count} GPU(s) of model "{model}" '
        f"(node labels amd.com/gpu.product-name, .model, .device-id or .family, and allocatable {GPU_RESOURCE})"
    )
