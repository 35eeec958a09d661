"""Path rules for HTTPRoute prefixes rendered from route templates (pure).

Why these rules (the original operator's, ``docs/original-behaviour.md``): the path becomes a Gateway
API ``PathPrefix`` match, and users compose it from object metadata; so it always starts with ``/``,
never ends with one, has no empty segments, each segment is made RFC 1123 (lower case, ``[a-z0-9.-]``),
and the whole path is at most :data:`MAX_PATH` characters (checked before and after the segment
clean-up, as the original did). Messages are the original's, verbatim.
"""

from __future__ import annotations

from aimctl.naming import rfc1123

#: Longest accepted path (characters).
MAX_PATH = 200

#: The route template used when neither the service nor its runtime config names one.
DEFAULT_ROUTE_TEMPLATE = "/{.metadata.namespace}/{.metadata.uid}"


class RoutePathError(ValueError):
    """A rendered path breaks the rules; the message is meant for ``status`` and events."""


def normalise_path(raw: str) -> str:
    """The canonical path for ``raw``: ``/seg1/seg2`` (or ``/``), each segment RFC 1123.

    Raises :class:`RoutePathError` for an empty path or one longer than :data:`MAX_PATH`.
    """
    path = raw.strip()
    if not path:
        raise RoutePathError("route template produced an empty path")
    if not path.startswith("/"):
        path = "/" + path
    path = path.rstrip("/") or "/"
    _check_length(path)
    segments = [s for s in (rfc1123(seg) for seg in path.split("/") if seg) if s]
    normalised = "/" + "/".join(segments)
    _check_length(normalised)
    return normalised


def default_path(namespace: str, uid: str) -> str:
    """``/<namespace>/<uid>`` normalised: the path when no template renders (or rendering failed)."""
    return normalise_path(f"/{namespace}/{uid}")


def _check_length(path: str) -> None:
    if len(path) > MAX_PATH:
        raise RoutePathError(f'route path "{path}" exceeds {MAX_PATH} characters')
