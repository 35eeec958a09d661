"""The AIMService rules (docs/original-behaviour.md, with fixes 3, 7, 8, 14, 15)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from statemachines.effects import ApplyChild, DeleteChild
from statemachines.service import (
    CONDITION_ORDER,
    MACHINE,
    ROLE_CACHE_USAGE,
    ROLE_DERIVED_TEMPLATE,
    ROLE_HTTP_ROUTE,
    ROLE_INFERENCE_SERVICE,
    ROLE_TEMPLATE_CACHE,
    RouteCondition,
    ServiceObservation,
    TemplateView,
)

TEMPLATE = TemplateView("tpl-a", "Cluster", "Available", "img-a", has_model_sources=True)
READY = ServiceObservation(base_name="tpl-a", final_name="tpl-a", template=TEMPLATE, isvc_exists=True, isvc_ready=True)
ACCEPTED = (RouteCondition("Accepted", "True", "Accepted"), RouteCondition("ResolvedRefs", "True", "ResolvedRefs"))


def conds(obs: ServiceObservation, state: str | None = None) -> dict[str, tuple[str, str, str]]:
    d = MACHINE.decide(obs, state)
    return {c.type: (c.status, c.reason, c.message) for c in d.conditions}


def test_running_declares_all_conditions_in_a_stable_order() -> None:
    d = MACHINE.decide(READY, "Starting")
    assert d.state == "Running"
    assert d.transition == ("Starting", "Running")
    assert tuple(c.type for c in d.conditions) == CONDITION_ORDER
    c = conds(READY)
    assert c["Ready"] == ("True", "RuntimeReady", "AIMService is ready to serve traffic")
    assert c["RuntimeReady"] == ("True", "RuntimeReady", "InferenceService is ready")
    assert c["Resolved"] == ("True", "Resolved", 'Resolved template "tpl-a"')
    assert c["Failure"] == ("False", "Resolved", "No active failures")
    assert c["CacheReady"] == ("True", "CacheWarm", "Caching not requested")
    assert c["RoutingReady"] == ("True", "RouteReady", "Routing disabled")
    assert d.effects == (ApplyChild(ROLE_INFERENCE_SERVICE),)
    assert (d.reason, d.message) == ("RuntimeReady", "AIMService is ready to serve traffic")


def test_status_is_never_sticky() -> None:
    failing = replace(READY, isvc_ready=False, isvc_failure="model load failed: OOM")
    d = MACHINE.decide(failing, "Running")
    assert (d.state, d.rule) == ("Degraded", "runtime_failed")
    assert conds(failing)["Failure"] == ("True", "RuntimeFailed", "model load failed: OOM")
    assert MACHINE.decide(READY, "Degraded").state == "Running"
    assert MACHINE.decide(replace(READY, isvc_ready=False), "Failed").state == "Starting"
    assert MACHINE.decide(replace(READY, isvc_exists=False, isvc_ready=False), "Failed").state == "Starting"


def test_a_predictor_problem_is_reported_with_its_reason() -> None:
    """An unschedulable predictor (seen on its pods, :mod:`aimctl.status.predictor`): Degraded, with
    the reason and the scheduler's words in every not-running condition."""
    message = 'Predictor pod "p" cannot be scheduled: 0/3 nodes are available: 3 Insufficient amd.com/gpu-x.'
    stuck = replace(READY, isvc_ready=False, isvc_failure=message, isvc_failure_reason="PredictorUnschedulable")
    d = MACHINE.decide(stuck, "Starting")
    assert (d.state, d.rule) == ("Degraded", "runtime_failed")
    c = conds(stuck)
    for type_ in ("Failure", "Ready", "RuntimeReady"):
        assert c[type_][1:] == ("PredictorUnschedulable", message)
    assert (d.reason, d.message) == ("PredictorUnschedulable", message)


def test_a_ready_inference_service_with_an_old_failure_runs() -> None:
    """KServe never clears ``modelStatus.lastFailureInfo``: once its predictor recovers, the InferenceService
    is Ready and still carries the old failure. Ready wins (the failure matters only while not Ready)."""
    recovered = replace(READY, isvc_failure="simulated crash: the model server exited with code 1")
    d = MACHINE.decide(recovered, "Degraded")
    assert (d.state, d.rule) == ("Running", "running")
    assert conds(recovered)["Failure"] == ("False", "Resolved", "No active failures")


