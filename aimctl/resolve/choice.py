"""Automatic template choice for an AIMService without ``templateRef`` (pure).

A service names its template with ``spec.templateRef``; without one it uses its image's
``defaultServiceTemplate``. When the image has no default either, the operator chooses among the
templates of the service's image (``spec.aimImageName``): the namespaced AIMServiceTemplates of the
service's namespace and the AIMClusterServiceTemplates. Derived templates (label
``aim.silogen.ai/derived-template=true``) are other services' overrides and never candidates.

**Filters** (a template failing one is *rejected*, with the reason recorded):

1. ``status.status`` is ``Available``;
2. the service's ``overrides`` narrow: an override of ``metric`` or ``precision`` rejects a template
   that sets another value (a template that leaves it unset is compatible: the derived template
   sets it); an override of ``gpuSelector`` rejects a template whose GPU model is another one;
3. the GPU a replica needs — the override's ``gpuSelector`` if given, else the template's (count:
   ``gpuSelector.count``, else the discovered profile's ``gpu_count``, at least 1) — is offered by
   some node: labels naming the model, enough allocatable ``amd.com/gpu`` on *one* node, not cordoned
   (:func:`aimctl.gpu.node_offers`; node capacity only, pods already placed are not subtracted).
   Templates without a GPU model pass.

**Order** of the remaining candidates (first wins; every key is total, so the choice is
deterministic and never ambiguous):

1. more override fields matched exactly (a template that already has the overridden values first);
2. namespaced before cluster-scoped;
3. GPU tier, newest first: MI355X, MI350X, MI325X, MI308X, MI300X, MI300A, MI250X, MI210, MI100, then
   other models (alphabetically), then templates without a GPU model;
4. metric: ``latency``, ``throughput``, unset;
5. precision: ``fp4``, ``int4``, ``fp8``, ``int8``, ``fp16``, ``bf16``, ``fp32``, ``auto``, unset;
6. fewer GPUs per replica;
7. name.

(Steps 2 to 5 follow the successor operator's ranking; it has no notion of keeping a choice.)

**Stability**: the template the service resolved to before (``status.resolvedTemplate``) is kept
while it is still *usable* — it exists, is for the service's image, is not ``Failed`` or ``Degraded``
(a template rediscovering is still usable) and is compatible with the overrides — even when a
better-ranked template becomes Available. Its GPU is not checked again: cordoning the nodes of a
running service does not move it (the template reports that). A service with overrides resolved to
the derived template of a base: the base is found again by the derived name (caveat: a derived
service that reused an equal template of another name is matched by nothing and chosen again, which
picks the same base unless a better one has appeared). Only when the kept template stops being
usable is the choice made again.

With no candidate, :attr:`TemplateChoice.rejections` lists what was considered and why each was
rejected; :func:`no_candidate_message` bounds its length.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from aimctl.builders.derived_template import derived_name, is_derived
from aimctl.gpu import node_offers
from aimctl.kube.objects import dig, dig_map, dig_str, name_of, spec_of, status_of

NAMESPACE = "Namespace"
CLUSTER = "Cluster"

#: GPU models, best first (the successor's tiers, extended with the newer and the older ones).
GPU_TIERS = ("MI355X", "MI350X", "MI325X", "MI308X", "MI300X", "MI300A", "MI250X", "MI210", "MI100")
METRIC_ORDER = ("latency", "throughput")
PRECISION_ORDER = ("fp4", "int4", "fp8", "int8", "fp16", "bf16", "fp32", "auto")
#: At most this many rejections are named in a condition message.
MAX_LISTED = 8
#: Unusable states of a kept template.
UNUSABLE_STATES = frozenset({"Failed", "Degraded"})


@dataclass(frozen=True)
class Candidate:
    """A template considered for the service, with what the ranking reads."""

    obj: Mapping[str, Any]
    scope: str
    name: str
    status: str
    metric: str
    precision: str
    gpu_model: str
    gpu_count: int


@dataclass(frozen=True)
class Rejection:
    name: str
    scope: str
    reason: str

    def describe(self) -> str:
        kind = "AIMServiceTemplate" if self.scope == NAMESPACE else "AIMClusterServiceTemplate"
        return f'{kind} "{self.name}": {self.reason}'


@dataclass(frozen=True)
class TemplateChoice:
    """The outcome of :func:`choose_template`."""

    chosen: Candidate | None
    #: Why this one (for the ``Resolved`` condition and the event); "" without a choice.
    reason: str = ""
    #: The previous choice was kept (no event).
    kept: bool = False
    #: Templates considered and rejected, in the order considered.
    rejections: tuple[Rejection, ...] = ()
    #: Some rejected template is still Pending or Progressing (it may become a candidate).
    waiting: bool = False
    #: Every accepted candidate in rank order (the chosen one first unless it was kept).
    ranked: tuple[Candidate, ...] = field(default=())


def _int(value: Any) -> int:
    try:
        return int(value or 0)
    except (TypeError, ValueError):
        return 0


def candidate(obj: Mapping[str, Any], scope: str) -> Candidate:
    spec, status = spec_of(obj), status_of(obj)
    selector = dig_map(spec, "gpuSelector")
    return Candidate(
        obj=obj,
        scope=scope,
        name=name_of(obj),
        status=str(status.get("status") or "Pending"),
        metric=str(spec.get("metric") or ""),
        precision=str(spec.get("precision") or ""),
        gpu_model=str(selector.get("model") or "").strip().upper(),
        gpu_count=_int(selector.get("count")) or _int(dig(status, "profile", "metadata", "gpu_count")),
    )


def _override_conflict(c: Candidate, overrides: Mapping[str, Any] | None) -> str:
    """Why ``c`` cannot carry ``overrides`` ("" when it can)."""
    if not overrides:
        return ""
    for key, have in (("metric", c.metric), ("precision", c.precision)):
        want = str(overrides.get(key) or "")
        if want and have and have != want:
            return f"{key} is {have}, the service overrides it to {want}"
    want_gpu = dig_str(overrides, "gpuSelector", "model").strip().upper()
    if want_gpu and c.gpu_model and c.gpu_model != want_gpu:
        return f"GPU model is {c.gpu_model}, the service overrides it to {want_gpu}"
    return ""


def _exact_matches(c: Candidate, overrides: Mapping[str, Any] | None) -> int:
    if not overrides:
        return 0
    n = 0
    for key, have in (("metric", c.metric), ("precision", c.precision)):
        if overrides.get(key) and have == str(overrides[key]):
            n += 1
    want_gpu = dig_str(overrides, "gpuSelector", "model").strip().upper()
    if want_gpu and c.gpu_model == want_gpu:
        n += 1
    return n


def replica_gpu(c: Candidate, overrides: Mapping[str, Any] | None) -> tuple[str, int]:
    """The GPU model and count one replica needs on ``c`` with ``overrides`` ("" for no GPU)."""
    selector = dig_map(overrides, "gpuSelector")
    if selector.get("model"):
        return str(selector["model"]).strip().upper(), max(_int(selector.get("count")), 1)
    return c.gpu_model, max(c.gpu_count, 1)


def _tier(model: str) -> tuple[int, str]:
    if not model:
        return (len(GPU_TIERS) + 1, "")
    if model in GPU_TIERS:
        return (GPU_TIERS.index(model), "")
    return (len(GPU_TIERS), model)


def _position(order: Sequence[str], value: str) -> int:
    return order.index(value) if value in order else len(order)


def rank_key(c: Candidate, overrides: Mapping[str, Any] | None) -> tuple[Any, ...]:
    """The sort key of the module docstring's order (smaller first)."""
    model, count = replica_gpu(c, overrides)
    return (
        -_exact_matches(c, overrides),
        0 if c.scope == NAMESPACE else 1,
        _tier(model),
        _position(METRIC_ORDER, c.metric),
        _position(PRECISION_ORDER, c.precision),
        count if model else 0,
        c.name,
        c.scope,
    )


