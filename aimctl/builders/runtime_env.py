"""The environment of the AIM runtime container: what the operator prepared, told to the runtime (pure).

The AIM runtime reads its settings from the environment. What the operator resolved for a service —
the template's optimisation goal and precision, the discovered profile's engine arguments, and where
the model caches are mounted — reaches it as:

============================ ==========================================================================
``AIM_METRIC``               the template's ``metric`` (a derived template's: the override), else the
                             discovered profile's ``metadata.metric``; unset when neither has one
``AIM_PRECISION``            likewise from ``precision``
``AIM_PROFILE_ID``           the discovered profile's ``id``: the discovery result's file name stem,
                             which the API's ``status.profile`` has no field for; the template keeps
                             it in its memory annotation and the controllers add it to the profile
                             they pass here (``aimctl.controllers.common.discovered_profile_id``)
``AIM_ENGINE_ARGS``          the discovered profile's ``engine_args`` as compact JSON (keys sorted)
``AIM_CACHE_PATH``           :data:`CACHE_PATH` (``/workspace/cache``), the root under which every
                             model cache is mounted at ``<root>/<model id>`` (see
                             :func:`cache_mount_path`)
============================ ==========================================================================

Precedence, highest first: the service's ``env``, the template's ``env`` (namespaced templates), the
values above, the runtime config's env (the API has no such field today: the layer is kept for it).
A name set by a higher layer replaces the lower one's entry whole (``valueFrom`` included), except
``AIM_ENGINE_ARGS``: when both sides are JSON objects they are deep-merged (objects key by key, the
higher layer winning; anything else is replaced), so a service can change one engine argument
without repeating the discovered ones. A value that is not a JSON object replaces the lower one.

The order is stable (a name keeps the position of its first, lowest-precedence appearance), so the
list compares equal from one reconcile to the next and a steady state makes no writes.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

#: Where the runtime looks for model caches, unless ``AIM_CACHE_PATH`` is set by the service or template.
CACHE_PATH = "/workspace/cache"
CACHE_PATH_ENV = "AIM_CACHE_PATH"
METRIC_ENV = "AIM_METRIC"
PRECISION_ENV = "AIM_PRECISION"
PROFILE_ID_ENV = "AIM_PROFILE_ID"
ENGINE_ARGS_ENV = "AIM_ENGINE_ARGS"

EnvVar = dict[str, Any]


def _profile_metadata(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = profile.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def engine_args_json(engine_args: Mapping[str, Any]) -> str:
    """Compact JSON with sorted keys: the same arguments always give the same text."""
    return json.dumps(engine_args, separators=(",", ":"), sort_keys=True)


def prepared_env(template_spec: Mapping[str, Any], profile: Mapping[str, Any] | None) -> list[EnvVar]:
    """The ``AIM_*`` variables the operator derives from a template and its discovered profile (see
    the module docstring), in a fixed order."""
    profile = profile or {}
    meta = _profile_metadata(profile)
    out: list[EnvVar] = []
    for env, key in ((METRIC_ENV, "metric"), (PRECISION_ENV, "precision")):
        value = template_spec.get(key) or meta.get(key)
        if value:
            out.append({"name": env, "value": str(value)})
    profile_id = profile.get("id")
    if profile_id:
        out.append({"name": PROFILE_ID_ENV, "value": str(profile_id)})
    engine_args = profile.get("engine_args")
    if isinstance(engine_args, Mapping) and engine_args:
        out.append({"name": ENGINE_ARGS_ENV, "value": engine_args_json(engine_args)})
    out.append({"name": CACHE_PATH_ENV, "value": CACHE_PATH})
    return out


def deep_merge(low: Any, high: Any) -> Any:
    """``high`` over ``low``: objects merged key by key (recursively), anything else replaced."""
    if isinstance(low, dict) and isinstance(high, dict):
        out = dict(low)
        for key, value in high.items():
            out[key] = deep_merge(low[key], value) if key in low else copy.deepcopy(value)
        return out
    return copy.deepcopy(high)


def _json_object(entry: Mapping[str, Any]) -> dict[str, Any] | None:
    if "valueFrom" in entry:
        return None
    try:
        value = json.loads(str(entry.get("value") or ""))
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


def merge_env(layers: Iterable[Sequence[Mapping[str, Any]]]) -> list[EnvVar]:
    """Merge env lists given **lowest precedence first** (see the module docstring)."""
    merged: dict[str, EnvVar] = {}
    for layer in layers:
        for raw in layer or ():
            name = str(raw.get("name") or "")
            if not name:
                continue
            entry = copy.deepcopy(dict(raw))
            lower = merged.get(name)
            if name == ENGINE_ARGS_ENV and lower is not None:
                low_obj, high_obj = _json_object(lower), _json_object(entry)
                if low_obj is not None and high_obj is not None:
                    entry = {"name": name, "value": engine_args_json(deep_merge(low_obj, high_obj))}
            merged[name] = entry
    return list(merged.values())


def runtime_env(
    service_env: Sequence[Mapping[str, Any]],
    template_env: Sequence[Mapping[str, Any]],
    template_spec: Mapping[str, Any],
    profile: Mapping[str, Any] | None,
    runtime_config_env: Sequence[Mapping[str, Any]] = (),
) -> list[EnvVar]:
    """The runtime container's env: service > template > :func:`prepared_env` > runtime config."""
    return merge_env([runtime_config_env, prepared_env(template_spec, profile), template_env, service_env])


def cache_root(env: Sequence[Mapping[str, Any]]) -> str:
    """The effective ``AIM_CACHE_PATH`` of a merged env (a ``valueFrom`` or empty value: the default),
    without a trailing ``/``."""
    for entry in env:
        if entry.get("name") == CACHE_PATH_ENV and entry.get("value") and "valueFrom" not in entry:
            return str(entry["value"]).rstrip("/") or "/"
    return CACHE_PATH


def cache_mount_path(root: str, model_id: str) -> str:
    """Where the cache of model ``model_id`` (e.g. ``meta-llama/Llama-3.1-8B``) is mounted: under the
    cache root at the model id, as the runtime looks it up. Empty, ``.`` and ``..`` segments are
    dropped, so a model id can never point outside the root."""
    parts = [p for p in model_id.split("/") if p and p not in (".", "..")]
    return "/".join([root.rstrip("/"), *parts]) if parts else root
