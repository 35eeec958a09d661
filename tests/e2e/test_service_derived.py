"""Service overrides end to end: derived templates, reuse of an equal template, garbage collection
(docs/original-behaviour.md scenarios 7 and 8; fix 17)."""

from __future__ import annotations

from pathlib import Path

import pytest
from kubernetes_asyncio import client

from aimctl.builders.derived_template import derived_name
from tests.e2e.conftest import Operator
from tests.support import aim, kube
from tests.support.discovery import condition, unique
from tests.support.operator_metrics import wait_idle_work
from tests.support.services import (
    OPERATOR_NAMESPACE,
    absent,
    apply_all,
    cluster_objects,
    discovery_logs,
    events_for,
    get_isvc,
    image,
    isolate,
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


OVERRIDES = {"metric": "throughput", "precision": "fp8"}
#: The derived-template collector (``aimctl/controllers/derived_templates.py``), by its controller name.
COLLECTOR = "aim-derived-templates"


async def test_overrides_create_a_derived_template(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Scenario 7 (with ``templateRef``, which never woke the service in the original, Q4): the
    derived template is created, labelled, without owners (consumers are not recorded on it),
    discovers in the service's namespace, and the InferenceService runs on it."""
    img, tpl = unique("img-a"), unique("tpl-a")
    async with (
        cluster_objects(api) as objs,
        discovery_logs(api, OPERATOR_NAMESPACE, tmp_path),
        discovery_logs(api, namespace, tmp_path),
    ):
        objs += [image(img), template(tpl, img)]
        await apply_all(api, *objs)
        await wait_template(api, objs[1], "Available")
        svc = service(namespace, "svc2", img, templateRef=tpl, overrides=OVERRIDES)
        await aim.apply(api, svc)
        name = derived_name(tpl, OVERRIDES)
        assert name.endswith("-ovr-5ab7d1be")
        running = await wait_service(api, svc, "Running")
        derived = await kube.get(api, template_path(namespace, name))
        assert derived["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "aim-controller",
            "aim.silogen.ai/derived-template": "true",
        }
        assert "ownerReferences" not in derived["metadata"]
        assert derived["spec"] == {
            "aimImageName": img,
            "metric": "throughput",
            "precision": "fp8",
            "gpuSelector": {"count": 1, "model": "MI300X"},
            "runtimeConfigName": "default",
        }
        assert derived["status"]["status"] == "Available"
        ref = running["status"]["resolvedTemplate"]
        assert (ref["name"], ref["scope"], ref["kind"], ref["namespace"]) == (
            name, "Namespace", "AIMServiceTemplate", namespace
        )  # fmt: skip
        isvc = await get_isvc(api, namespace, "svc2")
        assert isvc["spec"]["predictor"]["model"]["runtime"] == name
        assert isvc["metadata"]["labels"]["aim.silogen.ai/template"] == name
        # Pending (creating the template, then waiting for its discovery) → Starting → Running: one
        # event per transition, none for the initial Pending.
        reasons = [e["reason"] for e in await events_for(api, namespace, "svc2")]
        assert reasons == ["CreatingRuntime", "RuntimeReady"]


async def test_an_equal_cluster_template_is_reused(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Scenario 8: a cluster template equal to base plus overrides is used; nothing is derived."""
    img, tpl, reuse = unique("img-a"), unique("tpl-a"), unique("reuse")
    overrides = {"metric": "throughput", "precision": "fp16"}
    async with cluster_objects(api) as objs, discovery_logs(api, OPERATOR_NAMESPACE, tmp_path):
        objs += [image(img), template(tpl, img), template(reuse, img, metric="throughput", precision="fp16")]
        await apply_all(api, *objs)
        await wait_template(api, objs[1], "Available")
        await wait_template(api, objs[2], "Available")
        svc = service(namespace, "svc", img, templateRef=tpl, overrides=overrides)
        await aim.apply(api, svc)
        running = await wait_service(api, svc, "Running")
        ref = running["status"]["resolvedTemplate"]
        assert (ref["name"], ref["scope"], ref["kind"]) == (reuse, "Cluster", "AIMClusterServiceTemplate")
        assert (await get_isvc(api, namespace, "svc"))["spec"]["predictor"]["model"]["runtime"] == reuse
        assert await absent(api, template_path(namespace, derived_name(tpl, overrides)))


@pytest.mark.usefixtures("storage")
async def test_shared_derived_template_service_edits_and_collection(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    """Fix 17 and "service edits always take effect": two services share a derived template that
    carries nothing of either (no env, no caching, no owners); an ``env`` edit and a ``cacheModel``
    flip of one reach its InferenceService and not the other's, and leave the shared template as it
    was; the template survives the first service's deletion and is collected after the last one's."""
    async with discovery_logs(api, namespace, tmp_path):
        base = template("tpl", "img", namespace)
        await apply_all(api, image("img", namespace, default="tpl"), base)
        await wait_template(api, base, "Available")
        a = service(namespace, "a", "img", overrides=OVERRIDES, env=[{"name": "WHO", "value": "a"}])
        b = service(namespace, "b", "img", overrides=OVERRIDES)
        await apply_all(api, a, b)
        await wait_service(api, a, "Running")
        await wait_service(api, b, "Running")
        name = derived_name("tpl", OVERRIDES)
        path = template_path(namespace, name)
        derived = await kube.get(api, path)
        shared_spec = {
            "aimImageName": "img",
            "metric": "throughput",
            "precision": "fp8",
            "gpuSelector": {"count": 1, "model": "MI300X"},
            "runtimeConfigName": "default",
        }
        assert derived["spec"] == shared_spec
        assert "ownerReferences" not in derived["metadata"]
        for svc in (a, b):
            assert (await aim.get(api, svc))["status"]["resolvedTemplate"]["name"] == name

        # An env edit of a reaches a's InferenceService only.
        a["spec"]["env"] = [{"name": "WHO", "value": "a2"}, {"name": "LOG_LEVEL", "value": "debug"}]
        await aim.apply(api, a)
        isvc_a = await wait_for(
            lambda: get_isvc(api, namespace, "a"),
            lambda o: {"name": "LOG_LEVEL", "value": "debug"} in o["spec"]["predictor"]["model"]["env"],
            what="a's env edit on its InferenceService",
        )
        env_a = {e["name"]: e.get("value") for e in isvc_a["spec"]["predictor"]["model"]["env"]}
        assert env_a["WHO"] == "a2"
        env_b = {e["name"] for e in (await get_isvc(api, namespace, "b"))["spec"]["predictor"]["model"]["env"]}
        assert not env_b & {"WHO", "LOG_LEVEL"}

        # cacheModel on: a waits for the caches (the cluster default storage class), then mounts them.
        a["spec"]["cacheModel"] = True
        await aim.apply(api, a)
        await wait_service(api, a, "Running", CacheReady=("True", "CacheWarm"), within=90)
        cached = (await get_isvc(api, namespace, "a"))["spec"]["predictor"]
        assert [m["mountPath"] for m in cached["model"]["volumeMounts"]] == ["/workspace/cache/smol2-135m"]
        assert len(cached["volumes"]) == 1
        assert "volumes" not in (await get_isvc(api, namespace, "b"))["spec"]["predictor"]
        # ... and off: the mounts go, the service keeps running.
        a["spec"]["cacheModel"] = False
        await aim.apply(api, a)
        await wait_for(
            lambda: get_isvc(api, namespace, "a"),
            lambda o: "volumes" not in o["spec"]["predictor"] and "volumeMounts" not in o["spec"]["predictor"]["model"],
            what="a's cache mounts removed",
        )
        await wait_service(api, a, "Running", CacheReady=("True", "CacheWarm"))
        # The shared template was never rewritten for one service.
        after = await kube.get(api, path)
        assert after["spec"] == shared_spec and after["metadata"]["generation"] == derived["metadata"]["generation"]
        assert "ownerReferences" not in after["metadata"]

        # Deleting a keeps the template for b. Shown without sleeping past the grace: a's delete event
        # makes the collector look at the template it pointed at; once it has (one reconcile more,
        # nothing queued or running) it must have found b and scheduled nothing — a template without
        # consumers is a ``requeue_after`` (the grace), then a delete.
        before = await wait_idle_work(operator.metrics, COLLECTOR)
        await aim.delete(api, a)
        await wait_for(lambda: absent(api, aim.object_path(a)), bool, what="a deleted")
        seen = await wait_idle_work(operator.metrics, COLLECTOR, after=before["total"])
        assert {k: seen[k] - before[k] for k in ("requeue_after", "requeue", "error")} == dict.fromkeys(
            ("requeue_after", "requeue", "error"), 0
        ), f"the collector scheduled the shared template's collection after a's deletion: {before} then {seen}"
        kept = await kube.get(api, path)  # the same object: not collected and re-created by b's controller
        assert kept["metadata"]["uid"] == derived["metadata"]["uid"], "the shared template was deleted and re-created"
        await wait_service(api, b, "Running")
        # ... deleting b, its last consumer, collects it.
        await aim.delete(api, b)
        await wait_for(lambda: absent(api, path), bool, what="derived template collected", timeout=30)
        assert not await absent(api, template_path(namespace, "tpl"))


async def test_missing_base_template_fails(api: client.ApiClient, namespace: str) -> None:
    """A derived template needs its base: Failed with ValidationFailed, no template, no InferenceService."""
    await apply_all(api, image("img", namespace))
    svc = service(namespace, "svc", "img", templateRef="nope", overrides=OVERRIDES)
    await aim.apply(api, svc)
    got = await wait_service(api, svc, "Failed", Failure=("True", "ValidationFailed"))
    assert condition(got, "Failure")["message"] == 'Observation failed: base template "nope" not found'
    assert await absent(api, template_path(namespace, derived_name("nope", OVERRIDES)))


async def test_a_service_moving_away_releases_its_derived_template(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """A service whose base changes (``templateRef``) gets a new derived template; the old one, used
    by nobody else, is collected (no service points at it any more)."""
    async with discovery_logs(api, namespace, tmp_path):
        one, two = template("one", "img", namespace), template("two", "img", namespace, metric="throughput")
        await apply_all(api, image("img", namespace), one, two)
        await wait_template(api, one, "Available")
        await wait_template(api, two, "Available")
        svc = service(namespace, "svc", "img", templateRef="one", overrides={"precision": "fp8"})
        await aim.apply(api, svc)
        await wait_service(api, svc, "Running")
        first = template_path(namespace, derived_name("one", {"precision": "fp8"}))
        assert not await absent(api, first)
        svc["spec"]["templateRef"] = "two"
        await aim.apply(api, svc)
        name = derived_name("two", {"precision": "fp8"})
        running = await wait_for(
            lambda: aim.get(api, svc),
            lambda o: o["status"].get("status") == "Running" and o["status"]["resolvedTemplate"]["name"] == name,
            what="service on the second derived template",
        )
        assert running["status"]["resolvedTemplate"]["namespace"] == namespace
        await wait_for(lambda: absent(api, first), bool, what="first derived template deleted")
        isvc = await get_isvc(api, namespace, "svc")
        assert isvc["spec"]["predictor"]["model"]["runtime"] == name