def test_an_inference_service_refused_by_kserve_fails_the_service_with_the_webhooks_message() -> None:
    msg = 'admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request: invalid name'
    refused = replace(READY, isvc_exists=False, isvc_ready=False, isvc_rejected=msg)
    d = MACHINE.decide(refused, "Starting")
    assert (d.state, d.rule) == ("Failed", "runtime_rejected")
    assert conds(refused)["Failure"] == ("True", "InferenceServiceRejected", msg)
    assert conds(refused)["Ready"] == ("False", "InferenceServiceRejected", msg)
    assert ApplyChild(ROLE_INFERENCE_SERVICE) in d.effects  # a fixed spec is applied again


def test_starting_reasons() -> None:
    assert conds(replace(READY, isvc_exists=False, isvc_ready=False))["RuntimeReady"][:2] == (
        "False",
        "CreatingRuntime",
    )
    assert conds(replace(READY, isvc_ready=False))["Progressing"] == (
        "True",
        "CreatingRuntime",
        "Waiting for InferenceService to become ready",
    )


@pytest.mark.parametrize(
    ("obs", "state", "reason"),
    [
        (ServiceObservation(derived=True, base_error="base template name is empty"), "Failed", "ValidationFailed"),
        (ServiceObservation(base_name="b", final_name="b-ovr-1", derived=True, create_template=True), "Pending",
         "TemplateNotFound"),
        (ServiceObservation(base_name="nope", final_name="nope"), "Degraded", "TemplateNotFound"),
        (replace(READY, runtime_config_error='AIMRuntimeConfig "nope" not found in namespace "ns"'), "Degraded",
         "RuntimeConfigMissing"),
        (replace(READY, image_error='AIMClusterImage "img-a" not found'), "Degraded", "ImageNotFound"),
        (replace(READY, image_mismatch="mismatch"), "Degraded", "ImageMismatch"),
        (replace(READY, routing_enabled=True), "Failed", "RouteFailed"),
        (replace(READY, routing_enabled=True, gateway_ref_present=True, route_error="bad"), "Degraded",
         "RouteTemplateInvalid"),
        (replace(READY, template=replace(TEMPLATE, status="Failed", failure_reason="JobFailed",
                                         failure_message="discovery failed")), "Failed", "JobFailed"),
        (replace(READY, template=replace(TEMPLATE, status="Degraded", failure_reason="ImagePullBackOff")), "Degraded",
         "ImagePullBackOff"),
        (replace(READY, template=replace(TEMPLATE, status="Degraded")), "Degraded", "TemplateDegraded"),
        (replace(READY, template=replace(TEMPLATE, status="Progressing")), "Pending", "TemplateNotAvailable"),
        (replace(READY, template=replace(TEMPLATE, has_model_sources=False)), "Degraded", "NoModelSources"),
        (replace(READY, cache_requested=True, cache_failed=True, cache_message="download failed"), "Degraded",
         "CacheFailed"),
        (replace(READY, cache_requested=True), "Starting", "WaitingForCache"),
        (replace(READY, name_error="namespace too long"), "Failed", "NameTooLong"),
    ],
)  # fmt: skip
def test_precedence_chain(obs: ServiceObservation, state: str, reason: str) -> None:
    d = MACHINE.decide(obs, "Running")
    assert d.state == state
    assert d.reason == reason
    assert conds(obs)["Ready"][0] == "False"


def test_template_not_found_messages_and_no_inference_service() -> None:
    none = ServiceObservation()
    c = conds(none)
    assert c["Resolved"][2].startswith("No template reference specified and no default template found on the image.")
    assert c["Ready"] == ("False", "TemplateNotFound", "Template missing")
    assert MACHINE.decide(none, None).effects == ()
    named = conds(ServiceObservation(base_name="x", final_name="x"))
    assert named["Failure"][2] == 'Template "x" not found. Create the template or verify the template name.'


