"""Resolution of names in AIM specs to the objects that satisfy them (pure functions over caches).

Every AIM kind names other objects: a runtime config (``runtimeConfigName``), an image
(``aimImageName``), a template (``templateRef``). The rule is the same everywhere — the namespaced
object first, then the cluster-scoped one — and so is what consumers need back: the effective spec, a
resolved reference for their status, and a message a person can act on when nothing matched. The
functions here read only from what they are given (informer stores or plain dicts keyed like stores:
``namespace/name`` or ``name``), so controllers, builders and tests share them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from aimctl.kube.objects import meta_of

Obj = dict[str, Any]


class Lookup(Protocol):
    """Anything with ``get(key)``: an :class:`informers.store.Store` or a plain ``dict``."""

    def get(self, key: str, /) -> Obj | None: ...


def key_of(namespace: str | None, name: str) -> str:
    """The store key of an object: ``namespace/name`` for namespaced objects, ``name`` otherwise."""
    return f"{namespace}/{name}" if namespace else name


def reference(obj: Mapping[str, Any], kind: str, scope: str) -> dict[str, Any]:
    """An ``AIMResolvedReference`` (JSON form) for a resolved object; empty fields are left out."""
    meta = meta_of(obj)
    ref = {
        "name": meta.get("name"),
        "namespace": meta.get("namespace") if scope == "Namespace" else None,
        "scope": scope,
        "kind": kind,
        "uid": meta.get("uid"),
    }
    return {k: v for k, v in ref.items() if v}