_CRITERIA = (
    "it matches more of the service's overrides",
    "namespaced templates come before cluster templates",
    "its GPU ranks higher",
    "its metric ranks higher (latency before throughput)",
    "its precision ranks higher",
    "it needs fewer GPUs per replica",
    "its name sorts first",
    "its name sorts first",
)


def _why(first: Candidate, second: Candidate | None, overrides: Mapping[str, Any] | None) -> str:
    if second is None:
        return "it is the only usable candidate"
    a, b = rank_key(first, overrides), rank_key(second, overrides)
    for i, (x, y) in enumerate(zip(a, b, strict=True)):
        if x != y:
            return f'{_CRITERIA[i]} than "{second.name}"'
    return "it ranks first"  # pragma: no cover - keys differ at least by name or scope


def _describe(c: Candidate, overrides: Mapping[str, Any] | None) -> str:
    model, count = replica_gpu(c, overrides)
    parts = [f"{count}x {model}" if model else "no GPU"]
    if c.metric:
        parts.append(c.metric)
    if c.precision:
        parts.append(c.precision)
    kind = "AIMServiceTemplate" if c.scope == NAMESPACE else "AIMClusterServiceTemplate"
    return f'{kind} "{c.name}" ({", ".join(parts)})'


def _current_matches(c: Candidate, current: tuple[str, str] | None, overrides: Mapping[str, Any] | None) -> bool:
    if current is None:
        return False
    name, scope = current
    if overrides is None:
        return c.name == name and c.scope == scope
    return scope == NAMESPACE and derived_name(c.name, overrides) == name