def test_no_template_candidate_lists_rejections_and_waits_for_pending_templates() -> None:
    none = ServiceObservation(no_candidate="considered: a (not Available)")
    d = MACHINE.decide(none, None)
    assert (d.rule, d.state, d.reason) == ("no_template_candidate", "Degraded", "NoTemplateCandidate")
    c = conds(none)
    assert c["Resolved"] == ("False", "NoTemplateCandidate", "considered: a (not Available)")
    assert c["Failure"][:2] == ("True", "NoTemplateCandidate")
    assert d.effects == ()
    waiting = replace(none, choice_waiting=True)
    w = MACHINE.decide(waiting, None)
    assert (w.rule, w.state) == ("no_template_candidate_yet", "Pending")
    assert conds(waiting)["Progressing"][0] == "True" and conds(waiting)["Failure"][0] == "False"


def test_a_chosen_template_says_why_in_resolved() -> None:
    chosen = replace(READY, choice_message="it is the only usable candidate")
    assert conds(chosen)["Resolved"] == (
        "True", "TemplateChosen", 'Resolved template "tpl-a": it is the only usable candidate'
    )  # fmt: skip
    assert MACHINE.decide(chosen, None).state == "Running"
    assert conds(READY)["Resolved"] == ("True", "Resolved", 'Resolved template "tpl-a"')


def test_missing_image_or_mismatch_blocks_the_inference_service() -> None:
    for obs in (replace(READY, image_error="gone"), replace(READY, image_mismatch="other")):
        assert ApplyChild(ROLE_INFERENCE_SERVICE) not in MACHINE.decide(obs, None).effects


def test_creating_a_derived_template_applies_it() -> None:
    obs = ServiceObservation(base_name="b", final_name="b-ovr-1", derived=True, create_template=True)
    d = MACHINE.decide(obs, None)
    assert d.effects == (ApplyChild(ROLE_DERIVED_TEMPLATE),)
    assert conds(obs)["Resolved"] == ("False", "TemplateNotFound", "Template not found; creating derived template")


def test_routing_through_the_runtime_config_reaches_running() -> None:
    routed = replace(READY, routing_enabled=True, gateway_ref_present=True, route_exists=True,
                     route_has_parents=True, route_parent_conditions=ACCEPTED)  # fmt: skip
    d = MACHINE.decide(routed, "Starting")
    assert d.state == "Running"
    assert conds(routed)["RoutingReady"] == ("True", "RouteReady", "HTTPRoute is ready")
    assert ApplyChild(ROLE_HTTP_ROUTE) in d.effects


def test_routing_waits_for_route_and_parent_status() -> None:
    base = replace(READY, routing_enabled=True, gateway_ref_present=True)
    assert MACHINE.decide(base, None).state == "Starting"
    assert conds(base)["RoutingReady"] == ("False", "ConfiguringRoute", "Waiting for HTTPRoute to be created")
    no_parents = replace(base, route_exists=True)
    assert conds(no_parents)["RoutingReady"] == ("False", "ConfiguringRoute", "HTTPRoute has no parent status")
    backend = (RouteCondition("ResolvedRefs", "False", "BackendNotFound", "no svc"),)
    unresolved = replace(no_parents, route_has_parents=True, route_parent_conditions=backend)
    assert MACHINE.decide(unresolved, None).state == "Starting"
    assert conds(unresolved)["Progressing"] == ("True", "ConfiguringRoute", "Waiting for HTTPRoute to become ready")
    refused = (RouteCondition("Accepted", "False", "NotAllowedByListeners", "no"),)
    rejected = replace(no_parents, route_has_parents=True, route_parent_conditions=refused)
    d = MACHINE.decide(rejected, "Running")
    assert (d.state, d.reason) == ("Degraded", "NotAllowedByListeners")


def test_route_template_error_keeps_the_inference_service_but_no_route() -> None:
    obs = replace(READY, routing_enabled=True, gateway_ref_present=True, route_error="bad")
    effects = MACHINE.decide(obs, None).effects
    assert ApplyChild(ROLE_INFERENCE_SERVICE) in effects
    assert ApplyChild(ROLE_HTTP_ROUTE) not in effects


def test_disabled_routing_deletes_a_left_over_route() -> None:
    assert DeleteChild(ROLE_HTTP_ROUTE) in MACHINE.decide(replace(READY, route_exists=True), None).effects


