"""The Gateway simulator's route status follows the Gateway API's own rules, one test per rule.

Each test cites the text it checks, from the ``sigs.k8s.io/gateway-api`` module's ``apis/v1`` types
(v1.6.3, ``shared_types.go`` unless noted).
"""

from __future__ import annotations

from typing import Any

from tests.sim.gateway_controller import CONTROLLER_NAME, _carry, route_parent_statuses, stale_view

STAMP = "2026-01-01T00:00:00Z"
OURS = {"sim"}


def gateway(ns: str = "app", listeners: list[dict[str, Any]] | None = None, cls: str = "sim") -> dict[str, Any]:
    default = [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {"from": "Same"}}}]
    return {
        "metadata": {"name": "gw", "namespace": ns},
        "spec": {"gatewayClassName": cls, "listeners": listeners or default},
    }


def route(parent: dict[str, Any] | None = None, backend: dict[str, Any] | None = None, **spec: Any) -> dict[str, Any]:
    return {
        "metadata": {"name": "r", "namespace": "app", "generation": 3},
        "spec": {
            "parentRefs": [parent or {"name": "gw"}],
            "rules": [{"backendRefs": [backend or {"name": "svc-predictor", "port": 80}]}],
            **spec,
        },
    }


def statuses(r: dict[str, Any], gw: dict[str, Any] | None = None, **kw: Any) -> list[dict[str, Any]]:
    g = gw or gateway()
    kw.setdefault("services", {"app/svc-predictor"})
    return route_parent_statuses(r, {f"{g['metadata']['namespace']}/gw": g}, OURS, STAMP, **kw)


def cond(entry: dict[str, Any], type_: str) -> tuple[str, str]:
    (c,) = [c for c in entry["conditions"] if c["type"] == type_]
    return c["status"], c["reason"]


def test_accepted_when_a_listener_allows_the_route() -> None:
    """RouteConditionAccepted: 'Possible reasons for this condition to be True are: * "Accepted"'."""
    (entry,) = statuses(route())
    assert cond(entry, "Accepted") == ("True", "Accepted")
    assert cond(entry, "ResolvedRefs") == ("True", "ResolvedRefs")


def test_each_parent_entry_names_its_parent_ref_and_controller() -> None:
    """RouteParentStatus.ParentRef 'corresponds with a ParentRef in the spec'; ControllerName:
    'Controllers MUST populate this field when writing status'."""
    (entry,) = statuses(route({"name": "gw", "sectionName": "http"}))
    assert entry["parentRef"] == {"name": "gw", "sectionName": "http"}
    assert entry["controllerName"] == CONTROLLER_NAME


def test_conditions_carry_the_route_generation() -> None:
    """RouteParentStatus.Conditions: 'Implementations MUST always update the observedGeneration field of
    the Condition to the metadata.generation ... at the time of update creation'."""
    (entry,) = statuses(route())
    assert {c["observedGeneration"] for c in entry["conditions"]} == {3}


def test_a_newer_observed_generation_is_not_overwritten() -> None:
    """RouteParentStatus.Conditions: 'If the observedGeneration of a Condition is greater than the value
    the implementation knows about, then it MUST NOT perform the update on that Condition'."""
    (entry,) = statuses(route())
    assert not stale_view([entry], 3)
    assert stale_view([entry], 2)


def test_a_nonexistent_parent_or_another_controllers_gateway_gets_no_entry() -> None:
    """RouteParentStatus.Conditions: the Accepted condition may not be set when 'The Route refers to a
    nonexistent parent'; GatewayClass.controllerName decides which controller owns a Gateway
    (gatewayclass_types.go)."""
    assert statuses(route({"name": "missing"})) == []
    assert statuses(route(), gateway(cls="other")) == []


def test_no_matching_parent_for_an_unknown_section_or_port() -> None:
    """RouteReasonNoMatchingParent: 'this can occur when a Route ParentRef specifies a Port and/or
    SectionName that does not match any Listeners in the Gateway'."""
    (entry,) = statuses(route({"name": "gw", "sectionName": "https"}))
    assert cond(entry, "Accepted") == ("False", "NoMatchingParent")
    (entry,) = statuses(route({"name": "gw", "port": 8080}))
    assert cond(entry, "Accepted") == ("False", "NoMatchingParent")


