"""Templates end to end: discovery Jobs, results from pod logs, failures and backoff, GPU availability,
the 10-Job cap, rediscovery, and the serving runtimes (docs/original-behaviour.md scenarios 1-4).

Discovery pods are kwok pods: their outcome is chosen by the image name (``kwok-fail``,
``kwok-unpullable``, ``kwok-hang``) and their log by :func:`tests.sim.pod_logs.serve_logs`. Cluster
templates' Jobs run in the operator namespace, where the log served applies to every pod: those
tests set it, and remove it and their cluster-scoped objects when they end.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import anyio
import pytest
from kubernetes_asyncio import client

from aimctl.devcluster.nodes import node_manifest
from aimctl.naming import discovery_job_name
from tests.e2e.conftest import OPERATOR_NAMESPACE, Operator
from tests.sim.pod_logs import serve_logs
from tests.support import aim, kube
from tests.support.discovery import (
    condition,
    events_about,
    malformed,
    noisy,
    one_model,
    state,
    two_models,
    unique,
)
from tests.support.operator_metrics import wait_idle
from tests.support.services import release_discovery
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator")

RESOURCES = {"requests": {"cpu": "1", "memory": "1Gi"}, "limits": {"memory": "1Gi"}}

#: The namespaced templates' controller (its name in the metrics).
TEMPLATES = "aim-namespace-template"


def cluster_image(name: str, uri: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterImage",
        "metadata": {"name": name},
        "spec": {"image": uri, "resources": RESOURCES, **spec},
    }


def image(namespace: str, name: str, uri: str, **spec: Any) -> dict[str, Any]:
    obj = cluster_image(name, uri, **spec)
    obj["kind"] = "AIMImage"
    obj["metadata"]["namespace"] = namespace
    return obj


def cluster_template(name: str, image_name: str, **spec: Any) -> dict[str, Any]:
    return {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMClusterServiceTemplate",
        "metadata": {"name": name},
        "spec": {"aimImageName": image_name, "metric": "latency", "gpuSelector": {"model": "MI300X", "count": 1},
                 **spec},
    }  # fmt: skip


def template(namespace: str, name: str, image_name: str, **spec: Any) -> dict[str, Any]:
    obj = cluster_template(name, image_name, **spec)
    obj["kind"] = "AIMServiceTemplate"
    obj["metadata"]["namespace"] = namespace
    return obj


async def wait_state(
    api: client.ApiClient, obj: dict[str, Any], wanted: str, within: float = 60, **cond: tuple[str, str]
) -> dict[str, Any]:
    """Wait until ``obj`` is in state ``wanted`` with the given conditions ``Type=(status, reason)``."""

    def ok(o: dict[str, Any]) -> bool:
        if state(o) != wanted:
            return False
        return all((condition(o, t).get("status"), condition(o, t).get("reason")) == sr for t, sr in cond.items())

    return await wait_for(lambda: aim.get(api, obj), ok, timeout=within, what=f"{obj['metadata']['name']} {wanted}")


async def get_job(api: client.ApiClient, namespace: str, name: str) -> dict[str, Any]:
    result: dict[str, Any] = await kube.get(api, f"/apis/batch/v1/namespaces/{namespace}/jobs/{name}")
    return result


@contextlib.asynccontextmanager
async def cluster_objects(api: client.ApiClient) -> AsyncIterator[list[dict[str, Any]]]:
    """Cluster-scoped objects a test creates; deleted when it ends."""
    objs: list[dict[str, Any]] = []
    try:
        yield objs
    finally:
        for obj in reversed(objs):
            await aim.delete(api, obj)


@contextlib.asynccontextmanager
async def operator_namespace_logs(api: client.ApiClient, text: str, directory: Path) -> AsyncIterator[None]:
    name = unique("aim-system-logs")
    await serve_logs(api, OPERATOR_NAMESPACE, text, directory, name=name)
    try:
        yield
    finally:
        with contextlib.suppress(Exception):
            await kube.delete(api, f"/apis/kwok.x-k8s.io/v1alpha1/clusterlogs/{name}")


async def test_cluster_template_discovery_happy_path(api: client.ApiClient, operator: Operator, tmp_path: Path) -> None:
    """Scenario 1: Job in the operator namespace, Available with profile and model sources, then a
    ClusterServingRuntime."""
    img, tpl = unique("img-a"), unique("tpl-a")
    async with cluster_objects(api) as objs, operator_namespace_logs(api, one_model(), tmp_path):
        objs += [cluster_image(img, "aimdummy:dev-latest"), cluster_template(tpl, img)]
        for o in objs:
            await aim.apply(api, o)
        done = await wait_state(
            api, objs[1], "Available",
            Discovered=("True", "Discovered"), Ready=("True", "Available"), Progressing=("False", "Available"),
        )  # fmt: skip
        st = done["status"]
        assert st["profile"]["metadata"] == {
            "engine": "vllm", "gpu": "AMD", "precision": "fp8", "metric": "latency", "gpu_count": 0
        }  # fmt: skip
        assert st["modelSources"] == [
            {"name": "smol2-135m", "sourceUri": "hf://HuggingFaceTB/SmolLM2-135M", "size": "512Mi"}
        ]
        assert st["resolvedImage"]["name"] == img and st["resolvedImage"]["scope"] == "Cluster"
        assert st["resolvedImage"]["kind"] == "AIMClusterImage"
        assert st["observedGeneration"] == done["metadata"]["generation"]
        assert "Failure" not in [c["type"] for c in st["conditions"]]

        job = await get_job(api, OPERATOR_NAMESPACE, discovery_job_name(tpl, img, "aimdummy:dev-latest"))
        labels = job["metadata"]["labels"]
        assert labels["aim.silogen.ai/template"] == tpl
        assert labels["app.kubernetes.io/component"] == "discovery-job"
        (owner,) = job["metadata"]["ownerReferences"]
        assert (owner["kind"], owner["name"], owner["controller"]) == ("AIMClusterServiceTemplate", tpl, True)
        container = job["spec"]["template"]["spec"]["containers"][0]
        assert container["args"] == ["dry-run", "--format=json"]
        env = {e["name"]: e["value"] for e in container["env"]}
        assert env == {"AIM_METRIC": "latency", "AIM_GPU_MODEL": "MI300X", "AIM_GPU_COUNT": "1"}

        runtime = await wait_for(
            lambda: kube.get(api, f"/apis/serving.kserve.io/v1alpha1/clusterservingruntimes/{tpl}"),
            lambda r: bool(r), what="ClusterServingRuntime",
        )  # fmt: skip
        (c,) = runtime["spec"]["containers"]
        assert c["image"] == "aimdummy:dev-latest"
        assert {"name": "AIM_MODEL_ID", "value": "smol2-135m"} in c["env"]
        assert c["resources"]["requests"]["amd.com/gpu"] == "0"
        assert runtime["spec"]["supportedModelFormats"] == [{"name": "aim", "version": "1"}]
        assert runtime["spec"]["storageHelper"] == {"disabled": True}
        assert runtime["metadata"]["ownerReferences"][0]["name"] == tpl

        events = await events_about(api, "default", tpl, operator.instance)
        reasons = [e["reason"] for e in events]
        assert "DiscoverySucceeded" in reasons
        assert reasons.count("DiscoverySucceeded") == 1


async def test_cluster_template_without_image_is_degraded(api: client.ApiClient) -> None:
    """Scenario 2: no Job; Degraded with ImageNotFound."""
    missing, tpl = unique("missing"), unique("tpl-noimg")
    async with cluster_objects(api) as objs:
        objs.append(cluster_template(tpl, missing))
        await aim.apply(api, objs[0])
        done = await wait_state(api, objs[0], "Degraded", Failure=("True", "ImageNotFound"))
        assert condition(done, "Failure")["message"] == f'No AIMClusterImage found for image name "{missing}"'
        assert (condition(done, "Ready")["status"], condition(done, "Ready")["reason"]) == ("False", "ImageNotFound")
        assert done["status"].get("resolvedImage") is None
        jobs = await kube.get(
            api, f"/apis/batch/v1/namespaces/{OPERATOR_NAMESPACE}/jobs?labelSelector=aim.silogen.ai/template={tpl}"
        )
        assert jobs["items"] == []


async def test_namespaced_image_beats_cluster_image(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Scenario 3: the namespace's AIMImage wins; the Job and the ServingRuntime use its URI."""
    await serve_logs(api, namespace, two_models(), tmp_path)
    name = unique("img-b")
    async with cluster_objects(api) as objs:
        objs.append(cluster_image(name, "registry.example/cluster-y:1"))
        await aim.apply(api, objs[0])
        await aim.apply(api, image(namespace, name, "registry.example/namespaced-x:1"))
        tpl = template(namespace, "tpl-b", name)
        await aim.apply(api, tpl)
        done = await wait_state(api, tpl, "Available")
        assert done["status"]["resolvedImage"] == {
            "name": name, "namespace": namespace, "scope": "Namespace", "kind": "AIMImage",
            "uid": done["status"]["resolvedImage"]["uid"],
        }  # fmt: skip
        assert [m["name"] for m in done["status"]["modelSources"]] == ["smol2-135m", "smol2-360m"]
        job = await get_job(api, namespace, discovery_job_name("tpl-b", name, "registry.example/namespaced-x:1"))
        assert job["spec"]["template"]["spec"]["containers"][0]["image"] == "registry.example/namespaced-x:1"
        rt = await wait_for(
            lambda: kube.get(api, f"/apis/serving.kserve.io/v1alpha1/namespaces/{namespace}/servingruntimes/tpl-b"),
            lambda r: bool(r), what="ServingRuntime",
        )  # fmt: skip
        assert rt["spec"]["containers"][0]["image"] == "registry.example/namespaced-x:1"


