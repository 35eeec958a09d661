"""AIMService: from a resolved template to a running InferenceService (pure; no I/O).

States are the API's ``AIMServiceStatusEnum``: Pending, Starting, Running, Degraded, Failed. The state
is *derived* from the observation every reconcile (``docs/original-behaviour.md``, fix 7): a service
that was Failed or Degraded becomes Starting or Running again as soon as the observation says so — every
rule below has source ``ANY``. The rules follow the original operator's precedence chain with its
reasons and messages, and with these changes:

* routing status follows the *effective* routing settings (service, else runtime config), so routing
  enabled only through the runtime config reaches Running (fix 8);
* a missing image or an image/template mismatch blocks a new InferenceService (#15) — the mismatch is
  a new check, reason ``ImageMismatch``;
* caching is real (#3): when requested, the service waits (Starting, ``CacheReady=False``
  ``WaitingForCache``) for its template cache, and a failed cache makes it Degraded (``CacheFailed``);
* a route refused by its Gateway (``Accepted=False``) makes the service Degraded; unresolved backend
  references (``ResolvedRefs=False``, normal while KServe creates the predictor Service) only wait;
* one event per transition (#14): every rule declares the reason and message of the transition;
* without ``templateRef`` and image default, the template is chosen automatically
  (``aimctl.resolve.choice``): ``Resolved`` says which and why (reason ``TemplateChosen``); with no
  candidate the service is Degraded (Pending while a template of the image is still being discovered)
  with reason ``NoTemplateCandidate`` and a message listing what was considered and why each was
  rejected;
* a service whose name KServe cannot serve gets a shortened InferenceService name, named in its
  ``Ready`` message; where no name can meet KServe's rule in the namespace, the service is Failed
  with reason ``NameTooLong`` and a message naming the limit and the ways out (docs/long-names.md).

Every decision declares the same seven conditions (``Resolved``, ``CacheReady``, ``RoutingReady``,
``RuntimeReady``, ``Progressing``, ``Failure``, ``Ready``) and the child effects the observation
calls for; the effects do not depend on the rule that fired (a Failed service with a broken route
still keeps its InferenceService, as the original did).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass

from aimctl.api.enums import AIMServiceStatusEnum, AIMTemplateStatusEnum
from statemachines.effects import ApplyChild, DeleteChild
from statemachines.engine import ANY, KindMachine, Outcome, Rule, always

PENDING = AIMServiceStatusEnum.PENDING.value
STARTING = AIMServiceStatusEnum.STARTING.value
RUNNING = AIMServiceStatusEnum.RUNNING.value
DEGRADED = AIMServiceStatusEnum.DEGRADED.value
FAILED = AIMServiceStatusEnum.FAILED.value
STATES = (PENDING, STARTING, RUNNING, DEGRADED, FAILED)

# Condition types.
RESOLVED = "Resolved"
CACHE_READY = "CacheReady"
ROUTING_READY = "RoutingReady"
RUNTIME_READY = "RuntimeReady"
PROGRESSING = "Progressing"
FAILURE = "Failure"
READY = "Ready"

#: Reason of the conditions that report a child of the service's name owned by someone else.
OWNERSHIP_CONFLICT = "OwnershipConflict"

# Child roles (what the controller builds for each ApplyChild / DeleteChild).
ROLE_DERIVED_TEMPLATE = "derived-template"
ROLE_TEMPLATE_CACHE = "template-cache"
ROLE_INFERENCE_SERVICE = "inference-service"
ROLE_HTTP_ROUTE = "http-route"
ROLE_CACHE_USAGE = "model-cache-usage"


@dataclass(frozen=True)
class TemplateView:
    """The resolved template, as far as the service cares."""

    name: str
    #: ``Namespace`` or ``Cluster``.
    scope: str
    status: str = AIMTemplateStatusEnum.PENDING.value
    aim_image_name: str = ""
    #: Reason and message of the template's ``Failure=True`` condition ("" if none).
    failure_reason: str = ""
    failure_message: str = ""
    #: At least one model source with a non-empty ``sourceUri`` in the template status.
    has_model_sources: bool = False
    #: ``spec.caching.enabled`` (namespaced templates only).
    caching_enabled: bool = False


@dataclass(frozen=True)
class RouteCondition:
    type: str
    status: str
    reason: str = ""
    message: str = ""


@dataclass(frozen=True)
class ServiceObservation:
    """Everything the rules look at, as plain data (built by the controller from its caches)."""

    #: ``spec.templateRef`` or the image's ``defaultServiceTemplate`` ("" when neither).
    base_name: str = ""
    #: The name resolution settled on (derived, reused or the base itself; "" when none).
    final_name: str = ""
    #: ``spec.overrides`` is present (even ``{}``).
    derived: bool = False
    #: The derived template does not exist yet and will be created (``final_name``).
    create_template: bool = False
    #: Derived template whose base cannot be loaded: "base template name is empty" and the like.
    base_error: str = ""
    #: The template was chosen automatically (no ``templateRef``, no image default): why this one,
    #: for the ``Resolved`` condition ("" otherwise).
    choice_message: str = ""
    #: No template could be chosen automatically: what was considered and why each was rejected.
    no_candidate: str = ""
    #: ...and a template of the image is still Pending or Progressing (the service waits for it).
    choice_waiting: bool = False
    template: TemplateView | None = None
    #: Message when the runtime config named by the service is missing ("" when resolved or default).
    runtime_config_error: str = ""
    #: Message when the template's image is missing ("" when found).
    image_error: str = ""
    #: Message when the template's ``aimImageName`` differs from the service's ("" when equal).
    image_mismatch: str = ""
    #: The InferenceService's name when it is a shortened form of the service's ("" when they are
    #: equal, as for every name KServe can serve); named in the Ready condition's message.
    isvc_name_shortened: str = ""
    #: Why no InferenceService name can meet KServe's naming rule in this namespace ("" when one can).
    name_error: str = ""

    # Routing (effective settings, docs/original-behaviour.md fix 8).
    routing_enabled: bool = False
    gateway_ref_present: bool = False
    #: Route template render error ("" when rendered).
    route_error: str = ""
    route_exists: bool = False
    #: An HTTPRoute of the service's name exists and is controlled by someone else: the message
    #: names that owner and the fix ("" when there is none). The route is never adopted.
    route_conflict: str = ""
    route_parent_conditions: tuple[RouteCondition, ...] = ()
    #: The route has parent statuses at all (``status.parents`` non-empty).
    route_has_parents: bool = False

    # Caching (docs/original-behaviour.md fix 3).
    cache_requested: bool = False
    #: The service (``cacheModel``) must create the template cache: the template does not cache
    #: itself (its own controller would create it) and no template cache exists yet.
    create_template_cache: bool = False
    #: Every model source has an Available model cache with a PVC.
    caches_ready: bool = False
    #: The template cache (or one of its model caches) failed; message in ``cache_message``.
    cache_failed: bool = False
    cache_message: str = ""

    # The InferenceService.
    isvc_exists: bool = False
    #: An InferenceService of the service's name exists and is controlled by someone else: the
    #: message names that owner and the fix ("" when there is none). It is never adopted.
    isvc_conflict: str = ""
    isvc_ready: bool = False
    #: Why the predictor does not run, when something is visibly wrong ("" when nothing is):
    #: KServe's ``lastFailureInfo`` message, or a predictor pod's scheduling, image-pull or crash
    #: problem (:mod:`aimctl.status.predictor`); never set for a Ready InferenceService.
    isvc_failure: str = ""
    #: The condition reason for ``isvc_failure`` (``RuntimeFailed``, ``PredictorUnschedulable``, ...).
    isvc_failure_reason: str = "RuntimeFailed"
    #: The apiserver's message when an admission webhook (KServe's validation) refused the
    #: InferenceService the operator applied ("" when none).
    isvc_rejected: str = ""

    # Housekeeping effects.
    #: The derived template this service resolves to must be (re)applied (its spec is not the base's
    #: with the overrides applied). Derived templates nobody uses are collected elsewhere.
    apply_derived_template: bool = False
    #: Model caches whose ``status.lastUsed`` must be refreshed.
    cache_usage_stale: bool = False

    # -- derived facts ------------------------------------------------------------------------------

    @property
    def template_available(self) -> bool:
        return self.template is not None and self.template.status == AIMTemplateStatusEnum.AVAILABLE.value

    @property
    def caching(self) -> bool:
        """Caching requested by the service (``cacheModel``) or by the template (``caching.enabled``)."""
        return self.cache_requested or (self.template is not None and self.template.caching_enabled)

    @property
    def runtime_prerequisites(self) -> bool:
        """Template Available with model sources, runtime config and image resolved and consistent:
        the conditions under which the service may run at all (caches aside)."""
        return (
            self.template_available
            and self.template is not None
            and self.template.has_model_sources
            and not self.runtime_config_error
            and not self.image_error
            and not self.image_mismatch
            and not self.name_error
        )

    @property
    def deployable(self) -> bool:
        """The InferenceService is desired (and applied): prerequisites plus warm caches."""
        return self.runtime_prerequisites and (not self.caching or self.caches_ready)

    @property
    def route_desired(self) -> bool:
        return self.deployable and self.routing_enabled and self.gateway_ref_present and not self.route_error

    @property
    def route_rejected(self) -> RouteCondition | None:
        """A parent condition refusing the route: ``Accepted=False``, or any ``False`` whose reason is
        ``RouteFailed`` (the original operator's own reason)."""
        for c in self.route_parent_conditions:
            if c.status == "False" and (c.type == "Accepted" or c.reason == "RouteFailed"):
                return c
        return None

    @property
    def route_waiting(self) -> RouteCondition | None:
        """A parent condition that is not True (but does not refuse the route)."""
        for c in self.route_parent_conditions:
            if c.status != "True":
                return c
        return None

    @property
    def routing_ready(self) -> bool:
        if not self.routing_enabled:
            return True
        return (
            self.gateway_ref_present
            and not self.route_error
            and self.route_exists
            and self.route_has_parents
            and self.route_waiting is None
        )


# -- shared pieces of every decision ------------------------------------------------------------------


def _effects(obs: ServiceObservation, out: Outcome) -> None:
    """The child effects the observation calls for (independent of the rule that fired)."""
    if obs.create_template or obs.apply_derived_template:
        out.effect(ApplyChild(ROLE_DERIVED_TEMPLATE))
    if obs.create_template_cache and obs.runtime_prerequisites:
        out.effect(ApplyChild(ROLE_TEMPLATE_CACHE))
    if obs.deployable and not obs.isvc_conflict:
        out.effect(ApplyChild(ROLE_INFERENCE_SERVICE))
        if obs.caching and obs.cache_usage_stale:
            out.effect(ApplyChild(ROLE_CACHE_USAGE))
    if obs.route_desired and not obs.route_conflict:
        out.effect(ApplyChild(ROLE_HTTP_ROUTE))
    elif obs.route_exists and not obs.routing_enabled:
        out.effect(DeleteChild(ROLE_HTTP_ROUTE))


def _cache_condition(obs: ServiceObservation, out: Outcome) -> None:
    if not obs.caching:
        out.condition(CACHE_READY, True, "CacheWarm", "Caching not requested")
    elif obs.cache_failed:
        out.condition(CACHE_READY, False, "CacheFailed", obs.cache_message or "Model caching failed")
    elif obs.caches_ready:
        out.condition(CACHE_READY, True, "CacheWarm", "Model caches are ready")
    else:
        out.condition(CACHE_READY, False, "WaitingForCache", "Waiting for cache warm-up")


def _routing_condition(obs: ServiceObservation, out: Outcome) -> None:
    if not obs.routing_enabled:
        out.condition(ROUTING_READY, True, "RouteReady", "Routing disabled")
    elif not obs.gateway_ref_present:
        out.condition(ROUTING_READY, False, "RouteFailed", "Routing gateway reference is missing")
    elif obs.route_error:
        out.condition(ROUTING_READY, False, "RouteTemplateInvalid", obs.route_error)
    elif obs.route_conflict:
        out.condition(ROUTING_READY, False, OWNERSHIP_CONFLICT, obs.route_conflict)
    elif not obs.route_exists:
        out.condition(ROUTING_READY, False, "ConfiguringRoute", "Waiting for HTTPRoute to be created")
    elif not obs.route_has_parents:
        out.condition(ROUTING_READY, False, "ConfiguringRoute", "HTTPRoute has no parent status")
    elif (c := obs.route_rejected or obs.route_waiting) is not None:
        out.condition(ROUTING_READY, False, c.reason or "RouteFailed", c.message)
    else:
        out.condition(ROUTING_READY, True, "RouteReady", "HTTPRoute is ready")


def _prologue(obs: ServiceObservation, out: Outcome) -> None:
    _effects(obs, out)
    if obs.template is not None and obs.choice_message:
        out.condition(RESOLVED, True, "TemplateChosen", f'Resolved template "{obs.final_name}": {obs.choice_message}')
    elif obs.template is not None:
        out.condition(RESOLVED, True, "Resolved", f'Resolved template "{obs.final_name}"')
    _cache_condition(obs, out)
    _routing_condition(obs, out)
    out.condition(FAILURE, False, "Resolved", "No active failures")


def _problem(out: Outcome, reason: str, message: str, *, progressing: bool = False, failure: bool = True) -> None:
    """The conditions of a state that is not running: RuntimeReady, Progressing and Ready False (or
    Progressing True while waiting), Failure True for real problems; the transition's event text."""
    out.condition(RUNTIME_READY, False, reason, message)
    out.condition(PROGRESSING, progressing, reason, message)
    if failure:
        out.condition(FAILURE, True, reason, message)
    out.condition(READY, False, reason, message)
    out.reason, out.message = reason, message


# -- guards and actions -------------------------------------------------------------------------------


def _base_error(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    message = f"Observation failed: {obs.base_error}"
    out.condition(RESOLVED, False, "ValidationFailed", message)
    _problem(out, "ValidationFailed", message)


def _creating_template(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    out.condition(RESOLVED, False, "TemplateNotFound", "Template not found; creating derived template")
    out.condition(RUNTIME_READY, False, "CreatingRuntime", "Template not found; creating derived template")
    out.condition(PROGRESSING, True, "TemplateNotFound", "Template not found; creating derived template")
    out.condition(READY, False, "TemplateNotFound", "Template missing")
    out.reason, out.message = "TemplateNotFound", f'Creating derived template "{obs.final_name}"'


def template_not_found_message(base_name: str) -> str:
    if not base_name:
        return (
            "No template reference specified and no default template found on the image. "
            "Provide spec.templateRef or configure the image's defaultServiceTemplate field."
        )
    return f'Template "{base_name}" not found. Create the template or verify the template name.'


def _template_not_found(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    message = template_not_found_message(obs.base_name)
    out.condition(RESOLVED, False, "TemplateNotFound", message)
    _problem(out, "TemplateNotFound", message)
    out.condition(READY, False, "TemplateNotFound", "Template missing")


def _no_template_candidate(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    out.condition(RESOLVED, False, "NoTemplateCandidate", obs.no_candidate)
    waiting = obs.choice_waiting
    _problem(out, "NoTemplateCandidate", obs.no_candidate, progressing=waiting, failure=not waiting)


def _runtime_config_missing(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "RuntimeConfigMissing", obs.runtime_config_error)


def _image_not_found(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "ImageNotFound", obs.image_error)


def _image_mismatch(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "ImageMismatch", obs.image_mismatch)


def _gateway_missing(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "RouteFailed", "Routing gateway reference is missing")


def _route_template_invalid(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "RouteTemplateInvalid", obs.route_error)


def _template_unhealthy(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    t = obs.template
    assert t is not None
    _problem(out, t.failure_reason or "TemplateDegraded", t.failure_message or "Template is not available")


def _template_not_available(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(
        out,
        "TemplateNotAvailable",
        f'Template "{obs.final_name}" is not yet Available',
        progressing=True,
        failure=False,
    )


def _no_model_sources(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(
        out,
        "NoModelSources",
        f'Template "{obs.final_name}" is Available but discovery produced no usable model sources',
    )


def _cache_failed(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "CacheFailed", obs.cache_message or "Model caching failed")


def _waiting_for_cache(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "WaitingForCache", "Waiting for model caches to become ready", progressing=True, failure=False)


def _inference_service_conflict(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, OWNERSHIP_CONFLICT, obs.isvc_conflict)


def _route_conflict(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, OWNERSHIP_CONFLICT, obs.route_conflict)


def _runtime_rejected(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "InferenceServiceRejected", obs.isvc_rejected)


def _runtime_failed(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, obs.isvc_failure_reason or "RuntimeFailed", obs.isvc_failure)


def _route_rejected(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    c = obs.route_rejected
    assert c is not None
    _problem(out, c.reason or "RouteFailed", c.message or "HTTPRoute was not accepted by its Gateway")


def _running(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    out.condition(RUNTIME_READY, True, "RuntimeReady", "InferenceService is ready")
    out.condition(PROGRESSING, False, "RuntimeReady", "Service is running")
    out.condition(READY, True, "RuntimeReady", "AIMService is ready to serve traffic")
    out.reason, out.message = "RuntimeReady", "AIMService is ready to serve traffic"


def _starting(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    if not obs.isvc_exists:
        reason, message = "CreatingRuntime", "Creating InferenceService"
    elif not obs.isvc_ready:
        reason, message = "CreatingRuntime", "Waiting for InferenceService to become ready"
    else:
        reason, message = "ConfiguringRoute", "Waiting for HTTPRoute to become ready"
    _problem(out, reason, message, progressing=True, failure=False)


def _name_isvc(isvc_name: str, out: Outcome) -> None:
    """The status has no field for the InferenceService's name, so a shortened one is named in the
    Ready condition's message (services whose name is the InferenceService's keep theirs verbatim)."""
    for i, c in enumerate(out.conditions):
        if c.type == READY:
            note = f'InferenceService "{isvc_name}"'
            out.conditions[i] = dataclasses.replace(c, message=f"{c.message} ({note})" if c.message else note)


def _name_unfit(obs: ServiceObservation, out: Outcome) -> None:
    _prologue(obs, out)
    _problem(out, "NameTooLong", obs.name_error)


#: The order conditions are written in (stable, so a re-decision never reorders the list).
CONDITION_ORDER = (READY, RESOLVED, CACHE_READY, ROUTING_READY, RUNTIME_READY, PROGRESSING, FAILURE)


def _ordered(action: Callable[[ServiceObservation, Outcome], None]) -> Callable[[ServiceObservation, Outcome], None]:
    def act(obs: ServiceObservation, out: Outcome) -> None:
        action(obs, out)
        out.conditions.sort(key=lambda c: CONDITION_ORDER.index(c.type))
        if obs.isvc_name_shortened:
            _name_isvc(obs.isvc_name_shortened, out)

    act.__name__ = action.__name__
    return act


def _template_status(*states: AIMTemplateStatusEnum) -> frozenset[str]:
    return frozenset(s.value for s in states)


_FAILED_TEMPLATE = _template_status(AIMTemplateStatusEnum.FAILED)
_DEGRADED_TEMPLATE = _template_status(AIMTemplateStatusEnum.DEGRADED)


def _template_in(obs: ServiceObservation, states: frozenset[str]) -> bool:
    return obs.template is not None and obs.template.status in states


def _rule(
    name: str,
    dest: str,
    guard: Callable[[ServiceObservation], bool],
    action: Callable[[ServiceObservation, Outcome], None],
    doc: str = "",
) -> Rule[ServiceObservation]:
    """A rule from any state (the state is derived, never sticky) with conditions in a stable order."""
    return Rule(name, ANY, dest, guard, _ordered(action), doc)


RULES: list[Rule[ServiceObservation]] = [
    _rule("base_template_unusable", FAILED, lambda o: bool(o.base_error), _base_error,
          "overrides given, but the base template is missing or unnamed"),
    _rule("create_derived_template", PENDING, lambda o: o.create_template, _creating_template,
          "overrides given and no equal template exists: create the derived template"),
    _rule("no_template_candidate_yet", PENDING, lambda o: bool(o.no_candidate) and o.choice_waiting,
          _no_template_candidate, "no templateRef or image default, and no template can be chosen yet: one is "
          "still Pending or Progressing"),
    _rule("no_template_candidate", DEGRADED, lambda o: bool(o.no_candidate), _no_template_candidate,
          "no templateRef or image default, and no template of the image is usable (the condition says why)"),
    _rule("template_not_found", DEGRADED, lambda o: o.template is None, _template_not_found,
          "no template by that name in the namespace or the cluster"),
    _rule("name_unfit", FAILED, lambda o: bool(o.name_error), _name_unfit,
          "no InferenceService name meets KServe's naming rule in this namespace"),
    _rule("runtime_config_missing", DEGRADED, lambda o: bool(o.runtime_config_error), _runtime_config_missing),
    _rule("image_not_found", DEGRADED, lambda o: bool(o.image_error), _image_not_found),
    _rule("image_mismatch", DEGRADED, lambda o: bool(o.image_mismatch), _image_mismatch,
          "the template serves another image than the service names"),
    _rule("gateway_missing", FAILED, lambda o: o.routing_enabled and not o.gateway_ref_present, _gateway_missing),
    _rule("route_template_invalid", DEGRADED, lambda o: o.routing_enabled and bool(o.route_error),
          _route_template_invalid),
    _rule("template_failed", FAILED, lambda o: _template_in(o, _FAILED_TEMPLATE), _template_unhealthy),
    _rule("template_degraded", DEGRADED, lambda o: _template_in(o, _DEGRADED_TEMPLATE), _template_unhealthy),
    _rule("template_not_available", PENDING, lambda o: not o.template_available, _template_not_available),
    _rule("no_model_sources", DEGRADED, lambda o: o.template is not None and not o.template.has_model_sources,
          _no_model_sources),
    _rule("cache_failed", DEGRADED, lambda o: o.caching and o.cache_failed, _cache_failed),
    _rule("waiting_for_cache", STARTING, lambda o: o.caching and not o.caches_ready, _waiting_for_cache),
    _rule("inference_service_conflict", DEGRADED, lambda o: o.deployable and bool(o.isvc_conflict),
          _inference_service_conflict, "an InferenceService of this name has another owner: never taken over"),
    _rule("route_conflict", DEGRADED, lambda o: o.route_desired and bool(o.route_conflict), _route_conflict,
          "an HTTPRoute of this name has another owner: never taken over"),
    _rule("runtime_rejected", FAILED, lambda o: bool(o.isvc_rejected), _runtime_rejected,
          "an admission webhook (KServe's validation) refused the InferenceService"),
    # KServe never clears lastFailureInfo: it counts only while the InferenceService is not Ready.
    _rule("runtime_failed", DEGRADED, lambda o: o.isvc_exists and not o.isvc_ready and bool(o.isvc_failure),
          _runtime_failed, "the InferenceService is not Ready and its predictor cannot run (KServe's "
          "lastFailureInfo, or a predictor pod unschedulable, unable to pull its image or crash-looping)"),
    _rule("route_rejected", DEGRADED, lambda o: o.routing_enabled and o.route_exists and o.route_rejected is not None,
          _route_rejected, "the Gateway refused the HTTPRoute"),
    _rule("running", RUNNING, lambda o: o.isvc_exists and o.isvc_ready and o.routing_ready, _running),
    _rule("starting", STARTING, always, _starting),
]  # fmt: skip

MACHINE: KindMachine[ServiceObservation] = KindMachine("AIMService", STATES, PENDING, RULES)
