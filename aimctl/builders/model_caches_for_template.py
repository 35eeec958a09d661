"""The AIMModelCaches an AIMTemplateCache wants: one per model source of its template (pure).

Names are deterministic so that every reconcile, every replica and every restart agrees on them:

* ``<templatecache>-<source>`` (the source's ``name``, else the last segment of its URI; ``.`` becomes
  ``-``) made RFC 1123, when that is at most :data:`MAX_NAME` characters and no other source of the
  same template maps to the same name;
* otherwise the name is cut and suffixed with ``-<sha256(sourceUri)[:8]>``, which keeps it unique
  (sources are de-duplicated by URI first) and still recognisable.

:data:`MAX_NAME` is 48, not 63: a model cache's own children are ``<name>-cache`` and
``<name>-cache-download``; 48 + 15 ≤ 63, so they are never truncated and never collide.

Each model cache is owned by the template cache (controller reference: deleting the template cache
deletes its model caches, and through them the PVCs and Jobs) and labelled
``aim.silogen.ai/templatecache=<templatecache>``, ``aim.silogen.ai/template=<template>`` and
``app.kubernetes.io/managed-by=aim-controller``. Its spec carries the source URI and size, the
template cache's ``env`` and ``imagePullSecrets``, and the storage class the template cache resolved
(its own ``storageClassName``, else its runtime config's ``defaultStorageClassName``; unset means the
cluster default). ``modelDownloadImage`` is left to the CRD default.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from aimctl import labels
from aimctl.api.enums import GROUP_VERSION
from aimctl.api.quantity import Quantity, QuantityParseError
from aimctl.builders.ownership import controller_reference
from aimctl.kube.objects import spec_of
from aimctl.naming import label_value, rfc1123, sha256_hex

MAX_NAME = 48
HASH_LENGTH = 8


@dataclass(frozen=True)
class ModelSource:
    """One entry of a template's ``status.modelSources``, as plain data."""

    name: str
    uri: str
    size: str | None
    """Canonical quantity text, or ``None`` when the template gave no (valid) size."""


def model_sources(raw: Sequence[Mapping[str, Any]] | None) -> tuple[ModelSource, ...]:
    """The template's model sources, de-duplicated by URI (first wins); entries without a URI are
    skipped. Sizes are canonicalised; an unparsable or non-positive size becomes ``None``."""
    out: dict[str, ModelSource] = {}
    for entry in raw or []:
        uri = str(entry.get("sourceUri") or "")
        if not uri or uri in out:
            continue
        out[uri] = ModelSource(str(entry.get("name") or ""), uri, _size(entry.get("size")))
    return tuple(out.values())


def _size(value: Any) -> str | None:
    if value is None:
        return None
    try:
        q = Quantity.coerce(value)
    except QuantityParseError:
        return None
    return str(q) if q.value > 0 else None


def _source_label(source: ModelSource) -> str:
    if source.name:
        return source.name
    return source.uri.rstrip("/").rsplit("/", 1)[-1].split("://")[-1]


def _plain_name(template_cache: str, source: ModelSource) -> str:
    return rfc1123(f"{template_cache}-{_source_label(source)}".replace(".", "-"))


def _hashed_name(template_cache: str, source: ModelSource) -> str:
    suffix = sha256_hex(source.uri, HASH_LENGTH)
    head = _plain_name(template_cache, source)[: MAX_NAME - HASH_LENGTH - 1].rstrip("-")
    return f"{head}-{suffix}" if head else suffix


def model_cache_names(template_cache: str, sources: Sequence[ModelSource]) -> dict[str, str]:
    """``sourceUri → model cache name`` for every source (see the module docstring)."""
    plain = {s.uri: _plain_name(template_cache, s) for s in sources}
    counts: dict[str, int] = {}
    for name in plain.values():
        counts[name] = counts.get(name, 0) + 1
    out: dict[str, str] = {}
    for s in sources:
        name = plain[s.uri]
        if not name or len(name) > MAX_NAME or counts[name] > 1:
            name = _hashed_name(template_cache, s)
        out[s.uri] = name
    return out


def template_cache_child_labels(template_cache: str, template: str) -> dict[str, str]:
    return {
        labels.MANAGED_BY: labels.MANAGER_AIM,
        labels.TEMPLATE_CACHE: label_value(template_cache),
        labels.TEMPLATE: label_value(template),
    }


def build_model_caches(
    template_cache: Mapping[str, Any],
    template_name: str,
    sources: Sequence[ModelSource],
    storage_class: str | None,
) -> list[dict[str, Any]]:
    """The desired AIMModelCaches of ``template_cache`` (raw, with metadata.uid) for ``sources``.

    Sources without a size are skipped (the controller reports them; a cache needs a size)."""
    meta = template_cache["metadata"]
    spec = spec_of(template_cache)
    names = model_cache_names(meta["name"], sources)
    owner = controller_reference(template_cache)
    child_labels = template_cache_child_labels(meta["name"], template_name)
    out: list[dict[str, Any]] = []
    for source in sources:
        if source.size is None:
            continue
        cache_spec: dict[str, Any] = {"sourceUri": source.uri, "size": source.size}
        if storage_class:
            cache_spec["storageClassName"] = storage_class
        if spec.get("env"):
            cache_spec["env"] = [dict(e) for e in spec["env"]]
        if spec.get("imagePullSecrets"):
            cache_spec["imagePullSecrets"] = [{"name": s["name"]} for s in spec["imagePullSecrets"] if s.get("name")]
        out.append(
            {
                "apiVersion": GROUP_VERSION,
                "kind": "AIMModelCache",
                "metadata": {
                    "name": names[source.uri],
                    "namespace": meta["namespace"],
                    "labels": dict(child_labels),
                    "ownerReferences": [owner],
                },
                "spec": cache_spec,
            }
        )
    return sorted(out, key=lambda o: str(o["metadata"]["name"]))
