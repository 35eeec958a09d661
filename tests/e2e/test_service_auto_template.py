"""Automatic template choice and GPU label agreement, end to end (issue 12).

* a service without ``templateRef`` on an image without ``defaultServiceTemplate`` gets the best
  Available template, says why, and keeps it when a better one becomes Available;
* with no usable template the service lists what was considered and why each was rejected;
* a node labelled only with the AMD product name is counted by the template's GPU check and selected
  by the predictor's node affinity (the real kube-scheduler places the predictor pod on it);
* cordoning the only node of a GPU model keeps the template Available (reported) and the service.

Templates discover for real (kwok pods whose logs print the aimdummy result); KServe is the real one.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from kubernetes_asyncio import client

from aimctl.builders.derived_template import derived_name
from aimctl.gpu import selector_terms_select
from tests.e2e.conftest import Operator
from tests.support import aim, kserve, kube
from tests.support.discovery import condition, events_about, unique
from tests.support.services import (
    absent,
    apply_all,
    conditions,
    discovery_logs,
    discovery_output,
    get_isvc,
    image,
    isolate,
    isvc_path,
    service,
    template,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve")


@pytest.fixture(autouse=True)
async def _isolated(api: client.ApiClient, namespace: str) -> None:
    await isolate(api, namespace)


def resolved(o: dict[str, Any]) -> str:
    return str(((o.get("status") or {}).get("resolvedTemplate") or {}).get("name") or "")


async def test_best_available_template_is_chosen_and_kept(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    held = {kserve.HOLD: kserve.PENDING}
    async with discovery_logs(api, namespace, tmp_path):
        mi300 = template("tpl-mi300x", "img", namespace)
        await apply_all(api, image("img", namespace), mi300)
        await wait_template(api, mi300, "Available")

        svc = service(namespace, "svc", "img", annotations=held)
        await aim.apply(api, svc)
        got = await wait_for(lambda: aim.get(api, svc), lambda o: resolved(o) == "tpl-mi300x", what="svc chooses")
        got = await wait_for(
            lambda: aim.get(api, svc),
            lambda o: conditions(o).get("Resolved") == ("True", "TemplateChosen"),
            what="svc Resolved=TemplateChosen",
        )
        message = condition(got, "Resolved")["message"]
        # The condition names the choice on every reconcile; why it won is said once, when it is made
        # (a later reconcile of a kept choice says "chosen earlier and is still usable"), in the event.
        assert 'AIMServiceTemplate "tpl-mi300x" (1x MI300X, latency)' in message
        assert got["status"]["resolvedTemplate"]["scope"] == "Namespace"
        isvc = await get_isvc(api, namespace, "svc")
        assert isvc["spec"]["predictor"]["model"]["runtime"] == "tpl-mi300x"
        chosen = await wait_for(
            lambda: events_about(api, namespace, "svc", operator.instance),
            lambda evs: any(e["reason"] == "TemplateChosen" for e in evs),
            what="TemplateChosen event",
        )
        assert [e["type"] for e in chosen if e["reason"] == "TemplateChosen"] == ["Normal"]
        note = next(e["note"] for e in chosen if e["reason"] == "TemplateChosen")
        assert "it is the only usable candidate" in note, note

        # A better template (newer GPU) becomes Available: a new service takes it, the first keeps its own.
        mi325 = template("tpl-mi325x", "img", namespace, gpuSelector={"model": "MI325X", "count": 1})
        await aim.apply(api, mi325)
        await wait_template(api, mi325, "Available")
        svc2 = service(namespace, "svc2", "img", annotations=held)
        await aim.apply(api, svc2)
        got2 = await wait_for(lambda: aim.get(api, svc2), lambda o: resolved(o) == "tpl-mi325x", what="svc2 chooses")
        assert got2["status"]["resolvedTemplate"]["scope"] == "Namespace"
        # a spec edit reconciles the first service after the better template exists: it stays
        svc["spec"]["replicas"] = 2
        await aim.apply(api, svc)
        again = await wait_service(api, svc, "Starting")
        assert resolved(again) == "tpl-mi300x"
        assert "was chosen earlier and is still usable" in condition(again, "Resolved")["message"]
        reasons = [e["reason"] for e in await events_about(api, namespace, "svc", operator.instance)]
        assert reasons.count("TemplateChosen") == 1

        # The chosen template goes away: the service chooses again (and says so).
        await aim.delete(api, mi300)
        moved = await wait_for(lambda: aim.get(api, svc), lambda o: resolved(o) == "tpl-mi325x", what="svc re-chooses")
        assert conditions(moved)["Resolved"][1] == "TemplateChosen"
        await wait_for(
            lambda: get_isvc(api, namespace, "svc"),
            lambda i: i["spec"]["predictor"]["model"]["runtime"] == "tpl-mi325x",
            what="InferenceService on the new template",
        )
        await wait_for(
            lambda: events_about(api, namespace, "svc", operator.instance),
            lambda evs: [e["reason"] for e in evs].count("TemplateChosen") == 2,
            what="second TemplateChosen event",
        )


async def test_no_candidate_lists_what_was_considered_then_a_node_makes_one(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    absent_gpu = f"MI9{unique('x')[-5:].upper()}"  # a model no node has
    async with discovery_logs(api, namespace, tmp_path):
        mi300 = template("tpl-mi300x", "img", namespace)
        cpu = template("tpl-cpu", "img", namespace)
        del cpu["spec"]["gpuSelector"]
        await apply_all(api, image("img", namespace), mi300, cpu)
        await wait_template(api, mi300, "Available")
        await wait_template(api, cpu, "Available")
        overrides = {"gpuSelector": {"model": absent_gpu, "count": 1}}
        svc = service(namespace, "svc", "img", overrides=overrides)
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", Resolved=("False", "NoTemplateCandidate"))
        message = condition(got, "Resolved")["message"]
        assert 'image "img" has no defaultServiceTemplate' in message
        assert f'AIMServiceTemplate "tpl-cpu": no schedulable node offers 1x {absent_gpu}' in message
        assert (
            f'AIMServiceTemplate "tpl-mi300x": GPU model is MI300X, the service overrides it to {absent_gpu}' in message
        )
        assert conditions(got)["Failure"] == ("True", "NoTemplateCandidate")
        assert got["status"]["resolvedTemplate"]["scope"] == "Unknown"
        assert await absent(api, isvc_path(namespace, "svc"))

        # A node with that GPU appears: the service is woken, chooses tpl-cpu and derives from it.
        node_name = unique("kwok-late-gpu")
        await kube.create(api, "/api/v1/nodes", _product_name_only_node(node_name, f"AMD_Instinct_{absent_gpu}"))
        try:
            derived = derived_name("tpl-cpu", overrides)
            chosen = await wait_for(
                lambda: aim.get(api, svc),
                lambda o: resolved(o) == derived and conditions(o).get("Resolved") == ("True", "TemplateChosen"),
                what="svc chooses and resolves the derived template",
                timeout=60,
            )
            assert 'AIMServiceTemplate "tpl-cpu"' in condition(chosen, "Resolved")["message"]
            made = await aim.get(api, template(derived, "img", namespace))
            assert made["spec"]["gpuSelector"] == {"model": absent_gpu, "count": 1}
        finally:
            await kube.delete(api, f"/api/v1/nodes/{node_name}")


def _product_name_only_node(name: str, product: str) -> dict[str, Any]:
    capacity = {"cpu": "32", "memory": "128Gi", "pods": "110", "amd.com/gpu": "8"}
    return {
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {
            "name": name,
            "labels": {"kubernetes.io/hostname": name, "type": "kwok", "amd.com/gpu.product-name": product},
            "annotations": {"kwok.x-k8s.io/node": "fake", "node.alpha.kubernetes.io/ttl": "0"},
        },
        "spec": {},
        "status": {"capacity": capacity, "allocatable": dict(capacity)},
    }


async def test_product_name_only_node_is_counted_and_selected(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    model = f"MI9{unique('x')[-5:].upper()}"
    node_name = unique("kwok-product-only")
    tpl = template("tpl-gpu", "img", namespace, gpuSelector={"model": model, "count": 1})
    async with discovery_logs(api, namespace, tmp_path, discovery_output(gpu_count=1)):
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Degraded")
        await kube.create(api, "/api/v1/nodes", _product_name_only_node(node_name, f"AMD_Instinct_{model}_OAM"))
        try:
            await wait_template(api, tpl, "Available")  # counted
            svc = service(namespace, "svc", "img", templateRef="tpl-gpu")
            await aim.apply(api, svc)
            isvc = await get_isvc(api, namespace, "svc")
            terms = isvc["spec"]["predictor"]["affinity"]["nodeAffinity"][
                "requiredDuringSchedulingIgnoredDuringExecution"
            ]["nodeSelectorTerms"]
            node = await kube.get(api, f"/api/v1/nodes/{node_name}")
            assert selector_terms_select(terms, node)
            others = (await kube.get(api, "/api/v1/nodes"))["items"]
            assert [n["metadata"]["name"] for n in others if selector_terms_select(terms, n)] == [node_name]
            # selected: the real scheduler places the predictor on it
            pods = await wait_for(
                lambda: kserve.predictor_pods(api, namespace, "svc"),
                lambda ps: any((p.get("spec") or {}).get("nodeName") for p in ps),
                what="predictor pod scheduled",
                timeout=60,
            )
            assert {p["spec"]["nodeName"] for p in pods if p["spec"].get("nodeName")} == {node_name}
            await wait_service(api, svc, "Running", within=90)

            # Cordoning the only node of the model: the template reports it and stays Available, the
            # service stays Running and still takes updates.
            await kube.request(
                api, "PATCH", f"/api/v1/nodes/{node_name}", body={"spec": {"unschedulable": True}},
                content_type="application/merge-patch+json",
            )  # fmt: skip
            reported = await wait_for(
                lambda: aim.get(api, tpl),
                lambda o: condition(o, "GPUCapacity").get("reason") == "NodesCordoned",
                what="template reports the cordon",
            )
            assert reported["status"]["status"] == "Available"
            svc["spec"]["env"] = [{"name": "EDITED", "value": "1"}]
            await aim.apply(api, svc)
            await wait_service(api, svc, "Running")
            await wait_for(
                lambda: get_isvc(api, namespace, "svc"),
                lambda i: {"name": "EDITED", "value": "1"} in (i["spec"]["predictor"]["model"].get("env") or []),
                what="env edit reaches the InferenceService",
            )
        finally:
            await kube.delete(api, f"/api/v1/nodes/{node_name}")
