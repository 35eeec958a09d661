"""The Gateway API simulator acts on the real API as a Gateway implementation would (KServe is real)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.sim.gateway_controller import GatewaySimulator, gateway_manifests
from tests.support import kube
from tests.support.background import Background
from tests.support.wait import wait_for


@pytest.fixture
async def gateway_sim(api: client.ApiClient) -> AsyncIterator[GatewaySimulator]:
    # Fixture setup and teardown run in different tasks, so no task group can span them (as in the
    # session's ``storage`` fixture): stopped by cancelling and awaiting.
    gs = GatewaySimulator(api)
    task = Background(gs.run(), "gateway simulator")
    yield gs
    await task.stop()


async def test_gateway_simulator_accepts_routes_of_its_gateways(
    api: client.ApiClient, namespace: str, gateway_sim: GatewaySimulator
) -> None:
    gc, gw = gateway_manifests(namespace, "gw", class_name="sim-itest", allow_all=False)
    await kube.apply(api, f"/apis/gateway.networking.k8s.io/v1/gatewayclasses/{gc['metadata']['name']}", gc)
    await kube.apply(api, f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/gw", gw)
    base = f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/httproutes"

    def route(name: str, gateway: str) -> dict[str, Any]:
        return {
            "apiVersion": "gateway.networking.k8s.io/v1",
            "kind": "HTTPRoute",
            "metadata": {"name": name, "namespace": namespace},
            "spec": {"parentRefs": [{"name": gateway}], "rules": [{"backendRefs": [{"name": "x", "port": 80}]}]},
        }

    backend = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "x", "namespace": namespace},
               "spec": {"ports": [{"port": 80}]}}  # fmt: skip
    await kube.apply(api, f"/api/v1/namespaces/{namespace}/services/x", backend)
    await kube.apply(api, f"{base}/ok", route("ok", "gw"))
    await kube.apply(api, f"{base}/orphan", route("orphan", "missing"))
    got = await wait_for(
        lambda: kube.get(api, f"{base}/ok"), lambda o: bool((o.get("status") or {}).get("parents")), what="parents"
    )
    (parent,) = got["status"]["parents"]
    assert parent["controllerName"] == "sim.aimctl.dev/gateway-controller"
    assert {c["type"]: c["status"] for c in parent["conditions"]} == {"Accepted": "True", "ResolvedRefs": "True"}
    # A listener that admits only GRPCRoutes refuses the HTTPRoute (NotAllowedByListeners).
    gw["spec"]["listeners"][0]["allowedRoutes"]["kinds"] = [{"kind": "GRPCRoute"}]
    await kube.apply(api, f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/gw", gw)
    got = await wait_for(
        lambda: kube.get(api, f"{base}/ok"),
        lambda o: o["status"]["parents"][0]["conditions"][0]["reason"] == "NotAllowedByListeners",
        what="rejected",
    )
    orphan = await kube.get(api, f"{base}/orphan")
    assert not (orphan.get("status") or {}).get("parents")
