"""Pure manifest builders: AIM objects in, desired children out (JSON dicts ready for server-side apply).

Builders never read the cluster; they get everything as arguments and return the complete desired
object, so the controller can compare it with the cached child and skip unchanged applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aimctl.api.enums import GROUP_VERSION


def owner_reference(owner: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A controller owner reference to an AIM object (garbage collection removes the child with it)."""
    meta = owner.get("metadata") or {}
    return {
        "apiVersion": GROUP_VERSION,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pull_secrets(*groups: Iterable[str]) -> list[dict[str, str]]:
    """``imagePullSecrets`` from several name lists, in order, without duplicates."""
    names: dict[str, None] = {}
    for group in groups:
        for name in group:
            if name:
                names.setdefault(name, None)
    return [{"name": n} for n in names]


def secret_names(refs: Iterable[Mapping[str, Any]] | None) -> list[str]:
    return [str(r["name"]) for r in refs or [] if r.get("name")]