def test_caching_waits_then_mounts_and_records_use() -> None:
    waiting = replace(READY, cache_requested=True, create_template_cache=True, isvc_exists=False, isvc_ready=False)
    d = MACHINE.decide(waiting, None)
    assert d.state == "Starting"
    assert d.effects == (ApplyChild(ROLE_TEMPLATE_CACHE),)
    assert conds(waiting)["CacheReady"] == ("False", "WaitingForCache", "Waiting for cache warm-up")
    warm = replace(READY, cache_requested=True, caches_ready=True, cache_usage_stale=True)
    d = MACHINE.decide(warm, None)
    assert d.state == "Running"
    assert d.effects == (
        ApplyChild(ROLE_INFERENCE_SERVICE),
        ApplyChild(ROLE_CACHE_USAGE),
    )
    assert conds(warm)["CacheReady"] == ("True", "CacheWarm", "Model caches are ready")
    # Template-level caching counts too.
    tpl_cached = replace(READY, template=replace(TEMPLATE, caching_enabled=True))
    assert MACHINE.decide(tpl_cached, None).rule == "waiting_for_cache"


def test_every_rule_is_reachable_and_the_diagram_renders() -> None:
    assert "Running" in MACHINE.mermaid()
    assert MACHINE.rules[-1].name == "starting"


def test_a_name_that_cannot_fit_blocks_the_inference_service_and_says_why() -> None:
    obs = replace(READY, isvc_exists=False, isvc_ready=False, name_error="no name fits: use a shorter namespace")
    d = MACHINE.decide(obs, None)
    assert (d.state, d.rule) == ("Failed", "name_unfit")
    assert ApplyChild(ROLE_INFERENCE_SERVICE) not in d.effects
    assert conds(obs)["Ready"] == ("False", "NameTooLong", "no name fits: use a shorter namespace")
    assert conds(obs)["Failure"] == ("True", "NameTooLong", "no name fits: use a shorter namespace")


def test_a_shortened_inference_service_name_is_in_the_ready_message() -> None:
    short = replace(READY, isvc_name_shortened="long-name-1a2b3c4d")
    assert conds(short)["Ready"] == (
        "True",
        "RuntimeReady",
        'AIMService is ready to serve traffic (InferenceService "long-name-1a2b3c4d")',
    )
    starting = conds(replace(short, isvc_ready=False))["Ready"]
    assert starting[2] == 'Waiting for InferenceService to become ready (InferenceService "long-name-1a2b3c4d")'
    assert conds(READY)["Ready"][2] == "AIMService is ready to serve traffic"  # unchanged when not shortened


def test_a_foreign_inference_service_is_never_applied_and_is_reported() -> None:
    message = 'InferenceService "svc" already exists and is controlled by Deployment "x"'
    foreign = replace(READY, isvc_exists=False, isvc_ready=False, isvc_conflict=message)
    d = MACHINE.decide(foreign, "Starting")
    assert (d.state, d.rule) == ("Degraded", "inference_service_conflict")
    assert ApplyChild(ROLE_INFERENCE_SERVICE) not in d.effects
    c = conds(foreign)
    assert c["RuntimeReady"] == ("False", "OwnershipConflict", message)
    assert c["Failure"] == ("True", "OwnershipConflict", message)
    assert c["Ready"][0] == "False"


def test_a_foreign_http_route_is_never_applied_nor_deleted_and_is_reported() -> None:
    message = 'HTTPRoute "svc" already exists and has no controller owner'
    routed = replace(READY, routing_enabled=True, gateway_ref_present=True, route_conflict=message)
    d = MACHINE.decide(routed, "Running")
    assert (d.state, d.rule) == ("Degraded", "route_conflict")
    assert ApplyChild(ROLE_HTTP_ROUTE) not in d.effects
    assert ApplyChild(ROLE_INFERENCE_SERVICE) in d.effects
    assert conds(routed)["RoutingReady"] == ("False", "OwnershipConflict", message)
    unrouted = replace(READY, route_conflict=message)  # routing off: a foreign route is left alone
    assert DeleteChild(ROLE_HTTP_ROUTE) not in MACHINE.decide(unrouted, "Running").effects
