"""Route templates: ``{expr}`` placeholders rendered against an AIMService with JSONPath (pure).

A template such as ``/{.metadata.namespace}/{.metadata.labels['team']}/{.spec.aimImageName}/`` becomes
an HTTP path prefix (``reference/original-operator-behaviour.md`` §6.2):

1. every ``{expr}`` (no nested braces) is evaluated against the AIMService object (the raw dict, as
   stored in the cluster), the expression trimmed first:

   * ``.metadata.labels['k']`` and ``.metadata.annotations['k']`` (single or double quotes) are looked
     up directly, so keys with dots and slashes need no escaping; a missing key is an error
     (``label "k" not found``);
   * anything else is a JSONPath expression in Kubernetes' syntax (``.spec.replicas``,
     ``.spec.env[0].name``, ``.spec.env[?(@.name=="X")].value``), evaluated with the ``jsonpath-ng``
     library (its extended parser, for filters); it must yield exactly one non-null value;

2. a value is trimmed; annotation values are inserted raw (a ``/`` in one adds path segments, by
   design — that is how a user passes a multi-segment prefix), every other value is made RFC 1123;
3. the result goes through :func:`aimctl.routing.path.normalise_path`.

Scalars print as Go's ``%v`` would (``true``, ``3``, ``1.5``); a list or map value prints as compact
JSON (Go printed ``map[...]``; such a value is not a sensible path segment either way).

Every failure raises :class:`RouteTemplateError` whose message is the original operator's text:
``failed to evaluate route template "<expr>": <reason>``, or a path-rule message.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from jsonpath_ng.exceptions import JSONPathError
from jsonpath_ng.ext.parser import parse as jsonpath_parse

from aimctl.naming import rfc1123
from aimctl.routing.path import DEFAULT_ROUTE_TEMPLATE, RoutePathError, normalise_path

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")
_META_LOOKUP = re.compile(r"""^\.metadata\.(labels|annotations)\[\s*(['"])(.*)\2\s*\]$""", re.DOTALL)


class RouteTemplateError(ValueError):
    """A route template could not be rendered; the message is meant for ``status`` and events."""


def render_route_path(template: str | None, service: Mapping[str, Any]) -> str:
    """The normalised path prefix ``template`` renders to for ``service`` (the default template,
    ``/<namespace>/<uid>``, when ``template`` is empty or ``None``)."""
    source = template if template and template.strip() else DEFAULT_ROUTE_TEMPLATE
    rendered = _PLACEHOLDER.sub(lambda m: _substitute(m.group(1), service), source)
    try:
        return normalise_path(rendered)
    except RoutePathError as exc:
        raise RouteTemplateError(str(exc)) from exc


def _substitute(raw_expr: str, service: Mapping[str, Any]) -> str:
    expr = raw_expr.strip()
    try:
        value, raw = evaluate(expr, service)
    except _EvalError as exc:
        raise RouteTemplateError(f'failed to evaluate route template "{expr}": {exc}') from None
    value = value.strip()
    return value if raw else rfc1123(value)


class _EvalError(Exception):
    pass


def evaluate(expr: str, obj: Mapping[str, Any]) -> tuple[str, bool]:
    """The string value of one placeholder expression, and whether it is inserted raw (annotations).

    Raises an internal error type; :func:`render_route_path` wraps it with the expression.
    """
    meta = _META_LOOKUP.match(expr)
    if meta is not None:
        field, key = meta.group(1), meta.group(3)
        values = ((obj.get("metadata") or {}).get(field)) or {}
        if key not in values:
            kind = "label" if field == "labels" else "annotation"
            raise _EvalError(f'jsonpath evaluation error: {kind} "{key}" not found')
        return _format(values[key]), field == "annotations"
    try:
        compiled = jsonpath_parse(_to_jsonpath(expr))
    except JSONPathError as exc:
        raise _EvalError(f"invalid jsonpath expression: {exc}") from None
    try:
        matches = [m.value for m in compiled.find(obj)]
    except Exception as exc:  # a filter comparing incompatible values, and the like
        raise _EvalError(f"jsonpath evaluation error: {exc}") from None
    if not matches:
        raise _EvalError("jsonpath returned no results")
    if len(matches) > 1:
        raise _EvalError("jsonpath returned multiple results")
    if matches[0] is None:
        raise _EvalError("jsonpath returned a null value")
    return _format(matches[0]), False


def _to_jsonpath(expr: str) -> str:
    """Kubernetes JSONPath (``.a.b``, ``['k']``) → the library's rooted form (``$.a.b``)."""
    if not expr:
        return "$"
    if expr.startswith("$"):
        return expr
    if expr.startswith((".", "[")):
        return "$" + expr
    return "$." + expr


def _format(value: Any) -> str:
    """Go's ``%v`` for JSON scalars; compact JSON for lists and maps."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < 1e21:
            return str(int(value))
        return repr(value)
    return json.dumps(value, separators=(",", ":"), sort_keys=True)
