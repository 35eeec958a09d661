"""Hypothesis strategies that build *raw manifests* (JSON dicts) of the AIM kinds from the models.

The builder walks the pydantic models like the CRD generator does and draws values that satisfy the
constraints the models declare (min length, minimum, pattern, enum, list-map key uniqueness).
Optional fields are sometimes left out, so that server-side and pydantic defaulting both get
exercised. CEL rules are not derivable from types; the few that constrain *valid* objects (an image's
``resources`` must request cpu and memory and limit memory) are encoded in :data:`_FIELD_OVERRIDES`.

Quantities are drawn as arbitrary valid quantity strings or integers (``"0.5Gi"``, ``"1500m"``, ``3``),
not only canonical ones: the apiserver stores them as sent and the models canonicalise on parse.
"""

from __future__ import annotations

import types
from datetime import UTC, datetime
from enum import Enum
from typing import Annotated, Any, Literal, Union, get_args, get_origin

import annotated_types
from hypothesis import strategies as st
from pydantic import BaseModel
from pydantic.fields import FieldInfo

from aimctl.api.core import ResourceRequirements
from aimctl.api.image import AIMImageSpec
from aimctl.api.kinds import KindInfo
from aimctl.api.markers import ListMap, PreserveUnknownFields
from aimctl.api.quantity import Quantity
from aimctl.api.routing import AIMRuntimeRoutingConfig, AIMServiceRouting

# Printable text without surrogates or control characters; a little non-ASCII to catch encoding bugs.
TEXT = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
    max_size=12,
)
_REGEX_ALPHABET = st.characters(min_codepoint=0x21, max_codepoint=0x7E)

_SUFFIXES = ["", "Ki", "Mi", "Gi", "Ti", "n", "u", "m", "k", "M", "G", "T", "e3", "E-2", "e0"]


@st.composite
def quantity_text(draw: st.DrawFn) -> str | int:
    """A valid Kubernetes quantity as a manifest may hold it (string in any format, or an integer)."""
    if draw(st.booleans()):
        return draw(st.integers(min_value=0, max_value=10**12))
    whole = draw(st.integers(min_value=0, max_value=99999))
    frac = draw(st.one_of(st.just(""), st.from_regex(r"\.[0-9]{1,3}", fullmatch=True)))
    sign = draw(st.sampled_from(["", "", "+", "-"]))
    return f"{sign}{whole}{frac}{draw(st.sampled_from(_SUFFIXES))}"


def quantity_values() -> st.SearchStrategy[str | int]:
    return quantity_text()


_RESOURCE_NAMES = st.sampled_from(["cpu", "memory", "amd.com/gpu", "ephemeral-storage"])


@st.composite
def _image_resources(draw: st.DrawFn) -> dict[str, Any]:
    """An image's resources: requests cpu+memory and limits memory are required by CEL."""
    requests = {"cpu": draw(quantity_values()), "memory": draw(quantity_values())}
    limits = {"memory": draw(quantity_values())}
    if draw(st.booleans()):
        limits["amd.com/gpu"] = draw(st.integers(min_value=0, max_value=8))
    out: dict[str, Any] = {"requests": requests, "limits": limits}
    return out


# (model, python field name) -> strategy for that field's raw value.
# Route templates: any text the CRD's CEL rules admit (no `=~`, no backtick), within its length bound.
_ROUTE_TEMPLATE = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), max_size=12).filter(
    lambda s: "=~" not in s and "`" not in s
)
_FIELD_OVERRIDES: dict[tuple[type[BaseModel], str], st.SearchStrategy[Any]] = {
    (AIMImageSpec, "resources"): _image_resources(),
    (AIMRuntimeRoutingConfig, "route_template"): _ROUTE_TEMPLATE,
    (AIMServiceRouting, "route_template"): _ROUTE_TEMPLATE,
}
# Resource maps: keys are resource names, values quantities.
_RESOURCE_LIST = st.dictionaries(_RESOURCE_NAMES, quantity_values(), max_size=3)


def _flatten(metadata: list[Any]) -> list[Any]:
    out: list[Any] = []
    for item in metadata:
        if isinstance(item, FieldInfo):
            out.extend(_flatten(list(item.metadata)))
        else:
            out.append(item)
    return out


def _unwrap(tp: Any, metadata: list[Any]) -> tuple[Any, list[Any]]:
    collected = _flatten(list(metadata))
    while True:
        origin = get_origin(tp)
        if origin is Annotated:
            base, *extra = get_args(tp)
            collected = _flatten(list(extra)) + collected
            tp = base
        elif origin in (Union, types.UnionType):
            (tp,) = [a for a in get_args(tp) if a is not type(None)]
        else:
            return tp, collected


