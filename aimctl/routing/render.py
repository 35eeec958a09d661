"""Route templates: ``{expr}`` placeholders rendered against an AIMService with JSONPath (pure).

A template such as ``/{.metadata.namespace}/{.metadata.labels['team']}/{.spec.aimImageName}/`` becomes
an HTTP path prefix (the original operator's rules, kept):

1. every ``{expr}`` (no nested braces) is evaluated against the AIMService object (the raw dict, as
   stored in the cluster), the expression trimmed first:

   * ``.metadata.labels['k']`` and ``.metadata.annotations['k']`` (single or double quotes) are looked
     up directly, so keys with dots and slashes need no escaping; a missing key is an error
     (``label "k" not found``);
   * anything else is a Kubernetes JSONPath expression (``.spec.replicas``, ``.spec.env[0].name``,
     ``.spec.env[?(@.name=="X")].value``) evaluated by :mod:`aimctl.routing.jsonpath` — which refuses
     extensions such as regular-expression filters (``=~``), arithmetic and functions; it must yield
     exactly one non-null value;

2. a value is trimmed; annotation values are inserted raw (a ``/`` in one adds path segments, by
   design — that is how a user passes a multi-segment prefix), every other value is made RFC 1123;
3. the result goes through :func:`aimctl.routing.path.normalise_path`.

Scalars print as Go's ``%v`` would (``true``, ``3``, ``1.5``); a list or map value prints as compact
JSON (Go printed ``map[...]``; such a value is not a sensible path segment either way).

Bounds (a template is tenant input evaluated in the operator's event loop): a template is at most
:data:`MAX_TEMPLATE_LENGTH` characters (the CRDs say so too); one rendering visits at most
:data:`~aimctl.routing.jsonpath.DEFAULT_BUDGET` values of the service; a value longer than
:data:`MAX_VALUE_LENGTH` characters is refused. Parsed templates are cached (:func:`compile_template`).

Every failure raises :class:`RouteTemplateError` whose message is the original operator's text:
``failed to evaluate route template "<expr>": <reason>``, or a path-rule message. :func:`check_template`
reports the problems that do not depend on the service (syntax, length), for the runtime config's own
status.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from aimctl.kube.objects import dig, dig_map
from aimctl.naming import rfc1123
from aimctl.routing.jsonpath import (
    Budget,
    Expression,
    JSONPathBudgetError,
    JSONPathSyntaxError,
    compile_expression,
    find,
)
from aimctl.routing.path import DEFAULT_ROUTE_TEMPLATE, RoutePathError, normalise_path

#: Longest route template accepted (characters); the CRDs carry the same ``maxLength``.
MAX_TEMPLATE_LENGTH = 1024
#: Longest value one placeholder may produce (characters); a path is at most 200 anyway.
MAX_VALUE_LENGTH = 1024
#: Field named in messages (the same on services and runtime configs).
FIELD = "spec.routing.routeTemplate"

_PLACEHOLDER = re.compile(r"\{([^{}]*)\}")


class RouteTemplateError(ValueError):
    """A route template could not be rendered; the message is meant for ``status`` and events."""


@dataclass(frozen=True)
class _Placeholder:
    text: str
    expression: Expression | None
    error: str = ""


_Part = str | _Placeholder


@functools.lru_cache(maxsize=512)
def compile_template(template: str) -> tuple[_Part, ...]:
    """The template split into literal text and compiled placeholders (memoised: a template is parsed
    once however many services use it). Raises :class:`RouteTemplateError` for an over-long template;
    an invalid expression is kept as a placeholder with its error, reported when it is rendered."""
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise RouteTemplateError(
            f"the route template is {len(template)} characters long, more than the {MAX_TEMPLATE_LENGTH} allowed"
        )
    parts: list[_Part] = []
    last = 0
    for m in _PLACEHOLDER.finditer(template):
        parts.append(template[last : m.start()])
        expr = m.group(1).strip()
        try:
            parts.append(_Placeholder(expr, compile_expression(expr)))
        except JSONPathSyntaxError as exc:
            parts.append(_Placeholder(expr, None, f"invalid jsonpath expression: {exc}"))
        last = m.end()
    parts.append(template[last:])
    return tuple(p for p in parts if p != "")


def check_template(template: str | None) -> str | None:
    """What is wrong with ``template`` whatever the service (length, syntax), or ``None``."""
    if not template or not template.strip():
        return None
    try:
        parts = compile_template(template)
    except RouteTemplateError as exc:
        return str(exc)
    for part in parts:
        if isinstance(part, _Placeholder) and part.error:
            return f'failed to evaluate route template "{part.text}": {part.error}'
    return None


def route_template_field(service_routing: Mapping[str, Any] | None, runtime_config: Any = None) -> str:
    """Where the effective template comes from, for messages: the service's
    ``spec.routing.routeTemplate``, else its runtime config's (named when ``runtime_config`` has a
    ``name``)."""
    if dig(service_routing, "routeTemplate"):
        return FIELD
    name = getattr(runtime_config, "name", None)
    return f'{FIELD} of runtime config "{name}"' if name else f"{FIELD} of the runtime config"


def render_route_path(template: str | None, service: Mapping[str, Any]) -> str:
    """The normalised path prefix ``template`` renders to for ``service`` (the default template,
    ``/<namespace>/<uid>``, when ``template`` is empty or ``None``)."""
    source = template if template and template.strip() else DEFAULT_ROUTE_TEMPLATE
    budget = Budget()
    rendered = "".join(p if isinstance(p, str) else _substitute(p, service, budget) for p in compile_template(source))
    try:
        return normalise_path(rendered)
    except RoutePathError as exc:
        raise RouteTemplateError(str(exc)) from exc


def _substitute(placeholder: _Placeholder, service: Mapping[str, Any], budget: Budget) -> str:
    try:
        if placeholder.expression is None:
            raise _EvalError(placeholder.error)
        value, raw = evaluate(placeholder.expression, service, budget)
    except _EvalError as exc:
        raise RouteTemplateError(f'failed to evaluate route template "{placeholder.text}": {exc}') from None
    value = value.strip()
    return value if raw else rfc1123(value)


class _EvalError(Exception):
    pass


def evaluate(expr: Expression | str, obj: Mapping[str, Any], budget: Budget | None = None) -> tuple[str, bool]:
    """The string value of one placeholder expression, and whether it is inserted raw (annotations).

    Raises an internal error type; :func:`render_route_path` wraps it with the expression.
    """
    budget = budget or Budget()
    if isinstance(expr, str):
        try:
            expr = compile_expression(expr)
        except JSONPathSyntaxError as exc:
            raise _EvalError(f"invalid jsonpath expression: {exc}") from None
    meta = expr.direct_meta_key()
    if meta is not None:
        field, key = meta
        values = dig_map(obj, "metadata", field)
        if key not in values:
            kind = "label" if field == "labels" else "annotation"
            raise _EvalError(f'jsonpath evaluation error: {kind} "{key}" not found')
        return _format(values[key], budget), field == "annotations"
    try:
        matches = find(expr, obj, budget)
    except JSONPathBudgetError as exc:
        raise _EvalError(f"jsonpath evaluation error: {exc}") from None
    if not matches:
        raise _EvalError("jsonpath returned no results")
    if len(matches) > 1:
        raise _EvalError("jsonpath returned multiple results")
    if matches[0] is None:
        raise _EvalError("jsonpath returned a null value")
    return _format(matches[0], budget), False


def _format(value: Any, budget: Budget) -> str:
    """Go's ``%v`` for JSON scalars; compact JSON for lists and maps (within the budget and the value
    length bound)."""
    if isinstance(value, str):
        text = value
    elif isinstance(value, bool):
        text = "true" if value else "false"
    elif isinstance(value, int):
        text = str(value) if abs(value) < 10**64 else "too-large"
    elif isinstance(value, float):
        whole = math.isfinite(value) and value.is_integer() and abs(value) < 1e21
        text = str(int(value)) if whole else repr(value)
    else:
        _spend_on(value, budget)
        text = json.dumps(value, separators=(",", ":"), sort_keys=True)
    if len(text) > MAX_VALUE_LENGTH:
        raise _EvalError(f"the value is {len(text)} characters long, more than the {MAX_VALUE_LENGTH} allowed")
    return text


def _spend_on(value: Any, budget: Budget) -> None:
    """Charge one unit per value inside ``value`` (so printing a large map costs what walking it does)."""
    stack = [value]
    try:
        while stack:
            current = stack.pop()
            budget.spend()
            if isinstance(current, Mapping):
                stack.extend(current.values())
            elif isinstance(current, list):
                stack.extend(current)
    except JSONPathBudgetError as exc:
        raise _EvalError(f"jsonpath evaluation error: {exc}") from None
