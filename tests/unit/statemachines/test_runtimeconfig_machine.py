"""AIMRuntimeConfig rules: a refused route template is a field-level condition (issue 11)."""

from __future__ import annotations

from statemachines.engine import Decision
from statemachines.runtimeconfig import MACHINE, RuntimeConfigObservation


def conditions(d: Decision) -> dict[str, tuple[str, str, str]]:
    return {c.type: (c.status, c.reason, c.message) for c in d.conditions}


def test_invalid_route_template_names_the_field_even_with_routing_disabled() -> None:
    error = "regular-expression filters (=~) are not supported; use an == filter"
    d = MACHINE.decide(RuntimeConfigObservation(kind="AIMRuntimeConfig", route_template_error=error), None)
    got = conditions(d)
    assert d.state == "Invalid"
    assert got["RoutingValid"][:2] == ("False", "RouteTemplateInvalid")
    assert got["RoutingValid"][2] == f"spec.routing.routeTemplate is invalid: {error}"
    assert got["Ready"][:2] == ("False", "RouteTemplateInvalid")


def test_gateway_problem_is_reported_first_and_a_valid_config_stays_valid() -> None:
    obs = RuntimeConfigObservation(kind="AIMRuntimeConfig", routing_enabled=True, route_template_error="bad")
    got = conditions(MACHINE.decide(obs, None))
    assert got["RoutingValid"][1] == "GatewayRefMissing"
    assert "1 more problem" in got["Ready"][2]
    ok = MACHINE.decide(
        RuntimeConfigObservation(kind="AIMRuntimeConfig", routing_enabled=True, gateway_ref_set=True), None
    )
    assert conditions(ok)["RoutingValid"][:2] == ("True", "GatewayConfigured")