def _string(metadata: list[Any]) -> st.SearchStrategy[str]:
    pattern = next((m.pattern for m in metadata if getattr(m, "pattern", None)), None)
    min_len = next((m.min_length for m in metadata if isinstance(m, annotated_types.MinLen)), 0)
    max_len = next((m.max_length for m in metadata if isinstance(m, annotated_types.MaxLen)), None)
    if pattern is not None:
        base = st.from_regex(pattern, fullmatch=True, alphabet=_REGEX_ALPHABET)
        return base.filter(lambda s: len(s) >= min_len and (max_len is None or len(s) <= max_len))
    max_size = max(min(max_len or 12, 12), min_len)
    return st.text(
        alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")),
        min_size=min_len,
        max_size=max_size,
    )


def _integer(metadata: list[Any]) -> st.SearchStrategy[int]:
    low = next((int(m.ge) for m in metadata if isinstance(m, annotated_types.Ge)), 0)
    high = next((int(m.le) for m in metadata if isinstance(m, annotated_types.Le)), low + 1000)
    return st.integers(min_value=low, max_value=high)


def _time() -> st.SearchStrategy[str]:
    return st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)).map(
        lambda d: d.replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
    )


def raw_for_type(tp: Any, metadata: list[Any]) -> st.SearchStrategy[Any]:
    """A strategy for the raw JSON value of a (possibly annotated/optional) type."""
    tp, metadata = _unwrap(tp, metadata)
    origin = get_origin(tp)
    if any(isinstance(m, PreserveUnknownFields) for m in metadata):
        scalar = st.one_of(st.integers(-100, 100), TEXT, st.booleans())
        return st.dictionaries(st.text(min_size=1, max_size=8), scalar, max_size=3)
    if origin is Literal:
        return st.sampled_from(list(get_args(tp)))
    if origin is list:
        (item,) = get_args(tp)
        items = raw_for_type(item, [])
        list_map = next((m for m in metadata if isinstance(m, ListMap)), None)
        if list_map is not None:
            keys = list_map.keys
            return st.lists(items, max_size=3, unique_by=lambda d: tuple(d[k] for k in keys))
        return st.lists(items, max_size=3)
    if origin is dict:
        _, value = get_args(tp)
        if value is Quantity:
            return _RESOURCE_LIST
        return st.dictionaries(st.text(min_size=1, max_size=8), raw_for_type(value, []), max_size=3)
    if isinstance(tp, type) and issubclass(tp, Enum):
        return st.sampled_from([m.value for m in tp])
    if tp is bool:
        return st.booleans()
    if tp is int:
        return _integer(metadata)
    if tp is str:
        return _string(metadata)
    if tp is datetime:
        return _time()
    if tp is Quantity:
        return quantity_values()
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return raw_for_model(tp)
    raise TypeError(f"no strategy for {tp!r}")


@st.composite
def _model_dict(draw: st.DrawFn, model: type[BaseModel], skip: frozenset[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, field in model.model_fields.items():
        json_name = field.alias or name
        if json_name in skip:
            continue
        if not field.is_required() and not draw(st.booleans()):
            continue
        override = _FIELD_OVERRIDES.get((model, name))
        strategy = override if override is not None else raw_for_type(field.annotation, list(field.metadata))
        out[json_name] = draw(strategy)
    return out


def raw_for_model(model: type[BaseModel], skip: frozenset[str] = frozenset()) -> st.SearchStrategy[dict[str, Any]]:
    """A strategy for the raw JSON object of a model (without the JSON fields named in ``skip``)."""
    return _model_dict(model, skip)


@st.composite
def raw_object(draw: st.DrawFn, info: KindInfo, name: str, namespace: str | None) -> dict[str, Any]:
    """A complete manifest of ``info``'s kind with the given name, spec and (maybe) status drawn."""
    body = draw(raw_for_model(info.model, skip=frozenset({"apiVersion", "kind", "metadata"})))
    metadata: dict[str, Any] = {"name": name}
    if namespace is not None:
        metadata["namespace"] = namespace
    if draw(st.booleans()):
        metadata["labels"] = {"aimctl.dev/test": "true", "tier": draw(st.sampled_from(["a", "b"]))}
    return {"apiVersion": info.api_version, "kind": info.kind, "metadata": metadata, **body}


# Resource requirements drawn on their own (used by unit tests of quantity handling in models).
resource_requirements = raw_for_model(ResourceRequirements)
