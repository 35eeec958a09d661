"""Registry credentials from Kubernetes pull secrets (``kubernetes.io/dockerconfigjson`` and the
legacy ``kubernetes.io/dockercfg``), read from the informer cache.

Matching follows the kubelet: a secret's entry applies to a registry when its key, stripped of a
scheme and a path, equals the registry host (``host:port`` included); Docker Hub's entry may be
written ``https://index.docker.io/v1/``, ``docker.io`` or ``registry-1.docker.io``. The first secret
(in the order given) with a matching entry wins.

:func:`pull_secret_projection` is the transform of the shared Secret informer: it keeps the data of
pull secrets only, so the operator never holds other secrets' contents in memory. And
:data:`PULL_SECRET_SELECTIONS` are its field selectors: the informer lists and watches only Secrets of
the two pull-secret types (one selector each: field selectors cannot say "either"), so no other
Secret's data ever crosses the wire. A Secret's ``type`` is immutable, so a Secret never moves between
the two. Consequence: a Secret of another type named as a pull secret is reported as missing (the
kubelet ignores it as a pull secret too).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aimctl.kube.objects import dig_map, meta_of
from aimctl.logging import register_secret
from aimctl.oci.reference import DOCKER_HUB, DOCKER_HUB_ALIASES
from informers.reflector import Selection

DOCKER_CONFIG_JSON = "kubernetes.io/dockerconfigjson"
DOCKER_CFG = "kubernetes.io/dockercfg"
PULL_SECRET_TYPES = frozenset({DOCKER_CONFIG_JSON, DOCKER_CFG})


def _of_type(secret_type: str) -> Selection:
    return Selection(f"type={secret_type}", lambda obj: obj.get("type") == secret_type)


#: The Secret informer's field selections: pull secrets only (see the module docstring).
PULL_SECRET_SELECTIONS: tuple[Selection, ...] = (_of_type(DOCKER_CONFIG_JSON), _of_type(DOCKER_CFG))
_KEEP_METADATA = (
    "name", "namespace", "uid", "resourceVersion", "labels", "ownerReferences", "deletionTimestamp",
    "creationTimestamp",
)  # fmt: skip


@dataclass(frozen=True)
class Credentials:
    """A user name and password (or identity token) for one registry. ``repr`` hides the secret."""

    username: str
    password: str
    #: The registry host they belong to (normalised; empty: unknown). The registry client sends them
    #: to that host only.
    registry: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        # Pull-secret credentials are secrets: never logged, even quoted in an error message.
        register_secret(self.password)
        register_secret(base64.b64encode(f"{self.username}:{self.password}".encode()).decode())

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password=***, registry={self.registry!r})"


def pull_secret_projection(obj: dict[str, Any]) -> dict[str, Any]:
    """Keep metadata, ``type`` and — for pull secrets only — ``data`` (the Secret informer's transform)."""
    meta = meta_of(obj)
    out: dict[str, Any] = {k: obj[k] for k in ("apiVersion", "kind", "type") if k in obj}
    out["metadata"] = {k: meta[k] for k in _KEEP_METADATA if k in meta}
    if obj.get("type") in PULL_SECRET_TYPES and "data" in obj:
        out["data"] = obj["data"]
    return out


def normalise_host(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``registry-1.docker.io``; ``http://h:5000/x`` → ``h:5000``."""
    host = key.strip()
    if "://" in host:
        host = host.split("://", 1)[1]
    host = host.split("/", 1)[0].lower()
    return DOCKER_HUB if host in DOCKER_HUB_ALIASES else host


def _auths(secret: Mapping[str, Any]) -> Mapping[str, Any]:
    data = dig_map(secret, "data")
    kind = secret.get("type")
    raw = data.get(".dockerconfigjson") if kind == DOCKER_CONFIG_JSON else data.get(".dockercfg")
    if not raw:
        return {}
    try:
        doc = json.loads(base64.b64decode(raw))
    except (ValueError, binascii.Error):
        return {}
    if not isinstance(doc, dict):
        return {}
    auths = doc.get("auths") if kind == DOCKER_CONFIG_JSON else doc
    return auths if isinstance(auths, dict) else {}


def _entry_credentials(entry: Any) -> Credentials | None:
    if not isinstance(entry, dict):
        return None
    if entry.get("username") or entry.get("password"):
        return Credentials(str(entry.get("username") or ""), str(entry.get("password") or ""))
    if entry.get("auth"):
        try:
            user, _, password = base64.b64decode(str(entry["auth"])).decode().partition(":")
        except (ValueError, binascii.Error, UnicodeDecodeError):
            return None
        return Credentials(user, password)
    return None


def credentials_for(registry: str, secrets: Iterable[Mapping[str, Any]]) -> Credentials | None:
    """The credentials the first matching pull secret holds for ``registry``, else ``None``."""
    target = normalise_host(registry)
    for secret in secrets:
        for key, entry in _auths(secret).items():
            if normalise_host(str(key)) == target:
                creds = _entry_credentials(entry)
                if creds is not None:
                    return replace(creds, registry=target)
    return None


def fingerprint(secrets: Iterable[tuple[str, Mapping[str, Any] | None]]) -> str:
    """A short, stable digest of ``(name, cached secret or None)`` pairs: which pull secrets exist and
    their versions. It changes whenever the credentials a consumer would use change, and reveals
    nothing about them."""
    parts = []
    for name, s in secrets:
        meta = meta_of(s)
        parts.append(f"{name}@{meta.get('resourceVersion', '-')}" if s else f"{name}@-")
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:12]
