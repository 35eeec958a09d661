"""Route templates, path rules and effective routing settings (reference §6.1-6.2, DESIGN.md §5 #8)."""

from __future__ import annotations

from typing import Any

import pytest

from aimctl.routing.path import RoutePathError, default_path, normalise_path
from aimctl.routing.render import RouteTemplateError, check_template, compile_template, render_route_path
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


# -- hostile templates (issue 11): Kubernetes JSONPath only, bounded work, parsed once ------------------

HOSTILE = '/{.metadata.labels[?(@ =~ "^(a+)+$")]}/x'


def test_regex_filters_are_refused_with_the_fix() -> None:
    """The reproduced freeze: ``=~`` with a catastrophic pattern. It is refused before any matching
    (the label is short here so that the old evaluator returns quickly and this test fails on it)."""
    s = svc(labels={"x": "a" * 10 + "b"})
    with pytest.raises(RouteTemplateError) as err:
        render_route_path(HOSTILE, s)
    message = str(err.value)
    assert "regular-expression filters (=~) are not supported" in message
    assert "use an == filter" in message
    assert check_template(HOSTILE) == message


@pytest.mark.parametrize(
    "expr",
    [
        ".spec.replicas * .spec.replicas",  # arithmetic
        ".metadata.name + .metadata.namespace",
        ".metadata.name.`len`",  # functions
        ".metadata.`this`",
        ".metadata.name.`sub(/a/, b)`",
        ".spec.env[?(@.name == 'A' & @.value == '1')]",  # jsonpath-ng's boolean filter operators
        ".spec.env[?(@.name == 'A')] | .metadata.name",
        ".spec.env[/name]",  # sorting
        "sorted(.spec.env)",
        ".spec.env[?(@.name =~ 'A')]",
        ".spec.env[?(@.name == 'A')][?(@.value == '1')] extra",
    ],
)
def test_jsonpath_ng_extensions_are_refused(expr: str) -> None:
    with pytest.raises(RouteTemplateError, match="invalid jsonpath expression"):
        render_route_path("/{" + expr + "}", svc())
    assert check_template("/{" + expr + "}") is not None


@pytest.mark.parametrize(
    ("template", "labels", "annotations", "expected"),
    [
        # map keys: bracketed (single or double quotes) with dots and slashes, escaped dots, plain fields
        ("/{.metadata.labels['app.kubernetes.io/name']}", {"app.kubernetes.io/name": "Web"}, {}, "/web"),
        ('/{.metadata.labels["app.kubernetes.io/name"]}', {"app.kubernetes.io/name": "Web"}, {}, "/web"),
        ("/{.metadata.labels.app\\.kubernetes\\.io/name}", {"app.kubernetes.io/name": "Web"}, {}, "/web"),
        ("/{.metadata.labels.team}", {"team": "T"}, {}, "/t"),
        ("/{metadata.name}", {}, {}, "/svc3"),
        ("/{$['metadata']['namespace']}", {}, {}, "/ns1"),
        ("/{.metadata['annotations']['a/b']}", {}, {"a/b": "X/Y"}, "/x-y"),  # not the direct form: RFC 1123
        # indexes, negative indexes, slices, wildcards narrowed to one, filters (== != < >) on lists and maps
        ("/{.spec.env[-1].name}", {}, {}, "/b"),
        ("/{.spec.env[1:2].value}", {}, {}, "/2"),
        ("/{.spec.env[ 0 ].name}", {}, {}, "/a"),
        ("/{.spec.env[?(@.name != 'A')].value}", {}, {}, "/2"),
        ("/{.spec.env[?(@.value == \"1\")].name}", {}, {}, "/a"),
        ("/{.spec.env[?(@.value > '1')].name}", {}, {}, "/b"),
        ("/{.spec.env[?(@.name)].name}/{.spec.replicas}", {}, {}, "/a/2"),  # existence: both match → error below
        ("/{.metadata.labels[?(@ == 'blue')]}", {"colour": "blue", "team": "t"}, {}, "/blue"),
        ("/{.spec.tags[?(@.n == 2)].v}", {}, {}, "/two"),
        ("/{..aimImageName}", {}, {}, "/default-testing-llama-3-8b"),
    ],
)  # fmt: skip
def test_kubernetes_jsonpath_keeps_working(
    template: str, labels: dict[str, str], annotations: dict[str, str], expected: str
) -> None:
    s = svc(labels=labels, annotations=annotations)
    s["spec"]["tags"] = [{"n": 1, "v": "one"}, {"n": 2, "v": "two"}]
    if "[?(@.name)]" in template:
        with pytest.raises(RouteTemplateError, match="multiple results"):
            render_route_path(template, s)
        return
    assert render_route_path(template, s) == expected
    assert check_template(template) is None


def test_evaluation_has_a_budget() -> None:
    """A filter or '..' over a huge map stops after a bounded number of visited values."""
    many = {f"k{i}": f"v{i}" for i in range(50_000)}
    s = svc(labels=many)
    for template in ("/{.metadata.labels[?(@ == 'nope')]}", "/{..nope}", "/{.metadata.labels}"):
        with pytest.raises(RouteTemplateError, match="visits more than 10000 values"):
            render_route_path(template, s)
    # A direct key stays cheap and works whatever the size of the map.
    assert render_route_path("/{.metadata.labels['k49999']}", s) == "/v49999"


def test_template_length_is_bounded() -> None:
    template = "/{.metadata.name}" + "/a" * 600
    with pytest.raises(RouteTemplateError, match="more than the 1024 allowed"):
        render_route_path(template, svc())
    assert "1024" in (check_template(template) or "")


def test_templates_are_parsed_once() -> None:
    compile_template.cache_clear()
    for i in range(5):
        render_route_path("/{.metadata.namespace}/{.spec.aimImageName}", svc(name=f"s{i}"))
    info = compile_template.cache_info()
    assert (info.misses, info.hits) == (1, 4)
