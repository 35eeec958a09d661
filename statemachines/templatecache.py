"""AIMTemplateCache: the model caches of one template, created and watched as a group.

States are the API's ``AIMTemplateCacheStatusEnum``: Pending | Progressing | Available | Failed.
The original operator had no controller for this kind (``docs/original-behaviour.md``, fix 1); this
follows what its later versions did, with the aggregation made explicit:

1. the runtime config (``spec.runtimeConfigName``; a missing non-default one) → **Failed**,
   ``RuntimeConfigMissing``;
2. ``spec.templateRef`` resolves to the namespaced AIMServiceTemplate first, then the
   AIMClusterServiceTemplate; neither → **Failed**, ``TemplateNotFound`` (it recovers on its own when
   the template appears: templates are watched);
3. the template has no ``status.modelSources`` yet (still discovering) → **Pending**,
   ``WaitingForModelSources``;
4. a model source without a usable size → **Failed**, ``InvalidModelSource`` (a PVC needs a size;
   the other sources are still cached);
5. otherwise one AIMModelCache per source is applied (and owned caches that are no longer wanted are
   deleted), and the state aggregates theirs, worst first: any **Failed** → Failed
   (``ModelCacheFailed``); all **Available** → Available; else **Progressing**.

Every state is recomputed from the observation; nothing is sticky here (a model cache's own Failed is
sticky, and deleting that model cache is how a person retries it — it is re-created at once).

Conditions: ``TemplateResolved``, ``RuntimeConfigResolved``, ``Ready``, ``Progressing``, ``Failure``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from aimctl.api.enums import AIMModelCacheStatusEnum as MC
from aimctl.api.enums import AIMTemplateCacheStatusEnum as S
from statemachines.effects import ApplyChild, DeleteChild
from statemachines.engine import ANY, KindMachine, Outcome, Rule, always

MODEL_CACHES = "model-caches"
STALE_MODEL_CACHES = "stale-model-caches"

PENDING, PROGRESSING, AVAILABLE, FAILED = S.PENDING.value, S.PROGRESSING.value, S.AVAILABLE.value, S.FAILED.value


@dataclass(frozen=True)
class ChildCache:
    """One wanted model cache: its name and its ``status.status`` (``""``: not created or no status)."""

    name: str
    state: str = ""
    message: str = ""
    """The child's ``Failure`` message when it failed (shown in the template cache's Failure)."""


@dataclass(frozen=True)
class TemplateCacheObservation:
    """What one reconcile of an AIMTemplateCache sees (plain data; built from the informer caches)."""

    template_ref: str
    template_kind: str = ""
    """``AIMServiceTemplate`` or ``AIMClusterServiceTemplate``; ``""`` when neither exists."""
    template_state: str = ""
    runtime_config_name: str = "default"
    runtime_config_missing: str = ""
    """The message for a missing non-default runtime config, else ``""``."""
    runtime_config_found: bool = False
    source_count: int = 0
    invalid_sources: tuple[str, ...] = ()
    children: tuple[ChildCache, ...] = ()
    stale_children: tuple[str, ...] = field(default=())

    @property
    def template_found(self) -> bool:
        return bool(self.template_kind)

    def in_state(self, state: str) -> list[ChildCache]:
        return [c for c in self.children if c.state == state]


def _template_name(obs: TemplateCacheObservation) -> str:
    return f"{obs.template_kind or 'template'} {obs.template_ref}"


def _resolution_conditions(obs: TemplateCacheObservation, out: Outcome) -> None:
    if obs.runtime_config_missing:
        out.condition("RuntimeConfigResolved", False, "RuntimeConfigMissing", obs.runtime_config_missing)
    elif obs.runtime_config_found:
        msg = f'Using runtime config "{obs.runtime_config_name}"'
        out.condition("RuntimeConfigResolved", True, "RuntimeConfigResolved", msg)
    else:
        msg = 'No runtime config named "default"; using the operator defaults'
        out.condition("RuntimeConfigResolved", True, "DefaultRuntimeConfigNotFound", msg)
    if obs.template_found:
        out.condition("TemplateResolved", True, "TemplateFound", f"Using {_template_name(obs)}")
    else:
        msg = f'No AIMServiceTemplate or AIMClusterServiceTemplate named "{obs.template_ref}"'
        out.condition("TemplateResolved", False, "TemplateNotFound", msg)


def _failed(out: Outcome, reason: str, message: str) -> None:
    out.settle(False, reason, message, failure=True)


def _children_effects(obs: TemplateCacheObservation, out: Outcome) -> None:
    out.effect(ApplyChild(MODEL_CACHES))
    if obs.stale_children:
        out.effect(DeleteChild(STALE_MODEL_CACHES))


def _runtime_config_missing(obs: TemplateCacheObservation, out: Outcome) -> None:
    _resolution_conditions(obs, out)
    _failed(out, "RuntimeConfigMissing", obs.runtime_config_missing)


def _template_missing(obs: TemplateCacheObservation, out: Outcome) -> None:
    _resolution_conditions(obs, out)
    msg = (
        f'No AIMServiceTemplate or AIMClusterServiceTemplate named "{obs.template_ref}"; '
        "the cache is created when the template appears"
    )
    _failed(out, "TemplateNotFound", msg)


def _waiting_for_sources(obs: TemplateCacheObservation, out: Outcome) -> None:
    _resolution_conditions(obs, out)
    state = f" (template is {obs.template_state})" if obs.template_state else ""
    msg = f"Waiting for {_template_name(obs)} to report its model sources{state}"
    out.settle(False, "WaitingForModelSources", msg)


def _invalid_sources(obs: TemplateCacheObservation, out: Outcome) -> None:
    _children_effects(obs, out)  # the valid sources are still cached
    _resolution_conditions(obs, out)
    msg = f"{_template_name(obs)} has model sources that cannot be cached: " + "; ".join(obs.invalid_sources)
    _failed(out, "InvalidModelSource", msg)


def _some_failed(obs: TemplateCacheObservation, out: Outcome) -> None:
    _children_effects(obs, out)
    _resolution_conditions(obs, out)
    failed = obs.in_state(MC.FAILED.value)
    details = "; ".join(f"{c.name}: {c.message}" if c.message else c.name for c in failed)
    msg = f"{len(failed)} of {len(obs.children)} model caches failed ({details})"
    _failed(out, "ModelCacheFailed", msg)


def _all_available(obs: TemplateCacheObservation, out: Outcome) -> None:
    _children_effects(obs, out)
    _resolution_conditions(obs, out)
    msg = f"All {len(obs.children)} model caches of {_template_name(obs)} are Available"
    out.settle(True, "Available", msg)


def _warming(obs: TemplateCacheObservation, out: Outcome) -> None:
    _children_effects(obs, out)
    _resolution_conditions(obs, out)
    ready = len(obs.in_state(MC.AVAILABLE.value))
    waiting = ", ".join(c.name for c in obs.children if c.state != MC.AVAILABLE.value)
    msg = f"{ready} of {len(obs.children)} model caches Available; waiting for {waiting}"
    out.condition("Ready", False, "CachesProgressing", msg)
    out.condition("Progressing", True, "CachesProgressing", msg)
    out.condition("Failure", False, "NoFailure")
    out.reason, out.message = "CachesProgressing", msg


def _all_children_available(obs: TemplateCacheObservation) -> bool:
    return bool(obs.children) and all(c.state == MC.AVAILABLE.value for c in obs.children)


RULES: list[Rule[TemplateCacheObservation]] = [
    Rule(
        "runtime_config_missing",
        ANY,
        FAILED,
        lambda o: bool(o.runtime_config_missing),
        _runtime_config_missing,
        "A non-default runtimeConfigName exists at neither scope.",
    ),
    Rule(
        "template_missing",
        ANY,
        FAILED,
        lambda o: not o.template_found,
        _template_missing,
        "templateRef names no AIMServiceTemplate (namespace) nor AIMClusterServiceTemplate.",
    ),
    Rule(
        "waiting_for_sources",
        ANY,
        PENDING,
        lambda o: o.source_count == 0,
        _waiting_for_sources,
        "The template has no status.modelSources yet (discovery not done).",
    ),
    Rule(
        "invalid_sources",
        ANY,
        FAILED,
        lambda o: bool(o.invalid_sources),
        _invalid_sources,
        "A model source has no usable size; the others are still cached.",
    ),
    Rule(
        "model_cache_failed",
        ANY,
        FAILED,
        lambda o: bool(o.in_state(MC.FAILED.value)),
        _some_failed,
        "At least one model cache is Failed (worst first).",
    ),
    Rule(
        "all_available",
        ANY,
        AVAILABLE,
        _all_children_available,
        _all_available,
        "Every model cache is Available.",
    ),
    Rule("warming", ANY, PROGRESSING, always, _warming, "Model caches are being created or filled."),
]

MACHINE: KindMachine[TemplateCacheObservation] = KindMachine("AIMTemplateCache", [s.value for s in S], PENDING, RULES)
