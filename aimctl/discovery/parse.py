"""Discovery output → ``status.profile`` and ``status.modelSources`` (pure).

A discovery Job runs the AIM image with ``dry-run --format=json``; the container prints a JSON array
of result objects (``reference/original-operator-behaviour.md`` §4.5)::

    [{"filename": "...",
      "profile": {"metadata": {"engine", "gpu", "precision", "gpu_count", "metric"},
                  "engine_args": {...}, "env_vars": {...}, ...},
      "models": [{"name": "...", "source": "hf://...", "size_gb": 16.07}]}]

Images also log to stdout, so the text is parsed leniently:

1. the whole log as JSON;
2. else every ``[`` from the end backwards is tried as the start of a JSON array (trailing text after
   the array is ignored), and the last array in the log whose elements are result objects (objects with
   a ``profile`` object) wins.

The first element is used. ``size_gb`` becomes ``int(size_gb * 1024³)`` bytes printed as a binary-SI
quantity (0.5 → ``512Mi``), exactly as the original operator printed it. The profile is validated
against the API (metric and precision enums), so an output the status could not hold is a parse
failure here, not a failed status write later.

Failures raise :class:`DiscoveryParseError` with a reason, a message and a short excerpt of the output.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from aimctl.api.discovery import AIMModelSource, AIMProfile
from aimctl.api.quantity import Quantity

#: At most this much of the log is parsed (the tail is kept: results come last).
MAX_LOG_BYTES = 1 << 20
#: At most this many ``[`` positions are tried when scanning backwards.
MAX_SCAN_ATTEMPTS = 5000
EXCERPT_CHARS = 200
_GIB = 1024**3


class DiscoveryParseError(ValueError):
    """The discovery output holds no usable result."""

    def __init__(self, message: str, excerpt: str) -> None:
        super().__init__(message)
        self.message = message
        self.excerpt = excerpt

    def __str__(self) -> str:
        return f"{self.message}; output ends with: {json.dumps(self.excerpt, ensure_ascii=False)}"


@dataclass(frozen=True)
class DiscoveryResult:
    """What a successful discovery contributes to template status (JSON forms)."""

    profile: dict[str, Any]
    model_sources: list[dict[str, Any]] = field(default_factory=list)

    @property
    def gpu_count(self) -> int:
        return int((self.profile.get("metadata") or {}).get("gpu_count") or 0)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The last ``limit`` characters of the stripped output (``…`` marks a cut)."""
    stripped = text.strip()
    return stripped if len(stripped) <= limit else "…" + stripped[-limit:]


def parse_discovery_output(text: str) -> DiscoveryResult:
    """Parse a discovery log (see the module docstring); raise :class:`DiscoveryParseError`."""
    if len(text) > MAX_LOG_BYTES:
        text = text[-MAX_LOG_BYTES:]
    if not text.strip():
        raise DiscoveryParseError("discovery output is empty", "")
    results = _whole(text)
    if results is None:
        results = _scan(text)
    if results is None:
        raise DiscoveryParseError("no JSON array of discovery results found in the output", excerpt(text))
    if not results:
        raise DiscoveryParseError("discovery output contains empty array", excerpt(text))
    try:
        return _convert(results[0])
    except (ValidationError, ValueError, TypeError) as err:
        raise DiscoveryParseError(f"invalid discovery result: {_short_error(err)}", excerpt(text)) from err


def _is_result(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("profile"), dict)


def _whole(text: str) -> list[Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    if isinstance(value, list) and (not value or all(_is_result(v) for v in value)):
        return value
    return None


def _scan(text: str) -> list[Any] | None:
    decoder = json.JSONDecoder()
    pos = len(text)
    empty_seen = False
    for _ in range(MAX_SCAN_ATTEMPTS):
        pos = text.rfind("[", 0, pos)
        if pos < 0:
            break
        try:
            value, _end = decoder.raw_decode(text, pos)
        except ValueError:
            continue
        if isinstance(value, list):
            if value and all(_is_result(v) for v in value):
                return value
            if not value and not text[_end:].strip():
                empty_seen = True
    return [] if empty_seen else None


def _convert(result: dict[str, Any]) -> DiscoveryResult:
    raw = result["profile"]
    metadata = raw.get("metadata")
    env_vars = raw.get("env_vars")
    profile_in: dict[str, Any] = {
        "engine_args": raw.get("engine_args") if isinstance(raw.get("engine_args"), dict) else None,
        "env_vars": {str(k): _env_value(v) for k, v in env_vars.items()} if isinstance(env_vars, dict) else None,
        "metadata": metadata if isinstance(metadata, dict) else None,
    }
    profile = AIMProfile.model_validate(profile_in).to_dict()
    sources: list[dict[str, Any]] = []
    for model in result.get("models") or []:
        if not isinstance(model, dict):
            raise ValueError(f"model entry is not an object: {model!r}")
        source: dict[str, Any] = {"name": model.get("name"), "source_uri": str(model.get("source") or "")}
        size_gb = model.get("size_gb")
        if size_gb is not None:
            if isinstance(size_gb, bool) or not isinstance(size_gb, int | float) or size_gb < 0:
                raise ValueError(f"size_gb must be a non-negative number, got {size_gb!r}")
            source["size"] = Quantity.from_bytes(int(size_gb * _GIB))
        sources.append(AIMModelSource.model_validate(source).to_dict())
    return DiscoveryResult(profile, sources)


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _short_error(err: Exception) -> str:
    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        return f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    return str(err)