def test_not_allowed_by_listeners_from_another_namespace_or_unselected_namespace() -> None:
    """RouteReasonNotAllowedByListeners: 'the Gateway has no Listener whose allowedRoutes criteria
    permit the route' (AllowedRoutes.Namespaces.From: Same, All, Selector; gateway_types.go)."""
    other_ns = gateway(ns="infra")
    (entry,) = statuses(route({"name": "gw", "namespace": "infra"}), other_ns)
    assert cond(entry, "Accepted") == ("False", "NotAllowedByListeners")
    selector = [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"namespaces": {
        "from": "Selector", "selector": {"matchLabels": {"gateway-access": "yes"}}}}}]  # fmt: skip
    gw = gateway(ns="infra", listeners=selector)
    ref = {"name": "gw", "namespace": "infra"}
    (entry,) = statuses(route(ref), gw, namespaces={"app": {"metadata": {"labels": {}}}})
    assert cond(entry, "Accepted") == ("False", "NotAllowedByListeners")
    (entry,) = statuses(route(ref), gw, namespaces={"app": {"metadata": {"labels": {"gateway-access": "yes"}}}})
    assert cond(entry, "Accepted") == ("True", "Accepted")
    kinds = [{"name": "http", "port": 80, "protocol": "HTTP", "allowedRoutes": {"kinds": [{"kind": "GRPCRoute"}]}}]
    (entry,) = statuses(route(), gateway(listeners=kinds))
    assert cond(entry, "Accepted") == ("False", "NotAllowedByListeners")


def test_no_matching_listener_hostname() -> None:
    """RouteReasonNoMatchingListenerHostname: 'the Gateway has no compatible Listeners whose Hostname
    matches the route'."""
    listeners = [{"name": "http", "port": 80, "protocol": "HTTP", "hostname": "*.example.com"}]
    (entry,) = statuses(route(hostnames=["api.other.org"]), gateway(listeners=listeners))
    assert cond(entry, "Accepted") == ("False", "NoMatchingListenerHostname")
    (entry,) = statuses(route(hostnames=["api.example.com"]), gateway(listeners=listeners))
    assert cond(entry, "Accepted") == ("True", "Accepted")


def test_backend_not_found() -> None:
    """RouteReasonBackendNotFound: 'one of the Route's rules has a reference to a resource that does not
    exist'."""
    (entry,) = statuses(route(), services=set())
    assert cond(entry, "ResolvedRefs") == ("False", "BackendNotFound")


def test_invalid_kind() -> None:
    """RouteReasonInvalidKind: 'one of the Route's rules has a reference to an unknown or unsupported
    Group and/or Kind'."""
    (entry,) = statuses(route(backend={"name": "b", "group": "example.com", "kind": "Bucket"}))
    assert cond(entry, "ResolvedRefs") == ("False", "InvalidKind")


def test_ref_not_permitted_without_a_reference_grant() -> None:
    """RouteReasonRefNotPermitted: 'a BackendRef to an object in another namespace, where the object in
    the other namespace does not have a ReferenceGrant explicitly allowing the reference'."""
    backend = {"name": "shared", "namespace": "models", "port": 80}
    (entry,) = statuses(route(backend=backend), services={"models/shared"})
    assert cond(entry, "ResolvedRefs") == ("False", "RefNotPermitted")
    grant = {
        "metadata": {"name": "g", "namespace": "models"},
        "spec": {"from": [{"group": "gateway.networking.k8s.io", "kind": "HTTPRoute", "namespace": "app"}],
                 "to": [{"group": "", "kind": "Service"}]},
    }  # fmt: skip
    (entry,) = statuses(route(backend=backend), services={"models/shared"}, grants=[grant])
    assert cond(entry, "ResolvedRefs") == ("True", "ResolvedRefs")


def test_unchanged_conditions_keep_their_transition_time() -> None:
    """metav1.Condition.lastTransitionTime: 'the last time the condition transitioned from one status to
    another' (an unchanged status keeps it, so an unchanged route is not rewritten)."""
    (old,) = statuses(route())
    for c in old["conditions"]:
        c["lastTransitionTime"] = "2025-01-01T00:00:00Z"
    new = route_parent_statuses(route(), {"app/gw": gateway()}, OURS, STAMP, {"app/svc-predictor"})
    assert _carry(new, [old]) == [old]
