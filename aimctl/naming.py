"""Deterministic, RFC 1123 names and sanitised label values (pure; bit-exact with the original operator).

Users' dashboards, scripts and existing clusters rely on child names, so the schemes of
``reference/original-operator-behaviour.md`` §1.3 are reproduced exactly, including their quirks
(a trailing ``.`` can survive :func:`rfc1123`). Every label value aimctl writes goes through
:func:`label_value` (a fix: the original left some unsanitised).
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

_NOT_DNS = re.compile(r"[^a-z0-9.-]+")
_SEP_RUNS = re.compile(r"[-.]{2,}")
_NOT_LABEL = re.compile(r"[^A-Za-z0-9._-]+")
MAX_NAME = 63


def rfc1123(name: str) -> str:
    """Lowercase; non ``[a-z0-9.-]`` runs → ``-``; trim ``-.``; collapse ``[-.]{2,}`` → ``-``; cut to
    63; trim trailing ``-``."""
    s = _NOT_DNS.sub("-", name.lower()).strip("-.")
    s = _SEP_RUNS.sub("-", s)
    return s[:MAX_NAME].rstrip("-")


def with_suffix(name: str, *parts: str) -> str:
    """``name-part1-part2…`` made RFC 1123 (empty parts are skipped)."""
    return rfc1123("-".join([name, *[p for p in parts if p]]))


def label_value(value: str) -> str:
    """A valid label value: runs outside ``[A-Za-z0-9._-]`` → ``_``; trim ``_.-``; cut to 63 and trim
    again; ``unknown`` if nothing is left."""
    s = _NOT_LABEL.sub("_", value).strip("_.-")
    s = s[:MAX_NAME].rstrip("_.-")
    return s or "unknown"


def sha256_hex(text: str, length: int = 8) -> str:
    """The first ``length`` hex characters of SHA-256 over ``text`` (UTF-8)."""
    return hashlib.sha256(text.encode()).hexdigest()[:length]


def compact_json(value: Any) -> str:
    """Go's ``json.Marshal`` layout: no spaces, keys in the given (insertion) order, no HTML escaping."""
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def discovery_job_name(template_name: str, aim_image_name: str, image_uri: str) -> str:
    """``discover-<template[:45]>-<sha256(aimImageName + image)[:8]>`` (at most 63 characters).

    A fix over the original: when the template name is longer than 45 characters, the hash also covers
    the full template name. The original hashed only the image, so templates of one image whose names
    share their first 45 characters (``<long-image>-mi300x-x1-latency-fp8`` and ``...-throughput-fp8``,
    auto-created side by side) got the same Job, and the second one's apply failed as immutable.
    Names of templates up to 45 characters are unchanged.
    """
    key = aim_image_name + image_uri
    if len(template_name) > 45:
        key = template_name + "\x00" + key
    return rfc1123(f"discover-{template_name[:45]}-{sha256_hex(key)}")


def derived_template_name(base: str, overrides: dict[str, Any]) -> str:
    """``<base[:50] without trailing '-'>-ovr-<sha256(compact JSON of overrides)[:8]>``.

    ``overrides`` must already be in the API's field order (``metric``, ``precision``,
    ``gpuSelector{count, model}``) with unset fields omitted, as the original hashed it.
    """
    cut = base.strip()[: MAX_NAME - 13]
    trimmed = cut.rstrip("-") or cut
    return f"{trimmed}-ovr-{sha256_hex(compact_json(overrides))}"


def auto_template_name(image_name: str, gpu_model: str, gpu_count: int, metric: str, precision: str) -> str:
    """Name of a template auto-created from an image's recommended deployment, e.g.
    ``llama-3-8b-mi300x-x1-latency-fp8``."""
    return with_suffix(image_name, gpu_model, f"x{gpu_count}" if gpu_count > 0 else "", metric, precision)


def model_cache_pvc_name(cache_name: str) -> str:
    return rfc1123(f"{cache_name}-cache")


def model_cache_job_name(cache_name: str) -> str:
    return rfc1123(f"{cache_name}-cache-download")
