"""AIMService routing end to end: HTTPRoutes, route templates, RoutingReady (reference §14 scenarios
10-13; DESIGN.md §5 #8 — routing enabled only through the runtime config reaches Running).

The simulated Gateway controller (``gateway`` fixture) writes route status by the Gateway API's rules,
like a real implementation; KServe itself makes InferenceServices Ready and creates the predictor
Services the routes point at.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.sim.gateway_controller import gateway_manifests
from tests.support import aim, kube
from tests.support.discovery import condition
from tests.support.services import (
    absent,
    apply_all,
    discovery_logs,
    get_isvc,
    image,
    isolate,
    route_path,
    runtime_config,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve", "gateway")


@pytest.fixture(autouse=True)
async def _isolated(api: client.ApiClient, namespace: str) -> None:
    await isolate(api, namespace)


GATEWAY_CLASS = "aimctl-sim"


async def setup(
    api: client.ApiClient, namespace: str, allowed_namespaces: dict[str, Any] | None = None
) -> dict[str, Any]:
    """An image, an Available template ``tpl`` and a Gateway ``gw`` served by the simulator (its
    listener's ``allowedRoutes.namespaces`` is ``allowed_namespaces``, default ``from: All``)."""
    gc, gw = gateway_manifests(namespace, "gw", class_name=GATEWAY_CLASS)
    if allowed_namespaces is not None:
        gw["spec"]["listeners"][0]["allowedRoutes"]["namespaces"] = allowed_namespaces
    await kube.apply(api, f"/apis/gateway.networking.k8s.io/v1/gatewayclasses/{GATEWAY_CLASS}", gc)
    await kube.apply(api, f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/gw", gw)
    tpl = template("tpl", "img", namespace)
    await apply_all(api, image("img", namespace), tpl)
    await wait_template(api, tpl, "Available")
    return gw


async def get_route(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = await wait_for(
        lambda: kube.get(api, route_path(namespace, name)), bool, what=f"HTTPRoute {name}"
    )
    return result


async def test_runtime_config_drives_routing_and_credentials(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Scenario 10, with the fix: routing enabled only through the runtime config reaches Running."""
    async with discovery_logs(api, namespace, tmp_path):
        await setup(api, namespace)
        rc = runtime_config(
            "rc1",
            namespace,
            serviceAccountName="sa1",
            imagePullSecrets=[{"name": "s1"}],
            routing={
                "enabled": True,
                "gatewayRef": {"name": "gw", "namespace": namespace},
                "routeTemplate": "/ns/{.metadata.namespace}/{.metadata.name}",
            },
        )
        await aim.apply(api, rc)
        # The predictor pods run as sa1: without it the ReplicaSet cannot create them (real KServe).
        await kube.apply(api, f"/api/v1/namespaces/{namespace}/serviceaccounts/sa1",
                         {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "sa1"}})  # fmt: skip
        svc = service(namespace, "svc3", "img", templateRef="tpl", runtimeConfigName="rc1",
                      imagePullSecrets=[{"name": "s0"}])  # fmt: skip
        await aim.apply(api, svc)
        running = await wait_service(api, svc, "Running", RoutingReady=("True", "RouteReady"))
        assert running["status"]["routing"] == {"path": f"/ns/{namespace}/svc3"}
        assert running["status"]["resolvedRuntimeConfig"]["name"] == "rc1"
        predictor = (await get_isvc(api, namespace, "svc3"))["spec"]["predictor"]
        assert predictor["serviceAccountName"] == "sa1"
        assert predictor["imagePullSecrets"] == [{"name": "s0"}, {"name": "s1"}]
        route = await get_route(api, namespace, "svc3")
        (parent,) = route["spec"]["parentRefs"]
        assert parent == {"group": "gateway.networking.k8s.io", "kind": "Gateway", "name": "gw", "namespace": namespace}
        (rule,) = route["spec"]["rules"]
        assert rule["matches"] == [{"path": {"type": "PathPrefix", "value": f"/ns/{namespace}/svc3"}}]
        assert rule["filters"] == [
            {"type": "URLRewrite", "urlRewrite": {"path": {"type": "ReplacePrefixMatch", "replacePrefixMatch": "/"}}}
        ]
        (backend,) = rule["backendRefs"]
        assert (backend["kind"], backend["name"], backend["port"]) == ("Service", "svc3-predictor", 80)
        labels = route["metadata"]["labels"]
        assert labels["aim.silogen.ai/template"] == "tpl"
        assert labels["app.kubernetes.io/component"] == "inference-service"
        assert route["metadata"]["ownerReferences"][0]["name"] == "svc3"


async def test_route_template_with_labels_and_annotations(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Scenario 11: label values are made RFC 1123, annotation values may add segments."""
    async with discovery_logs(api, namespace, tmp_path):
        await setup(api, namespace)
        svc = service(
            namespace, "svc", "img", templateRef="tpl",
            labels={"team": "Data-Team"}, annotations={"route.suffix": "Team-A/B"},
            routing={"enabled": True, "gatewayRef": {"name": "gw"}, "annotations": {"x": "y"},
                     "routeTemplate": "/{.metadata.labels['team']}/{.metadata.annotations['route.suffix']}/"},
        )  # fmt: skip
        await aim.apply(api, svc)
        running = await wait_service(api, svc, "Running")
        assert running["status"]["routing"]["path"] == "/data-team/team-a/b"
        route = await get_route(api, namespace, "svc")
        assert route["spec"]["rules"][0]["matches"][0]["path"]["value"] == "/data-team/team-a/b"
        assert route["spec"]["parentRefs"][0]["namespace"] == namespace
        assert route["metadata"]["annotations"]["x"] == "y"


async def test_invalid_route_template_is_degraded_without_route(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Scenario 12: Degraded RouteTemplateInvalid; the InferenceService runs, no HTTPRoute; the
    default path is reported."""
    async with discovery_logs(api, namespace, tmp_path):
        await setup(api, namespace)
        routing = {"enabled": True, "gatewayRef": {"name": "gw"}, "routeTemplate": "/{.metadata.labels['missing']}"}
        svc = service(namespace, "svc", "img", templateRef="tpl", routing=routing)
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", Failure=("True", "RouteTemplateInvalid"))
        assert 'label "missing" not found' in condition(got, "Failure")["message"]
        assert condition(got, "RuntimeReady")["reason"] == "RouteTemplateInvalid"
        assert got["status"]["routing"]["path"] == f"/{namespace}/{got['metadata']['uid']}"
        await get_isvc(api, namespace, "svc")
        assert await absent(api, route_path(namespace, "svc"))


async def test_routing_without_gateway_fails(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Scenario 13: no gatewayRef anywhere: Failed RouteFailed, no HTTPRoute."""
    async with discovery_logs(api, namespace, tmp_path):
        await setup(api, namespace)
        svc = service(namespace, "svc", "img", templateRef="tpl", routing={"enabled": True})
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Failed", RoutingReady=("False", "RouteFailed"))
        failure = condition(got, "Failure")
        assert (failure["status"], failure["reason"], failure["message"]) == (
            "True", "RouteFailed", "Routing gateway reference is missing"
        )  # fmt: skip
        assert await absent(api, route_path(namespace, "svc"))


async def test_route_refused_by_the_gateway_then_accepted(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """RoutingReady follows the route's parent conditions: a Gateway whose listener admits only
    labelled namespaces refuses the route (NotAllowedByListeners) and the service is Degraded; once
    the namespace has the label the route is accepted and the service runs; turning routing off
    removes the route."""
    async with discovery_logs(api, namespace, tmp_path):
        selector = {"matchLabels": {"gateway-access": "granted"}}
        await setup(api, namespace, allowed_namespaces={"from": "Selector", "selector": selector})
        routing = {"enabled": True, "gatewayRef": {"name": "gw"}}
        svc = service(namespace, "svc", "img", templateRef="tpl", routing=routing)
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", RoutingReady=("False", "NotAllowedByListeners"))
        assert condition(got, "Failure")["reason"] == "NotAllowedByListeners"
        await kube.request(api, "PATCH", f"/api/v1/namespaces/{namespace}",
                           {"metadata": {"labels": {"gateway-access": "granted"}}},
                           content_type="application/merge-patch+json")  # fmt: skip
        await wait_service(api, svc, "Running", RoutingReady=("True", "RouteReady"))
        svc["spec"]["routing"] = {"enabled": False}
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Running", RoutingReady=("True", "RouteReady"))
        assert condition(got, "RoutingReady")["message"] == "Routing disabled"
        assert "routing" not in got["status"]
        await wait_for(lambda: absent(api, route_path(namespace, "svc")), bool, what="HTTPRoute deleted")
