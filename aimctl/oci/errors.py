"""Registry failures, split by what a controller should do about them.

* :class:`TransientRegistryError` — timeouts, connection failures, 5xx, 429: retry with backoff.
* :class:`RegistryAuthError` — the registry refused the credentials (or wants some and none were
  given): report it; retry when the credentials change.
* :class:`ImageNotFoundError` — the repository, tag or digest does not exist.
* :class:`InvalidImageError` — the registry answered, but not with a usable image (unknown media
  type, no linux/amd64 manifest, a config that is not JSON, an unparsable reference).

Messages never contain credentials.
"""

from __future__ import annotations


class RegistryError(Exception):
    """Base of every registry failure; ``reason`` is a condition reason (CamelCase)."""

    reason = "RegistryError"
    transient = False


class TransientRegistryError(RegistryError):
    reason = "RegistryUnavailable"
    transient = True


class RegistryAuthError(RegistryError):
    reason = "RegistryAuthFailed"


class ImageNotFoundError(RegistryError):
    reason = "ImageNotFoundInRegistry"


class InvalidImageError(RegistryError):
    reason = "InvalidImage"