def choose_template(
    image_name: str,
    namespaced: Iterable[Mapping[str, Any]],
    cluster: Iterable[Mapping[str, Any]],
    nodes: Iterable[Mapping[str, Any]],
    overrides: Mapping[str, Any] | None = None,
    current: tuple[str, str] | None = None,
) -> TemplateChoice:
    """Choose the template for a service of image ``image_name`` (see the module docstring).

    ``namespaced`` are the templates of the service's namespace and ``cluster`` the cluster
    templates (others than ``image_name``'s are ignored); ``overrides`` is the service's
    ``spec.overrides`` (``None`` when absent); ``current`` is ``(name, scope)`` of the service's
    ``status.resolvedTemplate`` (``None`` when it has none)."""
    node_list = list(nodes)
    pool: list[Candidate] = []
    for scope, objs in ((NAMESPACE, namespaced), (CLUSTER, cluster)):
        for obj in sorted(objs, key=name_of):
            if dig_str(obj, "spec", "aimImageName") != image_name or is_derived(obj):
                continue
            pool.append(candidate(obj, scope))

    # Keep the earlier choice while it is usable.
    for c in pool:
        usable = c.status not in UNUSABLE_STATES and not _override_conflict(c, overrides)
        if usable and _current_matches(c, current, overrides):
            return TemplateChoice(c, f"{_describe(c, overrides)} was chosen earlier and is still usable", kept=True)

    accepted: list[Candidate] = []
    rejections: list[Rejection] = []
    waiting = False
    offered: dict[tuple[str, int], bool] = {}  # one scan of the nodes per GPU model and count
    for c in pool:
        reason = ""
        if c.status != "Available":
            reason = f"not Available ({c.status})"
            waiting = waiting or c.status in ("Pending", "Progressing")
        else:
            reason = _override_conflict(c, overrides)
            if not reason:
                model, count = replica_gpu(c, overrides)
                if model and (model, count) not in offered:
                    offered[model, count] = any(node_offers(n, model, count) for n in node_list)
                if model and not offered[model, count]:
                    reason = f"no schedulable node offers {count}x {model}"
        if reason:
            rejections.append(Rejection(c.name, c.scope, reason))
        else:
            accepted.append(c)
    accepted.sort(key=lambda c: rank_key(c, overrides))
    if not accepted:
        return TemplateChoice(None, rejections=tuple(rejections), waiting=waiting)
    first = accepted[0]
    why = _why(first, accepted[1] if len(accepted) > 1 else None, overrides)
    reason = (
        f"Chose {_describe(first, overrides)} automatically among {len(accepted)} usable template(s) of image "
        f'"{image_name}" (no templateRef, no defaultServiceTemplate): {why}'
    )
    return TemplateChoice(first, reason, rejections=tuple(rejections), waiting=waiting, ranked=tuple(accepted))


def no_candidate_message(image_name: str, choice: TemplateChoice, max_listed: int = MAX_LISTED) -> str:
    """Why no template could be chosen: what was considered and why each was rejected (at most
    ``max_listed`` named, then a count), and what to do."""
    head = (
        f'No templateRef, image "{image_name}" has no defaultServiceTemplate, and no template of the image '
        "can be chosen automatically"
    )
    if not choice.rejections:
        return (
            f"{head}: there is no AIMServiceTemplate in the namespace and no AIMClusterServiceTemplate with "
            f'aimImageName "{image_name}". Create one, set spec.templateRef, or set the image\'s '
            "defaultServiceTemplate."
        )
    listed = "; ".join(r.describe() for r in choice.rejections[:max_listed])
    more = len(choice.rejections) - max_listed
    if more > 0:
        listed += f"; and {more} more"
    return f"{head}. Considered: {listed}. Set spec.templateRef or the image's defaultServiceTemplate to choose one."
