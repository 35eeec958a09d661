"""AIMService basics end to end: resolution, the InferenceService, status and events (docs/original-behaviour.md
scenarios 5, 6, 9, 14 and 20, with fixes 7, 10, 13, 14, 15).

Templates discover for real (kwok pods whose logs print the aimdummy result); KServe itself (``kserve``
fixture) turns InferenceServices into predictor Deployments and reports their status; tests steer the
predictor pods (``tests.support.kserve``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client
from prometheus_client.parser import text_string_to_metric_families

from aimctl.builders.derived_template import derived_name
from tests.e2e.conftest import Operator
from tests.support import aim, kserve, kube
from tests.support.discovery import condition, unique
from tests.support.services import (
    IMAGE_RESOURCES,
    OPERATOR_NAMESPACE,
    absent,
    apply_all,
    cluster_objects,
    conditions,
    discovery_logs,
    discovery_output,
    events_for,
    get_isvc,
    image,
    isolate,
    isvc_path,
    release_discovery,
    runtime_config,
    service,
    template,
    template_path,
    wait_service,
    wait_template,
)
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "kserve")


@pytest.fixture(autouse=True)
async def _isolated(api: client.ApiClient, namespace: str) -> None:
    await isolate(api, namespace)


async def test_basic_service_on_a_cluster_template(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Scenario 5: default template of a cluster image, InferenceService labels and annotations,
    Starting then Running, resolved references with the right kinds, one event per transition."""
    img, tpl = unique("img-a"), unique("tpl-a")
    async with cluster_objects(api) as objs, discovery_logs(api, OPERATOR_NAMESPACE, tmp_path):
        objs += [image(img, default=tpl), template(tpl, img)]
        await apply_all(api, *objs)
        await wait_template(api, objs[1], "Available")
        svc = service(namespace, "svc", img, labels={"team": "a"},
                      annotations={"note": "hello", kserve.HOLD: kserve.PENDING})  # fmt: skip
        await aim.apply(api, svc)
        starting = await wait_service(api, svc, "Starting", RuntimeReady=("False", "CreatingRuntime"))
        st = starting["status"]
        cluster_tpl = await aim.get(api, objs[1])
        assert st["resolvedTemplate"] == {
            "name": tpl, "scope": "Cluster", "kind": "AIMClusterServiceTemplate", "uid": cluster_tpl["metadata"]["uid"]
        }  # fmt: skip
        assert (st["resolvedImage"]["name"], st["resolvedImage"]["kind"]) == (img, "AIMClusterImage")
        assert conditions(starting)["Resolved"] == ("True", "Resolved")

        isvc = await get_isvc(api, namespace, "svc")
        meta = isvc["metadata"]
        (owner,) = meta["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("AIMService", "svc", True)
        assert owner["uid"] == starting["metadata"]["uid"]
        assert meta["labels"] == {
            "team": "a",
            "app.kubernetes.io/name": "aim-service",
            "app.kubernetes.io/component": "inference-service",
            "app.kubernetes.io/managed-by": "aim-controller",
            "aim.silogen.ai/template": tpl,
            "aim.silogen.ai/model-id": "smol2-135m",
            "aim.silogen.ai/aim-image": img,
            "aim.silogen.ai/template.metric": "latency",
            "aim.silogen.ai/template.precision": "fp8",
        }
        assert meta["annotations"]["note"] == "hello"
        predictor = isvc["spec"]["predictor"]
        assert predictor["minReplicas"] == predictor["maxReplicas"] == 1
        assert predictor["model"]["runtime"] == tpl
        assert predictor["model"]["modelFormat"] == {"name": "aim", "version": "1"}
        assert predictor["model"]["resources"] == IMAGE_RESOURCES

        # The predictor pod runs, KServe reports the InferenceService Ready: the service runs.
        svc["metadata"]["annotations"] = {"note": "hello"}
        await aim.apply(api, svc)
        running = await wait_service(api, svc, "Running", Ready=("True", "RuntimeReady"))
        assert conditions(running)["RuntimeReady"] == ("True", "RuntimeReady")
        assert conditions(running)["Failure"] == ("False", "Resolved")

        events = await events_for(api, namespace, "svc")
        to_running = [e for e in events if e["reason"] == "RuntimeReady"]
        assert len(to_running) == 1, [(e["reason"], e.get("note")) for e in events]
        assert to_running[0]["type"] == "Normal"


async def test_no_template_resolvable_is_degraded(api: client.ApiClient, namespace: str) -> None:
    """Scenario 6, with issue 12's automatic choice: no templateRef, no image default and no template of
    the image at all: Degraded, NoTemplateCandidate (saying what to create), no InferenceService."""
    await apply_all(api, image("img", namespace))
    svc = service(namespace, "svc", "img")
    await aim.apply(api, svc)
    got = await wait_service(api, svc, "Degraded", Resolved=("False", "NoTemplateCandidate"))
    assert condition(got, "Resolved")["message"].startswith(
        'No templateRef, image "img" has no defaultServiceTemplate, and no template of the image can be chosen '
        "automatically: there is no AIMServiceTemplate in the namespace and no AIMClusterServiceTemplate"
    )
    assert got["status"]["resolvedTemplate"] == {"name": "svc", "scope": "Unknown"}
    assert conditions(got)["Ready"] == ("False", "NoTemplateCandidate")
    assert await absent(api, isvc_path(namespace, "svc"))
    warnings = [e for e in await events_for(api, namespace, "svc") if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["NoTemplateCandidate"]


async def test_missing_explicit_runtime_config_is_degraded(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Scenario 14: a runtime config at neither scope: Degraded, RuntimeConfigMissing, no InferenceService."""
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "svc", "img", templateRef="tpl", runtimeConfigName="nope")
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", Failure=("True", "RuntimeConfigMissing"))
        assert condition(got, "Failure")["message"] == f'AIMRuntimeConfig "nope" not found in namespace "{namespace}"'
        assert conditions(got)["Ready"] == ("False", "RuntimeConfigMissing")
        assert await absent(api, isvc_path(namespace, "svc"))
        # Creating the config recovers the service (nothing is sticky).
        await aim.apply(api, runtime_config("nope", namespace))
        await wait_service(api, svc, "Running")
        assert (await aim.get(api, svc))["status"]["resolvedRuntimeConfig"]["kind"] == "AIMRuntimeConfig"


async def test_image_template_mismatch_is_degraded(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Fix 15: a template for another image is reported and gets no InferenceService."""
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img-b", namespace)
        await apply_all(api, image("img-a", namespace), image("img-b", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "svc", "img-a", templateRef="tpl")
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", Failure=("True", "ImageMismatch"))
        assert 'is for image "img-b"' in condition(got, "Failure")["message"]
        assert await absent(api, isvc_path(namespace, "svc"))


async def test_missing_image_blocks_a_new_inference_service(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Scenario 20's last case and fix 15: the template's image is deleted: Degraded
    ImageNotFound, and a service created now gets no InferenceService."""
    async with discovery_logs(api, namespace, tmp_path):
        img, tpl = image("img", namespace), template("tpl", "img", namespace)
        await apply_all(api, img, tpl)
        await wait_template(api, tpl, "Available")
        await aim.delete(api, img)
        svc = service(namespace, "svc", "img", templateRef="tpl")
        await aim.apply(api, svc)
        got = await wait_service(api, svc, "Degraded", Failure=("True", "ImageNotFound"))
        assert condition(got, "Failure")["message"] == f'AIMImage "img" not found in namespace "{namespace}"'
        assert await absent(api, isvc_path(namespace, "svc"))


async def test_resource_precedence_and_gpu_count(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Scenario 9: service, else template, else image resources (whole objects); the profile's GPU
    count is added where absent, with node affinity on the template's GPU model."""
    tpl_res = {"requests": {"cpu": "3", "memory": "3Gi"}, "limits": {"memory": "3Gi"}}
    svc_res = {"requests": {"cpu": "4", "memory": "4Gi"}, "limits": {"memory": "4Gi"}}
    async with discovery_logs(api, namespace, tmp_path):
        plain, with_res = template("plain", "img", namespace), template("with-res", "img", namespace, resources=tpl_res)
        await apply_all(api, image("img", namespace), plain, with_res)
        await wait_template(api, plain, "Available")
        await wait_template(api, with_res, "Available")
        for name, ref, extra in (("a", "with-res", {"resources": svc_res}), ("b", "with-res", {}), ("c", "plain", {})):
            await aim.apply(api, service(namespace, name, "img", templateRef=ref, **extra))
        got = {n: (await get_isvc(api, namespace, n))["spec"]["predictor"] for n in "abc"}
        assert got["a"]["model"]["resources"] == svc_res
        assert got["b"]["model"]["resources"] == tpl_res
        assert got["c"]["model"]["resources"] == IMAGE_RESOURCES
        assert all("affinity" not in p for p in got.values())
    async with discovery_logs(api, namespace, tmp_path, discovery_output(gpu_count=2)):
        gpu = template("gpu", "img", namespace, gpuSelector={"model": "MI300X", "count": 2})
        await aim.apply(api, gpu)
        await wait_template(api, gpu, "Available")
        await aim.apply(api, service(namespace, "d", "img", templateRef="gpu", resources=svc_res))
        predictor = (await get_isvc(api, namespace, "d"))["spec"]["predictor"]
        res = predictor["model"]["resources"]
        assert res["requests"]["amd.com/gpu"] == res["limits"]["amd.com/gpu"] == "2"
        assert res["requests"]["cpu"] == "4"
        terms = predictor["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
        keys = {e["key"]: e["values"] for t in terms["nodeSelectorTerms"] for e in t["matchExpressions"]}
        assert keys["amd.com/gpu.model"] == ["MI300X"]
        assert "74a1" in keys["amd.com/gpu.device-id"]


async def test_mutable_fields_propagate(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Replicas, env and resources changed on the service reach the existing InferenceService."""
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "svc", "img", templateRef="tpl")
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running")
        first = await get_isvc(api, namespace, "svc")
        svc["spec"].update(
            replicas=3,
            env=[{"name": "LOG_LEVEL", "value": "debug"}],
            resources={"requests": {"cpu": "2", "memory": "2Gi"}, "limits": {"memory": "2Gi"}},
        )
        await aim.apply(api, svc)
        updated = await wait_for(
            lambda: kube.get(api, isvc_path(namespace, "svc")),
            lambda o: o["spec"]["predictor"]["minReplicas"] == 3,
            what="replicas propagated",
        )
        p = updated["spec"]["predictor"]
        assert p["maxReplicas"] == 3
        assert p["model"]["env"][-1] == {"name": "LOG_LEVEL", "value": "debug"}
        assert p["model"]["resources"]["requests"]["cpu"] == "2"
        assert updated["metadata"]["uid"] == first["metadata"]["uid"]


async def test_running_degraded_and_back(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """The service follows its InferenceService: Running, Degraded with KServe's failure (its predictor
    crash-loops; KServe reports ``lastFailureInfo``), Running again once the predictor runs (KServe
    keeps the old ``lastFailureInfo`` on a Ready InferenceService), Degraded again."""
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        svc = service(namespace, "svc", "img", templateRef="tpl")
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running")
        await kserve.crash(api, namespace, "svc", "CUDA error: out of memory")
        got = await wait_service(api, svc, "Degraded", Failure=("True", "RuntimeFailed"))
        assert condition(got, "Failure")["message"] == "CUDA error: out of memory"
        assert conditions(got)["Ready"] == ("False", "RuntimeFailed")
        await kserve.recover(api, namespace, "svc")
        await wait_service(api, svc, "Running", Ready=("True", "RuntimeReady"), Failure=("False", "Resolved"))
        isvc = await get_isvc(api, namespace, "svc")
        assert isvc["status"]["modelStatus"]["lastFailureInfo"]["message"] == "CUDA error: out of memory"
        await kserve.crash(api, namespace, "svc", "boom")
        got = await wait_service(api, svc, "Degraded", Failure=("True", "RuntimeFailed"))
        assert condition(got, "Failure")["message"] == "boom"
        # The transition's event is posted after the status write: wait for it.
        events = await wait_for(
            lambda: events_for(api, namespace, "svc"),
            lambda es: [e["reason"] for e in es].count("RuntimeFailed") == 2,
            what="the second RuntimeFailed event",
        )
        assert [e["reason"] for e in events].count("RuntimeReady") == 2


async def test_kserve_webhook_refusal_is_reported_on_the_service(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """KServe's validating webhook refuses an InferenceService whose ``serving.kserve.io/autoscalerClass``
    annotation (copied verbatim from the service's annotations) names no autoscaler KServe supports:
    the service is Failed with KServe's own message, no InferenceService exists; once the annotation is
    fixed, the service runs. (A name KServe would refuse, such as ``chat.v1``, no longer reaches KServe:
    the operator gives such a service an InferenceService name that fits, see docs/long-names.md.)"""
    async with discovery_logs(api, namespace, tmp_path):
        tpl = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace), tpl)
        await wait_template(api, tpl, "Available")
        bad = service(namespace, "chat", "img", annotations={"serving.kserve.io/autoscalerClass": "bogus"},
                      templateRef="tpl")  # fmt: skip
        await aim.apply(api, bad)
        got = await wait_service(api, bad, "Failed", Failure=("True", "InferenceServiceRejected"))
        message = condition(got, "Failure")["message"]
        assert 'admission webhook "inferenceservice.kserve-webhook-server.validator" denied the request' in message
        assert "[bogus] is not a supported autoscaler class type" in message
        assert conditions(got)["Ready"] == ("False", "InferenceServiceRejected")
        assert await absent(api, isvc_path(namespace, "chat"))
        bad["metadata"]["annotations"] = {"serving.kserve.io/autoscalerClass": "external"}
        await aim.apply(api, bad)
        await wait_service(api, bad, "Running", Ready=("True", "RuntimeReady"))


async def test_template_not_available_degraded_or_failed(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Scenario 20: the service mirrors its template: Pending while it discovers, Degraded with the
    template's reason (ImagePullBackOff), Failed with JobFailed; no InferenceService in any case."""
    uris = {
        "hang": "registry.example/kwok-hang/model:1",
        "pull": "registry.example/kwok-unpullable:1",
        "fail": "registry.example/kwok-fail/model:1",
    }
    try:
        objs: list[dict[str, Any]] = []
        for key, uri in uris.items():
            objs += [image(f"img-{key}", namespace, image=uri), template(f"tpl-{key}", f"img-{key}", namespace)]
        await apply_all(api, *objs)
        for key in uris:
            await aim.apply(api, service(namespace, f"svc-{key}", f"img-{key}", templateRef=f"tpl-{key}"))
        pending = await wait_service(
            api, service(namespace, "svc-hang", "img-hang"), "Pending", RuntimeReady=("False", "TemplateNotAvailable")
        )
        assert condition(pending, "RuntimeReady")["message"] == 'Template "tpl-hang" is not yet Available'
        pulled = await wait_service(api, service(namespace, "svc-pull", "img-pull"), "Degraded",
                                    Failure=("True", "ImagePullBackOff"))  # fmt: skip
        tpl_pull = await aim.get(api, template("tpl-pull", "img-pull", namespace))
        assert condition(pulled, "Failure")["message"] == condition(tpl_pull, "Failure")["message"]
        await wait_service(api, service(namespace, "svc-fail", "img-fail"), "Failed", Failure=("True", "JobFailed"))
        for key in uris:
            assert await absent(api, isvc_path(namespace, f"svc-{key}"))
    finally:
        # Hanging and unpullable pods never finish: free their discovery slots for later tests.
        for key in ("hang", "pull"):
            await aim.delete(api, template(f"tpl-{key}", f"img-{key}", namespace))
        await release_discovery(api, namespace)


def _metric(text: str, name: str, **match: str) -> float:
    """Sum of the samples of ``name`` whose labels include ``match``."""
    total = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in match.items()):
                total += sample.value
    return total


async def test_steady_state_makes_no_writes(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    """Zero writes at steady state (docs/architecture.md, "Guarantees"): a reconcile of a Running
    service whose inputs did not change writes nothing — no InferenceService apply, no status write,
    no derived-template apply."""
    # The write counters are the operator's, for every namespace: earlier tests' namespaces are deleted
    # without waiting, and their services react to their children going away. Count from a quiet cluster.
    await wait_for(
        lambda: _terminating_test_namespaces(api), lambda names: not names, timeout=300,
        what="earlier tests' namespaces to be gone",
    )  # fmt: skip
    async with discovery_logs(api, namespace, tmp_path):
        base = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace, default="tpl"), base)
        await wait_template(api, base, "Available")
        svc = service(namespace, "svc", "img", overrides={"precision": "fp8"}, replicas=2,
                      env=[{"name": "A", "value": "1"}], labels={"team": "a"}, annotations={"x": "y"})  # fmt: skip
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running")
        writes = {
            r: _metric(operator.metrics(), "aim_api_requests_total", verb="apply", resource=r)
            for r in ("inferenceservices.serving.kserve.io", "aimservices.aim.silogen.ai",
                      "aimservicetemplates.aim.silogen.ai")
        }  # fmt: skip
        done = _metric(operator.metrics(), "controller_runtime_reconcile_total", controller="aim-service")
        # Touch the derived template (a label of our own): the service is reconciled through its owner
        # reference, and nothing it wants changed.
        derived = {
            "apiVersion": "aim.silogen.ai/v1alpha1",
            "kind": "AIMServiceTemplate",
            "metadata": {"name": derived_name("tpl", {"precision": "fp8"}), "namespace": namespace,
                         "labels": {"touched": "yes"}},
        }  # fmt: skip
        await kube.apply(api, template_path(namespace, derived["metadata"]["name"]), derived, manager="test-touch")

        async def reconciles() -> float:
            text = await anyio.to_thread.run_sync(operator.metrics)
            return _metric(text, "controller_runtime_reconcile_total", controller="aim-service")

        await wait_for(reconciles, lambda n: n > done, what="a reconcile of the service")
        after = operator.metrics()
        for resource, count in writes.items():
            assert _metric(after, "aim_api_requests_total", verb="apply", resource=resource) == count, resource


async def _terminating_test_namespaces(api: client.ApiClient) -> list[str]:
    """The test namespaces (label ``aimctl.dev/test``) being deleted: their services still react to
    their children going away. (Module-scoped namespaces that stay Active make no such writes.)"""
    listed = await kube.get(api, "/api/v1/namespaces?labelSelector=aimctl.dev%2Ftest%3Dtrue")
    return [
        n["metadata"]["name"]
        for n in listed.get("items") or []
        if (n.get("status") or {}).get("phase") == "Terminating"
    ]
