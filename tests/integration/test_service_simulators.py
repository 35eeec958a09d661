"""The KServe and Gateway API simulators act on the real API as their components would."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.sim.gateway_controller import GatewaySimulator, gateway_manifests
from tests.sim.kserve_controller import KServeSimulator
from tests.support import kube
from tests.support.wait import wait_for


@pytest.fixture
async def sims(api: client.ApiClient) -> AsyncIterator[tuple[KServeSimulator, GatewaySimulator]]:
    # Fixture setup and teardown run in different tasks, so no task group can span them (as in the
    # session's ``storage`` fixture).
    ks, gs = KServeSimulator(api), GatewaySimulator(api)
    tasks = [asyncio.get_running_loop().create_task(s.run()) for s in (ks, gs)]
    yield ks, gs
    for task in tasks:
        task.cancel()


def isvc(namespace: str, name: str, runtime: str, annotations: dict[str, str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": meta,
        "spec": {"predictor": {"minReplicas": 1, "maxReplicas": 1,
                               "model": {"modelFormat": {"name": "aim", "version": "1"}, "runtime": runtime}}},
    }  # fmt: skip


def conditions(obj: dict[str, Any]) -> dict[str, str]:
    return {c["type"]: c["status"] for c in (obj.get("status") or {}).get("conditions") or []}


async def test_kserve_simulator_outcomes(
    api: client.ApiClient, namespace: str, sims: tuple[KServeSimulator, GatewaySimulator]
) -> None:
    ks, _ = sims
    base = f"/apis/serving.kserve.io/v1beta1/namespaces/{namespace}/inferenceservices"
    await kube.apply(api, f"{base}/a", isvc(namespace, "a", "rt"))
    got = await wait_for(
        lambda: kube.get(api, f"{base}/a"),
        lambda o: (
            (o.get("status") or {}).get("modelStatus", {}).get("lastFailureInfo", {}).get("reason")
            == "RuntimeNotRecognized"
        ),
        what="runtime not recognised",
    )
    assert conditions(got)["Ready"] == "False"
    runtime = {
        "apiVersion": "serving.kserve.io/v1alpha1",
        "kind": "ServingRuntime",
        "metadata": {"name": "rt", "namespace": namespace},
        "spec": {"supportedModelFormats": [{"name": "aim", "version": "1"}], "containers": [{"name": "kserve-container",
                 "image": "aimdummy:dev-latest"}]},
    }  # fmt: skip
    await kube.apply(api, f"/apis/serving.kserve.io/v1alpha1/namespaces/{namespace}/servingruntimes/rt", runtime)
    got = await wait_for(
        lambda: kube.get(api, f"{base}/a"), lambda o: conditions(o).get("Ready") == "True", what="Ready"
    )
    assert got["status"]["servingRuntimeName"] == "rt"
    assert "lastFailureInfo" not in got["status"]["modelStatus"]
    writes = ks.writes

    ks.set_outcome(namespace, "a", "failed", "CUDA out of memory")
    got = await wait_for(
        lambda: kube.get(api, f"{base}/a"),
        lambda o: (o["status"]["modelStatus"].get("lastFailureInfo") or {}).get("message") == "CUDA out of memory",
        what="failure",
    )
    assert conditions(got)["Ready"] == "False"
    ks.clear_outcome(namespace, "a")
    await wait_for(lambda: kube.get(api, f"{base}/a"), lambda o: conditions(o).get("Ready") == "True", what="Ready")
    # The annotation chooses when the registry does not.
    await kube.apply(api, f"{base}/b", isvc(namespace, "b", "rt", {"sim.aimctl.dev/kserve-outcome": "progressing"}))
    got = await wait_for(
        lambda: kube.get(api, f"{base}/b"), lambda o: "PredictorReady" in conditions(o), what="progressing"
    )
    assert conditions(got) == {"PredictorReady": "False", "Ready": "False"}
    assert ks.writes > writes


async def test_gateway_simulator_accepts_routes_of_its_gateways(
    api: client.ApiClient, namespace: str, sims: tuple[KServeSimulator, GatewaySimulator]
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

    await kube.apply(api, f"{base}/ok", route("ok", "gw"))
    await kube.apply(api, f"{base}/orphan", route("orphan", "missing"))
    got = await wait_for(
        lambda: kube.get(api, f"{base}/ok"), lambda o: bool((o.get("status") or {}).get("parents")), what="parents"
    )
    (parent,) = got["status"]["parents"]
    assert parent["controllerName"] == "sim.aimctl.dev/gateway-controller"
    assert {c["type"]: c["status"] for c in parent["conditions"]} == {"Accepted": "True", "ResolvedRefs": "True"}
    gw["metadata"]["annotations"] = {"sim.aimctl.dev/route-outcome": "reject"}
    await kube.apply(api, f"/apis/gateway.networking.k8s.io/v1/namespaces/{namespace}/gateways/gw", gw)
    got = await wait_for(
        lambda: kube.get(api, f"{base}/ok"),
        lambda o: o["status"]["parents"][0]["conditions"][0]["reason"] == "NotAllowedByListeners",
        what="rejected",
    )
    orphan = await kube.get(api, f"{base}/orphan")
    assert not (orphan.get("status") or {}).get("parents")