async def test_discovery_failure_then_backoff_then_retry(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    """Scenario 4 with our fixes: Failed/JobFailed with a Warning event, the failure recorded with its
    next attempt one backoff later (1 min; ``AIMCTL_DISCOVERY_BACKOFF_BASE`` shortens it in the e2e
    operator), and after that the same Job name runs again."""
    uri = "registry.example/kwok-fail/broken:1"
    await aim.apply(api, image(namespace, "img-fail", uri))
    tpl = template(namespace, "tpl-fail", "img-fail")
    await aim.apply(api, tpl)
    failed = await wait_state(
        api, tpl, "Failed", Failure=("True", "JobFailed"), Discovered=("False", "DiscoveryFailed")
    )
    assert (condition(failed, "Ready")["status"], condition(failed, "Ready")["reason"]) == ("False", "Failed")
    discovered = condition(failed, "Discovered")["message"]
    assert '[failures: 1, image: "registry.example/kwok-fail/broken:1", generation: 1' in discovered
    assert "next attempt after:" in discovered
    # The event follows the status write (and goes through the client's write limits): wait for it.
    events = await wait_for(
        lambda: events_about(api, namespace, "tpl-fail", operator.instance),
        lambda evs: any(e["reason"] == "DiscoveryFailed" for e in evs),
        what="the DiscoveryFailed event",
    )
    assert [e["type"] for e in events if e["reason"] == "DiscoveryFailed"] == ["Warning"]

    job_name = discovery_job_name("tpl-fail", "img-fail", uri)
    first_uid = (await get_job(api, namespace, job_name))["metadata"]["uid"]

    def retried(job: dict[str, Any]) -> bool:
        return job["metadata"]["uid"] != first_uid

    await wait_for(lambda: get_job(api, namespace, job_name), retried, timeout=120, what="a retried discovery Job")
    second = await wait_state(api, tpl, "Failed", within=60)
    assert "[failures: 2," in condition(second, "Discovered")["message"]
    reasons = [e["reason"] for e in await events_about(api, namespace, "tpl-fail", operator.instance)]
    assert "DiscoveryRetrying" in reasons


async def test_malformed_output_fails_with_an_excerpt_and_backs_off(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    await serve_logs(api, namespace, malformed(), tmp_path)
    await aim.apply(api, image(namespace, "img", "registry.example/garbled:1"))
    tpl = template(namespace, "tpl-garbled", "img")
    await aim.apply(api, tpl)
    failed = await wait_state(
        api, tpl, "Failed", Failure=("True", "DiscoveryParseFailed"), Ready=("False", "DiscoveryParseFailed")
    )
    message = condition(failed, "Failure")["message"]
    assert message.startswith("Discovery output could not be parsed: ")
    assert "Traceback: boom" in message  # the excerpt of the output
    assert "[failures: 1," in condition(failed, "Discovered")["message"]
    events = await wait_for(
        lambda: events_about(api, namespace, "tpl-garbled", operator.instance),
        lambda evs: any(e["reason"] == "DiscoveryParseFailed" for e in evs),
        what="the DiscoveryParseFailed event",
    )
    assert [e["reason"] for e in events].count("DiscoveryParseFailed") == 1
    # Backing off: a reconcile now (poked by an annotation, which every template event enqueues) does
    # not re-run the Job; the template stays Failed with the same record.
    before = await wait_idle(operator.metrics, TEMPLATES)
    await aim.apply(api, {**tpl, "metadata": {**tpl["metadata"], "annotations": {"aimctl.dev/poke": "1"}}})
    await wait_idle(operator.metrics, TEMPLATES, after=before)
    again = await aim.get(api, tpl)
    assert state(again) == "Failed"
    assert condition(again, "Discovered") == condition(failed, "Discovered")


async def test_deeply_nested_output_fails_with_an_excerpt(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Issue 11: output nested deeper than Python's parser goes raised RecursionError, retried forever.
    Any malformed output ends in Failed, with a short excerpt in the condition."""
    await serve_logs(api, namespace, "INFO dry run\n" + "[" * 50_000 + "]" * 50_000 + "\nDONE deep\n", tmp_path)
    await aim.apply(api, image(namespace, "img", "registry.example/deep:1"))
    tpl = template(namespace, "tpl-deep", "img")
    await aim.apply(api, tpl)
    failed = await wait_state(
        api, tpl, "Failed", Failure=("True", "DiscoveryParseFailed"), Ready=("False", "DiscoveryParseFailed")
    )
    message = condition(failed, "Failure")["message"]
    assert "no JSON array of discovery results found" in message
    assert message.endswith(']]]\\nDONE deep"') and len(message) < 1024


async def test_noisy_output_is_parsed(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    await serve_logs(api, namespace, noisy(), tmp_path)
    await aim.apply(api, image(namespace, "img", "registry.example/noisy:1"))
    tpl = template(namespace, "tpl-noisy", "img")
    await aim.apply(api, tpl)
    done = await wait_state(api, tpl, "Available")
    assert done["status"]["modelSources"][0]["size"] == "512Mi"


async def test_discovery_pod_stuck_in_image_pull_is_degraded(
    api: client.ApiClient, namespace: str, operator: Operator
) -> None:
    await aim.apply(api, image(namespace, "img", "registry.example/kwok-unpullable:1"))
    tpl = template(namespace, "tpl-pull", "img")
    await aim.apply(api, tpl)
    done = await wait_state(api, tpl, "Degraded", Failure=("True", "ImagePullBackOff"))
    assert condition(done, "Failure")["message"].startswith(
        'Discovery job pod stuck pulling image: Container "discovery" is stuck in ImagePullBackOff'
    )
    assert condition(done, "Progressing")["reason"] == "ImagePullBackOff"
    # The transition's event is posted after its status write: wait for it rather than race it.
    events = await wait_for(
        lambda: events_about(api, namespace, "tpl-pull", operator.instance),
        lambda events: any(e["reason"] == "ImagePullFailed" for e in events),
        timeout=30,
        what="an ImagePullFailed event",
    )
    assert [e["type"] for e in events if e["reason"] == "ImagePullFailed"] == ["Warning"]


async def test_gpu_model_absent_then_node_added(api: client.ApiClient, namespace: str, tmp_path: Path) -> None:
    """Fix 4: Degraded while no node offers the GPU model; Available once one does."""
    await serve_logs(api, namespace, one_model(), tmp_path)
    model = f"MI9{unique('x')[-5:].upper()}"  # a model no node has, unique to this test
    await aim.apply(api, image(namespace, "img", "registry.example/gpu:1"))
    tpl = template(namespace, "tpl-gpu", "img", gpuSelector={"model": model, "count": 2})
    await aim.apply(api, tpl)
    degraded = await wait_state(api, tpl, "Degraded", Failure=("True", "GPUNotAvailable"))
    assert model in condition(degraded, "Failure")["message"]
    node_name = unique("kwok-gpu")
    node = node_manifest(
        {"name": node_name, "gpu": {"product": f"AMD_Instinct_{model}_OAM", "deviceId": "ffff", "count": 8}}
    )
    await kube.create(api, "/api/v1/nodes", node)
    try:
        await wait_state(api, tpl, "Available", Ready=("True", "Available"))
    finally:
        await kube.delete(api, f"/api/v1/nodes/{node_name}")
    await wait_state(api, tpl, "Degraded", Failure=("True", "GPUNotAvailable"))


async def test_image_uri_change_rediscovers(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    await serve_logs(api, namespace, one_model(), tmp_path)
    img = image(namespace, "img", "registry.example/model:1")
    await aim.apply(api, img)
    tpl = template(namespace, "tpl-uri", "img")
    await aim.apply(api, tpl)
    await wait_state(api, tpl, "Available")
    img["spec"]["image"] = "registry.example/model:2"
    await aim.apply(api, img)

    def rediscovered(o: dict[str, Any]) -> bool:
        return state(o) == "Available" and "model:2" in condition(o, "Discovered").get("message", "")

    await wait_for(lambda: aim.get(api, tpl), rediscovered, timeout=30, what="rediscovery")
    await get_job(api, namespace, discovery_job_name("tpl-uri", "img", "registry.example/model:2"))
    rt = await wait_for(
        lambda: kube.get(api, f"/apis/serving.kserve.io/v1alpha1/namespaces/{namespace}/servingruntimes/tpl-uri"),
        lambda r: r["spec"]["containers"][0]["image"] == "registry.example/model:2", what="runtime with new image",
    )  # fmt: skip
    assert rt["metadata"]["name"] == "tpl-uri"
    reasons = [e["reason"] for e in await events_about(api, namespace, "tpl-uri", operator.instance)]
    assert "ImageChanged" in reasons


async def _watch_discovery_jobs(api: client.ApiClient, peak: list[int], stop: anyio.Event) -> None:
    """Track the largest number of unfinished discovery Jobs in the cluster, from a watch."""
    selector = "app.kubernetes.io/component=discovery-job,app.kubernetes.io/managed-by=aim-controller"
    listed = await kube.get(api, f"/apis/batch/v1/jobs?labelSelector={selector}")
    active: dict[str, bool] = {}

    def unfinished(job: dict[str, Any]) -> bool:
        conds = (job.get("status") or {}).get("conditions") or []
        return not any(c["type"] in ("Complete", "Failed") and c["status"] == "True" for c in conds)

    for job in listed["items"]:
        active[job["metadata"]["uid"]] = unfinished(job)
    peak.append(sum(active.values()))
    resp = await api.call_api(
        "/apis/batch/v1/jobs", "GET",
        query_params=[("watch", "1"), ("labelSelector", selector),
                      ("resourceVersion", listed["metadata"]["resourceVersion"])],
        header_params={"Accept": "application/json"}, _preload_content=False, _request_timeout=300,
    )  # fmt: skip
    with anyio.CancelScope() as scope:

        async def cancel_on_stop() -> None:
            await stop.wait()
            scope.cancel()

        async with anyio.create_task_group() as tg:
            tg.start_soon(cancel_on_stop)
            async for line in resp.content:
                event = json.loads(line)
                job = event["object"]
                uid = job["metadata"]["uid"]
                if event["type"] == "DELETED":
                    active.pop(uid, None)
                else:
                    active[uid] = unfinished(job)
                peak.append(sum(active.values()))
    resp.release()


async def test_at_most_ten_discovery_jobs_run_and_all_twelve_templates_become_available(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Twelve templates whose discovery hangs hold ten slots, two wait (DiscoveryDeferred); when the
    image is fixed the hanging Jobs are replaced and all twelve end Available; never more than ten
    discovery Jobs are unfinished at once."""
    await serve_logs(api, namespace, one_model(), tmp_path)
    img = image(namespace, "img", "registry.example/kwok-hang/model:1")
    await aim.apply(api, img)
    peak: list[int] = []
    stop = anyio.Event()
    async with anyio.create_task_group() as tg:
        tg.start_soon(_watch_discovery_jobs, api, peak, stop)
        templates = [template(namespace, f"tpl-{i:02d}", "img", metric="throughput") for i in range(12)]
        for t in templates:
            await aim.apply(api, t)

        async def all_states() -> list[dict[str, Any]]:
            return [await aim.get(api, t) for t in templates]

        def ten_running_two_deferred(objs: list[dict[str, Any]]) -> bool:
            progressing = [o for o in objs if state(o) == "Progressing"]
            deferred = [o for o in objs if condition(o, "Progressing").get("reason") == "DiscoveryDeferred"]
            return len(progressing) <= 10 and len(progressing) + len(deferred) == 12 and len(deferred) >= 2

        await wait_for(all_states, ten_running_two_deferred, timeout=30, what="10 running, 2 deferred")
        img["spec"]["image"] = "registry.example/model:1"
        await aim.apply(api, img)
        await wait_for(
            all_states, lambda objs: all(state(o) == "Available" for o in objs), timeout=90, what="all Available"
        )
        stop.set()
    assert max(peak) <= 10, f"peak of unfinished discovery jobs: {max(peak)}"
    assert max(peak) >= 2


# -- issue 12: discovery never stalls; pull-secret and env changes reach discovery -------------------


async def test_ten_unpullable_discoveries_do_not_hold_up_an_eleventh(
    api: client.ApiClient, namespace: str, tmp_path: Path
) -> None:
    """Ten templates whose discovery image never pulls take all ten slots; past the pull deadline
    (``AIMCTL_DISCOVERY_PULL_DEADLINE``, a few seconds in the e2e operator) their Jobs are given up,
    the slots freed, the pull error kept on ``Failure``; an eleventh template with a good image
    becomes Available."""
    await serve_logs(api, namespace, one_model(), tmp_path)
    await aim.apply(api, image(namespace, "img-pull", "registry.example/kwok-unpullable/model:1"))
    await aim.apply(api, image(namespace, "img-ok", "registry.example/model:1"))
    stuck = [template(namespace, f"tpl-pull-{i:02d}", "img-pull") for i in range(10)]
    try:
        for t in stuck:
            await aim.apply(api, t)

        async def all_states() -> list[dict[str, Any]]:
            return [await aim.get(api, t) for t in stuck]

        def all_pull_errors(objs: list[dict[str, Any]]) -> bool:
            return all(
                state(o) == "Degraded" and condition(o, "Failure").get("reason") == "ImagePullBackOff" for o in objs
            )

        await wait_for(all_states, all_pull_errors, timeout=60, what="10 templates stuck in image pull")
        good = template(namespace, "tpl-good", "img-ok")
        await aim.apply(api, good)
        await wait_state(api, good, "Available", Ready=("True", "Available"))

        def given_up(objs: list[dict[str, Any]]) -> bool:
            return all_pull_errors(objs) and all(
                "failures: 1" in condition(o, "Discovered").get("message", "") for o in objs
            )

        objs = await wait_for(all_states, given_up, timeout=60, what="10 pull failures recorded")
        for o in objs:
            assert condition(o, "Failure")["message"].startswith(
                'Discovery job pod stuck pulling image: Container "discovery" is stuck in'
            )
    finally:
        for t in stuck:
            await aim.delete(api, t)
        await release_discovery(api, namespace)


async def _job_pull_secrets(api: client.ApiClient, namespace: str, name: str) -> list[str]:
    try:
        job = await get_job(api, namespace, name)
    except Exception:
        return []
    return [s["name"] for s in job["spec"]["template"]["spec"].get("imagePullSecrets") or []]


@pytest.mark.parametrize("where", ["template", "runtime-config"])
async def test_pull_secret_change_reaches_a_pending_discovery_job(
    api: client.ApiClient, namespace: str, where: str
) -> None:
    """A discovery stuck in image pull (pending, or given up and backing off) gets the fixed pull
    secret of the template or of the runtime config: its Job is replaced with one that carries it."""
    uri = "registry.example/kwok-unpullable/secret:1"
    rc = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"imagePullSecrets": [{"name": "old-secret"}]},
    }
    tpl = template(namespace, "tpl-secret", "img", imagePullSecrets=[{"name": "tpl-old"}])
    job_name = discovery_job_name("tpl-secret", "img", uri)
    try:
        await aim.apply(api, rc)
        await aim.apply(api, image(namespace, "img", uri))
        await aim.apply(api, tpl)
        await wait_state(api, tpl, "Degraded", Failure=("True", "ImagePullBackOff"))
        before = await _job_pull_secrets(api, namespace, job_name)
        assert "old-secret" in before or before == []  # present, or already given up at the deadline
        if where == "template":
            tpl["spec"]["imagePullSecrets"] = [{"name": "tpl-new"}]
            await aim.apply(api, tpl)
            wanted = "tpl-new"
        else:
            rc["spec"]["imagePullSecrets"] = [{"name": "new-secret"}]
            await aim.apply(api, rc)
            wanted = "new-secret"
        await wait_for(
            lambda: _job_pull_secrets(api, namespace, job_name),
            lambda names: wanted in names,
            timeout=30,
            what=f"discovery job with {wanted}",
        )
    finally:
        await aim.delete(api, tpl)
        await release_discovery(api, namespace)


async def test_env_change_after_available_rediscovers(
    api: client.ApiClient, namespace: str, tmp_path: Path, operator: Operator
) -> None:
    """The dry run's env shapes its result: an ``env`` edit of an Available template runs discovery
    again (a new Job with the new env) and the template ends Available with the new fingerprint."""
    await serve_logs(api, namespace, one_model(), tmp_path)
    await aim.apply(api, image(namespace, "img", "registry.example/model:1"))
    tpl = template(namespace, "tpl-env", "img", env=[{"name": "AIM_MODEL_VARIANT", "value": "a"}])
    await aim.apply(api, tpl)
    first = await wait_state(api, tpl, "Available")
    before = condition(first, "Discovered")["message"]
    assert "[inputs: " in before
    tpl["spec"]["env"] = [{"name": "AIM_MODEL_VARIANT", "value": "b"}]
    await aim.apply(api, tpl)

    def rediscovered(o: dict[str, Any]) -> bool:
        message = condition(o, "Discovered").get("message", "")
        return state(o) == "Available" and "[inputs: " in message and message != before

    await wait_for(lambda: aim.get(api, tpl), rediscovered, timeout=60, what="rediscovery after the env edit")
    reasons = [e["reason"] for e in await events_about(api, namespace, "tpl-env", operator.instance)]
    assert "DiscoveryInputsChanged" in reasons
