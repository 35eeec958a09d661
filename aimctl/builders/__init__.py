"""Pure manifest builders: AIM objects in, desired children out (JSON dicts ready for server-side apply).

Builders never read the cluster; they get everything as arguments and return the complete desired
object, so the controller can compare it with the cached child and skip unchanged applies.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from aimctl.api.enums import GROUP_VERSION
from aimctl.kube.objects import meta_of


def owner_reference(owner: Mapping[str, Any], kind: str) -> dict[str, Any]:
    """A controller owner reference to an AIM object (garbage collection removes the child with it)."""
    meta = meta_of(owner)
    return {
        "apiVersion": GROUP_VERSION,
        "kind": kind,
        "name": meta["name"],
        "uid": meta["uid"],
        "controller": True,
        "blockOwnerDeletion": True,
    }


def pull_secrets(*groups: Iterable[str | Mapping[str, Any]] | None) -> list[dict[str, str]]:
    """``imagePullSecrets`` (``[{name}]``) from several lists of names or ``{name}`` references, in
    order, without duplicates (the first occurrence wins); empty names are skipped."""
    names: dict[str, None] = {}
    for group in groups:
        for entry in group or ():
            name = entry.get("name") if isinstance(entry, Mapping) else entry
            if name:
                names.setdefault(str(name), None)
    return [{"name": n} for n in names]


def secret_names(refs: Iterable[Mapping[str, Any]] | None) -> list[str]:
    return [str(r["name"]) for r in refs or [] if r.get("name")]


def model_name(model_sources: Iterable[Mapping[str, Any]], aim_image_name: str) -> str:
    """The model's id: the first model source's name (one with a non-empty URI), else the template's
    ``aimImageName``."""
    for source in model_sources:
        if source.get("sourceUri") and source.get("name"):
            return str(source["name"])
    return aim_image_name
