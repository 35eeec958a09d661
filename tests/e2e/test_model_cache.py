"""AIMModelCache end to end (docs/original-behaviour.md scenarios 18 and 19, fixes 2 and 6).

Storage comes from the simulated provisioner (fixture ``storage``): ``sim-immediate`` (the cluster
default, binds at once) and ``sim-wait-for-first-consumer`` (binds when the download pod is
scheduled). Download pods are kwok pods: the default image succeeds, an image containing
``kwok-fail`` fails (exit 1) on every attempt.
"""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes_asyncio import client

from tests.e2e.conftest import Operator
from tests.support import aim, kube
from tests.support.caches import (
    FAILING_IMAGE,
    IMMEDIATE,
    MODEL_CACHES,
    SOURCE,
    WFFC,
    apply_runtime_config,
    assert_no_job_appears,
    delete_and_wait_gone,
    job_path,
    jobs,
    lose_volume,
    model_cache,
    pvc_path,
    wait_state,
)
from tests.support.discovery import condition, events_about
from tests.support.operator_metrics import wait_idle
from tests.support.wait import wait_for

pytestmark = pytest.mark.usefixtures("operator", "storage")

AVAILABLE_CONDITIONS = {
    "Ready": ("True", "Warm"),
    "StorageReady": ("True", "PVCBound"),
    "Failure": ("False", "NoFailure"),
    "Progressing": ("False", "Warm"),
}


def _owner(obj: dict[str, Any]) -> dict[str, Any]:
    (ref,) = obj["metadata"]["ownerReferences"]
    return dict(ref)


async def test_happy_path_on_an_immediate_class(api: client.ApiClient, namespace: str, operator: Operator) -> None:
    """Scenario 18: PVC (RWX, size, class, labels, owner), then the Job, then Available."""
    mc = model_cache(
        namespace, "mc", storageClassName=IMMEDIATE, env=[{"name": "HF_TOKEN", "value": "hf_do-not-log-me-123"}]
    )
    created = await aim.apply(api, mc)
    done = await wait_state(api, mc, "Available", **AVAILABLE_CONDITIONS)
    assert done["status"]["persistentVolumeClaim"] == "mc-cache"
    assert done["status"]["observedGeneration"] == done["metadata"]["generation"]

    pvc = await kube.get(api, pvc_path(namespace, "mc-cache"))
    assert pvc["status"]["phase"] == "Bound"
    assert pvc["spec"]["accessModes"] == ["ReadWriteMany"]
    assert pvc["spec"]["resources"]["requests"]["storage"] == "280Mi"
    assert pvc["spec"]["storageClassName"] == IMMEDIATE
    assert pvc["metadata"]["labels"]["aim.silogen.ai/modelcache"] == "mc"
    assert pvc["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "modelcache-controller"
    owner = _owner(pvc)
    assert (owner["kind"], owner["name"], owner["uid"]) == ("AIMModelCache", "mc", created["metadata"]["uid"])
    assert owner["controller"] is True and owner["blockOwnerDeletion"] is True

    job = await kube.get(api, job_path(namespace, "mc-cache-download"))
    assert _owner(job)["uid"] == created["metadata"]["uid"]
    assert (job["spec"]["backoffLimit"], job["spec"]["ttlSecondsAfterFinished"]) == (2, 600)
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == "kserve/storage-initializer:v0.16.0-rc0"
    assert container["args"][1:] == [SOURCE, "/cache"]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["HF_HOME"] == "/cache/.hf" and env["HF_HUB_DISABLE_XET"] == "1" and env["UMASK"] == "0022"
    assert pod["securityContext"]["runAsNonRoot"] is True

    reasons = [e["reason"] for e in await events_about(api, namespace, "mc", operator.instance)]
    assert reasons.count("Warm") == 1, reasons  # one event per transition
    assert "hf_do-not-log-me-123" not in operator.log_text()


async def test_happy_path_on_a_wait_for_first_consumer_class(api: client.ApiClient, namespace: str) -> None:
    """The Job is created while the PVC is still Pending: its pod is the first consumer that binds it."""
    mc = model_cache(namespace, "wffc", storageClassName=WFFC)
    await aim.apply(api, mc)
    await wait_state(api, mc, "Available", **AVAILABLE_CONDITIONS)
    pvc = await kube.get(api, pvc_path(namespace, "wffc-cache"))
    assert pvc["spec"]["storageClassName"] == WFFC
    assert pvc["metadata"]["annotations"].get("volume.kubernetes.io/selected-node")  # bound by the Job's pod


async def test_failed_download_is_final_until_the_spec_changes(
    api: client.ApiClient, namespace: str, operator: Operator
) -> None:
    """Scenario 19 with the fix: Failed/DownloadFailed, no new Job when the failed one is removed (by
    its TTL or anyone), and one new attempt after a spec edit."""
    mc = model_cache(namespace, "bad", sourceUri="hf://ThisModelDoesntExist", modelDownloadImage=FAILING_IMAGE)
    await aim.apply(api, mc)
    failed = await wait_state(
        api, mc, "Failed", within=120, Failure=("True", "DownloadFailed"), StorageReady=("True", "PVCBound")
    )
    message = condition(failed, "Failure")["message"]
    assert "BackoffLimitExceeded" in message and "edit the AIMModelCache spec" in message
    warnings = [e for e in await events_about(api, namespace, "bad", operator.instance) if e["type"] == "Warning"]
    assert [e["reason"] for e in warnings] == ["DownloadFailed"]

    quiet = await wait_idle(operator.metrics, MODEL_CACHES)
    await delete_and_wait_gone(api, job_path(namespace, "bad-cache-download"))
    await assert_no_job_appears(api, namespace, operator.metrics, after=quiet)
    still = await aim.get(api, mc)
    assert still["status"]["status"] == "Failed"
    assert condition(still, "Failure")["reason"] == "DownloadFailed"

    fixed = model_cache(namespace, "bad", sourceUri="hf://ThisModelDoesntExist")  # the default image works
    await aim.apply(api, fixed)
    await wait_state(api, mc, "Available", **AVAILABLE_CONDITIONS)
    (job,) = await jobs(api, namespace)
    assert job["metadata"]["annotations"]["aim.silogen.ai/cache-generation"] == "2"


async def test_job_ttl_after_success_never_downloads_again(
    api: client.ApiClient, namespace: str, operator: Operator
) -> None:
    """Fix 6: deleting the succeeded Job (what the TTL controller does after 600 s) leaves
    the cache Available and creates no Job."""
    mc = model_cache(namespace, "ttl")
    await aim.apply(api, mc)
    before = await wait_state(api, mc, "Available", **AVAILABLE_CONDITIONS)
    quiet = await wait_idle(operator.metrics, MODEL_CACHES)
    await delete_and_wait_gone(api, job_path(namespace, "ttl-cache-download"))
    await assert_no_job_appears(api, namespace, operator.metrics, after=quiet)
    after = await aim.get(api, mc)
    assert after["status"] == before["status"]  # not even a status write


async def test_lost_volume_is_reported_not_refilled(api: client.ApiClient, namespace: str, operator: Operator) -> None:
    mc = model_cache(namespace, "lost")
    await aim.apply(api, mc)
    await wait_state(api, mc, "Available")
    await delete_and_wait_gone(api, job_path(namespace, "lost-cache-download"))
    await lose_volume(api, namespace, "lost-cache")
    # the PV controller notices the missing volume on its next claim sync (every 15 s by default)
    failed = await wait_state(
        api, mc, "Failed", within=90, StorageReady=("False", "PVCLost"), Failure=("True", "PVCLost")
    )
    assert "not downloaded again automatically" in condition(failed, "Failure")["message"]
    # The transition's event is posted after its status write: wait for it rather than race it.
    await wait_for(
        lambda: events_about(api, namespace, "lost", operator.instance),
        lambda events: "PVCLost" in [e["reason"] for e in events if e["type"] == "Warning"],
        timeout=30,
        what="a Warning event PVCLost",
    )
    # A reconcile now (poked by an annotation) downloads nothing again.
    quiet = await wait_idle(operator.metrics, MODEL_CACHES)
    await aim.apply(api, {**mc, "metadata": {**mc["metadata"], "annotations": {"aimctl.dev/poke": "1"}}})
    await assert_no_job_appears(api, namespace, operator.metrics, after=quiet)


async def test_storage_class_from_the_runtime_config_default(api: client.ApiClient, namespace: str) -> None:
    """Fix 2: no class on the cache → the ``default`` runtime config's class, not the
    cluster default (``sim-immediate``)."""
    rc = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {"defaultStorageClassName": WFFC},
    }
    await apply_runtime_config(api, rc)
    mc = model_cache(namespace, "fromrc")
    await aim.apply(api, mc)
    await wait_state(api, mc, "Available")
    pvc = await kube.get(api, pvc_path(namespace, "fromrc-cache"))
    assert pvc["spec"]["storageClassName"] == WFFC


