"""Image references (``[registry/]repository[:tag][@digest]``) with Docker's defaults.

The rules are the distribution reference grammar's: the first path component is a registry when it
contains a ``.`` or a ``:`` or is ``localhost``; otherwise the registry is Docker Hub
(``registry-1.docker.io``) and a single-component repository gets the ``library/`` prefix. The
default tag is ``latest``. Loopback registries are spoken to over plain HTTP, like Docker's built-in
insecure-registry rule for ``127.0.0.0/8`` and ``localhost``; every other registry over HTTPS.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from aimctl.oci.errors import InvalidImageError

DOCKER_HUB = "registry-1.docker.io"
DOCKER_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io", "registry.hub.docker.com"})
_REPO = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG = re.compile(r"^[\w][\w.-]{0,127}$")
_DIGEST = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


@dataclass(frozen=True)
class ImageReference:
    registry: str
    repository: str
    tag: str = "latest"
    digest: str | None = None

    @property
    def reference(self) -> str:
        """What to ask the manifests endpoint for: the digest if given, else the tag."""
        return self.digest or self.tag

    @property
    def insecure(self) -> bool:
        host = self.registry.rsplit(":", 1)[0] if not self.registry.startswith("[") else self.registry
        return host in ("localhost", "[::1]") or host.startswith("127.")

    @property
    def base_url(self) -> str:
        return f"{'http' if self.insecure else 'https'}://{self.registry}"

    def __str__(self) -> str:
        out = f"{self.registry}/{self.repository}:{self.tag}"
        return f"{out}@{self.digest}" if self.digest else out


def parse_reference(text: str) -> ImageReference:
    """Parse an image reference; raise :class:`InvalidImageError` for an invalid one."""
    rest = text.strip()
    digest = None
    if "@" in rest:
        rest, digest = rest.split("@", 1)
        if not _DIGEST.match(digest):
            raise InvalidImageError(f"invalid digest in image reference {text!r}")
    first, sep, remainder = rest.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, path = first, remainder
    else:
        registry, path = DOCKER_HUB, rest
    if registry in DOCKER_HUB_ALIASES:
        registry = DOCKER_HUB
    tag = "latest"
    name, colon, maybe_tag = path.rpartition(":")
    if colon and "/" not in maybe_tag:
        path, tag = name, maybe_tag
    if registry == DOCKER_HUB and "/" not in path:
        path = f"library/{path}"
    if not path or not _REPO.match(path):
        raise InvalidImageError(f"invalid repository in image reference {text!r}")
    if not _TAG.match(tag):
        raise InvalidImageError(f"invalid tag in image reference {text!r}")
    return ImageReference(registry, path, tag, digest)


#: Environment variable naming registry mirrors, e.g. ``docker.io=mirror.example:5000,ghcr.io=127.0.0.1:5001``.
MIRRORS_ENV = "AIMCTL_REGISTRY_MIRRORS"


def parse_mirrors(text: str) -> dict[str, str]:
    """``registry=mirror`` pairs (comma-separated) → a mapping; Docker Hub's aliases all map to its host.

    Why: air-gapped clusters (and the local demo) reach public registries only through a mirror.
    Raises ``ValueError`` naming the bad entry and the expected form.
    """
    mirrors: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        registry, sep, mirror = part.partition("=")
        registry, mirror = registry.strip(), mirror.strip()
        if not sep or not registry or not mirror or "/" in mirror:
            raise ValueError(
                f"{MIRRORS_ENV}: {part!r} is not registry=mirror-host[:port] (e.g. docker.io=127.0.0.1:5000)"
            )
        mirrors[DOCKER_HUB if registry in DOCKER_HUB_ALIASES else registry] = mirror
    return mirrors


def mirrored(ref: ImageReference, mirrors: dict[str, str]) -> ImageReference:
    """``ref`` with its registry replaced by its mirror, if one is configured."""
    mirror = mirrors.get(ref.registry)
    return ref if mirror is None else ImageReference(mirror, ref.repository, ref.tag, ref.digest)
