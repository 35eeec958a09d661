"""Route templates, path rules and effective routing settings (reference §6.1-6.2, DESIGN.md §5 #8)."""

from __future__ import annotations

from typing import Any

import pytest

from aimctl.routing.path import RoutePathError, default_path, normalise_path
from aimctl.routing.render import RouteTemplateError, render_route_path
from aimctl.routing.settings import effective_routing


def svc(**meta: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMService",
        "metadata": {"name": "svc3", "namespace": "ns1", "uid": "12345678-90ab"},
        "spec": {"aimImageName": "default-testing-llama-3-8b", "replicas": 2, "cacheModel": True,
                 "env": [{"name": "A", "value": "1"}, {"name": "B", "value": "2"}]},
    }  # fmt: skip
    base["metadata"].update(meta)
    return base


def test_default_template_is_namespace_and_uid() -> None:
    assert render_route_path(None, svc(namespace="Testing")) == "/testing/12345678-90ab"
    assert render_route_path("  ", svc()) == "/ns1/12345678-90ab"
    assert default_path("Testing", "12345678-90ab") == "/testing/12345678-90ab"


def test_reference_examples() -> None:
    s = svc(labels={"team": "Data-Team"}, annotations={"route.suffix": "Team-A/B"})
    assert render_route_path("/ns/{.metadata.namespace}/{.metadata.name}", s) == "/ns/ns1/svc3"
    assert render_route_path("/{.metadata.labels['team']}/{.metadata.annotations['route.suffix']}/", s) == (
        "/data-team/team-a/b"
    )
    assert render_route_path('/{ .metadata.labels["team"] }', s) == "/data-team"
    assert render_route_path("/{.metadata.namespace}/{.metadata.labels['team']}/{.spec.aimImageName}/", s) == (
        "/ns1/data-team/default-testing-llama-3-8b"
    )


def test_label_values_are_rfc1123_but_annotations_are_raw() -> None:
    s = svc(labels={"team": "Workload-42"}, annotations={"p": "A/B C"})
    assert render_route_path("/testing/{.metadata.labels['team']}", s) == "/testing/workload-42"
    # The annotation's "/" makes two segments; each is then made RFC 1123.
    assert render_route_path("/{.metadata.annotations['p']}", s) == "/a/b-c"


def test_jsonpath_expressions_scalars_and_filters() -> None:
    s = svc()
    assert render_route_path("/{.spec.replicas}/{.spec.cacheModel}", s) == "/2/true"
    assert render_route_path("/{.spec.env[1].name}", s) == "/b"
    assert render_route_path('/{.spec.env[?(@.name=="B")].value}', s) == "/2"
    assert render_route_path("/{$.metadata.name}", s) == "/svc3"


@pytest.mark.parametrize(
    ("template", "message"),
    [
        ("/{.metadata.labels['missing']}", 'failed to evaluate route template ".metadata.labels[\'missing\']": '
         'jsonpath evaluation error: label "missing" not found'),
        ("/{.metadata.annotations['x']}", 'annotation "x" not found'),
        ("/{.spec.nothing}", 'failed to evaluate route template ".spec.nothing": jsonpath returned no results'),
        ("/{.spec.env[*].name}", "jsonpath returned multiple results"),
        ("/{.spec.env[}", "invalid jsonpath expression"),
        ("{.metadata.annotations['blank']}", "route template produced an empty path"),
    ],
)  # fmt: skip
def test_errors_name_the_expression_and_the_reason(template: str, message: str) -> None:
    s = svc(annotations={"blank": "  "})
    with pytest.raises(RouteTemplateError) as err:
        render_route_path(template, s)
    assert message in str(err.value)


def test_null_value_is_an_error() -> None:
    s = svc()
    s["spec"]["templateRef"] = None
    with pytest.raises(RouteTemplateError, match="null"):
        render_route_path("/{.spec.templateRef}", s)


def test_path_rules() -> None:
    assert normalise_path("a//B_c/") == "/a/b-c"
    assert normalise_path("/") == "/"
    assert normalise_path("/--/..") == "/"
    with pytest.raises(RoutePathError, match="route template produced an empty path"):
        normalise_path("   ")
    long = "/" + "a" * 200
    with pytest.raises(RoutePathError, match=r'route path "/a+" exceeds 200 characters'):
        normalise_path(long)
    # Segments are cut to 63 characters by the RFC 1123 rule.
    assert normalise_path("/" + "b" * 100) == "/" + "b" * 63
    assert len(normalise_path("/x" * 100)) == 200


def test_effective_routing_service_first_then_runtime_config() -> None:
    rc = {"enabled": True, "gatewayRef": {"name": "gw", "namespace": "gws"}, "routeTemplate": "/rc/{.metadata.name}"}
    only_rc = effective_routing("ns1", None, rc)
    assert only_rc.enabled
    assert only_rc.gateway_ref == {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw",
                                   "namespace": "gws"}  # fmt: skip
    assert only_rc.route_template == "/rc/{.metadata.name}"
    # A routing block on the service decides "enabled" (default false) even if it says nothing else.
    assert not effective_routing("ns1", {}, rc).enabled
    own = effective_routing("ns1", {"enabled": True, "gatewayRef": {"name": "mine"}, "annotations": {"a": "b"}}, rc)
    assert own.gateway_ref is not None
    assert own.gateway_ref["namespace"] == "ns1"
    assert own.route_template == "/rc/{.metadata.name}"
    assert own.annotations == {"a": "b"}
    assert not effective_routing("ns1", None, None).enabled
    core_ref = {"name": "s", "group": "", "kind": "Service"}
    core = effective_routing("ns1", {"enabled": True, "gatewayRef": core_ref}, None)
    assert core.gateway_ref is not None
    assert core.gateway_ref["group"] == ""