async def test_namespace_runtime_config_without_a_class_means_the_cluster_default(
    api: client.ApiClient, namespace: str
) -> None:
    """The namespace's ``default`` config wins wholesale (as in the original operator): without a class it hides the
    cluster config's class (other tests may have created a cluster ``default``), and the PVC gets the
    cluster's default StorageClass."""
    rc = {
        "apiVersion": "aim.silogen.ai/v1alpha1",
        "kind": "AIMRuntimeConfig",
        "metadata": {"name": "default", "namespace": namespace},
        "spec": {},
    }
    await apply_runtime_config(api, rc)
    mc = model_cache(namespace, "plain")
    await aim.apply(api, mc)
    await wait_state(api, mc, "Available")
    pvc = await kube.get(api, pvc_path(namespace, "plain-cache"))
    assert pvc["spec"]["storageClassName"] == IMMEDIATE  # filled in by the DefaultStorageClass admission


async def test_deleting_the_cache_deletes_its_pvc_and_job(api: client.ApiClient, namespace: str) -> None:
    mc = model_cache(namespace, "gone")
    await aim.apply(api, mc)
    await wait_state(api, mc, "Available")
    await aim.delete(api, mc)

    async def children_gone() -> bool:
        for path in (pvc_path(namespace, "gone-cache"), job_path(namespace, "gone-cache-download")):
            try:
                obj = await kube.get(api, path)
            except Exception as e:
                if getattr(e, "status", None) == 404:
                    continue
                raise
            if not obj["metadata"].get("deletionTimestamp"):
                return False
        return True

    await wait_for(children_gone, bool, timeout=60, what="PVC and Job garbage-collected")
