"""Read accessors for Kubernetes objects held as plain JSON dicts (cache entries, manifests).

The generic accessors (:func:`dig` and its typed variants, the standard sections, owners and
conditions) are defined in :mod:`informers.objects`, the lowest layer, so the informers use the same
ones; they are re-exported here beside what only the operator reads (its JSON memory annotations).
Import them from here in :mod:`aimctl`. A missing or ``null`` field reads as empty, never as an error;
callers must not modify what the accessors return.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from informers.objects import (
    annotations_of,
    condition,
    conditions_of,
    container_statuses,
    controlled_by,
    controller_ref,
    created_at,
    deleting,
    dig,
    dig_list,
    dig_map,
    dig_str,
    find_condition,
    get_path,
    key_of,
    labels_of,
    meta_of,
    name_of,
    namespace_of,
    owner_refs,
    section,
    spec_of,
    status_of,
    uid_of,
)

__all__ = [
    "annotations_of",
    "condition",
    "conditions_of",
    "container_statuses",
    "controlled_by",
    "controller_ref",
    "created_at",
    "deleting",
    "dig",
    "dig_list",
    "dig_map",
    "dig_str",
    "find_condition",
    "get_path",
    "json_annotation",
    "key_of",
    "labels_of",
    "meta_of",
    "name_of",
    "namespace_of",
    "owner_refs",
    "section",
    "spec_of",
    "status_of",
    "uid_of",
]


def json_annotation(obj: Mapping[str, Any] | None, name: str) -> dict[str, Any]:
    """The JSON object kept in annotation ``name`` (an operator-owned memory, see
    ``KindController.memory_annotation``); ``{}`` when absent or not a JSON object."""
    raw = annotations_of(obj).get(name)
    try:
        value = json.loads(raw) if raw else {}
    except (TypeError, ValueError):
        return {}
    return value if isinstance(value, dict) else {}
