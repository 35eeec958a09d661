"""GPU availability from node labels (pure): does any node offer a template's GPU model?

The AMD GPU operator's node labeller describes each node's GPUs with labels (both under
``amd.com/`` and the older ``beta.amd.com/`` prefix). A node offers GPU model ``M`` (for example
``MI300X``) when, case-insensitively, any of these holds:

* ``gpu.product-name`` contains ``M`` (``AMD_Instinct_MI300X_OAM`` ⊇ ``MI300X``);
* ``amd.com/gpu.model`` equals ``M``;
* ``gpu.device-id`` is a PCI device id of ``M`` (see :data:`DEVICE_IDS`);
* ``gpu.family`` equals ``M`` (selectors may name a family, e.g. ``AI``).

and its allocatable ``amd.com/gpu`` is at least the requested count. Product names are compared with
words: the model must equal one word or consecutive words of the name, split at anything but letters
and digits — ``MI300X`` matches ``AMD_Instinct_MI300X_OAM`` and the virtual function ``MI300X-VF``,
``MI300`` matches neither. Cordoned (unschedulable) nodes do not count.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from aimctl.api.quantity import Quantity, QuantityParseError

GPU_RESOURCE = "amd.com/gpu"
PREFIXES = ("amd.com/", "beta.amd.com/")

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


def node_gpu_models(node: Mapping[str, Any]) -> set[str]:
    """Every model name the node's labels claim (upper-case), for diagnostics."""
    labels = (node.get("metadata") or {}).get("labels") or {}
    out: set[str] = set()
    for prefix in PREFIXES:
        if labels.get(prefix + "gpu.product-name"):
            out.add(str(labels[prefix + "gpu.product-name"]).upper())
        dev = str(labels.get(prefix + "gpu.device-id") or "").lower()
        if dev in DEVICE_IDS:
            out.add(DEVICE_IDS[dev])
    if labels.get("amd.com/gpu.model"):
        out.add(str(labels["amd.com/gpu.model"]).upper())
    return out


def node_has_model(node: Mapping[str, Any], model: str) -> bool:
    labels = (node.get("metadata") or {}).get("labels") or {}
    want = model.strip().upper()
    if not want:
        return False
    if str(labels.get("amd.com/gpu.model") or "").upper() == want:
        return True
    for prefix in PREFIXES:
        product = str(labels.get(prefix + "gpu.product-name") or "")
        if product and _contains_model(product, want):
            return True
        dev = str(labels.get(prefix + "gpu.device-id") or "").lower()
        if dev in DEVICE_IDS and _contains_model(DEVICE_IDS[dev], want):
            return True
        if str(labels.get(prefix + "gpu.family") or "").upper() == want:
            return True
    return False


def allocatable_gpus(node: Mapping[str, Any]) -> int:
    value = ((node.get("status") or {}).get("allocatable") or {}).get(GPU_RESOURCE)
    if value is None:
        return 0
    try:
        return Quantity.coerce(value).ceil_int()
    except QuantityParseError:
        return 0


def node_offers(node: Mapping[str, Any], model: str, count: int) -> bool:
    """Whether one node offers ``count`` GPUs of ``model`` (labels, allocatable, schedulable)."""
    if (node.get("spec") or {}).get("unschedulable"):
        return False
    return node_has_model(node, model) and allocatable_gpus(node) >= max(count, 1)


def gpu_available(nodes: Iterable[Mapping[str, Any]], model: str, count: int) -> bool:
    """Whether any node offers ``count`` GPUs of ``model``."""
    return any(node_offers(n, model, count) for n in nodes)


def unavailable_message(model: str, count: int) -> str:
    return (
        f'No schedulable node offers {count} GPU(s) of model "{model}" '
        f"(node labels amd.com/gpu.product-name, .model, .device-id or .family, and allocatable {GPU_RESOURCE})"
    )
