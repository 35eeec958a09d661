"""Discovery output → ``status.profile`` and ``status.modelSources`` (pure).

A discovery Job runs the AIM image with ``dry-run --format=json``; the container prints a JSON array
of result objects (the original operator's format, ``docs/original-behaviour.md``)::

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
The output is written by the tenant's image, so *any* malformed output — nested deeper than Python
can parse, huge, or of the wrong types — ends in that error (and the template in Failed), never in
another exception (which would be retried forever). The work is bounded: at most
:data:`MAX_LOG_BYTES` of the log are parsed, the backwards scan decodes at most
:data:`MAX_SCAN_CHARS` characters in all, and a result is refused when nested deeper than
:data:`MAX_RESULT_DEPTH`, with more than :data:`MAX_MODELS` models or larger than
:data:`MAX_RESULT_BYTES` once converted; messages and excerpts are cut to a few hundred characters.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from aimctl.api.quantity import Quantity
from aimctl.kube.objects import dig

#: At most this much of the log is parsed (the tail is kept: results come last).
MAX_LOG_BYTES = 1 << 20
#: At most this many ``[`` positions (those followed by ``{`` or ``]``) are tried when scanning backwards.
MAX_SCAN_ATTEMPTS = 1000
#: At most this many ``[`` are looked at when scanning backwards.
MAX_BRACKETS_EXAMINED = 50_000
#: At most this many characters are decoded in all while scanning backwards.
MAX_SCAN_CHARS = 2 * MAX_LOG_BYTES
#: A result nested deeper than this is refused (real profiles are 3-4 levels deep).
MAX_RESULT_DEPTH = 32
#: At most this many models per result.
MAX_MODELS = 64
#: A converted result (profile and model sources, as JSON) larger than this is refused: it goes into
#: the template's status.
MAX_RESULT_BYTES = 64 << 10
EXCERPT_CHARS = 200
_ARRAY_START = re.compile(r"\[\s*(?=[{\]])")
MESSAGE_CHARS = 300
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
    #: The profile's id, as the AIM runtime names it in ``AIM_PROFILE_ID``: the result's ``filename``
    #: without directory and extension (``vllm-mi300x-fp16-tp1-latency.yaml`` →
    #: ``vllm-mi300x-fp16-tp1-latency``); empty when the output names none or a name that is not a
    #: plain id (:func:`profile_id`). The API's ``status.profile`` has no field for it: the template
    #: keeps it in its operator-owned memory annotation (``statemachines/template.py``).
    profile_id: str = ""

    @property
    def gpu_count(self) -> int:
        return int(dig(self.profile, "metadata", "gpu_count") or 0)


def excerpt(text: str, limit: int = EXCERPT_CHARS) -> str:
    """The last ``limit`` characters of the stripped output (``…`` marks a cut), characters outside the
    Basic Multilingual Plane replaced (the apiserver's YAML decoder refuses their escapes)."""
    stripped = text.strip()
    tail = stripped if len(stripped) <= limit else "…" + stripped[-limit:]
    return "".join(c if ord(c) < 0x10000 else "\ufffd" for c in tail)


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
        _check_shape(results[0])
        result = _convert(results[0])
        size = len(json.dumps({"profile": result.profile, "modelSources": result.model_sources}))
    except (ValueError, TypeError, OverflowError, RecursionError) as err:  # pydantic's ValidationError is a ValueError
        raise DiscoveryParseError(f"invalid discovery result: {_short_error(err)}", excerpt(text)) from err
    if size > MAX_RESULT_BYTES:
        raise DiscoveryParseError(
            f"invalid discovery result: larger than {MAX_RESULT_BYTES} bytes once converted ({size})", excerpt(text)
        )
    return result


def _check_shape(result: Any) -> None:
    """Refuse a result nested deeper than :data:`MAX_RESULT_DEPTH` or with too many models (iterative:
    no recursion on tenant data)."""
    models = result.get("models")
    if models is not None and not isinstance(models, list):
        raise ValueError(f"models must be a list, got {type(models).__name__}")
    if models is not None and len(models) > MAX_MODELS:
        raise ValueError(f"more than {MAX_MODELS} models ({len(models)})")
    stack: list[tuple[Any, int]] = [(result, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_RESULT_DEPTH:
            raise ValueError(f"nested more than {MAX_RESULT_DEPTH} levels deep")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


def _is_result(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("profile"), dict)


def _whole(text: str) -> list[Any] | None:
    try:
        value = json.loads(text)
    except (ValueError, RecursionError):
        return None
    if isinstance(value, list) and (not value or all(_is_result(v) for v in value)):
        return value
    return None


def _scan(text: str) -> list[Any] | None:
    """The last array of result objects in ``text`` (or ``[]`` for a trailing empty array).

    Only a ``[`` followed by ``{`` or ``]`` can start one, so only those are tried (from the end, at
    most :data:`MAX_SCAN_ATTEMPTS` among the last :data:`MAX_BRACKETS_EXAMINED` brackets); each is
    decoded from a slice starting there, so that a failure costs what was decoded (a
    ``JSONDecodeError`` counts lines up to its position in the document), and the characters decoded
    in all are bounded by :data:`MAX_SCAN_CHARS`.
    """
    decoder = json.JSONDecoder()
    empty_seen = False
    budget = MAX_SCAN_CHARS
    pos = len(text)
    attempts = 0
    for _ in range(MAX_BRACKETS_EXAMINED):
        pos = text.rfind("[", 0, pos)
        if pos < 0 or budget <= 0 or attempts >= MAX_SCAN_ATTEMPTS:
            break
        if not _ARRAY_START.match(text, pos):
            continue
        attempts += 1
        doc = text[pos:]
        try:
            value, end = decoder.raw_decode(doc)
        except json.JSONDecodeError as err:
            budget -= max(err.pos, 1)  # what this attempt decoded before failing
            continue
        except RecursionError:
            budget -= MAX_SCAN_CHARS // 8  # ~1000 levels deep: costly, and no position given
            continue
        except ValueError:
            budget -= len(doc)
            continue
        budget -= end
        if isinstance(value, list):
            if value and all(_is_result(v) for v in value):
                return value
            if not value and not doc[end:].strip():
                empty_seen = True
    return [] if empty_seen else None


def _convert(result: dict[str, Any]) -> DiscoveryResult:
    # The pydantic models are imported here, on the first result, not with the operator (aimctl.api.enums).
    from aimctl.api.discovery import AIMModelSource, AIMProfile

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
    # Not dig_list: a "models" that is not a list must fail below ("not an object"), not read as none.
    for model in result.get("models") or []:
        if not isinstance(model, dict):
            raise ValueError(f"model entry is not an object: {json.dumps(model)[:80]}")
        source: dict[str, Any] = {"name": model.get("name"), "source_uri": str(model.get("source") or "")}
        size_gb = model.get("size_gb")
        if size_gb is not None:
            if (
                isinstance(size_gb, bool)
                or not isinstance(size_gb, int | float)
                or not 0 <= size_gb < 2**63 / _GIB  # NaN and infinities fail this too
            ):
                raise ValueError(f"size_gb must be a non-negative number below 2^33, got {str(size_gb)[:40]}")
            source["size"] = Quantity.from_bytes(int(size_gb * _GIB))
        sources.append(AIMModelSource.model_validate(source).to_dict())
    return DiscoveryResult(profile, sources, profile_id(result.get("filename")))


#: What a profile id may be: a plain file-name stem, at most 253 characters (it becomes an env value).
_PROFILE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")


def profile_id(filename: Any) -> str:
    """The profile id a discovery result's ``filename`` names: its last path segment without the
    ``.yaml``/``.yml``/``.json`` extension; ``""`` for anything else (not a string, or not a plain id:
    the tenant's image writes it, and it reaches the runtime's env)."""
    if not isinstance(filename, str):
        return ""
    stem = filename.rsplit("/", 1)[-1]
    for ext in (".yaml", ".yml", ".json"):
        if stem.endswith(ext):
            stem = stem[: -len(ext)]
            break
    return stem if _PROFILE_ID.fullmatch(stem) else ""


def _env_value(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    return json.dumps(value) if isinstance(value, dict | list) else str(value)


def _short_error(err: Exception) -> str:
    from pydantic import ValidationError

    if isinstance(err, ValidationError):
        first = err.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        text = f"{where}: {first.get('msg')}" if where else str(first.get("msg"))
    elif isinstance(err, RecursionError):
        text = "nested too deeply"
    else:
        text = str(err)
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + "…"
