"""AIMService routing end to end: HTTPRoutes, route templates, RoutingReady (docs/original-behaviour.md scenarios
10-13; fix 8 — routing enabled only through the runtime config reaches Running).

The simulated Gateway controller (``gateway`` fixture) writes route status by the Gateway API's rules,
like a real implementation; KServe itself makes InferenceServices Ready and creates the predictor
Services the routes point at.
"""

from __future__ import annotations

import contextlib
import urllib.request
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client

from tests.e2e.conftest import Operator
from tests.sim.gateway_controller import gateway_manifests
from tests.support import aim, kube
from tests.support.discovery import condition
from tests.support.operator_metrics import wait_idle
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


@contextlib.asynccontextmanager
async def healthz_probes(operator: Operator, period: float = 0.25) -> AsyncIterator[list[str]]:
    """Probe the operator's ``/healthz`` while the block runs; yields the failures seen (empty: all 200)."""
    url = operator.probe_url.replace("/readyz", "/healthz")
    failures: list[str] = []

    def probe() -> None:
        try:
            with urllib.request.urlopen(url, timeout=3) as resp:
                if resp.status != 200:
                    failures.append(f"HTTP {resp.status}")
        except OSError as err:
            failures.append(f"{type(err).__name__}: {err}")

    async with anyio.create_task_group() as tg:

        async def loop() -> None:
            while True:
                await anyio.to_thread.run_sync(probe)
                await anyio.sleep(period)  # the probes' pace, not a wait for anything

        tg.start_soon(loop)
        try:
            yield failures
        finally:
            tg.cancel_scope.cancel()


async def test_hostile_route_templates_never_stall_the_operator(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    """Issue 11, reproduced: a runtime config's ``=~`` template with catastrophic backtracking, and a
    service labelled with 37 characters, froze the event loop (/healthz timed out). The apiserver now
    refuses ``=~`` (naming the field); templates it cannot refuse (arithmetic, filters over a large
    map) are refused by the operator as field-level conditions; /healthz answers throughout."""
    async with discovery_logs(api, namespace, tmp_path), healthz_probes(operator) as failures:
        await setup(api, namespace)
        hostile = runtime_config(
            "hostile", namespace, routing={"routeTemplate": '/{.metadata.labels[?(@ =~ "^(a+)+$")]}/x'}
        )
        labels = {"x": "a" * 36 + "b"}
        routing = {"enabled": True, "gatewayRef": {"name": "gw"}}
        refused: aim.Rejection | None = None
        try:
            refused = await aim.rejection(api, hostile)
        except AssertionError:  # accepted (the CRD without the rule): the operator must still cope
            before = await wait_idle(operator.metrics, "aim-service")
            await aim.apply(api, service(namespace, "victim", "img", labels, templateRef="tpl",
                                         runtimeConfigName="hostile", routing=routing))  # fmt: skip
            # Probed until the service controller has evaluated the template (reconciled since, idle).
            await wait_idle(operator.metrics, "aim-service", after=before, timeout=60)
        assert not failures, f"/healthz failed while the hostile template was evaluated: {failures[:3]}"
        assert refused is not None, "the apiserver accepted a regular-expression route template"
        assert refused.code == 422 and "spec.routing.routeTemplate" in refused.message
        assert "regular-expression filters (=~) are not supported" in refused.message

        # What the CRD cannot refuse, the operator does: on the runtime config and on the service.
        arith = runtime_config("arith", namespace, routing={"routeTemplate": "/{.metadata.name + .metadata.namespace}"})
        await aim.apply(api, arith)
        rc = await wait_for(
            lambda: aim.get(api, arith),
            lambda o: condition(o, "RoutingValid").get("status") == "False",
            what="arith RoutingValid False",
        )
        assert condition(rc, "RoutingValid")["reason"] == "RouteTemplateInvalid"
        assert condition(rc, "RoutingValid")["message"].startswith("spec.routing.routeTemplate is invalid: ")
        svc = service(namespace, "svc-arith", "img", labels, templateRef="tpl", runtimeConfigName="arith",
                      routing=routing)  # fmt: skip
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", Failure=("True", "RouteTemplateInvalid"))
        message = condition(got, "Failure")["message"]
        assert message.startswith('spec.routing.routeTemplate of runtime config "arith" is invalid: ')
        assert "invalid jsonpath expression" in message

        many = {f"k{i}": "v" for i in range(12_000)}
        big = service(namespace, "svc-big", "img", many, templateRef="tpl",
                      routing={**routing, "routeTemplate": "/{.metadata.labels[?(@ == 'nope')]}"})  # fmt: skip
        await aim.apply(api, big)
        got = await wait_service(api, big, "Degraded", Failure=("True", "RouteTemplateInvalid"))
        assert condition(got, "Failure")["message"].startswith("spec.routing.routeTemplate is invalid: ")
        assert "visits more than" in condition(got, "Failure")["message"]
        assert not failures, f"/healthz failed: {failures[:3]}"


async def test_a_foreign_http_route_is_never_taken_over(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """An HTTPRoute of the service's name with no controller owner: never written or deleted; the
    service reports OwnershipConflict in RoutingReady; it creates its own route once that one is gone."""
    async with discovery_logs(api, namespace, tmp_path):
        await setup(api, namespace)
        theirs = {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": "svc", "namespace": namespace},
            "spec": {"parentRefs": [{"name": "gw"}], "rules": [{"matches": [{"path": {"value": "/theirs"}}]}]},
        }
        created = await kube.apply(api, route_path(namespace, "svc"), theirs, "someone-else")
        svc = service(
            namespace, "svc", "img", templateRef="tpl", routing={"enabled": True, "gatewayRef": {"name": "gw"}}
        )
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", RoutingReady=("False", "OwnershipConflict"))
        message = condition(got, "RoutingReady")["message"]
        assert 'HTTPRoute "svc" already exists and has no controller owner' in message
        assert "delete that HTTPRoute" in message
        route = await kube.get(api, route_path(namespace, "svc"))
        assert route["metadata"]["uid"] == created["metadata"]["uid"]
        assert "ownerReferences" not in route["metadata"]
        assert route["spec"]["rules"][0]["matches"][0]["path"]["value"] == "/theirs"
        assert not [m for m in route["metadata"]["managedFields"] if m["manager"].startswith("aimctl.aim.silogen.ai/")]
        # Turning routing off must not delete someone else's route either.
        svc["spec"]["routing"] = {"enabled": False}
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running")
        assert (await kube.get(api, route_path(namespace, "svc")))["metadata"]["uid"] == created["metadata"]["uid"]
        # Routing on again; the foreign route deleted: the service creates and uses its own.
        svc["spec"]["routing"] = {"enabled": True, "gatewayRef": {"name": "gw"}}
        await aim.apply(api, svc)
        await wait_service(api, svc, "Degraded", RoutingReady=("False", "OwnershipConflict"))
        await kube.delete(api, route_path(namespace, "svc"))
        await wait_service(api, svc, "Running", within=60)
        mine = await kube.get(api, route_path(namespace, "svc"))
        assert [r["kind"] for r in mine["metadata"]["ownerReferences"]] == ["AIMService"]
