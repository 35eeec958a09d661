"""Controller ownerReferences for children (pure).

Why: every child aimctl creates is garbage-collected with its parent and maps back to
it through ``controller_owner_key``; both need exactly one ``controller: true`` reference carrying the
parent's UID. ``blockOwnerDeletion: true`` makes a foreground deletion of the parent wait for its
children, as controller-runtime's ``SetControllerReference`` does.

Guarantee: the reference is complete (apiVersion, kind, name, uid) or :func:`controller_reference`
raises ``ValueError`` — an ownerReference without a UID would be rejected by the apiserver, and one
with a wrong UID would have the child collected at once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from aimctl.kube.objects import name_of, uid_of


def controller_reference(owner: Mapping[str, Any]) -> dict[str, Any]:
    """The ``metadata.ownerReferences`` entry that makes ``owner`` the controller of a child."""
    api_version, kind, name, uid = owner.get("apiVersion"), owner.get("kind"), name_of(owner), uid_of(owner)
    if not (api_version and kind and name and uid):
        raise ValueError(f"owner {kind}/{name} lacks apiVersion, kind, name or uid")
    return {
        "apiVersion": str(api_version),
        "kind": str(kind),
        "name": str(name),
        "uid": str(uid),
        "controller": True,
        "blockOwnerDeletion": True,
    }
